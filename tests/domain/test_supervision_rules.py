"""The seven steps of a supervision item (督查七步) as a state machine: every (state, act)
pair either leads where the table says or is refused."""

from __future__ import annotations

from datetime import datetime
from itertools import product
from zoneinfo import ZoneInfo

import pytest

from bot.domain.rules.calendar import WorkCalendar
from bot.domain.rules.supervision import (
    TRANSITIONS,
    WAITING,
    Refused,
    after,
    allowed,
    item_code,
    lateness,
)
from bot.domain.rules.vocabulary import ItemAct as A
from bot.domain.rules.vocabulary import ItemState as S

SHANGHAI = ZoneInfo("Asia/Shanghai")

EXPECTED = {
    (S.REGISTERED, A.ASSIGN): S.ASSIGNED,
    (S.ASSIGNED, A.ASSIGN): S.ASSIGNED, (S.URGED, A.ASSIGN): S.ASSIGNED,
    (S.ASSIGNED, A.URGE): S.URGED, (S.URGED, A.URGE): S.URGED,
    (S.SENT_BACK, A.URGE): S.SENT_BACK,
    (S.ASSIGNED, A.FEEDBACK): S.REVIEWING, (S.URGED, A.FEEDBACK): S.REVIEWING,
    (S.SENT_BACK, A.FEEDBACK): S.REVIEWING,
    (S.REVIEWING, A.ACCEPT): S.ACCEPTED, (S.REVIEWING, A.SEND_BACK): S.SENT_BACK,
    (S.ASSIGNED, A.BULLETIN): S.ASSIGNED, (S.URGED, A.BULLETIN): S.URGED,
    (S.SENT_BACK, A.BULLETIN): S.SENT_BACK, (S.REVIEWING, A.BULLETIN): S.REVIEWING,
    (S.ACCEPTED, A.BULLETIN): S.BULLETINED,
    (S.ACCEPTED, A.ARCHIVE): S.ARCHIVED, (S.BULLETINED, A.ARCHIVE): S.ARCHIVED,
}


@pytest.mark.parametrize(("state", "act"), list(product(S, A)))
def test_every_pair_is_allowed_or_refused(state: S, act: A) -> None:
    if (state, act) in EXPECTED:
        assert after(state, act) is EXPECTED[state, act]
    else:
        with pytest.raises(Refused) as refused:
            after(state, act)
        assert (refused.value.state, refused.value.act) == (state, act)


def test_the_table_is_the_one_tested() -> None:
    assert TRANSITIONS == EXPECTED


def test_archived_is_final_and_register_is_never_a_transition() -> None:
    assert allowed(S.ARCHIVED) == []
    assert all(act is not A.REGISTER for _, act in TRANSITIONS)


def test_allowed_follows_the_seven_steps() -> None:
    assert allowed(S.REVIEWING) == [A.ACCEPT, A.SEND_BACK, A.BULLETIN]
    assert allowed(S.SENT_BACK) == [A.URGE, A.FEEDBACK, A.BULLETIN]


def test_lateness_counts_whole_working_days() -> None:
    calendar = WorkCalendar(tz=SHANGHAI)
    due = calendar.close_of(datetime(2026, 11, 18).date())  # Wed 17:30
    thu = datetime(2026, 11, 19, 10, 0, tzinfo=SHANGHAI)
    next_wed = datetime(2026, 11, 25, 18, 0, tzinfo=SHANGHAI)
    assert lateness(S.ASSIGNED, due, None, datetime(2026, 11, 18, 9, tzinfo=SHANGHAI),
                    calendar) is None
    late = lateness(S.URGED, due, None, thu, calendar)
    assert late is not None and (late.step, late.days, late.waiting) == ("feedback", 0, True)
    late = lateness(S.SENT_BACK, due, None, next_wed, calendar)
    assert late is not None and late.days == 5
    answered = lateness(S.ACCEPTED, due, next_wed, next_wed, calendar)
    assert answered is not None and (answered.days, answered.waiting) == (5, False)
    assert lateness(S.ACCEPTED, due, thu.replace(day=17), next_wed, calendar) is None
    assert all(lateness(s, None, None, next_wed, calendar) is None for s in WAITING)


def test_codes() -> None:
    assert item_code(2026, 1) == "DC-2026-001"
    assert item_code(2026, 1234) == "DC-2026-1234"
