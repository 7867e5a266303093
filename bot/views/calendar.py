"""The working-day calendar as people read it."""

from __future__ import annotations

from markupsafe import Markup

from bot.domain.rules.calendar import YearListing
from bot.i18n import Translator
from bot.views.text import clip

SOURCES = {"package": "", "override": " ✍️", "weekend-rule": ""}


def year_text(t: Translator, listing: YearListing) -> Markup:
    lines = [t.gettext("📅 <b>{year}</b>").format(year=listing.year)]
    if not listing.covered:
        lines.append(t.gettext("⚠️ No official holidays for {year} yet: due dates are counted "
                               "with weekends only and marked uncertain.").format(
            year=listing.year))
    if listing.holidays:
        lines += [Markup(), t.gettext("<b>Days off</b>")]
        lines += [Markup("{} {}{}").format(t.full_day(d.day), d.name, SOURCES[d.source])
                  for d in listing.holidays]
    if listing.workdays:
        lines += [Markup(), t.gettext("<b>Make-up working days</b>")]
        lines += [Markup("{} {}{}").format(t.full_day(d.day), d.name, SOURCES[d.source])
                  for d in listing.workdays]
    lines += [Markup(), t.gettext("✍️ added by an administrator")]
    return clip(Markup("\n").join(lines))


def usage(t: Translator) -> Markup:
    return t.gettext("Usage: <code>/calendar [YEAR]</code> lists a year; admins declare a day "
                     "with <code>/calendar 2027-02-06 holiday 春节</code> or "
                     "<code>/calendar 2027-02-14 workday 春节调休</code>.")
