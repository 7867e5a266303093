"""The first-question ledger (首问负责制台账): whoever is asked first records who asked what
(``/ask``) and owns the answer — telling everything needed at once, or handing it to whoever
can answer — until it is closed with its outcome. Each entry is due within the bureau's limit
in working days; its owner hears yellow the day before and red once late (the first person
asked too), then a reminder every few working days while it stays open: each once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.domain.rules.calendar import DayCount, WorkCalendar
from bot.domain.rules.errors import (
    EmptyText,
    InquiryClosed,
    NotAllowed,
    TooLong,
    UnknownInquiry,
)
from bot.domain.rules.ladder import Audience, Ladder, Reached, Rung, RungKind, next_moment, reached
from bot.domain.rules.lights import light
from bot.domain.rules.policy import Policy
from bot.domain.rules.vocabulary import Channel, Light, Role
from bot.domain.usecases.nudging import ABANDONED_AFTER
from bot.domain.usecases.people import Actor
from bot.domain.usecases.scope import scope_of, within_reach
from storage.models import Inquiry, Person
from storage.store import Store

ASK = "ask"  # the nudges' target kind
ASKER_MAX = 200
# The owner hears yellow, red and every reminder; the first person asked hears red too.
LADDER = Ladder((
    Rung(RungKind.YELLOW, (Audience.HOLDERS,)),
    Rung(RungKind.RED, (Audience.HOLDERS, Audience.HANDLER)),
    Rung(RungKind.REPEAT, (Audience.HOLDERS,), every_days=3),
))
_OVERSEERS = (Role.SUPERVISOR, Role.DIRECTOR, Role.LEADER, Role.ADMIN)


@dataclass(frozen=True)
class Entry:
    inquiry: Inquiry
    asked: Person
    owner: Person
    closed_by: Person | None
    light: Light | None  # None once closed
    left: DayCount


@dataclass(frozen=True)
class Reminder:
    inquiry: Inquiry
    person: Person
    reached: Reached
    left: DayCount


def parse_ask(text: str) -> tuple[str, str] | None:
    """``WHO: QUESTION`` (a full-width colon too); None when either part is missing."""
    for colon in ("：", ":"):
        asker, found, question = text.partition(colon)
        if found and asker.strip() and question.strip():
            return " ".join(asker.split()), question.strip()
    return None


def _next(inquiry: Inquiry, now: datetime, calendar: WorkCalendar, policy: Policy
          ) -> datetime | None:
    if inquiry.closed_at is not None:
        return None
    return next_moment(now, inquiry.due_at, policy.ask_limit_days, calendar,
                       policy.thresholds, LADDER)


async def record(store: Store, actor: Actor, asker: str, question: str, *, now: datetime,
                 calendar: WorkCalendar, policy: Policy) -> Inquiry:
    """A new entry, owned by the one who was asked. Flushes; the edge commits."""
    if not question.strip() or not asker.strip():
        raise EmptyText()
    for text, limit in ((asker, ASKER_MAX), (question, policy.report_max_chars)):
        if len(text) > limit:
            raise TooLong(length=len(text), limit=limit)
    due = calendar.deadline(now, policy.ask_limit_days).due
    inquiry = Inquiry(unit_id=actor.person.unit_id, asked_id=actor.id, asker=asker,
                      question=question, owner_id=actor.id, created_at=now, due_at=due)
    inquiry.next_at = _next(inquiry, now, calendar, policy)
    await store.save(inquiry)
    await store.audit(at=now, actor_id=actor.id, action="inquiry.recorded",
                      subject=f"inquiry:{inquiry.id}", data={"asker": asker})
    return inquiry


async def open_entry(store: Store, actor: Actor, number: int) -> Inquiry:
    """An open entry the actor may act on: its owner, the first person asked, or one who
    oversees its unit; anything else is unknown to them."""
    inquiry = await store.get(Inquiry, number)
    if inquiry is None or not await within_reach(store, actor.person, inquiry.unit_id):
        raise UnknownInquiry(number=number)
    if actor.id not in (inquiry.owner_id, inquiry.asked_id) and not actor.has(*_OVERSEERS):
        raise NotAllowed(action="inquiry")
    if inquiry.closed_at is not None:
        closer = await store.get(Person, inquiry.closed_by_id) if inquiry.closed_by_id else None
        raise InquiryClosed(number=number, at=inquiry.closed_at,
                            by=closer.name if closer else "?")
    return inquiry


async def hand_over(store: Store, actor: Actor, number: int, to: Person, *, now: datetime,
                    calendar: WorkCalendar, policy: Policy) -> Inquiry:
    """The entry now belongs to ``to`` (who must reach its unit and be on Telegram); the new
    owner's reminders start afresh, the due stays."""
    inquiry = await open_entry(store, actor, number)
    if (not to.active or to.tg_user_id is None
            or not await within_reach(store, to, inquiry.unit_id)):
        raise NotAllowed(action="unknown_person")
    before = inquiry.owner_id
    inquiry.owner_id = to.id
    if before != to.id:
        inquiry.next_at = now  # the next sweep tells the new owner what is in force
    await store.save(inquiry)
    await store.audit(at=now, actor_id=actor.id, action="inquiry.handed_over",
                      subject=f"inquiry:{inquiry.id}", data={"from": before, "to": to.id})
    return inquiry


