"""Supervision items (督查事项): the supervision office registers an item, assigns it to a
section (its head answers) or a person with a due, urges, reviews the answer (accepts it or
sends it back with a reason), bulletins and archives it; the assignee answers (反馈) with a
result and files. Each step goes through the pure machine (``rules.supervision``), is
recorded once (compare-and-set on the item's version) as an event with its actor and time,
and is written to the audit trail. The sweep lights and nudges items waiting for an answer.

Use cases flush; the edge commits.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from bot.domain.rules.calendar import DayCount, WorkCalendar
from bot.domain.rules.errors import (
    BadDate,
    EmptyText,
    ItemStep,
    NotAllowed,
    TooLong,
    UnknownAssignee,
    UnknownPerson,
    UnknownSupervisionItem,
)
from bot.domain.rules.ladder import Reached, RungKind, next_moment, reached
from bot.domain.rules.lights import light
from bot.domain.rules.policy import Policy
from bot.domain.rules.supervision import (
    ITEM_LADDER,
    WAITING,
    Lateness,
    Refused,
    after,
    item_code,
    lateness,
)
from bot.domain.rules.vocabulary import AttachmentKind, Channel, ItemAct, ItemState, Light, Role
from bot.domain.usecases.delegation import find_person, parse_day
from bot.domain.usecases.people import Actor, require_role
from bot.domain.usecases.scope import nearest_with_role, scope_of, within_reach
from storage.models import ItemEvent, ItemFile, Nudge, Person, Section, SupervisionItem
from storage.store import Store

ITEM = "item"  # the nudges' target kind
OFFICE_RED = "office-red"  # the supervision office's red nudge (not counted as "urged")
ABANDONED_AFTER = timedelta(minutes=5)
TITLE_MAX = 200
LIMIT_MAX = 250  # working days: about a year
_DAYS = re.compile(r"^(\d{1,3})\s*(?:d|wd|天|个?工作日)?$", re.IGNORECASE)
ACT_NAMES = {ItemAct.REGISTER: "registered", ItemAct.ASSIGN: "assigned",
             ItemAct.URGE: "urged", ItemAct.FEEDBACK: "feedback",
             ItemAct.ACCEPT: "accepted", ItemAct.SEND_BACK: "sent_back",
             ItemAct.BULLETIN: "bulletined", ItemAct.ARCHIVE: "archived"}


@dataclass(frozen=True)
class Due:
    """An item's due as given: working days from the assignment, or a date."""

    days: int | None = None
    on: date | None = None


@dataclass(frozen=True)
class FileIn:
    """A photo or document given with an answer."""

    kind: AttachmentKind
    file_id: str
    file_name: str | None = None


@dataclass
class ItemView:
    """An item with what its card needs."""

    item: SupervisionItem
    registrar: Person | None
    section: Section | None
    answerer: Person | None  # the person, or the section's head
    light: Light | None  # while waiting for the answer
    left: DayCount | None
    late: Lateness | None
    unit: Section | None = None  # the section answerable: the one assigned, or the person's
    events: list[tuple[ItemEvent, str]] = field(default_factory=list)  # with the actor's name
    files: list[ItemFile] = field(default_factory=list)  # of the latest answer


@dataclass
class Taken:
    """A step taken: the item after it, the event, and who answers it."""

    item: SupervisionItem
    event: ItemEvent
    answerer: Person | None


def may_manage(actor: Actor) -> bool:
    """Supervision items are the supervision office's (and administrators')."""
    return actor.has(Role.SUPERVISOR, Role.ADMIN)


def require_manager(actor: Actor) -> None:
    require_role(actor, Role.SUPERVISOR, Role.ADMIN, action="supervise")


async def answerer_of(store: Store, item: SupervisionItem) -> Person | None:
    """Who answers the item: its person, else its section's head."""
    person_id = item.assignee_id
    if person_id is None and item.section_id is not None:
        section = await store.get(Section, item.section_id)
        person_id = section.head_id if section else None
    person = await store.get(Person, person_id) if person_id is not None else None
    return person if person is not None and person.active else None


