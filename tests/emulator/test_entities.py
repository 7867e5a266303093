"""Parse modes against TDLib's own expectations.

The cases are taken from ``check_parse_html`` / ``check_parse_markdown`` in TDLib's
``test/message_entities.cpp`` (entity types written with their Bot API names): a reference
that nobody on this project wrote.
"""

from __future__ import annotations

import pytest

from sandbox.emulator.entities import (
    EntityParseError,
    detect_entities,
    parse_html,
    trim,
    utf16_len,
)
from sandbox.emulator.markdown import parse_markdown, parse_markdown_v2

S = "🏟 🏟"  # a UTF-16 surrogate pair, a space, another pair: 5 units, 9 bytes
A = "➡️ ➡️"  # arrows with variation selectors: 5 units


def ent(kind: str, offset: int, length: int, **extra: object) -> dict[str, object]:
    return {"type": kind, "offset": offset, "length": length, **extra}


HTML_ERRORS = [
    (f"{S}&lt;<abacaba", "Unclosed start tag at byte offset 13"),
    (f"{S}&lt;<abac aba>", 'Unsupported start tag "abac" at byte offset 13'),
    (f"{S}&lt;<abac>", 'Unsupported start tag "abac" at byte offset 13'),
    (f"{S}&lt;<i   =aba>", 'Empty attribute name in the tag "i" at byte offset 13'),
    (f"{S}&lt;<i    aba>", 'Can\'t find end tag corresponding to start tag "i"'),
    (f"{S}&lt;<i    aba  =  ", 'Unclosed start tag "i" at byte offset 13'),
    (f"{S}&lt;<i    aba  =  190azAz-.,", "Unexpected end of name token at byte offset 27"),
    (f'{S}&lt;<i    aba  =  "&lt;&gt;&quot;>', "Unclosed start tag at byte offset 13"),
    (f"{S}&lt;</", "Unexpected end tag at byte offset 13"),
    (f"{S}&lt;<b></b></", "Unexpected end tag at byte offset 20"),
    (f"{S}&lt;<i>a</i   ", "Unclosed end tag at byte offset 17"),
    (
        f"{S}&lt;<i>a</em   >",
        'Unmatched end tag at byte offset 17, expected "</i>", found "</em>"',
    ),
    ("<b>bold", 'Can\'t find end tag corresponding to start tag "b"'),
    ("<foo>x</foo>", 'Unsupported start tag "foo" at byte offset 0'),
    (
        "&#57311;",
        "Text contains invalid Unicode characters after decoding HTML entities, "
        "check for unmatched surrogate code units",
    ),
    ('<span class="x">a</span>', 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
]

HTML_OK = [
    ("", "", []),
    (A, A, []),
    ("&ge;&lt;&gt;&amp;&quot;&laquo;&raquo;&#12345678;", '&ge;<>&"&laquo;&raquo;&#12345678;', []),
    (f"{A}<i>{A}</i>", A + A, [ent("italic", 5, 5)]),
    (f"{A}<em>{A}</em>", A + A, [ent("italic", 5, 5)]),
    (f"{A}<strong>{A}</strong>", A + A, [ent("bold", 5, 5)]),
    (f"{A}<ins>{A}</ins>", A + A, [ent("underline", 5, 5)]),
    (f"{A}<del>{A}</del>", A + A, [ent("strikethrough", 5, 5)]),
    (f"{A}<blockquote>{A}</blockquote>", A + A, [ent("blockquote", 5, 5)]),
    (f"{A}<i>{A}</i><b>{A}</b>", A * 3, [ent("italic", 5, 5), ent("bold", 10, 5)]),
    (f"{S}<i>🏟 &lt🏟</i>", f"{S}🏟 <🏟", [ent("italic", 5, 6)]),
    (
        f"{S}<i>🏟 &gt;<b aba   =   caba>&lt🏟</b></i>",
        f"{S}🏟 ><🏟",
        [ent("italic", 5, 7), ent("bold", 9, 3)],
    ),
    (f"{S}&lt;<i    aba  =  190azAz-.>a</i>", f"{S}<a", [ent("italic", 6, 1)]),
    (f"{S}&lt;<i>🏟 🏟&lt;</>", f"{S}<🏟 🏟<", [ent("italic", 6, 6)]),
    (f"{S}&lt;<b></b>", f"{S}<", []),
    ("<i>\t</i>", "\t", [ent("italic", 0, 1)]),
    (
        f'{A}<span class = "tg-spoiler">{A}</span><b>{A}</b>',
        A * 3,
        [ent("spoiler", 5, 5), ent("bold", 10, 5)],
    ),
    (f"{A}<tg-spoiler>{A}</tg-spoiler>", A + A, [ent("spoiler", 5, 5)]),
    ("<a href=telegram.org>\n</a>", "\n", [ent("text_link", 0, 1, url="http://telegram.org/")]),
    (
        "<code><i><b> </b></i></code><i><b><code> </code></b></i>",
        "  ",
        [
            ent("code", 0, 1),
            ent("bold", 0, 1),
            ent("italic", 0, 1),
            ent("code", 1, 1),
            ent("bold", 1, 1),
            ent("italic", 1, 1),
        ],
    ),
    (
        "<a   href=  'telegram.org?&lt;'   > </a>",
        " ",
        [ent("text_link", 0, 1, url="http://telegram.org/?<")],
    ),
    ("<a> </a>", " ", []),
    ("<a>telegram.org </a>", "telegram.org ", []),
    ("<a>telegram.org</a>", "telegram.org", [ent("text_link", 0, 12, url="http://telegram.org/")]),
    (f"{S}&lt;<pre><code>🏟 🏟&lt;</code></>", f"{S}<🏟 🏟<", [ent("pre", 6, 6), ent("code", 6, 6)]),
    (
        f'{S}&lt;<pre><code class="language-fift">🏟 🏟&lt;</></>',
        f"{S}<🏟 🏟<",
        [ent("pre", 6, 6, language="fift")],
    ),
    (
        f'{S}&lt;<code class="language-fift"><pre>🏟 🏟&lt;</></>',
        f"{S}<🏟 🏟<",
        [ent("pre", 6, 6, language="fift")],
    ),
    (
        f'{S}<tg-emoji emoji-id="54321">🏟 &lt🏟</tg-emoji>',
        f"{S}🏟 <🏟",
        [ent("custom_emoji", 5, 6, custom_emoji_id="54321")],
    ),
    (
        "<blockquote   expandable>a&lt;<pre  >b;</></>",
        "a<b;",
        [ent("expandable_blockquote", 0, 4), ent("pre", 2, 2)],
    ),
]


@pytest.mark.parametrize(("markup", "error"), HTML_ERRORS)
def test_html_errors_match_tdlib(markup: str, error: str) -> None:
    with pytest.raises(EntityParseError) as raised:
        parse_html(markup)
    assert str(raised.value) == error


@pytest.mark.parametrize(("markup", "text", "entities"), HTML_OK)
def test_html_parses_like_tdlib(markup: str, text: str, entities: list[dict[str, object]]) -> None:
    assert parse_html(markup) == (text, entities)


MARKDOWN_V2_ERRORS = [
    (f"{S}_abacaba", "Can't find end of Italic entity at byte offset 9"),
    (f"{S}_abac * asd ", "Can't find end of Bold entity at byte offset 15"),
    (f"{S}`", "Can't find end of Code entity at byte offset 9"),
    (f"{S}```", "Can't find end of Pre entity at byte offset 9"),
    (f"{S}```a ", "Can't find end of PreCode entity at byte offset 9"),
    (f"{S}__", "Can't find end of Underline entity at byte offset 9"),
    (f"{S}||test\\|", "Can't find end of Spoiler entity at byte offset 9"),
    (f"{S}!", "Character '!' is reserved and must be escaped with the preceding '\\'"),
    (f"{S}>", "Character '>' is reserved and must be escaped with the preceding '\\'"),
    ("[telegram\\.org](asd\\)", "Can't find end of a URL at byte offset 16"),
    (">*b\n>ld \n>bo\nld*\nasd\ndef", "Can't find end of Bold entity at byte offset 1"),
]

MARKDOWN_V2_OK = [
    ("\\\\", "\\", []),
    (f"{S}_abac \\* asd _", f"{S}abac * asd ", [ent("italic", 5, 11)]),
    (f"{A}_{A}_*{A}*", A * 3, [ent("italic", 5, 5), ent("bold", 10, 5)]),
    (f"{S}_🏟 __🏟___", f"{S}🏟 🏟", [ent("italic", 5, 5), ent("underline", 8, 2)]),
    (f"{S}```🏟\n🏟```", f"{S}🏟", [ent("pre", 5, 2, language="🏟")]),
    ("||test||", "test", [ent("spoiler", 0, 4)]),
    ("[ ](telegram.org)", " ", [ent("text_link", 0, 1, url="http://telegram.org/")]),
    ("[telegram\\.org]", "telegram.org", [ent("text_link", 0, 12, url="http://telegram.org/")]),
    ("[telegram\\.org](asdasd)", "telegram.org", []),
    (">a", "a", [ent("blockquote", 0, 1)]),
    ("abc\n> \n> \n>\ndef", "abc\n \n \n\ndef", [ent("blockquote", 4, 5)]),
    (">*abcd*\n", "abcd\n", [ent("blockquote", 0, 5), ent("bold", 0, 4)]),
    (
        ">asd\n>q||e||w||\nasdad",
        "asd\nqew\nasdad",
        [ent("expandable_blockquote", 0, 8), ent("spoiler", 5, 1)],
    ),
    (">asd\n>q||ew||\nasdad", "asd\nqew\nasdad", [ent("blockquote", 0, 8), ent("spoiler", 5, 2)]),
]


@pytest.mark.parametrize(("markup", "error"), MARKDOWN_V2_ERRORS)
def test_markdown_v2_errors_match_tdlib(markup: str, error: str) -> None:
    with pytest.raises(EntityParseError) as raised:
        parse_markdown_v2(markup)
    assert str(raised.value) == error


@pytest.mark.parametrize(("markup", "text", "entities"), MARKDOWN_V2_OK)
def test_markdown_v2_parses_like_tdlib(
    markup: str, text: str, entities: list[dict[str, object]]
) -> None:
    assert parse_markdown_v2(markup) == (text, entities)


def test_legacy_markdown() -> None:
    assert parse_markdown("*b* _i_ `c` [t](https://x.org)") == (
        "b i c t",
        [
            ent("bold", 0, 1),
            ent("italic", 2, 1),
            ent("code", 4, 1),
            ent("text_link", 6, 1, url="https://x.org/"),
        ],
    )
    with pytest.raises(EntityParseError, match="Can't find end of the entity starting at byte"):
        parse_markdown("*open")


def test_detected_entities_use_utf16_offsets() -> None:
    text = "😀 /report@greenlight_bot 看 @alice #周报 https://example.org/x."
    found = {e["type"]: e for e in detect_entities(text)}
    assert found["bot_command"] == ent("bot_command", 3, 22)
    assert found["mention"]["offset"] == utf16_len("😀 /report@greenlight_bot 看 ")
    assert found["hashtag"]["length"] == 3
    assert found["url"]["length"] == len("https://example.org/x")


def test_trim_keeps_entities_aligned() -> None:
    assert trim("  <b>x</b> ", [ent("bold", 2, 8)]) == ("<b>x</b>", [ent("bold", 0, 8)])


@pytest.mark.parametrize("fmt", ["", "r", "w", "wdt", "DT", "wDT", "dT"])
def test_a_date_time_entity_keeps_its_moment_and_format(fmt: str) -> None:
    attribute = f' format="{fmt}"' if fmt else ""
    text, entities = parse_html(f'时限 <tg-time unix="1796290200"{attribute}>11月26日周四 17:30'
                                "</tg-time>")
    expected = ent("date_time", 3, 14, unix_time=1796290200)
    if fmt:
        expected["date_time_format"] = fmt
    assert (text, entities) == ("时限 11月26日周四 17:30", [expected])


@pytest.mark.parametrize("fmt", ["rw", "tw", "dD", "x", "TT", "Wd"])
def test_a_date_time_format_out_of_telegrams_order_is_refused(fmt: str) -> None:
    with pytest.raises(EntityParseError, match="Invalid date format"):
        parse_html(f'<tg-time unix="1796290200" format="{fmt}">x</tg-time>')
