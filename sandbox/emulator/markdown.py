"""Telegram's MarkdownV2 and legacy Markdown parse modes (after TDLib's parsers)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .entities import EntityParseError, check_url, link_user_id, sort_entities

Entity = dict[str, Any]

_RESERVED = "_*[]()~`>#+-=|{}.!"
_TYPE_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "code": "Code",
    "pre": "Pre",
    "pre_code": "PreCode",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
}


@dataclass
class _Open:
    kind: str
    argument: str
    offset: int  # UTF-16 offset in the output
    byte_offset: int  # byte offset in the input
    out_start: int  # position in the output string


def _units(char: str) -> int:
    return 2 if ord(char) > 0xFFFF else 1


class _MarkdownV2:
    def __init__(self, markup: str) -> None:
        self.src = markup
        self.byte_at = [0] * (len(markup) + 1)
        position = 0
        for index, char in enumerate(markup):
            self.byte_at[index] = position
            position += len(char.encode("utf-8", "surrogatepass"))
        self.byte_at[len(markup)] = position
        self.out: list[str] = []
        self.offset = 0
        self.entities: list[Entity] = []
        self.stack: list[_Open] = []
        self.quote_start: int | None = None
        self.quote_stack_depth = 0
        self.quote_expandable = False

    def at(self, index: int) -> str:
        return self.src[index] if index < len(self.src) else ""

    def emit(self, char: str) -> None:
        self.out.append(char)
        self.offset += _units(char)

    def error_reserved(self, char: str) -> EntityParseError:
        return EntityParseError(
            f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
        )

    def parse(self) -> tuple[str, list[Entity]]:
        i = 0
        src = self.src
        while i < len(src):
            char = src[i]
            line_start = i == 0 or src[i - 1] in "\n"
            in_code = bool(self.stack) and self.stack[-1].kind in ("code", "pre", "pre_code")
            if char == "\\" and 0 < ord(self.at(i + 1) or "\0") <= 126:
                self.emit(src[i + 1])
                i += 2
                continue
            quote_mark = char == ">" or src.startswith("**>", i)
            if not in_code and line_start and self.quote_start is None and quote_mark:
                self.quote_start = self.offset
                self.quote_stack_depth = len(self.stack)
                i += 1 if char == ">" else 3
                continue
            if not in_code and line_start and self.quote_start is not None and char == ">":
                i += 1
                continue
            if char == "\n" and self.quote_start is not None and not in_code:
                self.emit(char)
                i += 1
                if self.at(i) != ">":
                    self.end_quote(expandable=False)
                continue
            if char == "|" and self.at(i + 1) == "|" and self.quote_start is not None:
                after = self.at(i + 2)
                closes_spoiler = bool(self.stack) and self.stack[-1].kind == "spoiler"
                last_line = after == "" or (after in "\r\n" and not self._next_line_quoted(i + 2))
                if last_line and not closes_spoiler:
                    i += 2
                    self.quote_expandable = True
                    continue
            reserved = "`" if in_code else _RESERVED
            if char not in reserved:
                self.emit(char)
                i += 1
                continue
            i = self.entity_edge(i)
        if self.stack:
            top = self.stack[-1]
            raise EntityParseError(
                f"Can't find end of {_TYPE_NAMES[top.kind]} entity at byte offset {top.byte_offset}"
            )
        if self.quote_start is not None:
            self.end_quote(expandable=self.quote_expandable)
        return "".join(self.out), sort_entities(self.entities)

    def _next_line_quoted(self, index: int) -> bool:
        newline = self.src.find("\n", index)
        return newline != -1 and self.at(newline + 1) == ">"

    def end_quote(self, expandable: bool) -> None:
        start = self.quote_start
        assert start is not None
        if len(self.stack) > self.quote_stack_depth:
            top = self.stack[-1]
            raise EntityParseError(
                f"Can't find end of {_TYPE_NAMES[top.kind]} entity at byte offset {top.byte_offset}"
            )
        expandable = expandable or self.quote_expandable
        if self.offset > start:
            kind = "expandable_blockquote" if expandable else "blockquote"
            self.entities.append({"type": kind, "offset": start, "length": self.offset - start})
        self.quote_start = None
        self.quote_expandable = False

    def closes(self, top: _Open, i: int) -> bool:
        char, nxt = self.src[i], self.at(i + 1)
        return {
            "bold": char == "*",
            "italic": char == "_" and nxt != "_",
            "code": char == "`",
            "pre": self.src.startswith("```", i),
            "pre_code": self.src.startswith("```", i),
            "text_link": char == "]",
            "underline": char == "_" and nxt == "_",
            "strikethrough": char == "~",
            "spoiler": char == "|" and nxt == "|",
            "custom_emoji": char == "]",
        }[top.kind]

    def entity_edge(self, i: int) -> int:
        char = self.src[i]
        if self.stack and self.closes(self.stack[-1], i):
            return self.close(i)
        start = i
        argument = ""
        if char == "_":
            kind = "italic"
            if self.at(i + 1) == "_":
                kind, i = "underline", i + 1
        elif char == "*":
            kind = "bold"
        elif char == "~":
            kind = "strikethrough"
        elif char == "|":
            if self.at(i + 1) != "|":
                raise self.error_reserved(char)
            kind, i = "spoiler", i + 1
        elif char == "[":
            kind = "text_link"
        elif char == "`":
            kind = "code"
            if self.src.startswith("```", i):
                i += 3
                kind = "pre"
                end = i
                while end < len(self.src) and not self.src[end].isspace() and self.src[end] != "`":
                    end += 1
                if end != i and end < len(self.src) and self.src[end] != "`":
                    kind, argument, i = "pre_code", self.src[i:end], end
                if self.at(i) in ("\n", "\r"):
                    pair = self.at(i + 1) in ("\n", "\r") and self.at(i) != self.at(i + 1)
                    i += 2 if pair else 1
                i -= 1
        elif char == "!" and self.at(i + 1) == "[":
            kind, i = "custom_emoji", i + 1
        else:
            raise self.error_reserved(char)
        self.stack.append(
            _Open(kind, argument, self.offset, self.byte_at[start], len("".join(self.out)))
        )
        return i + 1

    def read_url(self, i: int) -> tuple[str, int]:
        """Read ``(url)`` starting at the ``(``; returns the url and the index of ``)``."""
        i += 1
        begin = i
        url = []
        while i < len(self.src) and self.src[i] != ")":
            if self.src[i] == "\\" and 0 < ord(self.at(i + 1) or "\0") <= 126:
                url.append(self.src[i + 1])
                i += 2
                continue
            url.append(self.src[i])
            i += 1
        if self.at(i) != ")":
            raise EntityParseError(f"Can't find end of a URL at byte offset {self.byte_at[begin]}")
        return "".join(url), i

    def close(self, i: int) -> int:
        top = self.stack.pop()
        entity: Entity | None = None
        length = self.offset - top.offset
        if top.kind in ("underline", "spoiler"):
            i += 1
        elif top.kind in ("pre", "pre_code"):
            i += 2
        if top.kind == "text_link":
            if self.at(i + 1) == "(":
                url, i = self.read_url(i + 1)
            else:
                url = "".join(self.out)[top.out_start :]
            user_id = link_user_id(url)
            if user_id is not None:
                entity = {"type": "text_mention", "user": {"id": user_id}}
            else:
                checked = check_url(url)
                entity = {"type": "text_link", "url": checked} if checked else None
        elif top.kind == "custom_emoji":
            if self.at(i + 1) != "(":
                raise EntityParseError("The entity must contain a tg://emoji or tg://time URL")
            url, i = self.read_url(i + 1)
            match = re.match(r"(?i)^tg://emoji/?\?([^#]*)", url)
            ids = [p[3:] for p in (match.group(1).split("&") if match else []) if p[:3] == "id="]
            if not ids or not re.fullmatch(r"[1-9]\d{0,18}", ids[0]):
                raise EntityParseError("Invalid tg://emoji or tg://time URL specified")
            entity = {"type": "custom_emoji", "custom_emoji_id": ids[0]}
        elif top.kind == "pre_code":
            entity = {"type": "pre", "language": top.argument}
        else:
            entity = {"type": top.kind}
        if entity is not None and length > 0:
            self.entities.append({**entity, "offset": top.offset, "length": length})
        return i + 1


def parse_markdown_v2(markup: str) -> tuple[str, list[Entity]]:
    """Parse MarkdownV2 into plain text and entities; raise :class:`EntityParseError`."""
    return _MarkdownV2(markup).parse()


def parse_markdown(markup: str) -> tuple[str, list[Entity]]:
    """Parse legacy Markdown (``*bold*``, ``_italic_``, ``[text](url)``, code, pre)."""
    out: list[str] = []
    entities: list[Entity] = []
    offset = 0
    i = 0
    byte_at = [len(markup[:k].encode("utf-8")) for k in range(len(markup) + 1)]
    while i < len(markup):
        char = markup[i]
        if char == "\\" and markup[i + 1 : i + 2] in ("_", "*", "`", "["):
            out.append(markup[i + 1])
            offset += 1
            i += 2
            continue
        if char not in "_*`[":
            out.append(char)
            offset += _units(char)
            i += 1
            continue
        begin = i
        end_char = "]" if char == "[" else char
        i += 1
        language = ""
        is_pre = char == "`" and markup.startswith("``", i)
        if is_pre:
            i += 2
            end = i
            while end < len(markup) and not markup[end].isspace() and markup[end] != "`":
                end += 1
            if i != end and end < len(markup) and markup[end] != "`":
                language, i = markup[i:end], end
            if markup[i : i + 1] in ("\n", "\r"):
                pair = markup[i + 1 : i + 2] in ("\n", "\r") and markup[i] != markup[i + 1]
                i += 2 if pair else 1
        start_offset = offset
        while i < len(markup) and (
            markup[i] != end_char or (is_pre and not markup.startswith("```", i))
        ):
            out.append(markup[i])
            offset += _units(markup[i])
            i += 1
        if i >= len(markup):
            raise EntityParseError(
                f"Can't find end of the entity starting at byte offset {byte_at[begin]}"
            )
        length = offset - start_offset
        entity: Entity | None = None
        if char == "[":
            url = markup[begin + 1 : i]
            if markup[i + 1 : i + 2] == "(":
                close = markup.find(")", i + 2)
                close = len(markup) if close == -1 else close
                url = markup[i + 2 : close]
                i = close
            user_id = link_user_id(url)
            checked = check_url(url)
            if user_id is not None:
                entity = {"type": "text_mention", "user": {"id": user_id}}
            elif checked:
                entity = {"type": "text_link", "url": checked}
        elif char == "_":
            entity = {"type": "italic"}
        elif char == "*":
            entity = {"type": "bold"}
        elif is_pre:
            entity = {"type": "pre", **({"language": language} if language else {})}
        else:
            entity = {"type": "code"}
        if entity is not None and length > 0:
            entities.append({**entity, "offset": start_offset, "length": length})
        i += 3 if is_pre else 1
    return "".join(out), sort_entities(entities)