async def close(store: Store, actor: Actor, number: int, outcome: str, *, now: datetime,
                policy: Policy) -> Inquiry:
    """Closed with its outcome (办理结果); a second close is refused saying who closed it."""
    if not outcome.strip():
        raise EmptyText()
    if len(outcome) > policy.report_max_chars:
        raise TooLong(length=len(outcome), limit=policy.report_max_chars)
    inquiry = await open_entry(store, actor, number)
    inquiry.closed_at, inquiry.closed_by_id, inquiry.outcome = now, actor.id, outcome.strip()
    inquiry.next_at = None
    await store.save(inquiry)
    await store.audit(at=now, actor_id=actor.id, action="inquiry.closed",
                      subject=f"inquiry:{inquiry.id}", data={"late": now > inquiry.due_at})
    return inquiry


async def ledger(store: Store, actor: Actor, *, now: datetime, calendar: WorkCalendar,
                 policy: Policy, everyone: bool) -> list[Entry]:
    """Open entries, late first: the actor's own, or (``everyone``, for those who oversee)
    every one of their unit's reach."""
    if everyone and not actor.has(*_OVERSEERS):
        raise NotAllowed(action="inquiries")
    scope = await scope_of(store, actor.person)
    rows = await store.inquiries(scope, None if everyone else actor.id, open_only=True)
    people = {p.id: p for p in await store.people()}
    entries = []
    for row in rows:
        entries.append(Entry(
            row, people[row.asked_id], people[row.owner_id],
            people.get(row.closed_by_id) if row.closed_by_id else None,
            light(now, row.due_at, calendar, policy, policy.ask_limit_days),
            calendar.remaining_working_days(now, row.due_at)))
    return entries


async def due_reminders(store: Store, *, now: datetime, calendar: WorkCalendar,
                        policy: Policy) -> list[tuple[Reminder, int]]:
    """The reminders whose moment has come, each claimed once per person and level (the
    nudge's id with it), and every entry's next moment moved on. Flushes; the caller commits
    before sending, so a reminder is claimed before it goes and never twice."""
    found: list[tuple[Reminder, int]] = []
    # Claims a dead process never sent: retaken once, while the entry is still open.
    for nudge in await store.unsent_nudges(claimed_by=now - ABANDONED_AFTER):
        if nudge.target_kind != ASK:
            continue
        inquiry = await store.get(Inquiry, nudge.target_id)
        person = await store.get(Person, nudge.person_id)
        rung = next((r for r in reached(now, inquiry.due_at, policy.ask_limit_days, calendar,
                                        policy.thresholds, LADDER) if r.key == nudge.level),
                    None) if inquiry is not None and inquiry.closed_at is None else None
        if rung is None or person is None or inquiry is None:
            nudge.channel, nudge.sent_at, nudge.error = Channel.NONE, now, "no longer due"
        elif await store.retake_nudge(nudge, now):
            found.append((Reminder(inquiry, person, rung,
                                   calendar.remaining_working_days(now, inquiry.due_at)),
                          nudge.id))
    for inquiry in await store.due_inquiries(now):
        inquiry.next_at = _next(inquiry, now, calendar, policy)
        if inquiry.closed_at is not None:
            continue
        rungs = reached(now, inquiry.due_at, policy.ask_limit_days, calendar,
                        policy.thresholds, LADDER)
        for rung in rungs:
            people = [inquiry.owner_id]
            if Audience.HANDLER in rung.rung.audience and inquiry.asked_id != inquiry.owner_id:
                people.append(inquiry.asked_id)
            claims = await store.claim_nudges([
                {"target_kind": ASK, "target_id": inquiry.id, "person_id": person_id,
                 "level": rung.key, "created_at": now, "late": False}
                for person_id in people])
            for nudge in claims:
                person = await store.get(Person, nudge.person_id)
                if person is not None and person.active:
                    found.append((Reminder(inquiry, person, rung,
                                           calendar.remaining_working_days(now, inquiry.due_at)),
                                  nudge.id))
    await store.flush()
    return found
