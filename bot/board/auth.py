"""Who opened the board: Telegram's ``initData``, checked with the bot token and for age.

aiogram's :func:`safe_parse_webapp_init_data` checks the HMAC (key ``HMAC("WebAppData",
token)``) and nothing else: a signed initData copied from a phone would open the board for
ever. So its ``auth_date`` must also be younger than ``GREENLIGHT_BOARD_MAX_AGE`` by the bot's
own clock (the injected one: tests and the sandbox move it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from aiogram.utils.web_app import WebAppInitData, WebAppUser, safe_parse_webapp_init_data

SCHEME = "tma"  # Authorization: tma <initData>, as Telegram's Mini App documentation shows
CLOCK_SKEW = timedelta(minutes=5)  # an auth_date this far ahead of our clock still counts


class Refusal(StrEnum):
    MISSING = "missing"  # no initData at all
    INVALID = "invalid"  # not signed with this bot's token, or malformed, or no user in it
    EXPIRED = "expired"  # signed, but older than the board's max age


@dataclass
class NotAuthorized(Exception):
    reason: Refusal


def init_data_of(header: str | None) -> str | None:
    """The initData of an ``Authorization: tma <initData>`` header, if there is one."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != SCHEME or not value.strip():
        return None
    return value.strip()


def verify(token: str, init_data: str | None, now: datetime,
           max_age: timedelta) -> tuple[WebAppInitData, WebAppUser]:
    """The verified initData and its user; :class:`NotAuthorized` says why not."""
    if not init_data:
        raise NotAuthorized(Refusal.MISSING)
    try:
        parsed = safe_parse_webapp_init_data(token, init_data)
    except ValueError:  # a wrong hash, or fields that do not parse (pydantic's are ValueErrors)
        raise NotAuthorized(Refusal.INVALID) from None
    if parsed.user is None:
        raise NotAuthorized(Refusal.INVALID)
    age = now - parsed.auth_date
    if age > max_age:
        raise NotAuthorized(Refusal.EXPIRED)
    if age < -CLOCK_SKEW:
        raise NotAuthorized(Refusal.INVALID)
    return parsed, parsed.user
