"""Callback data for inline buttons: ids and an action only (Telegram allows 64 bytes), and
the small keyboards of pickers and confirmations. The server re-checks everything on every
press, so nothing here is trusted.

Actions are StrEnums whose values are the single letters packed on the wire: cards already
in chats keep working, and an unknown letter matches no handler (the fallback refuses it)."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Annotated

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, WebAppInfo
from pydantic import Field

from bot.domain.rules.casetypes import CaseType
from bot.domain.rules.inputs import Id, SignedId
from bot.domain.rules.vocabulary import ItemAct, ProjectStatus
from bot.domain.usecases.projects import UnitLine
from bot.i18n import Translator
from bot.views.text import localized, status_label
from storage.models import Person, Step, Unit


class Style(StrEnum):
    """Telegram's button colours: green for going ahead, red for sending back."""

    SUCCESS = "success"
    DANGER = "danger"
    PRIMARY = "primary"


class DecideAct(StrEnum):
    APPROVE = "a"
    APPROVE_WITH_COMMENT = "c"
    RETURN = "r"


class DecideCb(CallbackData, prefix="dc"):
    """A decision on a step."""

    step: Id
    act: DecideAct


class ReturnToCb(CallbackData, prefix="rt"):
    """Where a return goes: 0 = the submitter (supplement), n = step n of the case."""

    step: Id
    to: SignedId  # a forged -1 is refused by the rule: returns go to an earlier step


class CaseAct(StrEnum):
    WITHDRAW = "w"  # asks to confirm
    CONFIRM_WITHDRAW = "W"
    RESUBMIT = "s"


class CaseCb(CallbackData, prefix="cs"):
    """The submitter's buttons."""

    case: Id
    act: CaseAct


class PeopleAct(StrEnum):
    TRANSFER = "t"
    ADD_SIGNER = "s"


class SignerPos(StrEnum):
    BEFORE = "b"
    AFTER = "a"


class PeopleCb(CallbackData, prefix="pp"):
    """Pick a colleague for a turn: ``page`` of the list, ``person`` once chosen (0: none
    yet), ``pos`` for a signer once placed (packed empty until then)."""

    step: Id
    act: PeopleAct
    page: Id = 0
    person: Id = 0
    pos: SignerPos | None = None


class TypeCb(CallbackData, prefix="ty"):
    """A case type picked in /submit (by its index in the configured list; -1 cancels)."""

    index: Annotated[int, Field(ge=-1, le=999)]
    green: Annotated[int, Field(ge=-1, le=1)] = -1  # -1: not asked yet, 0 ordinary, 1 green


class PendingAct(StrEnum):
    TOGGLE = "t"
    APPROVE = "a"
    RETURN = "r"
    APPROVE_SELECTED = "A"
    RETURN_SELECTED = "R"
    SELECT_ALL = "x"


class PendingCb(CallbackData, prefix="pd"):
    """/pending. The selection lives in the message's own keyboard (☑ / ☐), so it needs no
    server state and survives restarts."""

    act: PendingAct
    step: Id = 0


class UrgeCb(CallbackData, prefix="ug"):
    """✍️ The section head answers an urge notice in writing."""

    urge: Id


class MilestoneCb(CallbackData, prefix="ms"):
    """🏁 A milestone reached (from the report card about it)."""

    milestone: Id


class StatusCb(CallbackData, prefix="ps"):
    """A project's new status, picked by the leader in charge (``status``: its index)."""

    project: Id
    status: Annotated[int, Field(ge=0, lt=len(ProjectStatus))]


class UnitCb(CallbackData, prefix="un"):
    """/projects: drill into a unit (or back up to its parent)."""

    unit: Id


class InquiryCb(CallbackData, prefix="iq"):
    """✅ Close a first-question ledger entry (asks for the outcome)."""

    inquiry: Id


class ItemCb(CallbackData, prefix="di"):
    """A step on a supervision item (督查事项): ``act`` is the step's letter."""

    item: Id
    act: ItemAct


class FeedbackDoneCb(CallbackData, prefix="fd"):
    """📤 The assignee's answer is complete: send it to the supervision office."""

    item: Id


class LangCb(CallbackData, prefix="lg"):
    """/lang: the language the bot speaks to the one who presses."""

    lang: Annotated[str, Field(max_length=8)]


# Each language by its own name, whatever the language of the message showing them.
LANGUAGE_NAMES = {"zh": "中文", "en": "English"}


# -- small keyboards ----------------------------------------------------------------------------


def return_targets_keyboard(t: Translator, step: Step,
                            earlier: Sequence[Step]) -> InlineKeyboardMarkup:
    """↩️ Where to: the handler (a supplement), or one of the ``earlier`` steps."""
    rows = [[InlineKeyboardButton(text=t.gettext("↩️ To the handler, for a supplement"),
                                  callback_data=ReturnToCb(step=step.id, to=0).pack())]]
    rows += [[InlineKeyboardButton(
        text=t.gettext("↩️ Back to “{step}”").format(step=localized(t, other.name, other.name_en)),
        callback_data=ReturnToCb(step=step.id, to=other.seq).pack())] for other in earlier]
    return InlineKeyboardMarkup(inline_keyboard=rows)


def confirm_withdraw_keyboard(t: Translator, case_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(
        text=t.gettext("🗑 Yes, withdraw it"),
        callback_data=CaseCb(case=case_id, act=CaseAct.CONFIRM_WITHDRAW).pack())]])


