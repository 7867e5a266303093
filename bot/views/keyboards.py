"""Inline buttons. Callback data carries ids and an action only (64-byte limit);
the server re-checks everything on every press."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.domain.vocabulary import Decision
from bot.i18n import Translator

ACTIONS = {"a": Decision.APPROVE, "r": Decision.RETURN}


class DecideCb(CallbackData, prefix="dc"):
    step: int
    act: str  # "a" approve, "r" return

    @property
    def decision(self) -> Decision | None:
        return ACTIONS.get(self.act)


def decision_keyboard(t: Translator, step_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[
        InlineKeyboardButton(text=t.gettext("✅ Approve"),
                             callback_data=DecideCb(step=step_id, act="a").pack()),
        InlineKeyboardButton(text=t.gettext("↩️ Return"),
                             callback_data=DecideCb(step=step_id, act="r").pack()),
    ]])
