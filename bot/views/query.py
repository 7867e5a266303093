"""What an applicant sees of an item by its query code, and the receipt a handler forwards."""

from __future__ import annotations

from markupsafe import Markup

from bot.domain.rules.vocabulary import CaseState
from bot.domain.usecases.query import Limited, Miss, Status
from bot.i18n import N_, Translator
from bot.views.text import clip, esc, localized

STATE_LABEL = {
    CaseState.PENDING: N_("⏳ In progress"),
    CaseState.SUPPLEMENT: N_("⏸ Waiting for materials to be supplemented"),
    CaseState.RETURNED: N_("↩️ Returned"),
    CaseState.APPROVED: N_("✅ Approved"),
    CaseState.WITHDRAWN: N_("🗑 Withdrawn"),
}


def status_text(t: Translator, status: Status) -> Markup:
    lines = [
        t.gettext("🔎 <b>{title}</b> · {project}").format(title=esc(status.title),
                                                          project=esc(status.project)),
        t.gettext("Query code: <code>{code}</code>").format(code=status.code),
        t.gettext("Submitted: {when}").format(when=t.when(status.submitted_at)),
        t.gettext("Status: {state}").format(state=t.gettext(STATE_LABEL[status.state])),
    ]
    if status.step is not None and status.state is CaseState.PENDING:
        lines.append(t.gettext("Current step: {step}").format(
            step=esc(localized(t, status.step.name, status.step.name_en))))
    if status.expected is not None:
        lines.append(t.gettext("Expected completion: {when}").format(
            when=t.when(status.expected)))
    if status.closed_at is not None and status.state in (CaseState.APPROVED,
                                                         CaseState.WITHDRAWN):
        lines.append(t.gettext("Closed: {when}").format(when=t.when(status.closed_at)))
    return clip(Markup("\n").join(lines))


def miss_text(t: Translator, miss: Miss) -> Markup:
    return t.gettext("No item has the query code <code>{code}</code>. Check the code on "
                     "your receipt and try again.").format(code=esc(miss.code))


def limited_text(t: Translator, limited: Limited) -> Markup:
    return t.gettext("Too many wrong query codes. Please try again after {when}.").format(
        when=t.when(limited.until))


def usage_text(t: Translator) -> Markup:
    return t.gettext("Usage: <code>/query CODE</code>, with the query code from your receipt.")


def receipt_text(t: Translator, status: Status, bot_username: str | None) -> Markup:
    """For the handler to forward to the applicant: the code, and how to ask."""
    lines = [
        t.gettext("🧾 <b>Receipt</b> · {title} · {project}").format(
            title=esc(status.title), project=esc(status.project)),
        t.gettext("Accepted: {when}").format(when=t.when(status.submitted_at)),
        t.gettext("Query code: <code>{code}</code>").format(code=status.code),
    ]
    if status.expected is not None:
        lines.append(t.gettext("Expected completion: {when}").format(
            when=t.when(status.expected)))
    if bot_username:
        lines.append(t.gettext("To follow it, send <code>/query {code}</code> to @{bot}.").format(
            code=status.code, bot=esc(bot_username)))
    return clip(Markup("\n").join(lines))
