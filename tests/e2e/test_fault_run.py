"""A run of reports, submissions and decisions while Telegram keeps failing (issue #11,
"Proofs: Faults").

Before each step that makes the bot talk, the emulator is told (seeded) to fail the next
calls of a method: 500, 502 as Telegram's front end's HTML page, 503, a slow answer, a 429
with its ``retry_after``, once or twice (the bot's retries get through) or five times in a
row (the bot gives the call up). Afterwards, and after one sweep that mends what was given
up: every update was handled, every report has exactly one card, every case's cards show
the case as it is (buttons only on open turns), every submitter heard of an approval or a
return once, and a sync of every case finds nothing left to send or edit.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select

from bot.domain.rules.vocabulary import AssignmentState, CardKind, CaseState
from bot.flows.publishing import sync_cards
from storage.models import Assignment, Card, Case, HandledUpdate, Report
from tests.e2e.conftest import Json, World, button, buttons, text_of

SEED = 20261203
FLOWS = 24
METHODS = ("sendMessage", "editMessageText", "answerCallbackQuery", "*")
# (kind, options, weight): a 429 costs its whole second of retry_after, so it is rarer.
FAULTS = (("500", {}, 4), ("502", {"html": True}, 4), ("503", {}, 2),
          ("delay", {"delay": 0.2}, 3), ("429", {"retry_after": 1}, 1))
GIVEN_UP = 5  # the tries RETRY makes: that many failures in a row and the call is given up


@dataclass
class Run:
    rng: random.Random
    injected: Counter[str] = field(default_factory=Counter)
    updates: list[int] = field(default_factory=list)
    reports: list[str] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)

    async def fault(self, world: World) -> None:
        """Maybe make the next calls of some method fail."""
        if self.rng.random() < 0.3:
            return
        kind, options, _ = self.rng.choices(FAULTS, weights=[f[2] for f in FAULTS])[0]
        count = 1 if kind == "429" else (GIVEN_UP if self.rng.random() < 0.2
                                         else self.rng.randint(1, 2))
        method = self.rng.choice(METHODS)
        await world.ctl.inject_fault(method, kind, count=count, **options)
        self.injected[f"{kind}×{count}"] += 1

    async def say(self, world: World, who: str, where: str, text: str,
                  reply_to: int | None = None) -> Json:
        sent = await world.say(who, where, text, reply_to=reply_to)
        self.updates.append(int(sent["update_id"]))
        return sent

    async def press(self, world: World, who: str, where: str, message: Json,
                    label: str) -> Json | None:
        shown = await world.ctl.message(world.cid(where), message["message_id"])
        if not any(label in b for b in buttons(shown)):
            return None
        pressed = await world.press(who, where, shown["message_id"], button(shown, label))
        self.updates.append(int(pressed["update_id"]))
        return pressed


async def report(world: World, run: Run, n: int) -> None:
    text = f"微波站迁建进展第{n}次：已完成现场踏勘"
    run.reports.append(text)
    await run.fault(world)
    await run.say(world, "liuxiao", "KP-002", f"/report {text}")


async def submit(world: World, run: Run, n: int) -> str:
    title = f"微波站迁建选址方案（第{n}版）"
    run.titles.append(title)
    await run.say(world, "liuxiao", "KP-002", f"/submit {title}")
    picker = await world.last_from_bot("KP-002")
    await run.fault(world)  # the group card, the private cards and the receipt meet it
    await run.press(world, "liuxiao", "KP-002", picker, "一般事项审批")
    return title


async def decide(world: World, run: Run, title: str, returning: bool) -> None:
    """li decides from his private card (or the group card, if his never came)."""
    cards = [m for m in await world.from_bot("li") if title in text_of(m)]
    group = [m for m in await world.from_bot("KP-002")
             if title in text_of(m) and text_of(m).startswith("📝")]
    where, card = ("li", cards[-1]) if cards else ("KP-002", group[-1]) if group else ("", None)
    if card is None:
        return  # nothing to press yet: the sweep announces it, and it stays open
    if not returning:
        await run.fault(world)
        await run.press(world, "li", where, card, "同意")
        return
    if await run.press(world, "li", where, card, "退回") is None:
        return
    asked = await world.last_from_bot(where)
    if "的理由" not in text_of(asked):
        return
    await run.fault(world)
    await run.say(world, "li", where, "请补充产权单位意见", reply_to=asked["message_id"])


async def test_a_run_through_telegrams_faults_loses_and_doubles_nothing(world: World) -> None:
    run = Run(random.Random(SEED))
    for n in range(FLOWS):
        step = run.rng.random()
        if step < 0.4:
            await report(world, run, n)
        else:
            title = await submit(world, run, n)
            await decide(world, run, title, returning=step > 0.8)
    world.emu.faults.clear()
    world.clock.advance(timedelta(minutes=6))
    await world.sweep()  # mends what was given up

    # Every update was handled once.
    async with world.db() as store:
        handled = set((await store.session.execute(
            select(HandledUpdate.update_id))).scalars())
        stored = list((await store.session.execute(select(Report))).scalars())
        cases = list((await store.session.execute(select(Case))).scalars())
        assignments = list((await store.session.execute(select(Assignment))).scalars())
        cards = list((await store.session.execute(select(Card))).scalars())
    assert set(run.updates) <= handled
    assert await world.ctl.updates_pending() == 0

    # Every report stored once, with exactly one card in the group.
    group = await world.from_bot("KP-002")
    assert sorted(r.text for r in stored) == sorted(run.reports)
    for text in run.reports:
        shown = [m for m in group if text in text_of(m) and "进展汇报" in text_of(m)]
        assert len(shown) == 1, text
        [row] = [r for r in stored if r.text == text]
        assert row.card_message_id == shown[0]["message_id"]

    # Every case's cards are true: one group card, buttons only where a turn is open, the
    # submitter told once of what happened.
    assert sorted(c.title for c in cases) == sorted(run.titles)
    open_turns = {(a.id, a.version) for a in assignments if a.state == AssignmentState.PENDING}
    told = [text_of(m) for m in await world.from_bot("liuxiao")]
    for case in cases:
        mine = [c for c in cards if c.case_id == case.id]
        assert Counter(c.kind for c in mine)[CardKind.GROUP] == 1, case.title
        for card in mine:
            assert card.tg_message_id is not None, (case.title, card.kind)
            shown = await world.ctl.message(card.tg_chat_id, card.tg_message_id)
            if card.kind is CardKind.PRIVATE:
                is_open = (card.assignment_id, card.turn_version) in open_turns
                assert bool(buttons(shown)) == is_open, (case.title, card.kind)
            if card.kind is CardKind.GROUP:
                assert bool(buttons(shown)) == (case.state in (CaseState.PENDING,
                                                               CaseState.SUPPLEMENT))
                assert {CaseState.APPROVED: "✅ 审批通过", CaseState.SUPPLEMENT: "⏸"}.get(
                    case.state, "📝") in text_of(shown), case.title
        approved = [t for t in told if case.title in t and "已审批通过" in t]
        returned = [t for t in told if case.title in t and "退回补正" in t]
        assert (len(approved), len(returned)) == (
            int(case.state is CaseState.APPROVED), int(case.state is CaseState.SUPPLEMENT))

    # Nothing is left to send or edit: the bot's record is what Telegram shows.
    before = len(await world.ctl.requests())
    services = world.app.services
    for case in cases:
        async with world.db() as store:
            await sync_cards(world.app.bot, store, services, case.id)
            await store.commit()
    assert [r["method"] for r in (await world.ctl.requests())[before:]] == []
    states = Counter(str(c.state) for c in cases)
    print(f"\n{FLOWS} flows, {len(run.updates)} updates, faults {dict(run.injected)}, "
          f"{len(stored)} reports, cases {dict(states)}")
