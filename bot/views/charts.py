"""PNG charts for /stats (matplotlib's object API on the Agg canvas: no pyplot state, so a
chart can be drawn in a worker thread). Chinese labels need a CJK font: the project's set-up
installs Noto Sans CJK (Debian's fonts-noto-cjk); :func:`cjk_font` says which one is used."""

from __future__ import annotations

import io
from functools import cache
from typing import TYPE_CHECKING

from bot.domain.rules.vocabulary import ProjectStatus
from bot.domain.usecases.stats import Stats
from bot.i18n import Translator
from bot.views.text import STATUS_LABEL

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

CJK_FAMILIES = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Source Han Sans SC",
                "WenQuanYi Zen Hei", "Microsoft YaHei", "SimHei")
GREEN, YELLOW, RED, GREY, BLUE = "#2e9d4f", "#e0a800", "#d64541", "#9aa3ad", "#3572b0"
STATUS_COLOURS = {ProjectStatus.DONE: GREEN, ProjectStatus.IN_PROGRESS: BLUE,
                  ProjectStatus.DONE_FOLLOW_UP: YELLOW, ProjectStatus.PRE_INTERVENTION: GREY}
SIZE, DPI = (6.4, 4.0), 150  # 960 × 600 px: sharp on a phone, small to send


@cache
def cjk_font() -> str | None:
    """The first CJK family this machine has, or None (Chinese would then show as boxes)."""
    from matplotlib import font_manager

    known = {entry.name for entry in font_manager.fontManager.ttflist}
    return next((family for family in CJK_FAMILIES if family in known), None)


def _figure() -> tuple[Figure, Axes]:
    from matplotlib import rcParams
    from matplotlib.figure import Figure

    family = cjk_font()
    rcParams["font.sans-serif"] = [*([family] if family else []), "DejaVu Sans"]
    rcParams["font.family"] = "sans-serif"
    rcParams["axes.unicode_minus"] = False
    figure = Figure(figsize=SIZE, dpi=DPI)
    return figure, figure.add_subplot()


def _png(figure: Figure) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=DPI, bbox_inches="tight")
    return out.getvalue()


def status_donut(t: Translator, stats: Stats) -> bytes:
    figure, axes = _figure()
    shown = [status for status in ProjectStatus if stats.statuses[status]]
    axes.pie([stats.statuses[s] for s in shown],
             labels=[f"{t.gettext(STATUS_LABEL[s])} {stats.statuses[s]}" for s in shown],
             colors=[STATUS_COLOURS[s] for s in shown], startangle=90, counterclock=False,
             wedgeprops={"width": 0.38, "edgecolor": "white"})
    axes.text(0, 0, str(stats.projects), ha="center", va="center",
              fontsize=26, fontweight="bold")
    axes.set_title(t.gettext("Key projects by status"))
    return _png(figure)


def on_time_by_section(t: Translator, stats: Stats) -> bytes:
    figure, axes = _figure()
    rated = [s for s in stats.sections if s.closed.total]
    names = [s.name for s in rated] or ["—"]
    shares = [100 * (s.closed.share or 0) for s in rated] or [0]
    colours = [GREEN if v >= 90 else YELLOW if v >= 70 else RED for v in shares]
    bars = axes.barh(names, shares, color=colours)
    axes.bar_label(bars, labels=[f"{v:.0f}%" for v in shares],
                   padding=3)
    axes.set_xlim(0, 110)
    axes.invert_yaxis()
    axes.set_xlabel(t.gettext("steps decided on time, %"))
    axes.set_title(t.gettext("On-time rate per section"))
    return _png(figure)


def weekly_trend(t: Translator, stats: Stats) -> bytes:
    figure, axes = _figure()
    labels = [f"{week.start.month}/{week.start.day}" for week in stats.weeks]
    on_time = [week.on_time for week in stats.weeks]
    late = [week.late for week in stats.weeks]
    axes.bar(labels, on_time, color=GREEN,
             label=t.gettext("closed on time"))
    axes.bar(labels, late, bottom=on_time, color=RED,
             label=t.gettext("closed late"))
    axes.tick_params(axis="x", labelrotation=45, labelsize=8)
    axes.legend()
    axes.set_title(t.gettext("Steps closed per week (week starting)"))
    return _png(figure)


def stats_charts(t: Translator, stats: Stats) -> list[tuple[str, bytes]]:
    """(file name, PNG) of each chart, in the order they are sent."""
    return [("status.png", status_donut(t, stats)), ("on_time.png", on_time_by_section(t, stats)),
            ("trend.png", weekly_trend(t, stats))]
