"""Photos, documents, media groups, getFile and downloads."""

from __future__ import annotations

import json

import aiohttp

from sandbox.emulator import ControlClient, Emulator
from sandbox.emulator.media import placeholder_png

from .conftest import ALICE, GROUP, TOKEN, BotHttp, drain

WRONG_FILE = "Bad Request: wrong file identifier/HTTP URL specified"
PDF = b"%PDF-1.4\n% Greenlight test report\n" + bytes(range(256)) * 4


async def download(emu: Emulator, file_path: str) -> bytes:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{emu.base_url}/file/bot{TOKEN}/{file_path}") as response,
    ):
        assert response.status == 200
        return await response.read()


async def test_document_upload_get_file_and_download(
    world: ControlClient, emu: Emulator, bot: BotHttp
) -> None:
    sent = await bot.ok(
        "sendDocument",
        form=True,
        chat_id=str(ALICE),
        caption="<b>周报</b>",
        parse_mode="HTML",
        document=("周报.pdf", PDF, "application/octet-stream"),
    )
    document = sent["document"]
    assert document["file_name"] == "周报.pdf"
    assert document["mime_type"] == "application/pdf"
    assert document["file_size"] == len(PDF)
    assert sent["caption"] == "周报"
    info = await bot.ok("getFile", file_id=document["file_id"])
    assert info["file_unique_id"] == document["file_unique_id"]
    assert info["file_path"].startswith("documents/") and info["file_path"].endswith(".pdf")
    assert await download(emu, info["file_path"]) == PDF

    again = await bot.ok("sendDocument", chat_id=ALICE, document=document["file_id"])
    assert again["document"]["file_unique_id"] == document["file_unique_id"]
    url = await bot("sendDocument", chat_id=ALICE, document="https://example.org/a.pdf")
    assert url["description"] == WRONG_FILE
    bogus = await bot("sendDocument", chat_id=ALICE, document="BQACAgIAAxkBAAIBogus")
    assert bogus["description"] == WRONG_FILE
    assert (await bot("getFile", file_id="nope"))["error_code"] == 400


async def test_attach_references_like_aiogram(world: ControlClient, bot: BotHttp) -> None:
    sent = await bot.ok(
        "sendDocument",
        form=True,
        chat_id=str(ALICE),
        document="attach://f1le",
        f1le=("a.txt", b"hello", "text/plain"),
    )
    assert sent["document"]["file_name"] == "a.txt"


async def test_photo_sizes(world: ControlClient, emu: Emulator, bot: BotHttp) -> None:
    picture = placeholder_png(1000, 500)
    sent = await bot.ok(
        "sendPhoto", form=True, chat_id=str(ALICE), photo=("p.png", picture, "image/png")
    )
    sizes = sent["photo"]
    assert [(s["width"], s["height"]) for s in sizes] == [
        (90, 45),
        (320, 160),
        (800, 400),
        (1000, 500),
    ]
    assert len({s["file_id"] for s in sizes}) == len(sizes)
    biggest = await bot.ok("getFile", file_id=sizes[-1]["file_id"])
    assert await download(emu, biggest["file_path"]) == picture
    resent = await bot.ok("sendPhoto", chat_id=ALICE, photo=sizes[0]["file_id"])
    assert [s["file_id"] for s in resent["photo"]] == [s["file_id"] for s in sizes]
    as_document = await bot("sendDocument", chat_id=ALICE, document=sizes[0]["file_id"])
    assert as_document["description"] == "Bad Request: can't use file of type Photo as Document"
    broken = await bot(
        "sendPhoto", form=True, chat_id=str(ALICE), photo=("p.png", b"not a picture", "image/png")
    )
    assert broken["description"] == "Bad Request: IMAGE_PROCESS_FAILED"
    long_caption = await bot(
        "sendPhoto", chat_id=ALICE, photo=sizes[0]["file_id"], caption="字" * 1025
    )
    assert long_caption["description"] == "Bad Request: message caption is too long"


async def test_media_group(world: ControlClient, bot: BotHttp) -> None:
    media = [
        {"type": "photo", "media": "attach://one", "caption": "第一张"},
        {"type": "photo", "media": "attach://two"},
    ]
    sent = await bot.ok(
        "sendMediaGroup",
        form=True,
        chat_id=str(GROUP),
        media=json.dumps(media),
        one=("1.png", placeholder_png(20, 10), "image/png"),
        two=("2.png", placeholder_png(10, 20), "image/png"),
    )
    assert len(sent) == 2
    assert sent[0]["media_group_id"] == sent[1]["media_group_id"]
    assert [m["message_id"] for m in sent] == [1, 2]
    assert sent[0]["caption"] == "第一张" and "caption" not in sent[1]

    docs = [{"type": "document", "media": "attach://a"}, {"type": "photo", "media": "attach://b"}]
    mixed = await bot("sendMediaGroup", chat_id=GROUP, media=docs)
    assert mixed["description"] == "Bad Request: document can't be mixed with other media types"
    photo_id = sent[0]["photo"][0]["file_id"]
    eleven = [{"type": "photo", "media": photo_id}] * 11
    too_many = await bot("sendMediaGroup", chat_id=GROUP, media=eleven)
    assert too_many["description"] == "Bad Request: too many messages to send as an album"
    empty = await bot("sendMediaGroup", chat_id=GROUP, media=[])
    assert empty["description"] == "Bad Request: there are no messages to send"
    missing = await bot(
        "sendMediaGroup", chat_id=GROUP, media=[{"type": "photo", "media": "attach://x"}] * 2
    )
    assert missing["description"] == "Bad Request: can't parse InputMedia: media not found"


async def test_users_files_reach_the_bot(world: ControlClient, emu: Emulator, bot: BotHttp) -> None:
    await drain(bot)
    doc = await world.send_document(
        ALICE, ALICE, PDF, "图纸.pdf", "application/pdf", caption="请审", wait=False
    )
    photo = await world.send_photo(ALICE, ALICE, wait=False)
    first, second = await drain(bot)
    document = first["message"]["document"]
    assert document["file_name"] == "图纸.pdf"
    assert first["message"]["caption"] == "请审"
    info = await bot.ok("getFile", file_id=document["file_id"])
    assert await download(emu, info["file_path"]) == PDF
    sizes = second["message"]["photo"]
    assert len(sizes) >= 2 and len({s["file_id"] for s in sizes}) == len(sizes)
    assert doc["message"]["document"] == document
    assert photo["message"]["photo"] == sizes
    assert await world.file(document["file_id"]) == PDF
