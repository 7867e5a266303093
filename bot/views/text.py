"""Small rendering helpers: escaping, mentions, lights, statuses, time left."""

from __future__ import annotations

from html import escape

from bot.domain.calendar import DayCount
from bot.domain.vocabulary import Light, ProjectStatus
from bot.i18n import N_, Translator
from storage.models import Person

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
LIGHT_EMOJI = {Light.GREEN: "🟢", Light.YELLOW: "🟡", Light.RED: "🔴"}
STATUS_EMOJI = {
    ProjectStatus.PRE_INTERVENTION: "🧭",
    ProjectStatus.IN_PROGRESS: "🚧",
    ProjectStatus.DONE: "✅",
    ProjectStatus.DONE_FOLLOW_UP: "☑️",
}
STATUS_LABEL = {
    ProjectStatus.PRE_INTERVENTION: N_("stepped in before filing"),
    ProjectStatus.IN_PROGRESS: N_("in progress"),
    ProjectStatus.DONE: N_("done"),
    ProjectStatus.DONE_FOLLOW_UP: N_("done, needs follow-up"),
}
LIGHT_LABEL = {Light.GREEN: N_("on time"), Light.YELLOW: N_("due soon"), Light.RED: N_("overdue")}


LEGACY_STEP_NAMES = {"leader": N_("Leader in charge")}  # steps stored before case types


def localized(t: Translator, zh: str, en: str | None) -> str:
    """A configured name (step, lane) in the reader's language, escaped."""
    if zh in LEGACY_STEP_NAMES:
        return t.gettext(LEGACY_STEP_NAMES[zh])
    return esc(en if t.locale == "en" and en else zh)


def esc(value: object) -> str:
    """User text inside HTML messages must be escaped."""
    return escape(str(value), quote=False)


def mention(person: Person) -> str:
    """A clickable name that notifies the person, even without a username."""
    if person.tg_user_id is None:
        return esc(person.name)
    return f'<a href="tg://user?id={person.tg_user_id}">{esc(person.name)}</a>'


def status_label(t: Translator, status: str) -> str:
    key = ProjectStatus(status)
    return f"{STATUS_EMOJI[key]} {t.gettext(STATUS_LABEL[key])}"


def light_label(t: Translator, light: Light) -> str:
    return f"{LIGHT_EMOJI[light]} {t.gettext(LIGHT_LABEL[light])}"


def time_left(t: Translator, left: DayCount) -> str:
    if left.days > 0:
        text = t.ngettext("{n} working day left", "{n} working days left", left.days)
    elif left.days == 0:
        text = t.gettext("due today")
    else:
        text = t.ngettext("{n} working day overdue", "{n} working days overdue", -left.days)
    text = text.format(n=abs(left.days))
    if left.uncertain:
        years = ", ".join(str(y) for y in left.uncertain_years)
        text += t.gettext(" (uncertain: no official holidays for {years} yet)").format(
            years=years)
    return text


def clip(text: str, limit: int = TEXT_LIMIT) -> str:
    """Keep a message within Telegram's limit, marking the cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
