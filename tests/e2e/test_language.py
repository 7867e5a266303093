"""/lang: each person picks the language the bot speaks to them, and keeps it."""

from __future__ import annotations

from datetime import datetime

from bot.domain.rules.org_file import parse_org
from bot.domain.usecases.org_import import apply_org
from sandbox.demo import demo_org_yaml
from storage.models import AuditEvent
from tests.e2e.conftest import SHANGHAI, START, World, button, buttons, submit_item, text_of

# KP-002's milestone is due Tue 11-24 at the close: red for its leader in charge, 李副局长,
# once the office opens again (quiet hours).
AFTER_KP002_DUE = datetime(2026, 11, 25, 8, 31, tzinfo=SHANGHAI)


async def choose(world: World, who: str, label: str) -> dict[str, object]:
    await world.say(who, who, "/lang")
    asked = await world.last_from_bot(who)
    assert {label.removeprefix("✓ ") for label in buttons(asked)} == {"中文", "English"}
    return await world.press(who, who, asked["message_id"], button(asked, label))


async def test_a_person_picks_english_and_everything_to_them_follows(world: World) -> None:
    await world.say("li", "li", "/lang")
    asked = await world.last_from_bot("li")
    assert text_of(asked) == "🌐 您希望我用哪种语言与您交流？"
    assert list(buttons(asked)) == ["✓ 中文", "English"]
    pressed = await world.press("li", "li", asked["message_id"], button(asked, "English"))
    assert pressed["answer"]["text"] == "🌐 I will speak English with you."
    edited = await world.last_from_bot("li")
    assert edited["message_id"] == asked["message_id"]
    assert text_of(edited) == "🌐 I will speak English with you." and not buttons(edited)

    await world.say("li", "li", "/help")
    assert "/lang — 中文 / English: the language I use with you" in text_of(
        await world.last_from_bot("li"))
    await submit_item(world, "微波站迁建选址方案")  # li's card, in private: English
    card = await world.last_from_bot("li")
    assert "微波站迁建选址方案" in text_of(card) and "✅ Approve" in buttons(card)
    group = await world.last_from_bot("KP-002")  # the group keeps the bureau's language
    assert "✅ 同意" in buttons(group)
    world.clock.set(AFTER_KP002_DUE)
    await world.sweep()
    nudges = [text_of(m) for m in await world.from_bot("li") if "微波站迁建选址确定" in text_of(m)]
    assert nudges and nudges[-1].startswith("🔴 Overdue")

    # And back: the same buttons, the other way.
    pressed = await choose(world, "li", "中文")
    assert pressed["answer"]["text"] == "🌐 好的，今后我用中文与您交流。"
    await world.say("li", "li", "/pending")
    assert "微波站迁建选址方案" in text_of(await world.last_from_bot("li"))
    async with world.db() as store:
        li = await store.person_by_key("li")
        assert li is not None and (li.locale, li.locale_chosen) == ("zh", True)
        trail = [e.action for e in await store.all(AuditEvent, order_by=AuditEvent.id)]
    assert trail.count("person.locale") == 2


async def test_the_own_choice_outlives_an_org_reimport(world: World) -> None:
    pressed = await choose(world, "ma", "中文")  # the org file says en, as does ma's Telegram
    assert pressed["answer"]["text"] == "🌐 好的，今后我用中文与您交流。"
    async with world.db() as store:
        org = parse_org(demo_org_yaml(START.date(), world.app.services.calendar), "demo.yaml")
        await apply_org(store, org, now=world.app.services.now())
        await store.commit()
        ma = await store.person_by_key("ma")
        assert ma is not None and ma.locale == "zh"
    await world.say("ma", "ma", "/help")
    shown = text_of(await world.last_from_bot("ma"))
    assert shown.startswith("👋 马工，您好！这里是绿灯") and "/bind" in shown


async def test_lang_is_private_unknown_people_are_told_and_forged_choices_change_nothing(
        world: World) -> None:
    await world.say("liuxiao", "KP-002", "/lang")
    hint = await world.last_from_bot("KP-002")
    assert text_of(hint) == "语言请在与我的私聊中设置：在私聊里发送 /lang。" and not buttons(hint)
    await world.say("huang", "huang", "/language")
    assert "尚未在绿灯登记" in text_of(await world.last_from_bot("huang"))

    await world.say("liuxiao", "liuxiao", "/settings")  # an alias
    asked = await world.last_from_bot("liuxiao")
    assert list(buttons(asked)) == ["✓ 中文", "English"]
    forged = await world.press("liuxiao", "liuxiao", asked["message_id"], "lg:fr", forge=True)
    assert forged["answer"]["text"] == "没有「fr」这种语言：请选择 中文 或 English。"
    stranger = await world.press("huang", "huang", asked["message_id"],
                                 button(asked, "English"), forge=True)
    assert "尚未在绿灯登记" in stranger["answer"]["text"]
    async with world.db() as store:
        liuxiao = await store.person_by_key("liuxiao")
        assert liuxiao is not None and not liuxiao.locale_chosen and liuxiao.locale is None


async def test_lang_is_in_the_command_menu(world: World) -> None:
    published = {entry["language_code"]: entry["commands"] for entry in await world.ctl.commands()}
    zh = {c["command"]: c["description"] for c in published["zh"]}
    en = {c["command"]: c["description"] for c in published["en"]}
    assert zh["lang"] == "中文 / English：我与您交流的语言"
    assert en["lang"] == "中文 / English: the language I use with you"
