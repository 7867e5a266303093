"""/pending: everything waiting for me, with one-tap and bulk decisions."""

from __future__ import annotations

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from markupsafe import Markup

from bot.domain.usecases.case_view import PendingItem
from bot.i18n import Translator
from bot.views.keyboards import PendingAct, PendingCb, Style
from bot.views.text import LIGHT_EMOJI, clip, esc

CHECKED, UNCHECKED = "☑", "☐"
MAX_ITEMS = 20  # keeps the keyboard within Telegram's limits; the rest are counted


def pending_text(t: Translator, items: list[PendingItem]) -> Markup:
    if not items:
        return t.gettext("📥 Nothing waits for you. ✨")
    lines = [t.ngettext("📥 <b>{n} item waits for you</b> (oldest first)",
                        "📥 <b>{n} items wait for you</b> (oldest first)", len(items)).format(
        n=len(items))]
    for number, item in enumerate(items[:MAX_ITEMS], start=1):
        case, step = item.view.case, item.step
        light = LIGHT_EMOJI[step.light] if step.light else "⏳"
        due = f" · {t.when(step.step.due_at)}" if step.step.due_at else ""
        behalf = ""
        if item.assignment.on_behalf_of is not None:
            behalf = " " + t.gettext("(for {person})").format(
                person=esc(item.assignment.on_behalf_of.name))
        lines.append(Markup("{}. {} #{} {} <b>{}</b>{}{}").format(
            number, light, case.id, item.view.project.code, case.title, due, behalf))
    hidden = len(items) - MAX_ITEMS
    if hidden > 0:
        lines.append(t.ngettext("… and {n} more", "… and {n} more", hidden).format(n=hidden))
    return clip(Markup("\n").join(lines))


def pending_keyboard(t: Translator, items: list[PendingItem],
                     selected: set[int]) -> InlineKeyboardMarkup | None:
    if not items:
        return None
    rows = []
    for number, item in enumerate(items[:MAX_ITEMS], start=1):
        step_id = item.step.step.id
        assert step_id is not None
        mark = CHECKED if step_id in selected else UNCHECKED
        rows.append([
            InlineKeyboardButton(text=text, style=style,
                                 callback_data=PendingCb(act=act, step=step_id).pack())
            for text, act, style in ((f"{mark} {number}", PendingAct.TOGGLE, None),
                                     (t.gettext("✅ Approve"), PendingAct.APPROVE, Style.SUCCESS),
                                     (t.gettext("↩️ Return"), PendingAct.RETURN, Style.DANGER))])
    # Only the ticks on rows shown count: a bulk action reads the ticks back from the rows,
    # and "Select all" also ticks items past MAX_ITEMS, which have none.
    shown = {item.step.step.id for item in items[:MAX_ITEMS]}
    count = len(selected & shown)
    rows.append([
        InlineKeyboardButton(text=t.gettext("Select all"),
                             callback_data=PendingCb(act=PendingAct.SELECT_ALL).pack()),
        InlineKeyboardButton(text=t.gettext("✅ Approve selected ({n})").format(n=count),
                             style=Style.SUCCESS,
                             callback_data=PendingCb(act=PendingAct.APPROVE_SELECTED).pack()),
        InlineKeyboardButton(text=t.gettext("↩️ Return selected ({n})").format(n=count),
                             style=Style.DANGER,
                             callback_data=PendingCb(act=PendingAct.RETURN_SELECTED).pack()),
    ])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def selected_in(markup: InlineKeyboardMarkup | None) -> set[int]:
    """The steps ticked on a /pending message, read back from its own keyboard."""
    selected: set[int] = set()
    for row in markup.inline_keyboard if markup else []:
        for button in row:
            if button.text.startswith(CHECKED) and button.callback_data:
                data = PendingCb.unpack(button.callback_data)
                selected.add(data.step)
    return selected
