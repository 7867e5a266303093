"""The Bot API specification (``data/api.json``) and validation against it.

Requests are checked against the method's declared parameters (unknown, missing, wrongly typed),
results against the declared return type recursively (required fields present, field types
right, no undeclared fields). Problems are reported as strings; :class:`Violations` collects them.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from pathlib import Path
from typing import Any

from .media import Upload

log = logging.getLogger("sandbox.emulator.spec")

SPEC_PATH = Path(__file__).parent / "data" / "api.json"
_PRIMITIVES = frozenset({"Integer", "Float", "String", "Boolean", "True", "InputFile"})
_INT = re.compile(r"^[+-]?\d+$")
_DISCRIMINATOR = re.compile(r"(?:always|must be)\s+[\"“]?([A-Za-z_]+)")

# Parameters Telegram still accepts although the current spec no longer lists them. They are
# decoded like declared ones, but still reported as undeclared (the bot should not use them).
LEGACY_PARAMS: dict[str, list[str]] = {
    "reply_to_message_id": ["Integer"],
    "allow_sending_without_reply": ["Boolean"],
    "disable_web_page_preview": ["Boolean"],
}


def json_kind(value: Any) -> str:
    """The Bot API name of a JSON value's kind, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int):
        return "Integer"
    if isinstance(value, float):
        return "Float"
    if isinstance(value, str):
        return "String"
    if isinstance(value, list):
        return "Array"
    if isinstance(value, Upload):
        return "InputFile"
    return "Object"


