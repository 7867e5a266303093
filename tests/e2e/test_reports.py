"""Report: handlers push progress into the project's group and get a clear card back."""

from __future__ import annotations

from sqlmodel import select

from storage.models import Attachment, AuditEvent, Report
from tests.e2e.conftest import World, text_of

SPARE_GROUP = -1001000000999


async def reports(world: World) -> list[Report]:
    async with world.db() as store:
        return list((await store.session.execute(select(Report))).scalars())


async def test_a_text_report_is_stored_and_answered_with_a_card(world: World) -> None:
    sent = await world.say("liuxiao", "KP-002", "/report 微波站迁建新址已与产权单位完成现场踏勘")
    card = await world.last_from_bot("KP-002")
    text = text_of(card)
    assert card["reply_to_message"]["message_id"] == sent["message"]["message_id"]
    assert "进展汇报 · KP-002 天台山公园" in text
    assert "🟡 节点：微波站迁建选址确定" in text  # due tomorrow: yellow
    assert "剩余 1 个工作日" in text
    assert "刘晓 · 11月23日周一 10:00" in text
    assert "微波站迁建新址已与产权单位完成现场踏勘" in text
    [report] = await reports(world)
    assert report.text == "微波站迁建新址已与产权单位完成现场踏勘"
    assert report.card_message_id == card["message_id"]
    async with world.db() as store:
        assert [e.action for e in await store.audit_trail("project:KP-002")] == ["report.filed"]


async def test_a_photo_with_a_report_caption_keeps_the_file_id(world: World) -> None:
    sent = await world.photo("zhangfan", "KP-001", caption="/report 无人机航拍：选址地块现状")
    text = text_of(await world.last_from_bot("KP-001"))
    assert "📎 1 张照片" in text and "无人机航拍：选址地块现状" in text
    largest = max(sent["message"]["photo"], key=lambda p: p["width"] * p["height"])
    async with world.db() as store:
        [attachment] = await store.all(Attachment)
    assert attachment.kind == "photo" and attachment.file_id == largest["file_id"]


async def test_a_document_report_names_the_file(world: World) -> None:
    await world.document("zhangfan", "KP-004", "议题材料.pdf", caption="/report 议题材料初稿")
    text = text_of(await world.last_from_bot("KP-004"))
    assert "📎 议题材料.pdf" in text
    assert "🔴 节点：局长办公会议题材料报送" in text and "已超期 2 个工作日" in text


async def test_report_alone_asks_for_a_reply_then_files_it(world: World) -> None:
    await world.say("liuxiao", "KP-003", "/report")
    prompt = await world.last_from_bot("KP-003")
    assert "请回复本消息汇报进展" in text_of(prompt)
    sent = (await world.ctl.requests("sendMessage"))[-1]["params"]
    assert sent["reply_markup"]["force_reply"] is True  # works under group privacy mode
    assert sent["reply_markup"]["selective"] is True
    await world.photo("liuxiao", "KP-003", caption="设计单位已收到管线资料",
                      reply_to=prompt["message_id"])
    card = text_of(await world.last_from_bot("KP-003"))
    assert "进展汇报 · KP-003 康乐公园" in card and "📎 1 张照片" in card
    assert "🟢 节点：设计方案初稿" in card
    # The conversation is over: a later plain reply is not taken as a report.
    await world.say("liuxiao", "KP-003", "/report")
    await world.say("liuxiao", "KP-003", "/cancel")
    assert "已取消，未提交汇报" in text_of(await world.last_from_bot("KP-003"))
    assert len(await reports(world)) == 1


async def test_bind_a_group_and_refuse_reports_from_people_without_the_role(
        world: World) -> None:
    await world.ctl.create_chat(SPARE_GROUP, "supergroup", "康乐公园现场群",
                                members=[world.users[k] for k in ("ma", "zhou", "liuxiao")])
    await world.say("liuxiao", SPARE_GROUP, "/bind KP-003")
    assert "只有管理员可以关联项目工作群" in text_of(await world.last_from_bot(SPARE_GROUP))
    await world.say("ma", SPARE_GROUP, "/bind KP-003")  # it has a group: moving is asked for
    assert "/bind KP-003 move" in text_of(await world.last_from_bot(SPARE_GROUP))
    await world.say("ma", SPARE_GROUP, "/bind KP-003 move")
    assert "Greenlight" not in text_of(await world.last_from_bot(SPARE_GROUP))
    assert "KP-003" in text_of(await world.last_from_bot(SPARE_GROUP))
    await world.say("zhou", SPARE_GROUP, "/report 督查室抽查")
    refusal = text_of(await world.last_from_bot(SPARE_GROUP))
    assert refusal == "只有 KP-003 的经办人、引导员和分管领导可以汇报进展。"
    await world.say("liuxiao", SPARE_GROUP, "/report 现场群已建立")
    assert "进展汇报 · KP-003 康乐公园" in text_of(await world.last_from_bot(SPARE_GROUP))
    assert [r.text for r in await reports(world)] == ["现场群已建立"]


async def test_reports_need_a_project_group(world: World) -> None:
    await world.say("liuxiao", "liuxiao", "/report 私聊汇报")
    private_reply = text_of(await world.last_from_bot("liuxiao"))
    assert private_reply == "进展汇报和审批事项请在项目工作群中发送。"
    await world.say("chen", "leaders", "/report 局领导群")
    assert "本群尚未关联重点项目" in text_of(await world.last_from_bot("leaders"))
    await world.say("huang", "huang", "/report 你好")
    assert "尚未在绿灯登记" in text_of(await world.last_from_bot("huang"))
    assert await reports(world) == []


async def test_an_over_long_report_is_refused_and_nothing_is_stored(world: World) -> None:
    await world.say("liuxiao", "KP-002", "/report " + "进" * 3001)
    assert text_of(await world.last_from_bot("KP-002")) == (
        "内容过长：3001 字，上限为 3000 字，请精简后再发。")
    assert await reports(world) == []
    async with world.db() as store:
        assert [e.action for e in await store.all(AuditEvent)] == ["org.imported"]


async def test_user_text_is_escaped_in_the_card(world: World) -> None:
    await world.say("liuxiao", "KP-002", "/report <b>不是粗体</b> & 5 < 6")
    card = await world.last_from_bot("KP-002")
    assert "<b>不是粗体</b> & 5 < 6" in text_of(card)
    bold = [e for e in card.get("entities", []) if e["type"] == "bold"]
    assert all(text_of(card)[e["offset"]:e["offset"] + e["length"]] != "不是粗体" for e in bold)
