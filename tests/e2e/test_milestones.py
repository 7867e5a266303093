"""Key projects kept current from chat: /done and 🏁 on a report card, /due with a reason,
/status; each audited, told in the project's group, and kept by the org file's next import."""

from __future__ import annotations

from datetime import date

from bot.domain.rules.org_file import parse_org
from bot.domain.rules.vocabulary import ProjectStatus
from bot.domain.usecases.org_import import apply_org
from sandbox.demo import demo_org_yaml
from storage.models import AuditEvent, Milestone, Project
from tests.e2e.conftest import START, World, button, buttons, text_of

KP2 = "KP-002"  # 天台山公园: handler 刘晓, guide 郑, leader 李; its current milestone is #2


async def milestones(world: World, code: str = KP2) -> list[Milestone]:
    async with world.db() as store:
        project = await store.project_by_code(code)
        assert project is not None
        return await store.milestones(project.id)


async def project(world: World, code: str = KP2) -> Project:
    async with world.db() as store:
        found = await store.project_by_code(code)
        assert found is not None
        return found


async def actions(world: World, prefix: str) -> list[AuditEvent]:
    async with world.db() as store:
        return [e for e in await store.audit_trail() if e.action.startswith(prefix)]


async def test_the_handler_marks_the_current_milestone_reached_in_the_group(
        world: World) -> None:
    await world.say("liuxiao", KP2, "/done")
    text = text_of(await world.last_from_bot(KP2))
    assert text.startswith("🏁 KP-002 天台山公园：节点「微波站迁建选址确定」已完成（刘晓 · ")
    assert "\n下一节点：" in text and "公园总体方案批复" in text
    assert [m.done_on for m in await milestones(world)][1] == START.date()
    [event] = await actions(world, "milestone.")
    assert event.action == "milestone.reached" and event.subject == "project:KP-002"
    # The same milestone again, by number: refused, nothing changes.
    await world.say("liuxiao", KP2, "/done 2")
    assert text_of(await world.last_from_bot(KP2)).startswith(
        "节点「微波站迁建选址确定」已于 ")
    assert len(await actions(world, "milestone.")) == 1


async def test_a_report_card_offers_its_milestone_and_a_second_press_is_refused(
        world: World) -> None:
    await world.say("liuxiao", KP2, "/report 选址已确定，产权单位已签字")
    card = await world.last_from_bot(KP2)
    assert "🏁 节点已完成" in buttons(card)
    pressed = await world.press("liuxiao", KP2, card["message_id"], button(card, "🏁"))
    assert pressed["answer"]["text"] == "🏁 已标记完成。"
    assert buttons(await world.ctl.message(world.cid(KP2), card["message_id"])) == {}
    assert "节点「微波站迁建选址确定」已完成" in text_of(await world.last_from_bot(KP2))
    again = await world.press("liuxiao", KP2, card["message_id"], button(card, "🏁"),
                              forge=True)
    assert again["answer"]["text"].startswith("节点「微波站迁建选址确定」已于 ")
    assert len(await actions(world, "milestone.reached")) == 1


async def test_someone_outside_the_project_cannot_mark_it(world: World) -> None:
    await world.say("chen", "chen", "/done KP-002")
    assert text_of(await world.last_from_bot("chen")) == (
        "只有 KP-002 的经办人、规划引导员和分管领导可以标记节点完成。")
    assert [m.done_on for m in await milestones(world)][1] is None


async def test_the_leader_moves_a_due_date_with_a_reason_from_private_and_the_group_hears(
        world: World) -> None:
    before = len(await world.from_bot(KP2))
    await world.say("li", "li", "/due KP-002 2 12-18 产权单位需上级批复")
    text = text_of(await world.last_from_bot("li"))
    assert text.startswith("📅 KP-002 天台山公园：节点「微波站迁建选址确定」时限调整为 ")
    assert "\n理由：产权单位需上级批复\n" in text
    [told] = (await world.from_bot(KP2))[before:]
    assert text_of(told) == text
    assert [m.due_on for m in await milestones(world)][1] == date(2026, 12, 18)
    [event] = await actions(world, "milestone.due_moved")
    assert "产权单位需上级批复" in event.data


async def test_due_refuses_handlers_a_missing_reason_a_bad_or_past_date(world: World) -> None:
    due = [m.due_on for m in await milestones(world)][1]
    for who, words, answer in (
            ("liuxiao", "/due 2 12-18 来不及",
             "只有 KP-002 的分管领导（或局长）可以调整节点时限和项目状态。"),
            ("li", "/due 2 12-18", "请写明调整时限的理由，例如 /due 2 12-20 等待勘测结果。"),
            ("li", "/due 2",
             "用法：/due [KP-002] 节点 日期 理由，例如 /due 2 12-20 等待勘测结果。"),
            ("li", "/due 2 2026-11-01 等待", "2026-11-01 已经过去，请选择今天或以后的日期。"),
            ("li", "/due 9 12-18 等待",
             "KP-002 没有节点「9」：请写节点序号（1、2……）或标题中的词。"),
    ):
        await world.say(who, KP2, words)
        assert text_of(await world.last_from_bot(KP2)) == answer, words
    await world.say("li", KP2, "/due 2 明天 等待")
    assert text_of(await world.last_from_bot(KP2)) == (
        "无法识别日期「明天」：请写成 2026-11-24、11-24 或 11月24日。")
    assert [m.due_on for m in await milestones(world)][1] == due
    assert await actions(world, "milestone.") == []


async def test_the_leader_changes_the_status_by_button_and_by_word(world: World) -> None:
    await world.say("li", KP2, "/status")
    prompt = await world.last_from_bot(KP2)
    assert text_of(prompt).startswith("KP-002 天台山公园 当前为")
    assert text_of(prompt).endswith(" 推进中。请选择新状态：")
    assert len(buttons(prompt)) == 3  # every status but the current one
    await world.press("li", KP2, prompt["message_id"], button(prompt, "已办结待跟进"))
    assert (await project(world)).status is ProjectStatus.DONE_FOLLOW_UP
    shown = text_of(await world.ctl.message(world.cid(KP2), prompt["message_id"]))
    assert shown.startswith("📌 KP-002 天台山公园：") and "（李副局长）" in shown
    await world.say("li", KP2, "/status 推进中")
    assert (await project(world)).status is ProjectStatus.IN_PROGRESS
    await world.say("li", KP2, "/status 完成了")
    assert text_of(await world.last_from_bot(KP2)) == (
        "「完成了」不是项目状态。发送 /status 从按钮中选择。")
    await world.say("liuxiao", KP2, "/status")
    assert text_of(await world.last_from_bot(KP2)).startswith("只有 KP-002 的分管领导")
    assert [e.action for e in await actions(world, "project.status")] == ["project.status"] * 2


async def test_the_org_files_next_import_keeps_what_was_changed_in_chat(world: World) -> None:
    await world.say("liuxiao", KP2, "/done")
    await world.say("li", KP2, "/status 已办结需跟进")
    async with world.db() as store:
        org = parse_org(demo_org_yaml(START.date(), world.app.services.calendar), "demo.yaml")
        report = await apply_org(store, org, now=world.app.services.now())
        await store.commit()
    assert [m.done_on for m in await milestones(world)][1] == START.date()
    assert (await project(world)).status is ProjectStatus.DONE_FOLLOW_UP
    said = "\n".join(report.warnings)
    assert "KP-002: milestone '微波站迁建选址确定' keeps what was changed in chat" in said
    assert "KP-002: status kept as done_follow_up, changed in chat" in said