async def find_item(store: Store, ref: str | int, reader: Person) -> SupervisionItem:
    """By code (any case; ``DC-2026-1`` and ``2026-001`` too) or, from a button, by id; one
    registered by an office outside the reader's reach is unknown to them, unless it is
    theirs to answer."""
    if isinstance(ref, int):
        found = await store.get(SupervisionItem, ref)
    else:
        code = ref.strip().upper()
        if not code.startswith("DC-"):
            code = f"DC-{code}"
        if match := re.fullmatch(r"DC-(\d{4})-(\d{1,4})", code):
            code = item_code(int(match[1]), int(match[2]))
        found = await store.item_by_code(code)
    if found is None or not (await within_reach(store, reader, found.unit_id) or (
            (answerer := await answerer_of(store, found)) is not None
            and answerer.id == reader.id)):
        raise UnknownSupervisionItem(code=str(ref))
    return found


async def find_assignee(store: Store, text: str, office: Person
                        ) -> tuple[Section | None, Person | None]:
    """A section by its code or name, else a person (@username, key or name), within the
    registering office's reach."""
    wanted = text.strip()
    reach = await scope_of(store, office)
    for section in await store.sections():
        if wanted and wanted.casefold() in (section.code.casefold(), section.name.casefold()):
            if reach.covers(section.unit_id):
                return section, None
            raise UnknownAssignee(text=wanted)
    try:
        person = await find_person(store, wanted)
    except UnknownPerson:
        raise UnknownAssignee(text=wanted) from None
    if not reach.covers(person.unit_id):
        raise UnknownAssignee(text=wanted)
    return None, person


def parse_due(text: str, today: date) -> Due:
    """``5`` (working days from the assignment; ``5d``, ``5个工作日``) or a date from today
    on (``2026-12-20``, ``12-20``, ``12月20日``)."""
    text = text.strip()
    if match := _DAYS.match(text):
        days = int(match[1])
        if not 1 <= days <= LIMIT_MAX:
            raise BadDate(text=text)
        return Due(days=days)
    on = parse_day(text, today)
    if on < today:
        raise BadDate(text=text, past=True)
    return Due(on=on)


def _text(text: str, what: str, limit: int) -> str:
    text = text.strip()
    if not text:
        raise EmptyText(what=what)
    if len(text) > limit:
        raise TooLong(length=len(text), limit=limit)
    return text


async def register(store: Store, actor: Actor, *, title: str, requirement: str,
                   assignee: str, due: str, now: datetime, today: date,
                   policy: Policy) -> SupervisionItem:
    """登记: the item recorded with whom it will go to and its due, not yet sent."""
    require_manager(actor)
    title = _text(title, "item_title", TITLE_MAX)
    requirement = _text(requirement, "item_requirement", policy.report_max_chars)
    section, person = await find_assignee(store, assignee, actor.person)
    wanted = parse_due(due, today)
    prefix = f"DC-{today.year}-"
    numbers = [int(code[len(prefix):]) for code in await store.item_codes(prefix)
               if code[len(prefix):].isdigit()]
    item = SupervisionItem(code=item_code(today.year, max(numbers, default=0) + 1),
                           title=title, requirement=requirement, state=ItemState.REGISTERED,
                           registered_by_id=actor.id, registered_at=now,
                           unit_id=actor.person.unit_id,
                           section_id=section.id if section else None,
                           assignee_id=person.id if person else None,
                           limit_days=wanted.days, due_on=wanted.on)
    await store.save(item)
    event = ItemEvent(item_id=item.id, act=ItemAct.REGISTER, state=ItemState.REGISTERED,
                      actor_id=actor.id, at=now, text="")
    await store.save(event)
    await store.audit(at=now, actor_id=actor.id, action="item.registered",
                      subject=f"item:{item.code}",
                      data={"title": title, "section": section.code if section else None,
                            "person": person.key if person else None,
                            "days": wanted.days,
                            "on": wanted.on.isoformat() if wanted.on else None})
    return item


