"""The weekly digest as the leaders' group reads it (its charts are /stats's)."""

from __future__ import annotations

from datetime import timedelta

from markupsafe import Markup

from bot.domain.usecases.digest import Digest
from bot.i18n import Translator
from bot.views.text import clip, esc, time_left

LISTED = 8  # items per part; the rest is counted


def _listed(t: Translator, rows: list[Markup]) -> list[Markup]:
    shown = [Markup("• ") + row for row in rows[:LISTED]]
    if len(rows) > LISTED:
        shown.append(t.gettext("… and {n} more").format(n=len(rows) - LISTED))
    return shown


def weekly_digest_text(t: Translator, digest: Digest) -> Markup:
    first, last = digest.due.period
    lines = [t.gettext("📰 <b>Weekly digest</b> · {first} – {last}").format(
        first=t.day(first), last=t.day(last - timedelta(days=1)))]
    finished = [Markup("{} {}").format(esc(code), esc(title)) for code, title in digest.approved]
    finished += [t.gettext("{code} milestone “{title}” reached").format(
        code=esc(code), title=esc(title)) for code, title in digest.reached]
    lines += [Markup(), t.gettext("✅ <b>Finished</b> ({n})").format(n=len(finished))]
    lines += _listed(t, finished) or [t.gettext("nothing")]
    red = [t.gettext("{code} {title} · {step}").format(code=esc(code), title=esc(title),
                                                       step=esc(step))
           for code, title, step in digest.red_steps]
    red += [t.gettext("{code} milestone “{title}”").format(code=esc(code), title=esc(title))
            for code, title in digest.red_milestones]
    lines += [Markup(), t.gettext("🔴 <b>Turned red</b> ({n})").format(n=len(red))]
    lines += _listed(t, red) or [t.gettext("nothing")]
    late = [t.gettext("{code} {title} · {step}: {late}, waiting for {who}").format(
        code=esc(step.project), title=esc(step.title), step=esc(step.step),
        late=time_left(t, step.left), who=esc("、".join(step.waiting_for)))
            for step in digest.late]
    lines += [Markup(), t.gettext("⏰ <b>Late now</b> ({n})").format(n=len(late))]
    lines += _listed(t, late) or [t.gettext("nobody")]
    stats = digest.stats
    lines += [Markup(), t.gettext("{projects} key projects · {open} steps open, {late} late")
              .format(projects=stats.projects, open=stats.open_steps, late=stats.late_steps)]
    return clip(Markup("\n").join(lines))
