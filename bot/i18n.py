"""Translations (gettext catalogs kept with Babel) and locale-aware formatting.

Message ids are English; ``locales/zh`` carries Simplified Chinese, the default.
Renderers receive a :class:`Translator` explicitly, so the deadline sweep renders in
each recipient's language exactly as handlers do.

Catalog upkeep: ``python -m bot.i18n update`` (extract, merge) and
``python -m bot.i18n compile``; a test fails when a catalog is stale or incomplete.
"""

from __future__ import annotations

import gettext
import sys
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_skeleton
from markupsafe import Markup

LOCALES_DIR = Path(__file__).resolve().parent / "locales"
DOMAIN = "greenlight"
LOCALES = ("zh", "en")
_BABEL_LOCALE = {"zh": "zh_Hans_CN", "en": "en_GB"}


class PersonLike(Protocol):
    locale: str | None


class Translator:
    def __init__(self, locale: str, tz: ZoneInfo) -> None:
        self.locale = locale if locale in LOCALES else LOCALES[0]
        self.tz = tz
        self._babel = Locale.parse(_BABEL_LOCALE[self.locale])
        self._catalog = gettext.translation(
            DOMAIN, localedir=LOCALES_DIR, languages=[self.locale], fallback=True
        )

    # Catalog strings are Telegram HTML written by us: trusted. Their ``format`` escapes
    # every value that is not itself Markup, so user text cannot break a message.
    def gettext(self, message: str) -> Markup:
        return Markup(self._catalog.gettext(message))

    def ngettext(self, singular: str, plural: str, n: int) -> Markup:
        return Markup(self._catalog.ngettext(singular, plural, n))

    def when(self, instant: datetime) -> str:
        """A short local date and time: ``11月24日周二 17:30`` / ``Tue 24 Nov 17:30``."""
        local = instant.astimezone(self.tz)
        day = format_skeleton("MMMEd", local, locale=self._babel)
        return f"{day} {format_skeleton('Hm', local, locale=self._babel)}"

    def deadline(self, instant: datetime) -> Markup:
        """:meth:`when` as a date-time entity: the reader's app can show it in their own
        time zone and format (the text stays ours where it cannot)."""
        return Markup('<tg-time unix="{}">{}</tg-time>').format(int(instant.timestamp()),
                                                               self.when(instant))

    def day(self, value: date) -> str:
        """``11月24日周二`` / ``Tue 24 Nov``."""
        return format_skeleton("MMMEd", value, locale=self._babel)

    def full_day(self, value: date) -> str:
        return format_skeleton("yMMMdEEE", value, locale=self._babel)


@lru_cache(maxsize=16)
def translator(locale: str, tz: str = "Asia/Shanghai") -> Translator:
    return Translator(locale, ZoneInfo(tz))


def pick_locale(person_locale: str | None, telegram_language: str | None, default: str) -> str:
    """The person's own choice, else their Telegram app's language, else the bureau's."""
    for candidate in (person_locale, (telegram_language or "").split("-")[0].lower()):
        if candidate in LOCALES:
            return candidate
    return default


@dataclass(frozen=True)
class Rendering:
    """How to render for the bureau: its default language and time zone."""

    default_locale: str
    timezone: str

    def for_person(self, person: PersonLike | None) -> Translator:
        locale = pick_locale(person.locale if person else None, None, self.default_locale)
        return translator(locale, self.timezone)

    def for_group(self) -> Translator:
        return translator(self.default_locale, self.timezone)


def N_(message: str) -> str:
    """Mark a string for extraction where it is translated later."""
    return message


def _update() -> None:
    from babel.messages.catalog import Catalog
    from babel.messages.extract import extract_from_dir
    from babel.messages.pofile import read_po, write_po

    template = Catalog(project="greenlight", charset="utf-8")
    source_root = LOCALES_DIR.parent.parent
    for directory in ("bot",):
        for filename, lineno, message, comments, context in extract_from_dir(
            str(source_root / directory),
            method_map=[("**.py", "python")],
            keywords={"_": None, "N_": None, "gettext": None, "ngettext": (1, 2)},
            comment_tags=("TRANSLATORS:",),
        ):
            template.add(message, None, [(f"{directory}/{filename}", lineno)],
                         auto_comments=comments, context=context)
    for locale in LOCALES:
        po_path = LOCALES_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
        po_path.parent.mkdir(parents=True, exist_ok=True)
        if po_path.exists():
            with po_path.open("rb") as handle:
                catalog = read_po(handle, locale=locale)
        else:
            catalog = Catalog(locale=locale, project="greenlight", charset="utf-8")
        catalog.update(template, no_fuzzy_matching=True)
        with po_path.open("wb") as handle:
            write_po(handle, catalog, width=100, omit_header=False, ignore_obsolete=True,
                     include_previous=False, sort_output=False)
        print(f"updated {po_path}")


def _compile() -> None:
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for locale in LOCALES:
        po_path = LOCALES_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
        with po_path.open("rb") as handle:
            catalog = read_po(handle, locale=locale)
        with po_path.with_suffix(".mo").open("wb") as handle:
            write_mo(handle, catalog, use_fuzzy=False)
        print(f"compiled {po_path.with_suffix('.mo')}")


if __name__ == "__main__":
    {"update": _update, "compile": _compile}[sys.argv[1]]()