async def _move(store: Store, actor: Actor, item: SupervisionItem, act: ItemAct, *,
                now: datetime, text: str = "", data: dict[str, Any] | None = None,
                **values: Any) -> ItemEvent:
    """The step ``act`` if the item's state allows it, recorded once; a press that lost
    the race (or came twice) is refused with the state it found."""
    try:
        state = after(item.state, act)
    except Refused:
        raise ItemStep(code=item.code, state=item.state.value) from None
    if not await store.compare_and_set_item(item, state=state, **values):
        fresh = await store.get(SupervisionItem, item.id)
        raise ItemStep(code=item.code, state=(fresh or item).state.value)
    event = ItemEvent(item_id=item.id, act=act, state=state, actor_id=actor.id, at=now,
                      text=text)
    await store.save(event)
    await store.audit(at=now, actor_id=actor.id, action=f"item.{ACT_NAMES[act]}",
                      subject=f"item:{item.code}",
                      data={"state": state.value, "text": text, **(data or {})})
    return event


async def assign(store: Store, actor: Actor, item: SupervisionItem, *, now: datetime,
                 calendar: WorkCalendar, today: date, assignee: str | None = None,
                 due: str | None = None) -> Taken:
    """交办: sent to its section or person (another one, or a new due, if given); the due
    counted from now when given in working days."""
    require_manager(actor)
    values: dict[str, Any] = {}
    if assignee is not None:
        section, person = await find_assignee(store, assignee, actor.person)
        values["section_id"] = section.id if section else None
        values["assignee_id"] = person.id if person else None
    days, on = item.limit_days, item.due_on
    if due is not None:
        wanted = parse_due(due, today)
        days, on = wanted.days, wanted.on
        values["limit_days"], values["due_on"] = days, on
    due_at = calendar.deadline(now, days).due if days is not None else \
        calendar.close_of(on) if on is not None else None
    if item.state is not ItemState.REGISTERED:
        # Assigned again: its lights start afresh for the new assignee or due; the nudges
        # already sent still count, set aside under ``level~vN``.
        await store.retire_claims(ITEM, item.id, f"v{item.version}")
    event = await _move(store, actor, item, ItemAct.ASSIGN, now=now, assigned_at=now,
                        due_at=due_at, data={"due": due_at.isoformat() if due_at else None,
                                             "section": values.get("section_id"),
                                             "person": values.get("assignee_id")},
                        **values)
    answerer = await answerer_of(store, item)
    section = await store.get(Section, item.section_id) if item.section_id else None
    event.text = section.name if section else answerer.name if answerer else ""
    await store.save(event)  # to whom, on the card's history
    return Taken(item, event, answerer)


async def urge(store: Store, actor: Actor, item: SupervisionItem, *, now: datetime) -> Taken:
    """督办: the assignee is urged to answer."""
    require_manager(actor)
    event = await _move(store, actor, item, ItemAct.URGE, now=now)
    return Taken(item, event, await answerer_of(store, item))


async def may_answer(store: Store, actor: Actor, item: SupervisionItem) -> None:
    """The assignee (or the section's head) answers, while an answer is awaited."""
    answerer = await answerer_of(store, item)
    if answerer is None or answerer.id != actor.id:
        raise NotAllowed(action="item_feedback", code=item.code)
    if item.state not in WAITING:
        raise ItemStep(code=item.code, state=item.state.value)


async def give_feedback(store: Store, actor: Actor, item: SupervisionItem, *, text: str,
                        files: Sequence[FileIn], now: datetime, policy: Policy) -> Taken:
    """反馈: the result, with its photos and documents."""
    await may_answer(store, actor, item)
    text = _text(text, "item_feedback", policy.report_max_chars)
    event = await _move(store, actor, item, ItemAct.FEEDBACK, now=now, text=text,
                        feedback=text, feedback_at=now, data={"files": len(files)})
    for file in files:
        store.add(ItemFile(event_id=event.id, kind=file.kind, file_id=file.file_id,
                           file_name=file.file_name))
    await store.flush()
    return Taken(item, event, actor.person)


async def accept(store: Store, actor: Actor, item: SupervisionItem, *,
                 now: datetime) -> Taken:
    """复核 passed."""
    require_manager(actor)
    event = await _move(store, actor, item, ItemAct.ACCEPT, now=now)
    return Taken(item, event, await answerer_of(store, item))


