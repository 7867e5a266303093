"""Message text formatting: Telegram's HTML parse mode, entity detection and normalisation.

Offsets and lengths are in UTF-16 code units, as in the Bot API. The HTML parser follows TDLib's
``parse_html`` (``td/telegram/MessageEntity.cpp``): the same tags, the same four named character
references plus numeric ones, and the same error wording, so a bot sees what Telegram would say
after ``Bad Request: can't parse entities:``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

Entity = dict[str, Any]


class EntityParseError(ValueError):
    """Markup that Telegram refuses; the message follows ``can't parse entities:``."""


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def utf16_to_index(text: str, offset: int) -> int:
    """The ``str`` index of the character at UTF-16 ``offset``."""
    units = 0
    for index, char in enumerate(text):
        if units >= offset:
            return index
        units += 2 if ord(char) > 0xFFFF else 1
    return len(text)


def entity_text(text: str, entity: Entity) -> str:
    start = utf16_to_index(text, entity["offset"])
    end = utf16_to_index(text, entity["offset"] + entity["length"])
    return text[start:end]


# Sorting as TDLib does: offset, then longer first, then by type priority.
_PRIORITY = {
    "blockquote": 0,
    "expandable_blockquote": 1,
    "pre": 11,
    "code": 20,
    "text_link": 49,
    "text_mention": 49,
    "bold": 90,
    "italic": 91,
    "underline": 92,
    "strikethrough": 93,
    "spoiler": 94,
    "custom_emoji": 99,
    "date_time": 99,
}


def sort_entities(entities: list[Entity]) -> list[Entity]:
    return sorted(entities, key=lambda e: (e["offset"], -e["length"], _PRIORITY.get(e["type"], 50)))


# --------------------------------------------------------------------------------------------
# HTML

_SUPPORTED_TAGS = frozenset(
    [
        "a",
        "b",
        "strong",
        "i",
        "em",
        "s",
        "strike",
        "del",
        "u",
        "ins",
        "tg-spoiler",
        "tg-emoji",
        "tg-time",
        "span",
        "pre",
        "code",
        "blockquote",
    ]
)
_SIMPLE_TAGS = {
    "i": "italic",
    "em": "italic",
    "b": "bold",
    "strong": "bold",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "u": "underline",
    "ins": "underline",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
}
_NAMED_REFERENCES = {b"lt": "<", b"gt": ">", b"amp": "&", b"quot": '"'}
_SPACES = frozenset(b" \t\r\n\x0b\x00")
_LT, _GT, _AMP, _SLASH, _EQ = (ord(c) for c in "<>&/=")
_QUOTES = frozenset(b"'\"")
_NAME_TOKEN = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-")
_ATTR_NAME_END = _SPACES | frozenset(b"=>/'\"")
_DATE_FORMAT = re.compile(r"^(r|w?[dD]?[tT]?)$")  # as Telegram: r, or w d|D t|T in order


@dataclass
class _OpenTag:
    name: str
    argument: str
    unix_time: int
    offset: int  # UTF-16 offset in the output
    byte_start: int  # byte position in the output


class _Bytes:
    """UTF-8 input read TDLib-style: reading past the end yields 0."""

    def __init__(self, text: str) -> None:
        self.data = text.encode("utf-8", "surrogatepass")
        self.size = len(self.data)

    def __getitem__(self, index: int) -> int:
        return self.data[index] if index < self.size else 0

    def decode(self, start: int, end: int) -> str:
        return self.data[start:end].decode("utf-8", "replace")


def _decode_reference(src: _Bytes, pos: int) -> tuple[int, int] | None:
    """Decode ``&...;`` at ``pos``: (code point, position after it), or None to keep it as text."""
    end = pos + 1
    code = 0
    if src[pos + 1] == ord("#"):
        end += 1
        if src[pos + 2] == ord("x"):
            end += 1
            while chr(src[end]) in "0123456789abcdefABCDEF" and src[end]:
                code = code * 16 + int(chr(src[end]), 16)
                end += 1
        else:
            while ord("0") <= src[end] <= ord("9"):
                code = code * 10 + src[end] - ord("0")
                end += 1
        if code == 0 or code >= 0x10FFFF or end - pos >= 10:
            return None
    else:
        while chr(src[end]).isascii() and chr(src[end]).isalpha():
            end += 1
        name = src.data[pos + 1 : end]
        if name not in _NAMED_REFERENCES:
            return None
        code = ord(_NAMED_REFERENCES[name])
    if src[end] == ord(";"):
        end += 1
    return code, end


