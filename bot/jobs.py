"""Timed work: the deadline sweep (deemed approvals, nudges, urge notices, warnings)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import InlineKeyboardMarkup
from markupsafe import Markup
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.domain.rules.calendar import WorkCalendar
from bot.domain.rules.digest import DueDigest, due_digest
from bot.domain.rules.ladder import RungKind
from bot.domain.rules.policy import Policy
from bot.domain.rules.turns import turn_holders
from bot.domain.rules.vocabulary import Channel, ChatKind, StepState
from bot.domain.usecases import inquiries, nudging, supervision_items
from bot.domain.usecases.approvals import Outcome, deem_approved, deemable_steps
from bot.domain.usecases.digest import weekly
from bot.domain.usecases.scope import nearest_chats, scope_of_chat
from bot.flows.announce import announce
from bot.flows.charts import chart_album
from bot.flows.delivery import send_private, send_to_person
from bot.flows.items import deliver_item_nudges
from bot.flows.posting import post_missing_card
from bot.flows.publishing import keep_reminder, reminder_buttons, reply_to_message, sync_cards
from bot.flows.urge_copies import keep_urge_copy
from bot.scheduling import Timers
from bot.services import Services
from bot.shared_state import RedisTurn
from bot.status import record_sweep
from bot.telegram import Lane, sending_in
from bot.views.digest import weekly_digest_text
from bot.views.inquiries import reminder_text as inquiry_reminder_text
from bot.views.keyboards import inquiry_keyboard
from bot.views.nudges import (
    decide_hint,
    deemed_text,
    digest_text,
    nudge_text,
    uncertain_year_text,
    urge_keyboard,
    urge_text,
)
from bot.views.text import localized, mention
from storage.db import SessionFactory, unit_of_work
from storage.models import Assignment, Case, Chat, Nudge, Person, Section, Step
from storage.store import Store

log = logging.getLogger(__name__)
SWEEP_LOCK = 0x67726E73  # "grns": one sweep at a time across processes (PostgreSQL)
# Card updates of the sweep at once on PostgreSQL: each holds a connection for its advisory
# lock and takes a second at times, out of the pool's fifteen.
CARD_JOBS_AT_ONCE = 4
REPAIR_BATCH = 200  # cases and reports mended per sweep: a backlog drains over a few
# A report's card is posted by its own update within seconds, or a group's minute of pace:
# one still missing after this was left by a process that stopped.
REPORT_GRACE = timedelta(minutes=5)


@dataclass
class SweepResult:
    sent: int = 0
    failed: int = 0
    urges: int = 0
    deemed: int = 0
    skipped: bool = False  # another process was sweeping


class Jobs:
    def __init__(self, bot: Bot, sessions: SessionFactory, services: Services,
                 engine: AsyncEngine, timers: Timers | None = None) -> None:
        self.bot, self.sessions, self.services, self.engine = bot, sessions, services, engine
        self.timers = timers
        self.timed: set[tuple[int, datetime]] | None = None  # due timers known to be set
        self.ladders = nudging.CaseLadders()
        self.years_read = False  # whether a sweep looked at every open step's uncertain due
        self.refreshed_on: date | None = None  # the day every pending case's cards were
        self.shared_turn: RedisTurn | None = None  # the sweep's lock in Redis, if configured

    async def sweep(self) -> SweepResult:
        """Deemed approvals first, then claim what is due and deliver it."""
        async with self._turn() as mine:
            if not mine:
                return SweepResult(skipped=True)
            async with self.sessions() as session:
                with unit_of_work(session):
                    store = Store(session)
                    await self.services.reload_calendar(store)
                    with sending_in(Lane.NUDGE):  # what nobody is waiting on goes after answers
                        result = await self._sweep(store)
                    await record_sweep(store, self.services.now(), result.sent, result.skipped)
                    await session.commit()
                    return result

    @asynccontextmanager
    async def _turn(self) -> AsyncIterator[bool]:
        """Whether this process may sweep now, held while it does: one sweep at a time on
        all workers (PostgreSQL's advisory lock, else a Redis lock when configured; a single
        SQLite process needs none). A worker that does not get it skips this tick."""
        if self.engine.dialect.name == "postgresql":
            async with self.engine.connect() as lock:
                taken = await _take(lock)
                try:
                    yield taken
                finally:
                    if taken:
                        await _release(lock)
        elif self.shared_turn is not None:
            async with self.shared_turn.take() as taken:
                yield taken
        else:
            yield True

    async def _sweep(self, store: Store) -> SweepResult:
        services, result = self.services, SweepResult()
        # One instant for both: a step deemed approvable at its due must not be planned
        # past it (planning sets its next moment beyond the due).
        now = services.now()
        await self._repair(store, now)
        for step_id in await deemable_steps(store, now):
            outcome = await deem_approved(store, step_id, now=now, calendar=services.calendar)
            if outcome is not None:
                result.deemed += 1
                await self._announce_deemed(store, step_id, outcome)
        touched: set[int | None] = set()
        async for plan in plan_windows(store, now, services.calendar, services.policy,
                                       self.ladders, every_year=not self.years_read):
            await self._deliver_plan(store, plan, result)
            touched |= {item.subject.case.id for item in plan.nudges
                        if item.subject.case is not None}
            await self._set_due_timers(store, plan.looked_at)
        self.years_read = True
        await self._refresh_cards(store, touched)
        # Supervision items (督查事项) waiting for an answer: lights and nudges, claimed and
        # committed before they are sent, like the steps' above.
        items = await supervision_items.plan_item_nudges(store, now, services.calendar,
                                                         services.policy)
        await store.commit()
        result.sent += await deliver_item_nudges(self.bot, store, services, items)
        await self._remind_inquiries(store, result)
        return result

    async def _repair(self, store: Store, now: datetime) -> None:
        """What a process that stopped between a commit and its messages left unsaid: cases
        whose cards are behind (a turn not announced, a card showing buttons of a decision
        taken, a group card never posted) are brought up to date, under their card lock, so
        one being updated right now is only looked at again; reports filed a while ago
        without their card get it."""
        cases = await store.cases_behind(REPAIR_BATCH)
        reports = [r.id for r in await store.reports_without_card(now - REPORT_GRACE,
                                                                    REPAIR_BATCH)]
        await store.commit()
        if not cases and not reports:
            return

        async def catch_up(store: Store, case_id: int) -> None:
            try:
                await sync_cards(self.bot, store, self.services, case_id)
            except TelegramAPIError as exc:
                log.warning("cards of case %s still behind: %s", case_id, exc)

        async def post(store: Store, report_id: int) -> None:
            try:
                await post_missing_card(self.bot, store, self.services, report_id)
            except TelegramAPIError as exc:
                log.warning("card of report %s still not posted: %s", report_id, exc)

        await self._apart([functools.partial(catch_up, case_id=c) for c in cases]
                          + [functools.partial(post, report_id=r) for r in reports], cards=True)

    async def _remind_inquiries(self, store: Store, result: SweepResult) -> None:
        """The first-question ledger's reminders: claimed and committed, then sent, each
        recorded as it went (a failed one is retaken by a later sweep)."""
        services = self.services
        now = services.now()
        if not services.policy.may_nudge(now, services.calendar, False):
            return
        due = await inquiries.due_reminders(store, now=now, calendar=services.calendar,
                                            policy=services.policy)
        await store.commit()
        for reminder, nudge_id in due:
            t = services.rendering.for_person(reminder.person)
            nudge = await store.get(Nudge, nudge_id)
            assert nudge is not None
            if await self._send_claimed(store, nudge, reminder.person,
                                        inquiry_reminder_text(t, reminder), result,
                                        inquiry_keyboard(t, reminder.inquiry.id)):
                result.sent += 1

    async def _send_claimed(self, store: Store, nudge: Nudge, person: Person, text: Markup,
                            result: SweepResult, markup: InlineKeyboardMarkup | None = None
                            ) -> bool:
        """A claimed message to one person, privately when it can be, recorded as it went;
        a failure is kept on the claim, which a later sweep retakes."""
        try:
            delivered = await send_private(self.bot, store, person, text, markup)
        except TelegramAPIError as exc:
            log.warning("%s nudge %s not sent (%s)", nudge.target_kind, nudge.id, exc)
            nudge.error = str(exc)[:255]
            await store.save(nudge)
            await store.commit()
            result.failed += 1
            return False
        await nudging.mark_sent(store, nudge, channel=delivered.channel,
                                at=self.services.now(), error=delivered.error)
        await store.commit()
        return True

    async def _deliver_plan(self, store: Store, plan: nudging.Plan, result: SweepResult
                            ) -> None:
        services = self.services
        # The section head hears of an urge notice through the notice itself (with its ✍️
        # button, privately or mentioned in the group), not also through the red, urge or
        # "still red" nudges of the same subject in the same sweep: one message says it all.
        # So whoever has a nudge of the urge rung waits for their notices; everything else
        # goes at once, each message waiting only for its own chat's pace.
        heard: dict[tuple[str, int, int | None], Channel] = {}
        notices: dict[int | None, list[asyncio.Event]] = defaultdict(list)

        async def urge(store: Store, planned: nudging.PlannedUrge, done: asyncio.Event) -> None:
            try:
                planned = await _adopted_urge(store, planned)
                channel = await self._deliver_urge(store, planned, result)
                if channel is not None and planned.head:
                    heard[planned.subject.kind, planned.subject.id, planned.head.id] = channel
            finally:
                done.set()

        async def after_notices(store: Store, items: list[nudging.PlannedNudge]) -> None:
            for done in notices[items[0].person.id]:
                await done.wait()
            rest = []
            for item in items:
                channel = heard.get((item.subject.kind, item.subject.id, item.person.id))
                if channel is not None:
                    item = await _adopted(store, item)  # the notice said it already
                    await nudging.mark_sent(store, item.nudge, channel=channel,
                                            at=services.now())
                    result.sent += 1
                else:
                    rest.append(item)
            await store.commit()  # before the jobs below, which write in sessions of their own
            await self._apart(self._nudge_jobs(rest, result))

        jobs: list[Callable[[Store], Awaitable[None]]] = []
        for planned in plan.urges:
            done = asyncio.Event()
            notices[planned.head.id if planned.head else None].append(done)
            jobs.append(functools.partial(urge, planned=planned, done=done))
        waiting = {item.person.id for item in plan.nudges
                   if item.reached.rung.kind is RungKind.URGE}
        jobs += self._nudge_jobs([i for i in plan.nudges if i.person.id not in waiting], result)
        for person_id in waiting:
            jobs.append(functools.partial(after_notices, items=[
                i for i in plan.nudges if i.person.id == person_id]))
        await store.commit()  # every claim is kept before any of them is sent
        await self._apart(jobs)
        for nudge, admin, year in plan.uncertain_years:
            await self._send_claimed(store, nudge, admin, uncertain_year_text(
                services.rendering.for_person(admin), year), result)

    async def set_aside_past(self) -> int:
        """Claim what is due now and record it as handled without a word (this week's digest
        too): for a bureau just seeded with a past (the sandbox's demo), whose overdue
        milestones are no news at the start. Later rungs go out as usual. Returns how many
        nudges and notices were set aside."""
        set_aside = 0
        async with self.sessions() as session:
            with unit_of_work(session):
                store, now = Store(session), self.services.now()
                async for plan in plan_windows(store, now, self.services.calendar,
                                               self.services.policy, self.ladders):
                    for item in plan.nudges:
                        item = await _adopted(store, item)
                        await nudging.mark_sent(store, item.nudge, channel=Channel.NONE, at=now,
                                                error="already past when the bureau was set up")
                    for planned in plan.urges:
                        planned = await _adopted_urge(store, planned)
                        await nudging.mark_urge_delivered(store, planned.urge, now, head=True,
                                                          office=True)
                    await store.commit()  # each window's claims kept before the next is read
                    set_aside += len(plan.nudges) + len(plan.urges)
                items = await supervision_items.plan_item_nudges(
                    store, now, self.services.calendar, self.services.policy)
                for planned_item in items:
                    await nudging.mark_sent(store, planned_item.nudge, channel=Channel.NONE,
                                            at=now,
                                            error="already past when the bureau was set up")
                await store.commit()
                set_aside += len(items)
                due = self._due_digest(now)
                if due is not None and (claim := await store.claim_digest(due.week, now)):
                    claim.error = "already past when the bureau was set up"
                    await store.save(claim)
                    await store.commit()
        return set_aside

    def _due_digest(self, now: datetime) -> DueDigest | None:
        settings = self.services.settings
        when = settings.digest_time
        if when is None:
            return None
        return due_digest(now.astimezone(settings.tz), when, self.services.calendar)

    async def weekly_digest(self) -> bool:
        """The week's digest to the leaders' group(s), when due (see ``rules.digest``): claimed
        first, so it goes once; a send that fails gives the claim back, for the next run."""
        services = self.services
        now = services.now()
        tz = services.settings.tz
        due = self._due_digest(now)
        if due is None:
            return False
        async with self.sessions() as session:
            with unit_of_work(session):
                store = Store(session)
                chats = await store.chats_of_kind(ChatKind.LEADERS)
                claim = await store.claim_digest(due.week, now) if chats else None
                await store.commit()
                if claim is None:
                    return False
                t = services.rendering.for_group()
                try:
                    for chat in chats:  # each its unit's week
                        digest = await weekly(store, due, now, services.calendar, tz,
                                              await scope_of_chat(store, chat))
                        text = weekly_digest_text(t, digest)
                        album = await chart_album(t, digest.stats)
                        with sending_in(Lane.NUDGE):
                            await self.bot.send_message(chat.tg_chat_id, text)
                            await self.bot.send_media_group(chat.tg_chat_id, album)
                except TelegramAPIError as exc:
                    log.warning("weekly digest %s not sent (%s): tried again at the next run",
                                due.week, exc)
                    await store.delete(claim)
                    await store.commit()
                    return False
                claim.sent_at = services.now()
                await store.save(claim)
                await store.commit()
                return True

    async def _refresh_cards(self, store: Store, touched: set[int | None]) -> None:
        """Cards show lights and working days left, which change with time alone: those of
        the cases just nudged now, and every pending case's once a day (edits that would not
        change anything are skipped, so this is cheap when nothing moved)."""
        now = self.services.now()
        today = now.astimezone(self.services.settings.tz).date()
        cases = {case_id for case_id in touched if case_id is not None}
        if self.refreshed_on != today and self.services.policy.may_nudge(
                now, self.services.calendar, urgent=False):
            cases |= set(await store.pending_case_ids())
            self.refreshed_on = today
        async def refresh(store: Store, case_id: int) -> None:
            try:
                await sync_cards(self.bot, store, self.services, case_id, announce=False)
            except TelegramAPIError as exc:
                log.warning("cards of case %s not refreshed: %s", case_id, exc)

        await store.commit()
        with sending_in(Lane.BULK):  # thousands of cards some mornings: after everything else
            await self._apart([functools.partial(refresh, case_id=case_id)
                               for case_id in sorted(cases)], cards=True)

    async def step_due(self, step_id: int, due: datetime) -> SweepResult | None:
        """A step's due timer fired: sweep now if that deadline still stands."""
        async with self.sessions() as session:
            step = await Store(session).get(Step, step_id)
        if step is None or step.state != StepState.OPEN or step.due_at != due:
            return None  # decided, paused or rescheduled since: nothing is due
        return await self.sweep()

    async def _set_due_timers(self, store: Store, looked_at: list[tuple[int, datetime]]
                              ) -> None:
        """Every open step has a timer at its due instant (set once, kept across restarts).
        A step opened, resumed or rescheduled is among those the sweep just looked at; all
        open steps are read once per process, for the timers an earlier one did not set."""
        if self.timers is None or not self.timers.running:
            return
        if self.timed is None:
            self.timed = await self.timers.due_timers()
            looked_at = [(step_id, due) for step_id, _case, due, _limit
                         in await store.open_step_timing()]
        now = self.services.now()
        # End the read transaction first: the job store writes through its own connection,
        # and on SQLite that write waits for this session's lock while we wait for it
        # (a deadlock, "database is locked" after the busy timeout).
        await store.commit()
        for step_id, due in looked_at:
            if due > now and (step_id, due) not in self.timed:
                await self.timers.schedule_due(step_id, due)
                self.timed.add((step_id, due))

    def _nudge_jobs(self, planned: list[nudging.PlannedNudge],
                    result: SweepResult) -> list[Callable[[Store], Awaitable[None]]]:
        """A digest for someone with many nudges at once; else each nudge on its own, so
        that one waiting for its group's minute holds up no other. A reminder of a turn the
        person holds is never folded into a digest: it comes with its buttons."""
        by_person: dict[int, list[nudging.PlannedNudge]] = defaultdict(list)
        for item in planned:
            by_person[item.person.id].append(item)

        async def deliver(store: Store, items: list[nudging.PlannedNudge]) -> None:
            items = [await _adopted(store, item) for item in items]
            try:
                others = []
                for item in items:
                    turn = await self._turn_of(store, item)
                    if turn is None:
                        others.append(item)
                    else:
                        await self._deliver(store, item, turn)
                if len(others) > self.services.policy.digest_after:
                    await self._deliver_digest(store, others)
                else:
                    for item in others:
                        await self._deliver(store, item)
                result.sent += len(items)
            except TelegramAPIError as exc:  # one failure must not stop the sweep
                log.warning("nudges for person %s not sent (%s); a later sweep retries",
                            items[0].person.id, exc)
                await store.rollback()
                for item in items:
                    if item.nudge.sent_at is None:
                        item.nudge.error = str(exc)[:255]
                        await store.save(item.nudge)
                await store.commit()
                result.failed += len(items)

        digest_after = self.services.policy.digest_after
        return [functools.partial(deliver, items=part) for items in by_person.values()
                for part in ([items] if len(items) > digest_after else [[i] for i in items])]

    async def _apart(self, jobs: Sequence[Callable[[Store], Awaitable[None]]], *,
                     cards: bool = False) -> None:
        """Each job in a unit of work of its own, all at once: a person's nudges and a case's
        cards wait only for their own chat's pace, never for another group's minute. (Jobs
        waiting for Telegram hold no connection: each call commits first.) But on
        PostgreSQL a case's card update holds a connection for its advisory lock while it
        waits for Telegram: those (``cards``) go a few at a time, so that hundreds of them
        leave the pool to the updates."""
        at_once = (asyncio.Semaphore(CARD_JOBS_AT_ONCE)
                   if cards and self.engine.dialect.name == "postgresql" else None)

        async def run(job: Callable[[Store], Awaitable[None]]) -> None:
            async with at_once or contextlib.nullcontext(), self.sessions() as session:
                with unit_of_work(session):
                    await job(Store(session))
                    await session.commit()

        for failed in await asyncio.gather(*(run(job) for job in jobs), return_exceptions=True):
            if isinstance(failed, Exception):
                log.error("a sweep job failed", exc_info=failed)

    async def _holders(self, store: Store, item: nudging.PlannedNudge) -> list[Assignment]:
        """Who holds a turn of the nudge's step now."""
        if item.subject.step is None or item.subject.step.id is None:
            return []
        step = await store.get(Step, item.subject.step.id)
        if step is None or step.id is None:
            return []
        return turn_holders(step, await store.assignments(step.id))

    async def _waiting_for(self, store: Store, item: nudging.PlannedNudge) -> list[str]:
        names = []
        for turn in await self._holders(store, item):
            person = await store.get(Person, turn.person_id)
            if person is not None:
                names.append(person.name)
        return names

    async def _turn_of(self, store: Store, item: nudging.PlannedNudge) -> Assignment | None:
        """The turn the nudged person holds in the nudge's step, if any."""
        held = [a for a in await self._holders(store, item) if a.person_id == item.person.id]
        return held[-1] if held else None

    async def _deliver(self, store: Store, item: nudging.PlannedNudge,
                       turn: Assignment | None = None) -> None:
        """Privately, else by a mention in the project's group. To someone holding a turn,
        with the buttons of their private card (none in the group: its card has them)."""
        rendering = self.services.rendering
        waiting = await self._waiting_for(store, item)
        chat = await self._project_chat(store, item.subject)
        t, group = rendering.for_person(item.person), rendering.for_group()
        text, group_text = nudge_text(t, item, waiting), nudge_text(group, item, waiting)
        buttons = None
        if turn is not None:
            buttons = await reminder_buttons(store, self.services, item.person, turn)
        if buttons is not None:
            text = Markup("{}\n{}").format(text, decide_hint(t, here=True))
            group_text = Markup("{}\n{}").format(group_text, decide_hint(group, here=False))
        delivered = await send_to_person(
            self.bot, store, item.person, text, group_chat_id=chat.tg_chat_id if chat else None,
            group_text=group_text, markup=buttons[1] if buttons else None)
        if buttons is not None and delivered.channel is Channel.PRIVATE and delivered.message:
            keep_reminder(store, *buttons, delivered.message)
        await nudging.mark_sent(store, item.nudge, channel=delivered.channel,
                                at=self.services.now(), error=delivered.error)

    async def _deliver_digest(self, store: Store, items: list[nudging.PlannedNudge]) -> None:
        person = items[0].person
        t = self.services.rendering.for_person(person)
        lines = [nudge_text(t, item, await self._waiting_for(store, item)) for item in items]
        delivered = await send_private(self.bot, store, person, digest_text(t, lines))
        if delivered.channel is not Channel.PRIVATE:  # no private chat: each in its project's group
            for item in items:
                await self._deliver(store, item)
            return
        for item in items:
            await nudging.mark_sent(store, item.nudge, channel=Channel.PRIVATE,
                                    at=self.services.now())

    async def _deliver_urge(self, store: Store, planned: nudging.PlannedUrge,
                            result: SweepResult) -> Channel | None:
        """To the section head privately (else in the project's group, mentioning them), and
        to the supervision office's chat. How the head got it now, if they did."""
        services, urge = self.services, planned.urge
        section = await store.get(Section, urge.section_id) if urge.section_id else None
        head = planned.head
        # Late by as many whole working days as cards and nudges say at the same moment.
        late_days = services.calendar.remaining_working_days(services.now(),
                                                             planned.subject.due).late
        to_head: Channel | None = None
        if urge.issued_at <= services.now() - nudging.ABANDONED_AFTER:
            log.warning("urge notice %s is delivered again (a process stopped while sending "
                        "it, or a send failed): it may arrive twice", urge.id)
        # Each copy on its own: the head's failure must not keep the notice from the
        # supervision office; a copy that failed is sent again by a later sweep.
        head_done = urge.head_sent_at is not None or head is None
        if not head_done and head is not None:
            t = services.rendering.for_person(head)
            text = urge_text(t, planned, section.name if section else None, head.name,
                             late_days)
            try:
                delivered = await send_private(self.bot, store, head, text,
                                               urge_keyboard(t, urge.id))
                if delivered.channel is Channel.PRIVATE and delivered.message is not None:
                    to_head = Channel.PRIVATE
                    keep_urge_copy(store, urge.id, delivered.message)
                else:  # no private chat: in the project's group, with its ✍️
                    chat = await self._project_chat(store, planned.subject)
                    if chat is not None:
                        group = services.rendering.for_group()
                        text = urge_text(group, planned, section.name if section else None,
                                         head.name, late_days)
                        keep_urge_copy(store, urge.id, await self.bot.send_message(
                            chat.tg_chat_id, Markup("{}\n{}").format(mention(head), text),
                            reply_markup=urge_keyboard(group, urge.id)))
                        to_head = Channel.GROUP
                head_done = True
            except TelegramAPIError as exc:
                log.warning("urge notice %s not delivered to the head: %s", urge.id, exc)
        office_done = urge.office_sent_at is not None
        if not office_done:
            t = services.rendering.for_group()
            office_done = True
            # The supervision office of the project's unit, else the nearest one above it.
            for chat in await nearest_chats(store, planned.subject.project.unit_id,
                                            ChatKind.SUPERVISION):
                try:
                    keep_urge_copy(store, urge.id, await self.bot.send_message(
                        chat.tg_chat_id, urge_text(t, planned, section.name if section else None,
                                                   head.name if head else None, late_days),
                        reply_markup=urge_keyboard(t, urge.id)))
                except TelegramAPIError as exc:
                    office_done = False
                    log.warning("urge notice %s not delivered to chat %s: %s", urge.id,
                                chat.tg_chat_id, exc)
        await nudging.mark_urge_delivered(store, urge, services.now(), head=head_done,
                                          office=office_done)
        result.urges += 1
        return to_head

    async def _announce_deemed(self, store: Store, step_id: int, outcome: Outcome) -> None:
        """Cards brought up to date, and the group told why the step closed. The approval
        is recorded already: a Telegram failure here must not stop the sweep."""
        step = await store.get(Step, step_id)
        case = await store.get(Case, step.case_id) if step else None
        if step is None or case is None or case.id is None:
            return
        try:
            await announce(self.bot, store, self.services, outcome)
            group = await store.group_card(case.id)
            if group is not None:
                t = self.services.rendering.for_group()
                await self.bot.send_message(
                    group.tg_chat_id, deemed_text(t, localized(t, step.name, step.name_en),
                                                  case.title, case.id),
                    reply_parameters=reply_to_message(group.tg_message_id))
        except TelegramAPIError as exc:
            log.warning("deemed approval of step %s not announced: %s", step_id, exc)

    async def _project_chat(self, store: Store, subject: nudging.Subject) -> Chat | None:
        chat_id = subject.project.chat_id
        return await store.get(Chat, chat_id) if chat_id else None


