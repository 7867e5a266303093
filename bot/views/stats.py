"""/stats as text: the whole at a glance, in the words a bureau's own summaries use."""

from __future__ import annotations

from markupsafe import Markup

from bot.domain.rules.vocabulary import ProjectStatus
from bot.domain.usecases.stats import Rate, Stats
from bot.i18n import N_, Translator
from bot.views.text import clip, esc

IN_WORDS = {
    ProjectStatus.DONE: N_("{n} done"),
    ProjectStatus.IN_PROGRESS: N_("{n} in progress"),
    ProjectStatus.DONE_FOLLOW_UP: N_("{n} done but needing follow-up"),
    ProjectStatus.PRE_INTERVENTION: N_("{n} where we stepped in early"),
}
PEOPLE_SHOWN = 5  # the lowest on-time rates: who needs a word


def _rate(t: Translator, rate: Rate) -> Markup:
    if rate.share is None:
        return t.gettext("no steps closed")
    return t.gettext("{share:.0%} on time ({on_time} of {total})").format(
        share=rate.share, on_time=rate.on_time, total=rate.total)


def stats_text(t: Translator, stats: Stats) -> Markup:
    parts = Markup(t.gettext(", ")).join(
        t.gettext(IN_WORDS[status]).format(n=stats.statuses[status])
        for status in IN_WORDS if stats.statuses[status])
    lines = [
        t.gettext("📊 <b>{n} key projects</b>: {parts}").format(n=stats.projects,
                                                               parts=parts or "—"),
        t.gettext("Steps open now: {open}, of them late: {late}").format(
            open=stats.open_steps, late=stats.late_steps),
        t.gettext("Since {since}: {rate}").format(since=t.day(stats.since.date()),
                                                  rate=_rate(t, stats.on_time)),
    ]
    if stats.cycle_days is not None:
        lines.append(t.gettext("Approved items took {days:.1f} working days on average "
                               "({n} items)").format(days=stats.cycle_days, n=stats.cycle_items))
    if stats.sections:
        lines += [Markup(), t.gettext("<b>Per section</b>")]
        for section in stats.sections:
            lines.append(t.gettext("{name}: {open} open, {late} late · {rate} · {urges} urge "
                                   "notices").format(name=esc(section.name), open=section.open,
                                                     late=section.late,
                                                     rate=_rate(t, section.closed),
                                                     urges=section.urges))
    if stats.people:
        lines += [Markup(), t.gettext("<b>Decisions, lowest on-time rate first</b>")]
        for person in stats.people[:PEOPLE_SHOWN]:
            lines.append(Markup("{}: {}").format(esc(person.name), _rate(t, person.decisions)))
    return clip(Markup("\n").join(lines))