def _encode_code_point(code: int) -> bytes:
    return chr(code).encode("utf-8", "surrogatepass")


def parse_html(markup: str) -> tuple[str, list[Entity]]:
    """Parse Telegram HTML into plain text and entities; raise :class:`EntityParseError`."""
    src = _Bytes(markup)
    out = bytearray()
    found: list[tuple[Entity, str]] = []  # entity, language of a code entity
    stack: list[_OpenTag] = []
    offset = 0
    bad_surrogate = False
    i = 0
    while i < src.size:
        c = src[i]
        if c == _AMP:
            ref = _decode_reference(src, i)
            if ref is not None:
                code, i = ref
                offset += 2 if code > 0xFFFF else 1
                bad_surrogate = bad_surrogate or 0xD800 <= code <= 0xDFFF
                out += _encode_code_point(code)
                continue
        if c != _LT:
            if c & 0xC0 != 0x80:
                offset += 2 if c >= 0xF0 else 1
            out.append(c)
            i += 1
            continue

        begin = i
        i += 1
        if src[i] != _SLASH:
            i = _read_start_tag(src, begin, i, stack, offset, len(out))
            continue

        if not stack:
            raise EntityParseError(f"Unexpected end tag at byte offset {begin}")
        while src[i] not in _SPACES and src[i] != _GT:
            i += 1
        end_name = src.decode(begin + 2, i).lower()
        while src[i] in _SPACES and src[i] != 0:
            i += 1
        if src[i] != _GT:
            raise EntityParseError(f"Unclosed end tag at byte offset {begin}")
        top = stack[-1]
        if end_name and end_name != top.name:
            raise EntityParseError(
                f"Unmatched end tag at byte offset {begin}, "
                f'expected "</{top.name}>", found "</{end_name}>"'
            )
        if offset > top.offset:
            _close_tag(top, offset - top.offset, found, bytes(out))
        stack.pop()
        i += 1

    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    if bad_surrogate:
        raise EntityParseError(
            "Text contains invalid Unicode characters after decoding HTML entities, "
            "check for unmatched surrogate code units"
        )
    return out.decode("utf-8"), sort_entities([entity for entity, _ in found])


def _read_start_tag(
    src: _Bytes, begin: int, i: int, stack: list[_OpenTag], offset: int, out_size: int
) -> int:
    """Read a start tag beginning at ``begin``; push it and return the index after ``>``."""
    while src[i] not in _SPACES and src[i] != _GT:
        i += 1
    if src[i] == 0:
        raise EntityParseError(f"Unclosed start tag at byte offset {begin}")
    tag = src.decode(begin + 1, i).lower()
    if tag not in _SUPPORTED_TAGS:
        raise EntityParseError(f'Unsupported start tag "{tag}" at byte offset {begin}')

    argument = ""
    unix_time = 0
    while src[i] != _GT:
        while src[i] != 0 and src[i] in _SPACES:
            i += 1
        if src[i] == _GT:
            break
        name_start = i
        while src[i] not in _ATTR_NAME_END:
            i += 1
        attribute = src.decode(name_start, i).lower()
        if not attribute:
            raise EntityParseError(
                f'Empty attribute name in the tag "{tag}" at byte offset {begin}'
            )
        while src[i] != 0 and src[i] in _SPACES:
            i += 1
        if src[i] != _EQ:
            if src[i] == 0:
                raise EntityParseError(f'Unclosed start tag "{tag}" at byte offset {begin}')
            if tag == "blockquote" and attribute == "expandable":
                argument = "1"
            continue
        i += 1
        while src[i] != 0 and src[i] in _SPACES:
            i += 1
        if src[i] == 0:
            raise EntityParseError(f'Unclosed start tag "{tag}" at byte offset {begin}')
        if src[i] not in _QUOTES:
            token_start = i
            while src[i] in _NAME_TOKEN and src[i] != 0:
                i += 1
            value = src.decode(token_start, i).lower()
            if src[i] not in _SPACES and src[i] != _GT:
                raise EntityParseError(f"Unexpected end of name token at byte offset {token_start}")
        else:
            quote = src[i]
            i += 1
            raw = bytearray()
            while src[i] != quote and src[i] != 0:
                if src[i] == _AMP:
                    ref = _decode_reference(src, i)
                    if ref is not None:
                        code, i = ref
                        raw += _encode_code_point(code)
                        continue
                raw.append(src[i])
                i += 1
            if src[i] == quote:
                i += 1
            value = raw.decode("utf-8", "replace")
        if src[i] == 0:
            raise EntityParseError(f"Unclosed start tag at byte offset {begin}")
        if tag == "tg-time" and attribute == "unix":
            match = re.match(r"-?\d+", value)
            unix_time = int(match.group()) if match else 0
        new_argument = _tag_argument(tag, attribute, value)
        if new_argument is not None:
            argument = new_argument

    if tag == "span" and argument != "spoiler":
        raise EntityParseError(f'Tag "span" must have class "tg-spoiler" at byte offset {begin}')
    stack.append(_OpenTag(tag, argument, unix_time, offset, out_size))
    return i + 1


