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
    ) -> None:
        self.per_chat_per_second = per_chat_per_second
        self.per_group_per_minute = per_group_per_minute
        self.global_per_second = global_per_second
        self._chats: dict[int, _Window] = {}
        self._groups: dict[int, _Window] = {}
        self._global = _Window(global_per_second or 0, 1.0)

    def check(self, chat_id: int, is_group: bool, count: int = 1) -> int | None:
        """Record ``count`` messages to ``chat_id``; seconds to wait instead when over a limit."""
        now = time.monotonic()
        windows: list[_Window] = []
        if self.per_chat_per_second:
            capacity, seconds = _per_second(self.per_chat_per_second)
            windows.append(self._chats.setdefault(chat_id, _Window(capacity, seconds)))
        if self.per_group_per_minute and is_group:
            windows.append(
                self._groups.setdefault(chat_id, _Window(self.per_group_per_minute, 60.0))
            )
        if self.global_per_second:
            windows.append(self._global)
        wait = max((window.wait_time(now, count) for window in windows), default=0.0)
        if wait > 0:
            return max(1, math.ceil(wait))
        for window in windows:
            window.add(now, count)
        return None


FAULT_KINDS = ("429", "500", "502", "503", "504", "delay")


@dataclass
class Fault:
    kind: str
    retry_after: int = 1
    delay: float = 0.0


class FaultInjector:
    """The next N calls of a method fail or are delayed; method ``*`` matches any method."""

    def __init__(self) -> None:
        self._faults: dict[str, deque[Fault]] = {}

    def add(self, method: str, fault: Fault, count: int = 1) -> None:
        if fault.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {fault.kind!r}; use one of {FAULT_KINDS}")
        self._faults.setdefault(method.lower(), deque()).extend([fault] * count)

    def take(self, method: str) -> Fault | None:
        for key in (method.lower(), "*"):
            queue = self._faults.get(key)
            if queue:
                return queue.popleft()
        return None

    def pending(self) -> dict[str, int]:
        return {method: len(queue) for method, queue in self._faults.items() if queue}

    def clear(self) -> None:
        self._faults.clear()