async def plan_windows(store: Store, now: datetime, calendar: WorkCalendar, policy: Policy,
                       ladders: nudging.CaseLadders, *, every_year: bool = False
                       ) -> AsyncIterator[nudging.Plan]:
    """Claim everything that is due now, a window of subjects at a time, and last retake
    abandoned claims (``nudging.Planning``), each part in a transaction of its own: reads in
    reading transactions (on SQLite a plain ``BEGIN``, so presses never wait for them), each
    batch's claims in one short write, committed before its window's plan is yielded (to be
    delivered before the next window is read)."""
    await store.commit()
    await store.begin_reading()
    windows = await nudging.due_windows(store, now)
    await store.commit()
    years: set[int] = set()
    for window in windows:
        planning = nudging.Planning(store, now, calendar, policy, ladders)
        await store.begin_reading()
        await planning.read_due(window)
        await store.commit()
        for batch in planning.batches():
            await store.begin_reading()
            await planning.want(batch)
            await store.commit()
            await planning.claim()
            await store.commit()
        for kind, part in planning.next_moments():  # only once the claims they follow are kept
            await planning.settle(kind, part)
            await store.commit()
        years |= planning.uncertain_years
        yield planning.result
    planning = nudging.Planning(store, now, calendar, policy, ladders)
    await planning.finish(None if every_year else years)
    await store.commit()
    yield planning.result


async def _adopted(store: Store, item: nudging.PlannedNudge) -> nudging.PlannedNudge:
    """The nudge with its claim and its person in ``store``'s session (planned in another)."""
    return dataclasses.replace(item, nudge=await store.session.merge(item.nudge, load=False),
                               person=await store.session.merge(item.person, load=False))


async def _adopted_urge(store: Store, planned: nudging.PlannedUrge) -> nudging.PlannedUrge:
    head = await store.session.merge(planned.head, load=False) if planned.head else None
    return dataclasses.replace(planned, urge=await store.session.merge(planned.urge, load=False),
                               head=head)


async def _take(lock: AsyncConnection) -> bool:
    taken = await lock.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": SWEEP_LOCK})
    await lock.commit()
    return bool(taken)


async def _release(lock: AsyncConnection) -> None:
    await lock.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": SWEEP_LOCK})
    await lock.commit()
