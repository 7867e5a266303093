"""A clock several processes share through a file (``GREENLIGHT_CLOCK_FILE``, tests only).

The file holds ``{"now": ISO instant, "monotonic": seconds}``: the instant it was at when
the system's monotonic clock (one for every process on the machine) read ``monotonic``.
Time runs on from there, so timers fire; a test writes the file again to move every worker's
clock at once.
"""

from __future__ import annotations

import contextlib
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path


def write_clock_file(path: Path, now: datetime) -> None:
    """Set the shared clock to ``now`` (timezone-aware), atomically."""
    if now.tzinfo is None:
        raise ValueError("the clock file needs a timezone-aware instant")
    part = path.with_name(path.name + ".part")
    part.write_text(json.dumps({"now": now.astimezone(UTC).isoformat(),
                                "monotonic": time.monotonic()}), encoding="utf-8")
    part.replace(path)


class FileClock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: int | None = None
        self._base, self._mark = datetime.fromtimestamp(0, UTC), 0.0
        self._read()

    def _read(self) -> None:
        stamp = self.path.stat().st_mtime_ns
        if stamp == self._seen:
            return
        found = json.loads(self.path.read_text(encoding="utf-8"))
        self._base = datetime.fromisoformat(found["now"]).astimezone(UTC)
        self._mark = float(found["monotonic"])
        self._seen = stamp

    def now(self) -> datetime:
        with contextlib.suppress(OSError, ValueError, KeyError):  # mid-change: the last holds
            self._read()
        return self._base + timedelta(seconds=time.monotonic() - self._mark)
