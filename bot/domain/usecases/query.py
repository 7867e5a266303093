"""Applicants' query codes (查询码): what anyone may learn of an item from its code alone —
its state, the step it is at and when it should be done, nothing internal (no staff names).
Wrong codes are logged in the audit trail, and a sender with too many of them in the last
hour is refused for a while (codes are short enough to guess)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.rules.calendar import WorkCalendar
from bot.domain.rules.casetypes import CaseType
from bot.domain.rules.policy import Policy
from bot.domain.rules.vocabulary import CaseState, StepState
from bot.domain.usecases.approvals import case_type_from
from storage.models import Case, Project, Step
from storage.store import Store

GUESS_WINDOW = timedelta(hours=1)
MISS = "query.miss"
CODE_MAX = 32  # longer input is no code: it is not looked up, and logged clipped


@dataclass(frozen=True)
class Status:
    code: str
    title: str
    project: str
    state: CaseState
    step: Step | None  # the open step, while the item is pending
    submitted_at: datetime
    expected: datetime | None  # pending: when the last step should be decided
    closed_at: datetime | None


@dataclass(frozen=True)
class Miss:
    code: str


@dataclass(frozen=True)
class Limited:
    until: datetime  # when the oldest miss in the window leaves it


Lookup = Status | Miss | Limited


def _subject(tg_user_id: int) -> str:
    return f"tg:{tg_user_id}"


async def look_up(store: Store, code: str, *, asker_tg_id: int, now: datetime,
                  calendar: WorkCalendar, policy: Policy) -> Lookup:
    """The item with this code, a miss (logged), or a refusal while the asker has had too
    many misses lately. Flushes; the edge commits."""
    misses = await store.audit_times(MISS, _subject(asker_tg_id), since=now - GUESS_WINDOW)
    if len(misses) >= policy.query_misses_per_hour:
        return Limited(until=min(misses) + GUESS_WINDOW)
    wanted = code.strip().upper()
    case = await store.case_by_query_code(wanted) if len(wanted) <= CODE_MAX else None
    if case is None:
        await store.audit(at=now, actor_id=None, action=MISS, subject=_subject(asker_tg_id),
                          data={"code": wanted[:CODE_MAX]})
        return Miss(wanted[:CODE_MAX])
    return await status_of(store, case, calendar)


async def status_of(store: Store, case: Case, calendar: WorkCalendar) -> Status:
    """What the applicant may know of ``case``; the expected date is the open step's due
    plus the limits of the steps after it (in working days, by the item's own type)."""
    steps = await store.steps(case.id)
    project = await store.get(Project, case.project_id)
    current = next((s for s in steps if s.round == case.round and s.state == StepState.OPEN),
                   None)
    expected = None
    if case.state == CaseState.PENDING and current is not None and current.due_at is not None:
        later = _later_days(case_type_from(case.definition), current, case.green_channel)
        expected = calendar.deadline(current.due_at, later).due if later else current.due_at
    return Status(code=case.query_code, title=case.title,
                  project=project.name if project else "", state=case.state, step=current,
                  submitted_at=case.created_at, expected=expected, closed_at=case.closed_at)


def _later_days(case_type: CaseType, current: Step, green: bool) -> int:
    """Working days the steps after the open one are given (by the item's own type)."""
    return sum(case_type.limit_for(spec, green) for spec in case_type.steps[current.seq:])

