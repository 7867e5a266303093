"""The bureau's adjustable rules, handed to use cases (built from settings)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Policy:
    yellow_working_days: int = 1  # yellow when this many working days or fewer are left
    approval_limit_days: int = 3  # a leader's limit for an item submitted for approval
    report_max_chars: int = 3000
    title_max_chars: int = 200
    reason_max_chars: int = 1000