async def may_send_back(actor: Actor, item: SupervisionItem) -> None:
    """Checked before the reason is asked for, and again when it is given."""
    require_manager(actor)
    if item.state != ItemState.REVIEWING:
        raise ItemStep(code=item.code, state=item.state.value)


async def send_back(store: Store, actor: Actor, item: SupervisionItem, *, reason: str,
                    now: datetime, policy: Policy) -> Taken:
    """复核 not passed: back to the assignee, with the reason."""
    await may_send_back(actor, item)
    reason = _text(reason, "return_reason", policy.reason_max_chars)
    event = await _move(store, actor, item, ItemAct.SEND_BACK, now=now, text=reason)
    return Taken(item, event, await answerer_of(store, item))


async def bulletin(store: Store, actor: Actor, item: SupervisionItem, *, now: datetime,
                   calendar: WorkCalendar) -> Taken:
    """通报: recorded here; the notice itself is rendered from the item's view."""
    require_manager(actor)
    late = lateness(item.state, item.due_at, item.feedback_at, now, calendar)
    event = await _move(store, actor, item, ItemAct.BULLETIN, now=now,
                        data={"late_step": late.step if late else None,
                              "late_days": late.days if late else 0})
    return Taken(item, event, await answerer_of(store, item))


async def archive(store: Store, actor: Actor, item: SupervisionItem, *,
                  now: datetime) -> Taken:
    """归档."""
    require_manager(actor)
    event = await _move(store, actor, item, ItemAct.ARCHIVE, now=now, closed_at=now)
    return Taken(item, event, await answerer_of(store, item))


# -- reading ----------------------------------------------------------------------------------


async def view_item(store: Store, item: SupervisionItem, *, now: datetime,
                    calendar: WorkCalendar, policy: Policy, history: bool = True) -> ItemView:
    section = await store.get(Section, item.section_id) if item.section_id else None
    registrar = await store.get(Person, item.registered_by_id)
    view = ItemView(item, registrar, section, await answerer_of(store, item), None, None,
                    lateness(item.state, item.due_at, item.feedback_at, now, calendar))
    view.unit = section
    if section is None and view.answerer is not None and view.answerer.section_id:
        view.unit = await store.get(Section, view.answerer.section_id)
    if item.state in WAITING and item.due_at is not None:
        view.light = light(now, item.due_at, calendar, policy, item.limit_days or 0)
        view.left = calendar.remaining_working_days(now, item.due_at)
    if history:
        names = {p.id: p.name for p in await store.people()}
        events = await store.item_events(item.id)
        view.events = [(e, names.get(e.actor_id, "—") if e.actor_id else "—") for e in events]
        answers = [e for e in events if e.act == ItemAct.FEEDBACK]
        if answers:
            view.files = await store.item_files(answers[-1].id)
    return view


_ORDER = {Light.RED: 0, Light.YELLOW: 1, Light.GREEN: 2, None: 3}


async def list_items(store: Store, actor: Actor, *, now: datetime, calendar: WorkCalendar,
                     policy: Policy) -> list[ItemView]:
    """Open items, late first: every one for the office, one's own for an assignee."""
    items = await store.open_items(await scope_of(store, actor.person)) if may_manage(actor) \
        else await store.items_assigned_to(actor.id)
    views = [await view_item(store, item, now=now, calendar=calendar, policy=policy,
                             history=False) for item in items]
    far = datetime.max.replace(tzinfo=now.tzinfo)
    return sorted(views, key=lambda v: (_ORDER[v.light], v.item.due_at or far, v.item.id))


# -- the sweep ----------------------------------------------------------------------------------


@dataclass
class PlannedItemNudge:
    nudge: Nudge
    person: Person
    item: SupervisionItem
    rung: Reached
    left: DayCount
    office: bool  # the supervision office's copy of red


