"""Small rendering helpers: escaping, mentions, lights, statuses, time left."""

from __future__ import annotations

import re

from markupsafe import Markup, escape

from bot.domain.rules.calendar import DayCount
from bot.domain.rules.vocabulary import Light, ProjectStatus
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


def localized(t: Translator, zh: str, en: str | None) -> Markup:
    """A configured name (step, lane) in the reader's language, escaped."""
    if zh in LEGACY_STEP_NAMES:
        return t.gettext(LEGACY_STEP_NAMES[zh])
    return esc(en if t.locale == "en" and en else zh)


def esc(value: object) -> Markup:
    """User text made safe inside an HTML message (Markup already safe stays as it is).

    Templates from the catalogs escape what they are formatted with by themselves; this is
    for text put together outside them.
    """
    return escape(value)


def mention(person: Person) -> Markup:
    """A clickable name that notifies the person, even without a username."""
    if person.tg_user_id is None:
        return esc(person.name)
    return Markup('<a href="tg://user?id={}">{}</a>').format(person.tg_user_id, person.name)


def status_label(t: Translator, status: str) -> Markup:
    key = ProjectStatus(status)
    return Markup("{} {}").format(STATUS_EMOJI[key], t.gettext(STATUS_LABEL[key]))


def light_label(t: Translator, light: Light) -> Markup:
    return Markup("{} {}").format(LIGHT_EMOJI[light], t.gettext(LIGHT_LABEL[light]))


def time_left(t: Translator, left: DayCount) -> Markup:
    if left.days > 0:
        text = t.ngettext("{n} working day left", "{n} working days left", left.days)
    elif left.days == 0:
        text = t.gettext("due today")
    elif left.late == 0:
        text = t.gettext("overdue, by less than a working day")
    else:
        text = t.ngettext("{n} working day overdue", "{n} working days overdue", left.late)
    text = text.format(n=left.late if left.days < 0 else left.days)
    if left.uncertain:
        years = ", ".join(str(y) for y in left.uncertain_years)
        text += t.gettext(" (uncertain: no official holidays for {years} yet)").format(
            years=years)
    return text


_TOKENS = re.compile(r"(<[^>]*>)|(&#?\w+;)|([^<&]+|[<&])")


def _units(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units, at least the characters)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def visible_length(html: str) -> int:
    """How long ``html`` is once Telegram has parsed its tags and entities."""
    return sum(1 if entity else _units(text) for _, entity, text in _TOKENS.findall(html))


def clip(html: str, limit: int = TEXT_LIMIT) -> Markup:
    """Keep a message within Telegram's limit, counted on its text after parsing, marking
    the cut with an ellipsis; never inside a tag or an entity, and every open tag closed."""
    html = escape(html)
    if visible_length(html) <= limit:
        return html
    budget = limit - 1  # for the ellipsis
    out: list[str] = []
    open_tags: list[str] = []
    for tag, entity, text in _TOKENS.findall(html):
        if budget <= 0:
            break
        if tag:
            name = tag.strip("</>").split()[0].lower() if tag.strip("</>") else ""
            if tag.startswith("</"):
                if open_tags and open_tags[-1] == name:
                    open_tags.pop()
            elif not tag.endswith("/>"):
                open_tags.append(name)
            out.append(tag)
            continue
        if entity:
            out.append(entity)
            budget -= 1
            continue
        kept = []
        for char in text:
            size = _units(char)
            if size > budget:
                budget = 0
                break
            kept.append(char)
            budget -= size
        out.append("".join(kept))
    while out and out[-1].startswith("<") and not out[-1].startswith("</"):
        out.pop()  # a tag opened right at the cut holds nothing: drop it
        open_tags.pop()
    out.append("…")
    out.extend(f"</{name}>" for name in reversed(open_tags))
    return Markup("".join(out))
