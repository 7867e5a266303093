"""Independent clients against the emulator: python-telegram-bot and aiogram."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiogram import Bot as AiogramBot
from aiogram import Dispatcher, F
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError, TelegramRetryAfter
from aiogram.filters import CommandStart
from aiogram.types import BufferedInputFile, CallbackQuery
from aiogram.types import InlineKeyboardButton as AiogramButton
from aiogram.types import InlineKeyboardMarkup as AiogramMarkup
from aiogram.types import Message as AiogramMessage
from telegram import Bot as PtbBot
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, MessageEntity, User
from telegram.error import BadRequest, Forbidden

from sandbox.emulator import ControlClient, Emulator

from .conftest import ALICE, BOB, TOKEN, BotHttp, drain


async def test_python_telegram_bot_as_a_second_client(
    world: ControlClient, emu: Emulator, bot: BotHttp
) -> None:
    await drain(bot)
    ptb = PtbBot(TOKEN, base_url=f"{emu.base_url}/bot", base_file_url=f"{emu.base_url}/file/bot")
    async with ptb:
        me = await ptb.get_me()
        assert isinstance(me, User)
        assert (me.id, me.username, me.is_bot) == (123456, "greenlight_bot", True)

        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("批准", callback_data="approve:1")]])
        sent = await ptb.send_message(
            ALICE, "<b>周报</b> 待审批", parse_mode="HTML", reply_markup=keyboard
        )
        assert isinstance(sent, Message)
        assert sent.text == "周报 待审批"
        assert sent.entities[0].type == MessageEntity.BOLD
        assert sent.chat.id == ALICE and sent.from_user is not None and sent.from_user.is_bot
        assert sent.reply_markup == keyboard

        edited = await ptb.edit_message_text(
            "周报 已收到", chat_id=ALICE, message_id=sent.message_id, reply_markup=keyboard
        )
        assert isinstance(edited, Message)
        assert edited.text == "周报 已收到" and edited.edit_date is not None

        press = asyncio.create_task(
            world.press(ALICE, ALICE, sent.message_id, "approve:1", timeout=5)
        )
        updates = await ptb.get_updates(timeout=3)
        query = updates[0].callback_query
        assert query is not None
        assert query.data == "approve:1" and query.from_user.id == ALICE
        assert isinstance(query.message, Message)
        assert query.message.message_id == sent.message_id
        assert await ptb.answer_callback_query(query.id, text="已批准") is True
        await ptb.get_updates(offset=updates[-1].update_id + 1, timeout=0)
        assert (await press)["answer"] == {"text": "已批准", "show_alert": False, "url": None}

        document = await ptb.send_document(ALICE, document=b"report bytes", filename="r.txt")
        assert document.document is not None
        file = await ptb.get_file(document.document.file_id)
        assert bytes(await file.download_as_bytearray()) == b"report bytes"

        with pytest.raises(BadRequest, match="Message is not modified"):
            await ptb.edit_message_text(
                "周报 已收到", chat_id=ALICE, message_id=sent.message_id, reply_markup=keyboard
            )
        with pytest.raises(Forbidden, match="bot can't initiate conversation with a user"):
            await ptb.send_message(BOB, "hi")
    assert await world.violations() == []


@pytest.fixture
async def aiogram_bot(emu: Emulator) -> AsyncIterator[AiogramBot]:
    session = AiohttpSession(api=TelegramAPIServer.from_base(emu.base_url))
    bot = AiogramBot(TOKEN, session=session)
    yield bot
    await bot.session.close()


async def test_aiogram_errors_map_to_exception_classes(
    world: ControlClient, aiogram_bot: AiogramBot
) -> None:
    sent = await aiogram_bot.send_message(ALICE, "你好")
    await aiogram_bot.edit_message_text("你好!", chat_id=ALICE, message_id=sent.message_id)
    with pytest.raises(TelegramBadRequest) as not_modified:
        await aiogram_bot.edit_message_text("你好!", chat_id=ALICE, message_id=sent.message_id)
    assert "message is not modified" in not_modified.value.message
    with pytest.raises(TelegramForbiddenError) as forbidden:
        await aiogram_bot.send_message(BOB, "hi")
    assert forbidden.value.message == "Forbidden: bot can't initiate conversation with a user"
    await world.inject_fault("sendMessage", "429", retry_after=3)
    with pytest.raises(TelegramRetryAfter) as limited:
        await aiogram_bot.send_message(ALICE, "again")
    assert limited.value.retry_after == 3

    upload = BufferedInputFile(b"\x00\x01 binary", filename="data.bin")
    document = await aiogram_bot.send_document(ALICE, upload, caption="数据")
    assert document.document is not None
    downloaded = await aiogram_bot.download(document.document.file_id)
    assert downloaded is not None and downloaded.read() == b"\x00\x01 binary"
    assert await world.violations() == []


async def test_aiogram_polling_with_wait(world: ControlClient, aiogram_bot: AiogramBot) -> None:
    dp = Dispatcher()
    keyboard = AiogramMarkup(inline_keyboard=[[AiogramButton(text="好", callback_data="ok")]])

    @dp.message(CommandStart())
    async def start(message: AiogramMessage) -> None:
        await asyncio.sleep(0.1)
        await message.answer("欢迎使用绿灯", reply_markup=keyboard)

    @dp.callback_query(F.data == "ok")
    async def pressed(query: CallbackQuery) -> None:
        await query.answer("收到", show_alert=True)

    polling = asyncio.create_task(
        dp.start_polling(
            aiogram_bot,
            handle_as_tasks=False,
            polling_timeout=1,
            handle_signals=False,
            close_bot_session=False,
        )
    )
    try:
        result = await world.send_text(ALICE, ALICE, "/start", timeout=5)
        assert result["delivered"]
        reply = (await world.private(ALICE))[-1]
        assert reply["text"] == "欢迎使用绿灯"
        pressed_result = await world.press(ALICE, ALICE, reply["message_id"], "ok", timeout=5)
        assert pressed_result["answer"] == {"text": "收到", "show_alert": True, "url": None}
    finally:
        await dp.stop_polling()
        await polling
    assert await world.violations() == []