def _tag_argument(tag: str, attribute: str, value: str) -> str | None:
    if tag == "a" and attribute == "href":
        return value
    if tag == "code" and attribute == "class" and value.startswith("language-"):
        return value[len("language-") :]
    if tag == "span" and attribute == "class" and value.startswith("tg-"):
        return value[len("tg-") :]
    if tag == "tg-emoji" and attribute == "emoji-id":
        return value
    if tag == "tg-time" and attribute == "format":
        return value
    if tag == "blockquote" and attribute == "expandable":
        return "1"
    return None


def _close_tag(tag: _OpenTag, length: int, found: list[tuple[Entity, str]], out: bytes) -> None:
    offset = tag.offset
    base: Entity = {"offset": offset, "length": length}
    previous = found[-1] if found else None
    same_span = (
        previous is not None and previous[0]["offset"] == offset and previous[0]["length"] == length
    )
    if tag.name in _SIMPLE_TAGS:
        found.append(({"type": _SIMPLE_TAGS[tag.name], **base}, ""))
    elif tag.name == "tg-emoji":
        if not re.fullmatch(r"\d{1,19}", tag.argument) or int(tag.argument) == 0:
            raise EntityParseError("Invalid custom emoji identifier specified")
        found.append(({"type": "custom_emoji", **base, "custom_emoji_id": tag.argument}, ""))
    elif tag.name == "tg-time":
        if not _DATE_FORMAT.match(tag.argument):
            raise EntityParseError("Invalid date format used")
        if tag.unix_time > 0:
            entity = {"type": "date_time", **base, "unix_time": tag.unix_time}
            if tag.argument:
                entity["date_time_format"] = tag.argument
            found.append((entity, ""))
    elif tag.name == "a":
        url = tag.argument or out[tag.byte_start :].decode("utf-8")
        user_id = link_user_id(url)
        if user_id is not None:
            found.append(({"type": "text_mention", **base, "user": {"id": user_id}}, ""))
        else:
            checked = check_url(url)
            if checked is not None:
                found.append(({"type": "text_link", **base, "url": checked}, ""))
    elif tag.name == "pre":
        if same_span and previous is not None and previous[0]["type"] == "code" and previous[1]:
            found[-1] = ({"type": "pre", **base, "language": previous[1]}, "")
        else:
            found.append(({"type": "pre", **base}, ""))
    elif tag.name == "code":
        if (
            same_span
            and previous is not None
            and previous[0]["type"] == "pre"
            and "language" not in previous[0]
            and tag.argument
        ):
            found[-1] = ({"type": "pre", **base, "language": tag.argument}, "")
        else:
            found.append(({"type": "code", **base}, tag.argument))
    elif tag.name == "blockquote":
        kind = "expandable_blockquote" if tag.argument else "blockquote"
        found.append(({"type": kind, **base}, ""))


def link_user_id(url: str) -> int | None:
    """The user id of a ``tg://user?id=N`` link, as TDLib reads it."""
    match = re.match(r"(?i)^tg:(?://)?user/?\?(.*)$", url)
    if not match:
        return None
    for part in match.group(1).split("#", 1)[0].split("&"):
        key, _, value = part.partition("=")
        if key == "id":
            return int(value) if re.fullmatch(r"\d{1,19}", value) else None
    return None


_HOST = re.compile(
    r"^(?:[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)+|localhost|\[[0-9a-fA-F:]+\])(?::\d+)?$"
)


