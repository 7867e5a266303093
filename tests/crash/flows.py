"""What the demo bureau's people do during the crash proof, and what is written down of it.

Each flow is what a person would do, through the emulator's control API: a handler's
``/report``, a ``/submit`` wizard answered to the end, a leader's ✅ or ↩️ (with the reason)
on a card, a handler's 📤 resubmission, or a working day passing on the shared clock. Before
each action the seeded RNG decides whether the bot is killed around it (``harness``). A
flow goes on from what the chats show after the restart, as a person would: a question that
never came is not answered, the person sends /cancel.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from functools import partial
from typing import Any, TypeVar

from aiogram.filters.callback_data import CallbackData
from sqlalchemy import select
from sqlmodel import col

from bot.domain.rules.turns import turn_holders
from bot.domain.rules.vocabulary import CaseState, StepState
from bot.i18n import translator
from bot.services import Services
from bot.status import SWEEP_MARK
from bot.views.keyboards import CaseAct, CaseCb, DecideAct, DecideCb, ReturnToCb, TypeCb
from sandbox.demo import DEMO_CHATS, DEMO_USERS
from sandbox.emulator.client import ControlClient, ControlError
from storage.db import SessionFactory
from storage.models import Assignment, Case, FsmRecord, Person, Project, Step
from storage.store import Store
from tests.crash.harness import BotProcess, CrashEmulator, SharedClock, Trap, spring_late

Json = dict[str, Any]
CB = TypeVar("CB", bound=CallbackData)

# Who submits where: every handler of a project still under way, in its group.
SUBMITTERS = (("liuxiao", "KP-002"), ("liuxiao", "KP-003"), ("zhangfan", "KP-001"),
              ("zhangfan", "KP-004"), ("wujing", "KP-004"), ("gu", "KP-007"), ("xu", "KP-008"))
# The kinds of item (bot/case_types.yaml) by their Chinese name, and how often each is picked.
KINDS = {"一般事项审批": 5, "建设工程规划许可": 2, "规划选址和设计方案联合审查": 2,
         "危房重建议题": 1, "政策文件会签": 1}
FLOWS = {"report": 35, "submit": 22, "decide": 28, "resubmit": 5, "clock": 10}
ACTION_KILL_RATE = 0.11  # about 50 kills in 200 flows, with the sweeps'
SWEEP_KILL_RATE = 0.6
KILL_POINTS = ("delay", "before", "after")


@dataclass
class SentReport:
    chat_id: int
    message_id: int
    text: str


@dataclass
class Press:
    who: str
    chat_id: int
    step_id: int
    act: str
    callback_id: str
    answer: str | None = None


@dataclass
class Ledger:
    """What the people did, as they saw it."""

    reports: list[SentReport] = field(default_factory=list)
    presses: list[Press] = field(default_factory=list)
    flows: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)  # what went other than planned
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))  # per kind


def callbacks(message: Json) -> list[tuple[str, str]]:
    markup = message.get("reply_markup") or {}
    return [(b["text"], b.get("callback_data", "")) for row in markup.get("inline_keyboard", [])
            for b in row]


def unpacked(kind: type[CB], data: str) -> CB | None:
    if not data.startswith(kind.__prefix__ + kind.__separator__):
        return None
    try:
        return kind.unpack(data)
    except (TypeError, ValueError):
        return None


def decision(step_id: int, act: DecideAct) -> Callable[[str], bool]:
    """Callback data of ``act`` on ``step_id``."""
    def wanted(data: str) -> bool:
        cb = unpacked(DecideCb, data)
        return cb is not None and cb.step == step_id and cb.act == act
    return wanted


def resubmission(case_id: int) -> Callable[[str], bool]:
    def wanted(data: str) -> bool:
        cb = unpacked(CaseCb, data)
        return cb is not None and cb.case == case_id and cb.act == CaseAct.RESUBMIT
    return wanted


def to_handler(data: str) -> bool:
    cb = unpacked(ReturnToCb, data)
    return cb is not None and cb.to == 0


def data_of(message: Json, wanted: Callable[[str], bool]) -> str:
    return next(d for _, d in callbacks(message) if wanted(d))


# The questions a person answers by replying (force-reply, which Telegram does not show on
# the message): how each begins, in either language.
QUESTIONS = ("Reply with the title of the item.", "Reply with “{field}”.",
             "Reply to this message with the reason for returning “{title}”. /cancel keeps it "
             "open.",
             "Reply with the supplement: text, photos or a document. /skip resubmits without "
             "one.")
QUESTION_STARTS = tuple({str(translator(locale).gettext(question)).split("{")[0]
                         for question in QUESTIONS for locale in ("zh", "en")})


def asks(message: Json) -> bool:
    """A question to answer by replying (in a group it names whom it asks first)."""
    text = str(message.get("text") or "")
    return any(start in text for start in QUESTION_STARTS)


def from_bot(message: Json) -> bool:
    return bool(message.get("from", {}).get("is_bot"))


class Run:
    """The flows, one at a time, and the bot killed and started again around them."""

    def __init__(self, emu: CrashEmulator, ctl: ControlClient, bot: BotProcess,
                 clock: SharedClock, sessions: SessionFactory, services: Services,
                 rng: random.Random) -> None:
        self.emu, self.ctl, self.bot, self.clock = emu, ctl, bot, clock
        self.sessions, self.services, self.rng = sessions, services, rng
        self.ledger = Ledger()
        self.serial = 0
        self.sweep_trap: tuple[Trap, datetime] | None = None  # set when the clock jumped
        self.kills_at_start = 0  # kills before the flow under way

    # -- the bot, killed and started again ----------------------------------------------------

    async def keep_up(self) -> None:
        if not self.bot.alive:
            await self.bot.reaped()
            await self.bot.start()

    async def settle(self, update_id: int, trap: Trap | None = None) -> None:
        """Until the update is handled and confirmed, the bot started again whenever it died;
        a trap not reached meanwhile is sprung then."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 120
        while not self.emu.queue.is_confirmed(update_id):
            if not self.bot.alive:
                await self.keep_up()
            assert loop.time() < deadline, \
                f"update {update_id} not handled in 120 s\n{self.bot.stderr_tail()}"
            await asyncio.sleep(0.01)
        if trap is not None and spring_late(self.emu, self.bot) is not None:
            await self.keep_up()

    async def act(self, send: Callable[[], Awaitable[Json]]) -> Json:
        """One action of a person: ``send()`` gives the control API's answer. Returns
        once the bot handled it, however often it was killed meanwhile (here, or by the
        trap a clock jump set)."""
        await self.keep_up()
        await self.sweep_trap_expired()
        kill, how = self.rng.random() < ACTION_KILL_RATE, self.rng.choice(KILL_POINTS)
        countdown, delay = self.rng.randint(1, 3), self.rng.uniform(0.0, 0.3)
        if kill and how != "delay" and self.emu.trap is not None:
            how = "delay"  # the clock's trap is still set
        trap = self.emu.arm(Trap(countdown, how == "before", "")) \
            if kill and how != "delay" else None
        sent = await send()
        if kill and how == "delay":
            await asyncio.sleep(delay)
            self.bot.kill_now("delay")
        await self.settle(int(sent["update_id"]), trap)
        return sent

    async def sweep_trap_expired(self) -> None:
        """The clock's trap, not reached by the sweep after the jump, is taken away."""
        if self.sweep_trap is None:
            return
        trap, since = self.sweep_trap
        if trap.sprung.is_set():
            self.sweep_trap = None
        elif (await self.last_sweep() or since) > since:
            self.emu.disarm()
            self.sweep_trap = None
            self.ledger.outcomes["clock's trap not reached"] += 1

    # -- what people see ----------------------------------------------------------------------

    async def shown_after(self, chat_id: int, after: int) -> list[Json]:
        return [m for m in await self.ctl.chat(chat_id) if from_bot(m)
                and m["message_id"] > after]

    async def last_id(self, chat_id: int) -> int:
        messages = await self.ctl.chat(chat_id)
        return max((m["message_id"] for m in messages), default=0)

    def cut_short(self, what: str) -> None:
        """A flow that could not go on as planned: after a kill (a message lost), or not."""
        killed = sum(self.bot.kills.values()) > self.kills_at_start
        self.ledger.outcomes[what + ("" if killed else " (no kill in the flow)")] += 1

    def next_serial(self) -> int:
        self.serial += 1
        return self.serial

    # -- the flows ----------------------------------------------------------------------------

    async def flow(self) -> None:
        began = asyncio.get_running_loop().time()
        self.kills_at_start = sum(self.bot.kills.values())
        kind = self.rng.choices(list(FLOWS), weights=list(FLOWS.values()))[0]
        if kind == "resubmit" and not await self.resubmit():
            kind = "decide"
        if kind == "decide" and not await self.decide():
            kind = "submit"
        if kind == "submit":
            await self.submit()
        elif kind == "report":
            await self.report()
        elif kind == "clock":
            await self.next_working_day()
        self.ledger.flows[kind] += 1
        self.ledger.seconds[kind] += asyncio.get_running_loop().time() - began

    async def report(self) -> None:
        who, project = self.rng.choice(SUBMITTERS)
        uid, chat = DEMO_USERS[who].telegram_id, DEMO_CHATS[project].chat_id
        text = f"/report 第{self.next_serial()}次进展：现场踏勘与资料核对"
        if self.rng.random() < 0.2:
            sent = await self.act(lambda: self.ctl.send_photo(
                uid, chat, caption=text, wait=False))
        else:
            sent = await self.act(lambda: self.ctl.send_text(
                uid, chat, text, wait=False))
        self.ledger.reports.append(SentReport(chat, int(sent["message"]["message_id"]), text))

    async def submit(self) -> None:
        """/submit a title, then answer whatever the bot asks: the kind, its fields, the
        green channel; until the case is there or nothing is asked any more."""
        who, project = self.rng.choice(SUBMITTERS)
        uid, chat = DEMO_USERS[who].telegram_id, DEMO_CHATS[project].chat_id
        kind = self.rng.choices(list(KINDS), weights=list(KINDS.values()))[0]
        title = f"事项{self.next_serial():03d}"
        sent = await self.act(lambda: self.ctl.send_text(
            uid, chat, f"/submit {title}", wait=False))
        opened = int(sent["message"]["message_id"])
        answered: set[int] = set()
        for _ in range(10):
            if await self.case_titled(title) is not None:
                return
            questions = [m for m in await self.shown_after(chat, opened)
                         if m["message_id"] not in answered
                         and (asks(m) or any(unpacked(TypeCb, d) for _, d in callbacks(m)))]
            if not questions:
                break
            question = questions[-1]
            answered.add(question["message_id"])
            mid = int(question["message_id"])
            if asks(question):
                value = f"答复{self.next_serial()}"
                await self.act(partial(self.ctl.send_text, uid, chat, value,
                                       reply_to_message_id=mid, wait=False))
                continue
            choices = [(label, data, unpacked(TypeCb, data)) for label, data in callbacks(question)]
            if all(cb is not None and cb.green == -1 for _, _, cb in choices):
                data = next(d for label, d, _ in choices if kind in label)
            else:
                green = 1 if self.rng.random() < 0.3 else 0
                data = next(d for _, d, cb in choices if cb is not None and cb.green == green)
            await self.act(partial(self.ctl.press, uid, chat, mid, data, wait=False))
        if await self.case_titled(title) is None:
            # Nothing (more) is asked: the person gives up on this wizard.
            self.cut_short("submit given up: no question shown")
            await self.act(lambda: self.ctl.send_text(uid, chat, "/cancel", wait=False))

    async def decide(self) -> bool:
        """A holder of an open turn approves (or returns, with a reason) from their private
        card, or from the group card when they have none; now and then they press twice."""
        turns = await self.open_turns()
        if not turns:
            return False
        case, step, _turn, person = self.rng.choice(turns)
        approve = decision(step.id, DecideAct.APPROVE)
        found = await self.button(person, case, approve)
        if found is None:
            self.cut_short("turn with no ✅ anywhere")
            return True
        chat, message = found
        if self.rng.random() < 0.25:
            await self.return_it(person, chat, message, step)
            return True
        data = data_of(message, approve)
        first = (person, chat, int(message["message_id"]), data)
        if self.rng.random() >= 0.2:
            await self.press(*first, step.id, "a")
            return True
        # A double tap, or the other post pressing at the same moment: both presses sent
        # before the bot handled either.
        second = first
        others = [p for _, s, _, p in turns if s.id == step.id and p.id != person.id]
        if others and self.rng.random() < 0.5:
            other = self.rng.choice(others)
            found = await self.button(other, case, approve)
            if found is not None:
                second = (other, found[0], int(found[1]["message_id"]),
                          data_of(found[1], approve))
        await self.keep_up()
        sent = []
        for p, c, m, d in (first, second):
            with contextlib.suppress(ControlError):  # the buttons went before the second
                sent.append((p, c, await self.ctl.press(p.tg_user_id or 0, c, m, d,
                                                        wait=False)))
        for p, c, answer in sent:
            await self.settle(int(answer["update_id"]))
            self.record_press(p.key, c, step.id, "a", answer)
        self.ledger.outcomes["pressed twice at once"] += 1
        return True

    async def press(self, person: Person, chat: int, message_id: int, data: str,
                    step_id: int, act: str) -> None:
        sent = await self.act(lambda: self.ctl.press(person.tg_user_id or 0, chat, message_id,
                                                     data, wait=False))
        self.record_press(person.key, chat, step_id, act, sent)

    def record_press(self, who: str, chat: int, step_id: int, act: str, sent: Json) -> None:
        record = self.emu.world.callbacks[sent["callback_query_id"]]
        answer = record.answer.get("text") if record.answer else None
        self.ledger.presses.append(Press(who, chat, step_id, act, sent["callback_query_id"],
                                         answer))

    async def return_it(self, person: Person, chat: int, message: Json, step: Step) -> None:
        """↩️, to the handler when asked where to, then the reason in reply to the question;
        a question that never came: ↩️ once more, then /cancel."""
        uid = person.tg_user_id or 0
        data = data_of(message, decision(step.id, DecideAct.RETURN))
        for _attempt in range(2):
            mark = await self.last_id(chat)
            await self.press(person, chat, int(message["message_id"]), data, step.id, "r")
            shown = await self.shown_after(chat, mark)
            target = next((m for m in shown if any(to_handler(d) for _, d in callbacks(m))),
                          None)
            if target is not None:
                to = data_of(target, to_handler)
                mark = await self.last_id(chat)
                await self.act(partial(self.ctl.press, uid, chat, int(target["message_id"]), to,
                                       wait=False))
                shown = await self.shown_after(chat, mark)
            prompt = next((m for m in reversed(shown) if asks(m)), None)
            if prompt is not None:
                reason = f"请补充材料（第{self.next_serial()}次）"
                await self.act(partial(self.ctl.send_text, uid, chat, reason,
                                       reply_to_message_id=int(prompt["message_id"]),
                                       wait=False))
                return
            if not await self.still_holds(step.id, person.id):
                return  # decided meanwhile (the redelivered press, or someone else)
        self.cut_short("return given up: no question shown")
        await self.act(lambda: self.ctl.send_text(uid, chat, "/cancel", wait=False))

    async def resubmit(self) -> bool:
        """A handler answers a return: 📤, then the supplement in reply to the question."""
        waiting = await self.cases_in(CaseState.SUPPLEMENT)
        if not waiting:
            return False
        case, submitter = self.rng.choice(waiting)
        found = await self.button(submitter, case, resubmission(case.id))
        if found is None:
            self.cut_short("return with no 📤 anywhere")
            return True
        chat, message = found
        uid = submitter.tg_user_id or 0
        data = data_of(message, resubmission(case.id))
        mark = await self.last_id(chat)
        await self.act(lambda: self.ctl.press(uid, chat, int(message["message_id"]), data,
                                              wait=False))
        prompt = next((m for m in reversed(await self.shown_after(chat, mark)) if asks(m)), None)
        if prompt is None:
            self.cut_short("resubmit given up: no question shown")
            await self.act(lambda: self.ctl.send_text(uid, chat, "/cancel", wait=False))
            return True
        supplement = f"已补充（第{self.next_serial()}次）"
        await self.act(lambda: self.ctl.send_text(
            uid, chat, supplement, reply_to_message_id=int(prompt["message_id"]), wait=False))
        return True

    async def next_working_day(self) -> None:
        """The shared clock jumps to the next working day, at an office hour. Half the time a
        trap is set for the sweep that delivers what fell due (it may catch an update's work
        as well: sweeps run while people act)."""
        to = self.office_hour_of_next_working_day(self.clock.now())
        countdown, before = self.rng.randint(1, 6), self.rng.random() < 0.5
        await self.sweep_trap_expired()
        if self.rng.random() < SWEEP_KILL_RATE and self.emu.trap is None:
            self.sweep_trap = self.emu.arm(Trap(countdown, before, "sweep ")), to
        self.clock.jump(to)

    async def swept_since(self, instant: datetime, timeout: float = 60) -> None:  # noqa: ASYNC109
        """Until a sweep that began at ``instant`` or later finished."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (await self.last_sweep() or instant) <= instant:
            await self.keep_up()
            assert loop.time() < deadline, f"no sweep after {instant}\n{self.bot.stderr_tail()}"
            await asyncio.sleep(0.05)

    def office_hour_of_next_working_day(self, now: datetime) -> datetime:
        calendar, tz = self.services.calendar, self.services.settings.tz
        day = now.astimezone(tz).date() + timedelta(days=1)
        while not calendar.is_workday(day):
            day += timedelta(days=1)
        minute = self.rng.choice((9 * 60, 9 * 60 + 30, 10 * 60, 10 * 60 + 45, 14 * 60 + 30,
                                  15 * 60 + 15, 16 * 60))
        return datetime.combine(day, time(minute // 60, minute % 60), tzinfo=tz)

    # -- reading the database, as the bureau's people know their own work ------------------

    async def case_titled(self, title: str) -> int | None:
        async with self.sessions() as session:
            return (await session.execute(select(col(Case.id)).where(col(Case.title) == title))
                    ).scalar_one_or_none()

    async def open_turns(self) -> list[tuple[Case, Step, Assignment, Person]]:
        async with self.sessions() as session:
            store = Store(session)
            steps = (await session.execute(
                select(Step, Case).join(Case, col(Case.id) == col(Step.case_id))
                .where(col(Step.state) == StepState.OPEN,
                       col(Case.state) == CaseState.PENDING))).all()
            found = []
            for step, case in steps:
                for turn in turn_holders(step, await store.assignments(step.id)):
                    person = await session.get(Person, turn.person_id)
                    assert person is not None
                    found.append((case, step, turn, person))
            return found

    async def still_holds(self, step_id: int, person_id: int) -> bool:
        async with self.sessions() as session:
            step = await session.get(Step, step_id)
            assignments = await Store(session).assignments(step_id)
            return step is not None and any(a.person_id == person_id
                                            for a in turn_holders(step, assignments))

    async def cases_in(self, state: CaseState) -> list[tuple[Case, Person]]:
        async with self.sessions() as session:
            rows = (await session.execute(
                select(Case, Person).join(Person, col(Person.id) == col(Case.submitter_id))
                .where(col(Case.state) == state))).all()
            return [(case, person) for case, person in rows]

    async def last_sweep(self) -> datetime | None:
        async with self.sessions() as session:
            mark = await session.get(FsmRecord, SWEEP_MARK)
            if mark is None:
                return None
            return datetime.fromisoformat(json.loads(mark.data)["finished_at"])

    async def button(self, person: Person, case: Case, wanted: Callable[[str], bool]
                     ) -> tuple[int, Json] | None:
        """Where ``person`` finds a wanted button: their private chat's newest message that
        has one, else the case's group card if they are in the group."""
        private = [m for m in await self.ctl.chat(person.tg_user_id or 0)
                   if from_bot(m) and any(wanted(d) for _, d in callbacks(m))]
        if private:
            return person.tg_user_id or 0, private[-1]
        code = await self.project_code(case)
        group = next(c for c in DEMO_CHATS.values() if c.project == code)
        if person.key not in group.members:
            return None
        shown = [m for m in await self.ctl.chat(group.chat_id)
                 if from_bot(m) and any(wanted(d) for _, d in callbacks(m))]
        return (group.chat_id, shown[-1]) if shown else None

    async def project_code(self, case: Case) -> str:
        async with self.sessions() as session:
            project = await session.get(Project, case.project_id)
            assert project is not None
            return project.code
