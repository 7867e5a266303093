"""Callback data for inline buttons: ids and an action only (Telegram allows 64 bytes).
The server re-checks everything on every press, so nothing here is trusted."""

from __future__ import annotations

from typing import Annotated

from aiogram.filters.callback_data import CallbackData
from pydantic import Field

from bot.domain.rules.inputs import Id, SignedId
from bot.domain.rules.vocabulary import Decision

ACTIONS = {"a": Decision.APPROVE, "c": Decision.APPROVE, "r": Decision.RETURN}


class DecideCb(CallbackData, prefix="dc"):
    """A decision on a step: approve (a), approve with a comment (c), return (r)."""

    step: Id
    act: str

    @property
    def decision(self) -> Decision | None:
        return ACTIONS.get(self.act)


class ReturnToCb(CallbackData, prefix="rt"):
    """Where a return goes: 0 = the submitter (supplement), n = step n of the case."""

    step: Id
    to: SignedId  # a forged -1 is refused by the rule: returns go to an earlier step


class CaseCb(CallbackData, prefix="cs"):
    """The submitter's buttons: withdraw (w), resubmit (s)."""

    case: Id
    act: str


class PeopleCb(CallbackData, prefix="pp"):
    """Pick a colleague for a turn: transfer (t) or add a signer (s); ``page`` of the list,
    ``person`` once chosen, ``pos`` before (b) or after (a) me for a signer."""

    step: Id
    act: str
    page: Id = 0
    person: Id = 0
    pos: str = ""


class TypeCb(CallbackData, prefix="ty"):
    """A case type picked in /submit (by its index in the configured list; -1 cancels)."""

    index: Annotated[int, Field(ge=-1, le=999)]
    green: Annotated[int, Field(ge=-1, le=1)] = -1  # -1: not asked yet, 0 ordinary, 1 green


class PendingCb(CallbackData, prefix="pd"):
    """/pending: toggle (t), approve one (a), return one (r), approve the selection (A),
    return the selection (R), select all (x). The selection lives in the message's own
    keyboard (☑ / ☐), so it needs no server state and survives restarts."""

    act: str
    step: Id = 0


class UrgeCb(CallbackData, prefix="ug"):
    """✍️ The section head answers an urge notice in writing."""

    urge: Id
