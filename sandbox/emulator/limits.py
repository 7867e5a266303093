"""Flood control (Telegram's 429s) and injected faults."""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass

from .config import EmulatorConfig


class _Window:
    """At most ``capacity`` events per ``seconds`` (sliding window)."""

    def __init__(self, capacity: int, seconds: float) -> None:
        self.capacity = capacity
        self.seconds = seconds
        self.events: deque[float] = deque()

    def wait_time(self, now: float, count: int) -> float:
        while self.events and self.events[0] <= now - self.seconds:
            self.events.popleft()
        if len(self.events) + count <= self.capacity:
            return 0.0
        index = min(len(self.events) + count - self.capacity - 1, len(self.events) - 1)
        return self.events[index] + self.seconds - now if index >= 0 else self.seconds

    def add(self, now: float, count: int) -> None:
        self.events.extend([now] * count)


def _per_second(rate: float) -> tuple[int, float]:
    """(capacity, window seconds) for a rate that may be below one per second."""
    if rate >= 1:
        return int(rate), 1.0
    return 1, 1.0 / rate


class FloodControl:
    """Per-chat, per-group and global message limits; off where the limit is None."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.configure(
            config.flood_per_chat_per_second,
            config.flood_per_group_per_minute,
            config.flood_global_per_second,
        )

    def configure(
        self,
        per_chat_per_second: float | None,
        per_group_per_minute: int | None,
        global_per_second: int | None,
        group_window_seconds: float = 60.0,
        global_window_seconds: float = 1.0,
    ) -> None:
        """Tests shorten the windows (``group_window_seconds`` standing in for a group's
        minute, ``global_window_seconds`` for the global second) rather than wait them out."""
        self.per_chat_per_second = per_chat_per_second
        self.group_window_seconds = group_window_seconds
        self.global_window_seconds = global_window_seconds
        self.per_group_per_minute = per_group_per_minute
        self.global_per_second = global_per_second
        self._chats: dict[int, _Window] = {}
        self._groups: dict[int, _Window] = {}
        self._global = _Window(global_per_second or 0, global_window_seconds)

    def check(self, chat_id: int, is_group: bool, count: int = 1) -> int | None:
        """Record ``count`` messages to ``chat_id``; seconds to wait instead when over a limit."""
        now = time.monotonic()
        windows: list[_Window] = []
        if self.per_chat_per_second:
            capacity, seconds = _per_second(self.per_chat_per_second)
            windows.append(self._chats.setdefault(chat_id, _Window(capacity, seconds)))
        if self.per_group_per_minute and is_group:
            window = _Window(self.per_group_per_minute, self.group_window_seconds)
            windows.append(self._groups.setdefault(chat_id, window))
        if self.global_per_second:
            windows.append(self._global)
        wait = max((window.wait_time(now, count) for window in windows), default=0.0)
        if wait > 0:
            return max(1, math.ceil(wait))
        for window in windows:
            window.add(now, count)
        return None


FAULT_KINDS = ("429", "500", "502", "503", "504", "delay")
SERVER_FAULTS = ("500", "502", "503", "504")


@dataclass(frozen=True)
class Fault:
    """One injected failure: a 429 asking to wait ``retry_after`` whole seconds (Telegram
    never asks for less than one), a 5xx answered by the Bot API as JSON or, with ``html``,
    by Telegram's front end as an nginx error page, or a ``delay`` before a normal answer."""

    kind: str
    retry_after: int = 1
    delay: float = 0.0
    html: bool = False

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; use one of {FAULT_KINDS}")
        if self.kind == "429" and (type(self.retry_after) is not int or self.retry_after < 1):
            raise ValueError(f"retry_after must be a whole number of seconds, at least 1, "
                             f"as Telegram sends it: {self.retry_after!r}")
        if self.kind == "delay" and not self.delay >= 0:
            raise ValueError(f"delay must be a number of seconds, not {self.delay!r}")
        if self.html and self.kind not in SERVER_FAULTS:
            raise ValueError(f"only a server error comes as an HTML page, not {self.kind!r}")


class FaultInjector:
    """The next N calls of a method fail or are delayed; method ``*`` matches any method, and
    a fault for one chat only matches calls to that chat."""

    def __init__(self) -> None:
        self._faults: dict[tuple[str, int | None], deque[Fault]] = {}

    def add(self, method: str, fault: Fault, count: int = 1, chat_id: int | None = None) -> None:
        if type(count) is not int or count < 1:
            raise ValueError(f"count must be a whole number, at least 1: {count!r}")
        self._faults.setdefault((method.lower(), chat_id), deque()).extend([fault] * count)

    def take(self, method: str, chat_id: int | None = None) -> Fault | None:
        chats = (chat_id, None) if chat_id is not None else (None,)
        for key in ((m, c) for m in (method.lower(), "*") for c in chats):
            queue = self._faults.get(key)
            if queue:
                return queue.popleft()
        return None

    def pending(self) -> dict[str, int]:
        return {method if chat is None else f"{method}@{chat}": len(queue)
                for (method, chat), queue in self._faults.items() if queue}

    def clear(self) -> None:
        self._faults.clear()
