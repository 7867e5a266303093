"""Clipping HTML to Telegram's limit: counted on the text after parsing, never cutting a tag or
an entity, every open tag closed. Checked with the emulator's parser, as strict as Telegram's."""

from __future__ import annotations

import random

import pytest
from markupsafe import Markup

from bot.views.text import TEXT_LIMIT, clip, esc, visible_length
from sandbox.emulator.entities import parse_html, utf16_len

TRICKY = ["<", ">", "&", '"', "'", "斜", "😀", "a", " ", "\n", "&amp;", "<b>"]


def sample(rng: random.Random, size: int) -> str:
    return "".join(rng.choice(TRICKY) for _ in range(size))


@pytest.mark.parametrize("seed", range(40))
def test_clipped_html_parses_and_fits(seed: int) -> None:
    rng = random.Random(seed)
    limit = rng.choice([20, 200, 1024, TEXT_LIMIT])
    html = Markup("\n").join(
        Markup(rng.choice(["<b>{}</b>", "<i>{}</i>", "{}", "<blockquote>{}</blockquote>",
                           '<a href="tg://user?id=1">{}</a>', "<code>{}</code>"])).format(
            sample(rng, rng.randint(0, limit // 2)))
        for _ in range(rng.randint(1, 6)))
    clipped = clip(html, limit)
    text, _entities = parse_html(clipped)  # raises on a cut tag or entity
    assert utf16_len(text) <= limit
    if visible_length(html) <= limit:
        assert clipped == html
    else:
        assert text.endswith("…")


def test_a_long_report_of_escaped_characters_keeps_its_closing_tag() -> None:
    html = Markup("<b>周报</b>\n<blockquote>{}</blockquote>").format("<&>" * 3000)
    assert len(html) > 4 * TEXT_LIMIT  # as bytes it is far over; as text it is 9 003
    clipped = clip(html)
    text, entities = parse_html(clipped)
    assert len(text) == TEXT_LIMIT and text.endswith("…")
    assert clipped.endswith("…</blockquote>")
    assert [e["type"] for e in entities] == ["bold", "blockquote"]


def test_plain_text_given_to_clip_is_escaped_first() -> None:
    assert clip("a<b>&", 100) == esc("a<b>&")