def check_url(url: str) -> str | None:
    """Normalise a link like TDLib's ``check_url``; None when Telegram would drop it."""
    if not url or any(ch.isspace() for ch in url):
        return None
    match = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*)://", url)
    scheme = "http"
    rest = url
    if match:
        scheme = match.group(1).lower()
        if scheme in ("tg", "ton", "tonsite"):
            return url
        if scheme not in ("http", "https"):
            return None
        rest = url[match.end() :]
    elif re.match(r"(?i)^tg:", url):
        return url
    host = re.split(r"[/?#]", rest, maxsplit=1)[0]
    bare_host = host.rpartition("@")[2]
    if not _HOST.match(bare_host):
        return None
    path = rest[len(host) :]
    if not path.startswith("/"):
        path = "/" + path
    return f"{scheme}://{host}{path}"


# --------------------------------------------------------------------------------------------
# Entities found in plain text (Telegram adds these to every message)

_AUTO_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("url", re.compile(r"(?i)(?<![\w@/.])(?:https?://|www\.)[^\s<>\"]+")),
    ("email", re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")),
    (
        "bot_command",
        re.compile(r"(?<![\w/<>])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/<>@])"),
    ),
    ("mention", re.compile(r"(?<![\w@])@[A-Za-z0-9_]{3,32}(?![\w@])")),
    ("hashtag", re.compile(r"(?<![\w#])#\w{1,256}")),
    ("cashtag", re.compile(r"(?<![\w$])\$[A-Z]{3,8}(?![\w$])")),
]
# Entities that exclude detection of others inside them.
_OPAQUE = frozenset(
    [
        "code",
        "pre",
        "text_link",
        "text_mention",
        "url",
        "email",
        "bot_command",
        "mention",
        "hashtag",
        "cashtag",
        "custom_emoji",
        "date_time",
    ]
)


def detect_entities(text: str, existing: list[Entity] | None = None) -> list[Entity]:
    """Entities Telegram finds by itself (commands, mentions, links...), merged and sorted."""
    existing = list(existing or [])
    taken: list[tuple[int, int]] = [
        (e["offset"], e["offset"] + e["length"]) for e in existing if e["type"] in _OPAQUE
    ]
    detected: list[Entity] = []
    for kind, pattern in _AUTO_PATTERNS:
        for match in pattern.finditer(text):
            value = match.group()
            if kind == "url":
                value = value.rstrip(".,;:!?)]}'\"")
            if kind == "hashtag" and value[1:].isdigit():
                continue
            start = utf16_len(text[: match.start()])
            end = start + utf16_len(value)
            if any(start < t_end and t_start < end for t_start, t_end in taken):
                continue
            taken.append((start, end))
            detected.append({"type": kind, "offset": start, "length": end - start})
    return sort_entities(existing + detected)


def trim(text: str, entities: list[Entity]) -> tuple[str, list[Entity]]:
    """Strip leading/trailing whitespace as Telegram does, keeping entities aligned."""
    stripped = text.strip(" \t\r\n")
    lead = utf16_len(text[: len(text) - len(text.lstrip(" \t\r\n"))])
    total = utf16_len(stripped)
    result: list[Entity] = []
    for entity in entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, total)
        if end > start:
            result.append({**entity, "offset": start, "length": end - start})
    return stripped, result


_ENTITY_TYPES = frozenset(
    [
        "mention",
        "hashtag",
        "cashtag",
        "bot_command",
        "url",
        "email",
        "phone_number",
        "bold",
        "italic",
        "underline",
        "strikethrough",
        "spoiler",
        "blockquote",
        "expandable_blockquote",
        "code",
        "pre",
        "text_link",
        "text_mention",
        "custom_emoji",
        "date_time",
    ]
)


def clean_entities(text: str, entities: list[Any]) -> list[Entity]:
    """Entities a bot passed explicitly: keep known, in-range ones (Telegram drops the rest)."""
    total = utf16_len(text)
    result: list[Entity] = []
    for raw in entities:
        if not isinstance(raw, dict) or raw.get("type") not in _ENTITY_TYPES:
            raise EntityParseError("unsupported entity type")
        offset, length = raw.get("offset"), raw.get("length")
        if not isinstance(offset, int) or not isinstance(length, int):
            raise EntityParseError("entity offset and length must be integers")
        end = min(offset + length, total)
        if offset < 0 or end <= offset:
            continue
        entity = {k: v for k, v in raw.items() if v is not None}
        entity["length"] = end - offset
        result.append(entity)
    return sort_entities(result)
