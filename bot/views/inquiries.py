"""The first-question ledger (首问负责制台账): an entry as recorded, the open ones, a reminder."""

from __future__ import annotations

from markupsafe import Markup

from bot.domain.rules.ladder import RungKind
from bot.domain.usecases.inquiries import Entry, Reminder
from bot.i18n import Translator
from bot.views.text import LIGHT_EMOJI, clip, esc, time_left
from storage.models import Inquiry, Person

QUESTION_SHOWN = 60  # characters of a question in a list line


def _short(text: str, limit: int = QUESTION_SHOWN) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def usage(t: Translator) -> Markup:
    return t.gettext(
        "Usage: <code>/ask WHO: QUESTION</code> records who asked you what (首问负责制), e.g. "
        "<code>/ask 黄先生 138…: 天立学校何时能批？</code>; <code>/ask #N done OUTCOME</code> "
        "closes it; <code>/ask #N to @someone</code> hands it over; /asks lists yours.")


def recorded_text(t: Translator, inquiry: Inquiry, asked: Person) -> Markup:
    return Markup("\n").join([
        t.gettext("📒 <b>First question #{number}</b> recorded").format(number=inquiry.id),
        t.gettext("Asked by: {asker}").format(asker=esc(inquiry.asker)),
        t.gettext("Question: {question}").format(question=esc(inquiry.question)),
        t.gettext("Responsible (first asked): {name} · answer by {due}").format(
            name=esc(asked.name), due=t.deadline(inquiry.due_at)),
        t.gettext("Close it with ✅ below (or <code>/ask #{number} done OUTCOME</code>); hand "
                  "it over with <code>/ask #{number} to @someone</code>.").format(
            number=inquiry.id),
    ])


def handed_text(t: Translator, inquiry: Inquiry, by: Person) -> Markup:
    """What the new owner is told."""
    return Markup("\n").join([
        t.gettext("📒 {by} handed you first question #{number} to see through:").format(
            by=esc(by.name), number=inquiry.id),
        t.gettext("Asked by: {asker}").format(asker=esc(inquiry.asker)),
        t.gettext("Question: {question}").format(question=esc(inquiry.question)),
        t.gettext("Answer by {due}.").format(due=t.deadline(inquiry.due_at)),
    ])


def closed_text(t: Translator, inquiry: Inquiry) -> Markup:
    return t.gettext("✅ First question #{number} closed: {outcome}").format(
        number=inquiry.id, outcome=esc(inquiry.outcome or ""))


def ledger_text(t: Translator, entries: list[Entry], everyone: bool) -> Markup:
    if not entries:
        return (t.gettext("📒 No open first questions.") if everyone
                else t.gettext("📒 You have no open first questions."))
    head = t.ngettext("📒 <b>{n} open first question</b>", "📒 <b>{n} open first questions</b>",
                      len(entries)).format(n=len(entries))
    lines = [head]
    for entry in sorted(entries, key=lambda e: (e.left.days, e.inquiry.id)):
        owner = (Markup(" · {}").format(esc(entry.owner.name)) if everyone
                 or entry.owner.id != entry.asked.id else Markup())
        lines.append(Markup("{} #{} {}：{}{}\n    {}").format(
            LIGHT_EMOJI[entry.light] if entry.light else "✅", entry.inquiry.id,
            esc(entry.inquiry.asker), esc(_short(entry.inquiry.question)), owner,
            time_left(t, entry.left)))
    return clip(Markup("\n").join(lines))


def reminder_text(t: Translator, reminder: Reminder) -> Markup:
    inquiry = reminder.inquiry
    kind = reminder.reached.rung.kind
    if kind is RungKind.YELLOW:
        head = t.gettext("🟡 First question #{number} is due soon")
    elif kind is RungKind.RED:
        head = t.gettext("🔴 First question #{number} is overdue")
    else:
        head = t.gettext("🔴 First question #{number} is still open")
    return Markup("\n").join([
        head.format(number=inquiry.id),
        t.gettext("Asked by: {asker}").format(asker=esc(inquiry.asker)),
        t.gettext("Question: {question}").format(question=esc(_short(inquiry.question, 300))),
        Markup("{} · {}").format(t.deadline(inquiry.due_at), time_left(t, reminder.left)),
    ])
