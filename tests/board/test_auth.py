"""The board's initData check: Telegram's HMAC (aiogram's) and the age of ``auth_date`` by
the injected clock (which aiogram does not check)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode

import pytest

from bot.board.auth import NotAuthorized, Refusal, init_data_of, verify
from sandbox.emulator.webapp import sign_init_data

TOKEN = "7000000001:SANDBOX-greenlight-local-only"
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
DAY = timedelta(days=1)
USER = {"id": 100008, "first_name": "刘晓", "language_code": "zh"}


def signed(at: datetime = NOW, token: str = TOKEN) -> str:
    return sign_init_data(token, USER, int(at.timestamp()))


def refusal(init_data: str | None, now: datetime = NOW) -> Refusal:
    with pytest.raises(NotAuthorized) as refused:
        verify(TOKEN, init_data, now, DAY)
    return refused.value.reason


def test_a_fresh_signed_init_data_names_its_user() -> None:
    parsed, user = verify(TOKEN, signed(), NOW + timedelta(hours=23), DAY)
    assert (user.id, user.first_name) == (100008, "刘晓")
    assert parsed.auth_date == NOW


def test_missing() -> None:
    assert refusal(None) == refusal("") == Refusal.MISSING


def test_a_tampered_hash_or_field_or_another_token_is_invalid() -> None:
    fields = dict(parse_qsl(signed()))
    bad_hash = urlencode({**fields, "hash": "0" * 64})
    assert refusal(bad_hash) == Refusal.INVALID
    other_user = urlencode({**fields, "user": fields["user"].replace("100008", "100001")})
    assert refusal(other_user) == Refusal.INVALID
    younger = urlencode({**fields, "auth_date": str(int((NOW + DAY).timestamp()))})
    assert refusal(younger, NOW + DAY) == Refusal.INVALID
    assert refusal(signed(token="123:other")) == Refusal.INVALID
    assert refusal("not a query string") == Refusal.INVALID
    no_hash = urlencode({key: value for key, value in fields.items() if key != "hash"})
    assert refusal(no_hash) == Refusal.INVALID


def test_expired_by_the_injected_clock() -> None:
    assert refusal(signed(), NOW + DAY + timedelta(seconds=1)) == Refusal.EXPIRED
    verify(TOKEN, signed(), NOW + DAY, DAY)  # exactly the max age: still good


def test_from_the_future_is_invalid_beyond_a_small_skew() -> None:
    verify(TOKEN, signed(NOW + timedelta(minutes=4)), NOW, DAY)
    assert refusal(signed(NOW + timedelta(minutes=10))) == Refusal.INVALID


def test_the_authorization_header() -> None:
    assert init_data_of("tma a=1&b=2") == "a=1&b=2"
    assert init_data_of("TMA  a=1") == "a=1"
    assert init_data_of("Bearer a=1") is None
    assert init_data_of("tma ") is None
    assert init_data_of(None) is None
