"""The supervision office's side: written answers to urge notices, and who was urged how often.

The section head answers an urge notice (催办通知书) in writing with the cause of the delay
and a plan (督查七步: feedback); the answer is recorded once. Counts of yellow and red
pings and urge notices per person and per section feed the annual review.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.domain.rules.errors import AlreadyAnswered, EmptyText, NotAllowed, StaleCard, TooLong
from bot.domain.rules.policy import Policy
from bot.domain.rules.scope import WHOLE, Scope
from bot.domain.rules.vocabulary import Channel, Role
from bot.domain.usecases.people import Actor
from storage.models import Person, UrgeNotice
from storage.store import Store


async def urge_to_answer(store: Store, actor: Actor, urge_id: int) -> UrgeNotice:
    """The notice, if ``actor`` may answer it now (its section head, or an admin)."""
    urge = await store.get(UrgeNotice, urge_id)
    if urge is None:
        raise StaleCard()
    if urge.head_id != actor.id and not actor.has(Role.ADMIN):
        raise NotAllowed(action="answer_urge")
    if urge.answered_at is not None:
        who = await store.get(Person, urge.answered_by_id) if urge.answered_by_id else None
        raise AlreadyAnswered(by=who.name if who else "?", at=urge.answered_at)
    return urge


async def answer_urge(store: Store, actor: Actor, urge_id: int, *, cause: str, plan: str,
                      now: datetime, policy: Policy) -> UrgeNotice:
    """Record the written answer once. Flushes; the edge commits."""
    urge = await urge_to_answer(store, actor, urge_id)
    cause, plan = cause.strip(), plan.strip()
    for text in (cause, plan):
        if not text:
            raise EmptyText(what="answer")
        if len(text) > policy.reason_max_chars:
            raise TooLong(length=len(text), limit=policy.reason_max_chars)
    if not await store.answer_urge(urge, answered_by_id=actor.id, cause=cause, plan=plan,
                                   at=now):
        raise await _answered(store, urge_id)
    await store.audit(at=now, actor_id=actor.id, action="urge.answered",
                      subject=f"{urge.target_kind}:{urge.target_id}",
                      data={"urge": urge_id, "cause": cause, "plan": plan})
    await store.flush()
    return urge


async def _answered(store: Store, urge_id: int) -> AlreadyAnswered:
    urge = await store.get(UrgeNotice, urge_id)
    who = await store.get(Person, urge.answered_by_id) if urge and urge.answered_by_id else None
    return AlreadyAnswered(by=who.name if who else "?", at=urge.answered_at if urge else None)


@dataclass
class UrgeCounts:
    """Who was urged how often in a year (for supervisors and the annual review)."""

    year: int
    people: dict[int, Counter[str]] = field(default_factory=dict)  # person id → level → n
    sections: dict[int | None, Counter[str]] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)
    section_names: dict[int | None, str] = field(default_factory=dict)


LEVELS = ("yellow", "red", "urge")


def level_group(level: str) -> str | None:
    """Reminders while red count as red; calendar warnings are not urging. Claims set aside
    when a due changed (``red~v3``) still count."""
    level = level.split("~")[0]
    if level.startswith("repeat"):
        return "red"
    return level if level in LEVELS else None


async def urge_counts(store: Store, year: int, tz: ZoneInfo, scope: Scope = WHOLE
                      ) -> UrgeCounts:
    """Yellow and red pings received, and urge notices (催办通知书) addressed, per person and
    per section. An urge notice counts once, for the section head it was addressed to and
    that head's section: the supervision office, the leader and the handler hear of it too,
    but they were not the ones urged. Only the scope's people and projects count."""
    counts = UrgeCounts(year)
    people = {p.id: p for p in await store.people() if scope.covers(p.unit_id)}
    sections = {s.id: s for s in await store.sections()}

    def count(person_id: int | None, section_id: int | None, group: str) -> None:
        person = people.get(person_id) if person_id is not None else None
        if person is not None:
            counts.people.setdefault(person.id, Counter())[group] += 1
            counts.names[person.id] = person.name
        section = sections.get(section_id) if section_id is not None else None
        counts.sections.setdefault(section_id, Counter())[group] += 1
        counts.section_names[section_id] = section.name if section else "—"

    for nudge in await store.nudges():
        group = level_group(nudge.level)
        if group not in ("yellow", "red") or nudge.sent_at is None \
                or nudge.channel is Channel.NONE or nudge.sent_at.astimezone(tz).year != year:
            continue
        person = people.get(nudge.person_id)
        if person is not None:
            count(person.id, person.section_id, group)
    start = datetime(year, 1, 1, tzinfo=tz)
    for head_id, section_id in await store.urge_notices_between(
            start, start.replace(year=year + 1), scope):
        count(head_id, section_id, "urge")
    return counts
