"""The /stats charts as PNGs: size, not blank, and Chinese drawn with a CJK font (matplotlib
warns of every glyph its font lacks; here that is an error). The PNGs are saved as test
artifacts (``GREENLIGHT_ARTIFACTS``, else a temporary folder) to be looked at."""

from __future__ import annotations

import io
import os
import warnings
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from bot.domain.rules.vocabulary import ProjectStatus
from bot.domain.usecases.stats import PersonLine, Rate, SectionLine, Stats, Week
from bot.i18n import translator
from bot.views.charts import cjk_font, stats_charts

# CI installs Debian's fonts-noto-cjk and says so; elsewhere a machine without it skips.
REQUIRED = os.environ.get("GREENLIGHT_REQUIRE_FONTS") == "1"
pytestmark = pytest.mark.skipif(cjk_font() is None and not REQUIRED,
                                reason="no CJK font (Debian: fonts-noto-cjk)")
SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 3, 10, tzinfo=SHANGHAI)


def bureau() -> Stats:
    first = date(2026, 9, 14)
    return Stats(
        at=NOW, since=datetime(2026, 9, 14, tzinfo=SHANGHAI),
        statuses=Counter({ProjectStatus.DONE: 24, ProjectStatus.IN_PROGRESS: 6,
                          ProjectStatus.DONE_FOLLOW_UP: 1, ProjectStatus.PRE_INTERVENTION: 3}),
        sections=[SectionLine("建筑规划科", 3, 1, Rate(20, 17), 2),
                  SectionLine("市政规划科", 2, 0, Rate(10, 10), 0),
                  SectionLine("政策法规科", 1, 1, Rate(8, 5), 3)],
        people=[PersonLine("李副局长", Rate(10, 9))],
        weeks=[Week(first + timedelta(weeks=n), n % 4 + 1, n % 3) for n in range(12)],
        cycle_days=3.4, cycle_items=12)


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("GREENLIGHT_ARTIFACTS") or tmp_path) / "charts"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.mark.parametrize("locale", ["zh", "en"])
def test_each_chart_is_a_sharp_png_drawn_with_a_cjk_font(locale: str, artifacts: Path) -> None:
    family = cjk_font()
    assert family is not None and "CJK" in family
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Glyph … missing from font(s) …" fails the test
        charts = stats_charts(translator(locale), bureau())
    assert [name for name, _ in charts] == ["status.png", "on_time.png", "trend.png"]
    for name, png in charts:
        (artifacts / f"{locale}-{name}").write_bytes(png)
        image = Image.open(io.BytesIO(png))
        assert image.format == "PNG"
        assert image.width >= 500 and image.height >= 450, (name, image.size)
        colours = image.convert("RGB").getcolors(maxcolors=1 << 24) or []
        white = sum(n for n, colour in colours if colour == (255, 255, 255))
        inked = 1 - white / (image.width * image.height)
        assert 0.03 < inked < 0.9, (name, inked)  # drawn on, not a blank or solid sheet
        assert len(colours) > 20, name  # colours and anti-aliased text


def test_a_bureau_with_nothing_yet_still_draws(artifacts: Path) -> None:
    empty = Stats(at=NOW, since=NOW, statuses=Counter({ProjectStatus.IN_PROGRESS: 1}),
                  sections=[], people=[], weeks=[Week(date(2026, 9, 14))], cycle_days=None,
                  cycle_items=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name, png in stats_charts(translator("zh"), empty):
            (artifacts / f"empty-{name}").write_bytes(png)
            assert Image.open(io.BytesIO(png)).width > 0