def people_keyboard(step_id: int, act: PeopleAct, people: Sequence[Person], page: int,
                    per_page: int) -> InlineKeyboardMarkup:
    """One page of the people picker, with ◀ ▶ between pages; ``page`` is clamped."""
    pages = max(1, -(-len(people) // per_page))
    page = min(max(page, 0), pages - 1)
    shown = people[page * per_page:(page + 1) * per_page]
    rows = [[InlineKeyboardButton(text=p.name, callback_data=PeopleCb(
        step=step_id, act=act, person=p.id or 0).pack())] for p in shown]
    paging = []
    if page > 0:
        paging.append(InlineKeyboardButton(text="◀", callback_data=PeopleCb(
            step=step_id, act=act, page=page - 1).pack()))
    if page < pages - 1:
        paging.append(InlineKeyboardButton(text="▶", callback_data=PeopleCb(
            step=step_id, act=act, page=page + 1).pack()))
    if paging:
        rows.append(paging)
    return InlineKeyboardMarkup(inline_keyboard=rows)


def signer_position_keyboard(t: Translator, step_id: int, person_id: int) -> InlineKeyboardMarkup:
    def place(text: str, pos: SignerPos) -> InlineKeyboardButton:
        return InlineKeyboardButton(text=text, callback_data=PeopleCb(
            step=step_id, act=PeopleAct.ADD_SIGNER, person=person_id, pos=pos).pack())
    return InlineKeyboardMarkup(inline_keyboard=[[
        place(t.gettext("Before me"), SignerPos.BEFORE),
        place(t.gettext("After me"), SignerPos.AFTER)]])


def type_keyboard(t: Translator, types: Sequence[CaseType]) -> InlineKeyboardMarkup:
    """/submit: the kinds of item, and ✖️ Cancel."""
    rows = [[InlineKeyboardButton(text=case_type.display_name(t.locale),
                                  callback_data=TypeCb(index=i).pack())]
            for i, case_type in enumerate(types)]
    rows.append([InlineKeyboardButton(text=t.gettext("✖️ Cancel"),
                                      callback_data=TypeCb(index=-1).pack())])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def green_keyboard(t: Translator, index: int) -> InlineKeyboardMarkup:
    """/submit: the green channel or ordinary, for the kind at ``index``."""
    return InlineKeyboardMarkup(inline_keyboard=[[
        InlineKeyboardButton(text=t.gettext("🟢 Green channel"),
                             callback_data=TypeCb(index=index, green=1).pack()),
        InlineKeyboardButton(text=t.gettext("Ordinary"),
                             callback_data=TypeCb(index=index, green=0).pack()),
    ]])


def reached_keyboard(t: Translator, milestone_id: int) -> InlineKeyboardMarkup:
    """Under a report card: the milestone it reports on is reached."""
    return InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(
        text=t.gettext("🏁 Milestone reached"),
        callback_data=MilestoneCb(milestone=milestone_id).pack())]])


def status_keyboard(t: Translator, project_id: int, current: ProjectStatus
                    ) -> InlineKeyboardMarkup:
    """/status: every status but the current one, one per row."""
    return InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(
        text=status_label(t, status), callback_data=StatusCb(project=project_id,
                                                             status=index).pack())]
        for index, status in enumerate(ProjectStatus) if status != current])


def units_keyboard(t: Translator, below: Sequence[UnitLine], up: Unit | None
                   ) -> InlineKeyboardMarkup | None:
    """/projects: a button per unit below (its late and near ones counted), and one back up."""
    rows = []
    for line in below:
        marks = "".join(f"{emoji}{n} " for emoji, n in (("🔴", line.red), ("🟡", line.yellow))
                        if n)
        rows.append([InlineKeyboardButton(
            text=f"{marks}{line.unit.name} ({line.projects})",
            callback_data=UnitCb(unit=line.unit.id).pack())])
    if up is not None:
        rows.append([InlineKeyboardButton(text=t.gettext("⬆ {unit}").format(unit=up.name),
                                          callback_data=UnitCb(unit=up.id).pack())])
    return InlineKeyboardMarkup(inline_keyboard=rows) if rows else None


def inquiry_keyboard(t: Translator, inquiry_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(
        text=t.gettext("✅ Close with the outcome"), style=Style.SUCCESS,
        callback_data=InquiryCb(inquiry=inquiry_id).pack())]])


def language_keyboard(current: str) -> InlineKeyboardMarkup:
    """中文 / English, the current one ticked."""
    return InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(
        text=("✓ " if lang == current else "") + name, callback_data=LangCb(lang=lang).pack())
        for lang, name in LANGUAGE_NAMES.items()]])


BOARD_START = "board"  # /start board: the deep link a group's board button opens in private


def board_keyboard(t: Translator, url: str) -> InlineKeyboardMarkup:
    """Opens the lights board as a Mini App (Telegram allows this in private chats only)."""
    return InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(
        text=t.gettext("🚦 Open the lights board"), web_app=WebAppInfo(url=url))]])


def board_link_keyboard(t: Translator, bot_username: str) -> InlineKeyboardMarkup:
    """In a group: a link to the private chat, which answers with the board's button."""
    return InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(
        text=t.gettext("🚦 Open the lights board in private"),
        url=f"https://t.me/{bot_username}?start={BOARD_START}")]])