async def plan_item_nudges(store: Store, now: datetime, calendar: WorkCalendar,
                           policy: Policy) -> list[PlannedItemNudge]:
    """Claim the nudges of the items whose next moment has come (each level once per
    person, as for steps), then give each item its next moment. Flushes; the caller
    commits the claims before sending anything."""
    rows: list[tuple[int, tuple[Any, ...], datetime | None]] = []
    wanted: dict[tuple[int, int, str], tuple[Person, SupervisionItem, Reached, bool]] = {}
    for item in await store.due_items(now):
        seen = (item.next_at, item.state, item.due_at)
        if item.state not in WAITING or item.due_at is None:
            rows.append((item.id, seen, None))
            continue
        limit = item.limit_days or 0
        moment = next_moment(now, item.due_at, limit, calendar, policy.thresholds, ITEM_LADDER)
        rungs = reached(now, item.due_at, limit, calendar, policy.thresholds, ITEM_LADDER)
        if rungs and not policy.may_nudge(now, calendar, urgent=False):
            held = policy.first_sendable(now, calendar, urgent=False)
            rows.append((item.id, seen, held if moment is None else min(moment, held)))
            continue
        answerer = await answerer_of(store, item)
        for rung in (_from_assignment(item, r) for r in rungs):
            if answerer is not None:
                wanted[item.id, answerer.id, rung.key] = (answerer, item, rung, False)
            if rung.rung.kind is RungKind.RED:
                office = [p for p in await nearest_with_role(store, item.unit_id,
                                                              Role.SUPERVISOR) if p.active]
                for person in office:
                    wanted[item.id, person.id, OFFICE_RED] = (person, item, rung, True)
        rows.append((item.id, seen, moment))
    claimed = await store.claim_nudges([
        {"target_kind": ITEM, "target_id": item_id, "person_id": person_id, "level": level,
         "created_at": now, "late": _late(rung, now, calendar, policy)}
        for (item_id, person_id, level), (_, _, rung, _) in wanted.items()])
    planned = []
    for nudge in claimed:
        person, item, rung, to_office = wanted[nudge.target_id, nudge.person_id, nudge.level]
        assert item.due_at is not None
        planned.append(PlannedItemNudge(nudge, person, item, rung,
                                        calendar.remaining_working_days(now, item.due_at),
                                        to_office))
    await store.set_next_moments(ITEM, rows)
    return planned + await _retaken(store, now, calendar, policy, {n.nudge.id for n in planned})


def _from_assignment(item: SupervisionItem, rung: Reached) -> Reached:
    """No rung is reached before the item was assigned: one due the next working day is
    yellow from before it was assigned, yet its nudge then is not late."""
    if item.assigned_at is not None and rung.since < item.assigned_at:
        return replace(rung, since=item.assigned_at)
    return rung


def _late(rung: Reached, now: datetime, calendar: WorkCalendar, policy: Policy) -> bool:
    return now - policy.first_sendable(rung.since, calendar, urgent=False) > policy.late_after


async def _retaken(store: Store, now: datetime, calendar: WorkCalendar, policy: Policy,
                   skip: set[int]) -> list[PlannedItemNudge]:
    """Claims of item nudges a dead process never sent: sent now, once, if still due."""
    found = []
    for nudge in await store.unsent_nudges(claimed_by=now - ABANDONED_AFTER):
        if nudge.target_kind != ITEM or nudge.id in skip:
            continue
        item = await store.get(SupervisionItem, nudge.target_id)
        person = await store.get(Person, nudge.person_id)
        rung = None
        if item is not None and item.state in WAITING and item.due_at is not None:
            key = "red" if nudge.level == OFFICE_RED else nudge.level
            rung = next((r for r in reached(now, item.due_at, item.limit_days or 0, calendar,
                                            policy.thresholds, ITEM_LADDER) if r.key == key),
                        None)
        if item is None or person is None or rung is None or item.due_at is None:
            nudge.channel, nudge.sent_at, nudge.error = Channel.NONE, now, "no longer due"
            await store.save(nudge)
            continue
        if not policy.may_nudge(now, calendar, urgent=False):
            continue
        if await store.retake_nudge(nudge, now):
            found.append(PlannedItemNudge(nudge, person, item, _from_assignment(item, rung),
                                          calendar.remaining_working_days(now, item.due_at),
                                          nudge.level == OFFICE_RED))
    return found