class ApiSpec:
    """Methods and types of the Bot API, with validators."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.version: str = data.get("version", "")
        self.methods: dict[str, dict[str, Any]] = data["methods"]
        self.types: dict[str, dict[str, Any]] = data["types"]
        self._by_lower = {name.lower(): name for name in self.methods}
        self._params = {
            name: {f["name"]: f for f in method.get("fields", [])}
            for name, method in self.methods.items()
        }
        self._fields = {
            name: {f["name"]: f for f in spec.get("fields", [])}
            for name, spec in self.types.items()
        }
        self._discriminators: dict[str, tuple[str, str]] = {}
        for spec in self.types.values():
            for sub in spec.get("subtypes", []):
                for field in self.types.get(sub, {}).get("fields", []):
                    match = _DISCRIMINATOR.search(field["description"])
                    if field["required"] and field["types"] == ["String"] and match:
                        self._discriminators[sub] = (field["name"], match.group(1))
                        break

    @classmethod
    @functools.cache
    def load(cls, path: Path = SPEC_PATH) -> ApiSpec:
        return cls(json.loads(path.read_text(encoding="utf-8")))

    # -- methods -------------------------------------------------------------------------------

    def canonical_method(self, name: str) -> str | None:
        """The declared spelling of a method name (Telegram matches them case-insensitively)."""
        return self._by_lower.get(name.lower())

    def returns(self, method: str) -> list[str]:
        return list(self.methods[method].get("returns", []))

    def param_types(self, method: str, name: str) -> list[str] | None:
        field = self._params[method].get(name)
        if field is not None:
            return list(field["types"])
        return LEGACY_PARAMS.get(name)

    def coerce(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """Decode string values (form fields) by the parameter's declared types."""
        result: dict[str, Any] = {}
        for name, value in params.items():
            types = self.param_types(method, name)
            if isinstance(value, str) and types:
                value = self._coerce_string(value, types)
            result[name] = value
        return result

    def _coerce_string(self, value: str, types: list[str]) -> Any:
        structured = [t for t in types if t.startswith("Array of ") or t not in _PRIMITIVES]
        if structured and value[:1] in ("{", "["):
            try:
                decoded = json.loads(value)
            except ValueError:
                return value
            if isinstance(decoded, dict | list):
                return decoded
        if "Integer" in types and _INT.match(value):
            return int(value)
        if "Float" in types:
            try:
                return float(value)
            except ValueError:
                pass
        if "Boolean" in types or "True" in types:
            lowered = value.lower()
            if lowered in ("true", "1"):
                return True
            if lowered in ("false", "0"):
                return False
        return value

    def check_request(self, method: str, params: dict[str, Any]) -> list[str]:
        """Problems with a request's (decoded) parameters."""
        problems: list[str] = []
        declared = self._params[method]
        for name, value in params.items():
            field = declared.get(name)
            if field is None:
                problems.append(f"undeclared parameter '{name}'")
                continue
            problems.extend(self.check_value(value, field["types"], name))
        for name, field in declared.items():
            if field["required"] and name not in params:
                problems.append(f"missing required parameter '{name}'")
        return problems

    def check_result(self, method: str, result: Any) -> list[str]:
        """Problems with a result against the method's declared return type."""
        return self.check_value(result, self.returns(method), "result")

    # -- values --------------------------------------------------------------------------------

    def check_value(self, value: Any, types: list[str], path: str) -> list[str]:
        """Problems with ``value`` as one of ``types`` (a union when several)."""
        attempts: list[list[str]] = []
        for type_name in types:
            problems = self._check_type(value, type_name, path)
            if not problems:
                return []
            attempts.append(problems)
        structured = [
            problems
            for type_name, problems in zip(types, attempts, strict=True)
            if (isinstance(value, dict) and self._is_object(type_name))
            or (isinstance(value, list) and type_name.startswith("Array of "))
        ]
        if len(types) == 1:
            return attempts[0]
        if structured:
            return min(structured, key=len)
        return [f"{path}: expected {' or '.join(types)}, got {json_kind(value)}"]

    def _is_object(self, type_name: str) -> bool:
        return type_name in self.types and type_name not in _PRIMITIVES

    def _check_type(self, value: Any, type_name: str, path: str) -> list[str]:
        if type_name.startswith("Array of "):
            if not isinstance(value, list):
                return [f"{path}: expected {type_name}, got {json_kind(value)}"]
            item_type = type_name[len("Array of ") :]
            problems: list[str] = []
            for index, item in enumerate(value):
                problems.extend(self.check_value(item, [item_type], f"{path}[{index}]"))
            return problems
        if type_name in _PRIMITIVES:
            if self._primitive_ok(value, type_name):
                return []
            return [f"{path}: expected {type_name}, got {json_kind(value)}"]
        if type_name not in self.types:
            return [f"{path}: unknown type {type_name}"]
        subtypes = self.types[type_name].get("subtypes")
        if subtypes and not all(self._is_object(sub) for sub in subtypes):
            return self.check_value(value, subtypes, path)  # e.g. RichText: String or objects
        if not isinstance(value, dict):
            return [f"{path}: expected {type_name}, got {json_kind(value)}"]
        if subtypes:
            return self._check_union_object(value, type_name, subtypes, path)
        return self._check_fields(value, type_name, path)

    @staticmethod
    def _primitive_ok(value: Any, type_name: str) -> bool:
        if type_name == "Integer":
            return isinstance(value, int) and not isinstance(value, bool)
        if type_name == "Float":
            return isinstance(value, int | float) and not isinstance(value, bool)
        if type_name == "String":
            return isinstance(value, str)
        if type_name == "Boolean":
            return isinstance(value, bool)
        if type_name == "True":
            return value is True
        return isinstance(value, Upload)  # InputFile

    def _check_union_object(
        self, value: dict[str, Any], type_name: str, subtypes: list[str], path: str
    ) -> list[str]:
        candidates = subtypes
        if all(sub in self._discriminators for sub in subtypes):
            field = self._discriminators[subtypes[0]][0]
            candidates = [
                sub for sub in subtypes if value.get(field) == self._discriminators[sub][1]
            ]
            if not candidates:
                return [f"{path}: {type_name} with unknown {field} {value.get(field)!r}"]
        attempts = [self._check_type(value, sub, path) for sub in candidates]
        if any(not problems for problems in attempts):
            return []
        return min(attempts, key=len)

    def _check_fields(self, value: dict[str, Any], type_name: str, path: str) -> list[str]:
        problems: list[str] = []
        fields = self._fields[type_name]
        for key, item in value.items():
            field = fields.get(key)
            if field is None:
                problems.append(f"{path}: undeclared field '{key}' in {type_name}")
            elif item is None:
                problems.append(f"{path}.{key}: null instead of {' or '.join(field['types'])}")
            else:
                problems.extend(self.check_value(item, field["types"], f"{path}.{key}"))
        for key, field in fields.items():
            if field["required"] and key not in value:
                problems.append(f"{path}: missing required field '{key}' in {type_name}")
        return problems


class Violations:
    """Spec violations seen by the emulator, in order, also logged as warnings."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, kind: str, method: str, problems: list[str]) -> None:
        for problem in problems:
            text = f"{kind} {method}: {problem}"
            log.warning("spec violation: %s", text)
            self.items.append(text)

    def clear(self) -> None:
        self.items.clear()
