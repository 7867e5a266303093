"""The supervision office's views: a written answer to an urge notice, and the urge counts."""

from __future__ import annotations

from markupsafe import Markup

from bot.domain.usecases.supervision import LEVELS, UrgeCounts
from bot.i18n import N_, Translator
from bot.views.text import clip, esc
from storage.models import UrgeNotice

LEVEL_LABELS = {"yellow": N_("🟡 yellow"), "red": N_("🔴 red"), "urge": N_("📮 urge notices")}


def answer_text(t: Translator, urge: UrgeNotice, who: str, project: str) -> Markup:
    return Markup("\n").join([
        t.gettext("📝 <b>Written answer</b> to urge notice #{id} · {project}").format(
            id=urge.id, project=esc(project)),
        t.gettext("From: {who}").format(who=esc(who)),
        t.gettext("Cause of the delay: {text}").format(text=esc(urge.cause or "")),
        t.gettext("Plan: {text}").format(text=esc(urge.plan or "")),
    ])


def counts_text(t: Translator, counts: UrgeCounts) -> Markup:
    if not counts.people:
        return t.gettext("📊 Nobody was urged in {year}.").format(year=counts.year)
    header = Markup(" · ").join(t.gettext(LEVEL_LABELS[level]) for level in LEVELS)
    lines = [t.gettext("📊 <b>Urging in {year}</b> ({header})").format(year=counts.year,
                                                                       header=header), Markup()]
    lines.append(t.gettext("<b>By section</b>"))
    for section_id, tally in sorted(counts.sections.items(),
                                    key=lambda item: -sum(item[1].values())):
        lines.append(Markup("{}: {}").format(counts.section_names[section_id],
                                             " / ".join(str(tally[level]) for level in LEVELS)))
    lines += [Markup(), t.gettext("<b>By person</b>")]
    for person_id, tally in sorted(counts.people.items(),
                                   key=lambda item: (-item[1]["urge"], -item[1]["red"],
                                                     -sum(item[1].values()))):
        lines.append(Markup("{}: {}").format(counts.names[person_id],
                                             " / ".join(str(tally[level]) for level in LEVELS)))
    lines += [Markup(), t.gettext("Export for the annual review: <code>greenlight export urges "
                            "--year {year} FILE.xlsx</code>").format(year=counts.year)]
    return clip(Markup("\n").join(lines))
