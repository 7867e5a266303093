"""Reading hand-written YAML files (the org file, the case types) with line-accurate errors.

PyYAML's node API keeps where everything was written, so every problem can name the file,
the line and the field (``org.yaml line 14: people[2].section: unknown section 'x'``).
Readers collect every problem and raise them together, one per line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import yaml

NULL_TAG = "tag:yaml.org,2002:null"
BOOL_TAG = "tag:yaml.org,2002:bool"


@dataclass(frozen=True)
class Issue:
    line: int | None
    path: str  # the field, e.g. "people[2].section"; "" for the file as a whole
    message: str

    def render(self, filename: str) -> str:
        where = f"{filename} line {self.line}" if self.line is not None else filename
        return ": ".join([part for part in (where, self.path) if part] + [self.message])


class YamlFileError(ValueError):
    """A file is wrong; the message has one line per problem (file, line, field)."""

    def __init__(self, filename: str, issues: list[Issue]) -> None:
        self.filename = filename
        self.issues = tuple(sorted(issues, key=lambda i: i.line or 0))
        super().__init__("\n".join(issue.render(filename) for issue in self.issues))


def compose(text: str, filename: str, error: type[YamlFileError]) -> yaml.Node:
    """The document's root node; unreadable YAML or an empty file raise ``error``."""
    try:
        root = yaml.compose(text.removeprefix("\ufeff"), Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise error(filename, [Issue(line, "", f"invalid YAML: {exc.problem or exc}")]) from None
    except yaml.YAMLError as exc:
        raise error(filename, [Issue(None, "", f"invalid YAML: {exc}")]) from None
    if root is None or is_null(root):
        raise error(filename, [Issue(1, "", "the file is empty")])
    return root


def line_of(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == NULL_TAG


def sub(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def shape(node: yaml.Node) -> str:
    """How a node looks, for messages: a mapping, a list, nothing, or its value."""
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    if is_null(node):
        return "nothing"
    return f"'{node.value}'"


class Reader:
    """Collects problems while a file is read."""

    def __init__(self) -> None:
        self.issues: list[Issue] = []

    def error(self, line: int | None, path: str, message: str) -> None:
        self.issues.append(Issue(line, path, message))

    def mapping(self, node: yaml.Node, path: str, allowed: tuple[str, ...],
                misplaced: Mapping[str, str] | None = None
                ) -> tuple[dict[str, yaml.Node], dict[str, int]] | None:
        """A mapping's values and the lines of their keys; unknown, misplaced (with their
        explanation) and duplicate fields are reported."""
        if not isinstance(node, yaml.MappingNode):
            self.error(line_of(node), path, f"expected a mapping, got {shape(node)}")
            return None
        values: dict[str, yaml.Node] = {}
        key_lines: dict[str, int] = {}
        for key_node, value in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or is_null(key_node):
                self.error(line_of(key_node), path, "expected a field name")
                continue
            name = str(key_node.value)
            if misplaced and name in misplaced:
                self.error(line_of(key_node), sub(path, name), misplaced[name])
            elif name not in allowed:
                self.error(line_of(key_node), sub(path, name),
                           f"unknown field (expected one of: {', '.join(allowed)})")
            elif name in values:
                self.error(line_of(key_node), sub(path, name),
                           f"duplicate field (first at line {key_lines[name]})")
            else:
                values[name] = value
                key_lines[name] = line_of(key_node)
        return values, key_lines


class Fields:
    """One mapping's fields, read with type checks; problems go to the reader."""

    def __init__(self, reader: Reader, node: yaml.MappingNode, path: str,
                 values: dict[str, yaml.Node], key_lines: dict[str, int]) -> None:
        self.reader, self.node, self.path = reader, node, path
        self.values, self.key_lines = values, key_lines

    @property
    def line(self) -> int:
        return line_of(self.node)

    def line_of(self, name: str) -> int:
        """Where the field's value is written (the mapping's own line when it is absent)."""
        value = self.values.get(name)
        return line_of(value) if value is not None else self.line

    def path_of(self, name: str) -> str:
        return sub(self.path, name)

    def error(self, name: str, message: str) -> None:
        self.reader.error(self.line_of(name), self.path_of(name), message)

    def scalar(self, name: str, required: bool) -> str | None:
        """The field's text; None when absent or null (an error when required)."""
        node = self.values.get(name)
        if node is None:
            if required:
                self.reader.error(self.line, self.path_of(name), "missing")
            return None
        if is_null(node):
            if required:
                self.error(name, "empty")
            return None
        if not isinstance(node, yaml.ScalarNode):
            self.error(name, f"expected a single value, got {shape(node)}")
            return None
        return str(node.value)

    def items(self, name: str, *, required: bool = False) -> list[tuple[str, yaml.Node]] | None:
        """A list field's entries with their paths: None when absent (an error when required)
        or not a list, [] when null or empty."""
        node = self.values.get(name)
        if node is None:
            if required:
                self.reader.error(self.line, self.path_of(name), "missing")
            return None
        if is_null(node):
            return []
        if not isinstance(node, yaml.SequenceNode):
            self.error(name, f"expected a list, got {shape(node)}")
            return None
        return [(f"{self.path_of(name)}[{i}]", item) for i, item in enumerate(node.value)]

    def boolean(self, name: str, default: bool) -> bool:
        value = self.scalar(name, False)
        if value is None:
            return default
        if self.values[name].tag != BOOL_TAG:
            self.error(name, f"expected true or false, got '{value}'")
            return default
        return value.lower() in ("true", "yes", "on")
