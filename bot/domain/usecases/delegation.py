"""Out of office (/away): while someone is away, new assignments go to their delegate.

Cards and the record then say "B for A". Existing turns stay where they are: the delegate
takes what arrives during the absence, as a stand-in does in the office.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from bot.domain.rules.errors import BadDate, BadRange, NotAllowed, UnknownPerson
from bot.domain.rules.inputs import FIRST_YEAR, LAST_YEAR
from bot.domain.usecases.people import Actor
from storage.models import Delegation, Person
from storage.store import Store

LONGEST_ABSENCE = timedelta(days=366)
_FULL = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$")
_SHORT = re.compile(r"^(\d{1,2})[-/.](\d{1,2})$")
_CHINESE = re.compile(r"^(?:(\d{4})年)?(\d{1,2})月(\d{1,2})[日号]?$")


def parse_day(text: str, today: date) -> date:
    """``2026-11-24``, ``11-24`` / ``11/24`` (this year, or next if already past) or
    ``11月24日``; anything else is a :class:`BadDate` naming what was given."""
    text = text.strip()
    year: int | None
    if match := _FULL.match(text):
        year, month, day = (int(g) for g in match.groups())
    elif match := _SHORT.match(text):
        year, month, day = None, int(match[1]), int(match[2])
    elif match := _CHINESE.match(text):
        year = int(match[1]) if match[1] else None
        month, day = int(match[2]), int(match[3])
    else:
        raise BadDate(text=text)
    try:
        found = date(year or today.year, month, day)
        if year is None and found < today:
            found = date(today.year + 1, month, day)
    except ValueError:
        raise BadDate(text=text) from None
    if not FIRST_YEAR <= found.year <= LAST_YEAR:
        raise BadDate(text=text)
    return found


async def find_person(store: Store, text: str) -> Person:
    """A colleague by @username or org-file key (any case), or exact name."""
    wanted = text.strip().removeprefix("@")
    for person in await store.active_people():
        handles = {h.casefold() for h in (person.username, person.key) if h}
        if wanted and (wanted.casefold() in handles or wanted == person.name):
            return person
    raise UnknownPerson(text=text)


def parse_range(start_text: str, end_text: str, today: date) -> tuple[date, date]:
    """An absence FROM–TO. A date without a year is read next to the other one: an absence
    that began last Friday (``11-20 11-27`` on 11-23) starts this year, not next."""
    end = parse_day(end_text, today)
    start = parse_day(start_text, today)
    rolled_forward = start.year > today.year and not _has_year(start_text)
    if start > end and rolled_forward:  # a past day read as next year's: it was this year's
        try:
            start = start.replace(year=start.year - 1)
        except ValueError:  # 29 February
            raise BadDate(text=start_text) from None
    if end < start:
        raise BadRange(start=start.isoformat(), end=end.isoformat())
    if end < today:
        raise BadRange(start=start.isoformat(), end=end.isoformat(), past=True)
    return start, end


def _has_year(text: str) -> bool:
    return bool(_FULL.match(text.strip())) or "年" in text


async def set_away(store: Store, actor: Actor, *, starts_on: date, ends_on: date,
                   delegate: Person, note: str, today: date, now: datetime) -> Delegation:
    if ends_on < starts_on:
        raise BadRange(start=starts_on.isoformat(), end=ends_on.isoformat())
    if ends_on < today:
        raise BadRange(start=starts_on.isoformat(), end=ends_on.isoformat(), past=True)
    if ends_on - starts_on > LONGEST_ABSENCE:
        raise BadRange(start=starts_on.isoformat(), end=ends_on.isoformat(), long=True)
    if delegate.id == actor.id or delegate.id is None:
        raise NotAllowed(action="self")
    away = await store.save(Delegation(person_id=actor.id, delegate_id=delegate.id,
                                       starts_on=starts_on, ends_on=ends_on, note=note[:255],
                                       created_at=now))
    await store.audit(at=now, actor_id=actor.id, action="delegation.set",
                      subject=f"person:{actor.id}",
                      data={"delegate": delegate.id, "from": starts_on.isoformat(),
                            "to": ends_on.isoformat()})
    await store.flush()
    return away


async def come_back(store: Store, actor: Actor, *, today: date, now: datetime) -> int:
    """End every current and future absence; returns how many were ended."""
    ended = 0
    for away in await store.absences(actor.id):
        if away.ends_on >= today:
            away.cancelled_at = now
            ended += 1
    if ended:
        await store.audit(at=now, actor_id=actor.id, action="delegation.ended",
                          subject=f"person:{actor.id}", data={"count": ended})
    await store.flush()
    return ended


async def arrangements(store: Store, person_id: int,
                       today: date) -> list[tuple[Delegation, Person]]:
    """Current and coming absences of a person, with their delegate."""
    found = []
    for away in sorted(await store.absences(person_id), key=lambda away: away.starts_on):
        delegate = await store.get(Person, away.delegate_id)
        if away.ends_on >= today and delegate is not None:
            found.append((away, delegate))
    return found
