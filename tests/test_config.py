"""Settings: defaults, and one clear line naming the variable when one is wrong."""

from __future__ import annotations

from datetime import time

import pytest

from bot.config import SettingsError, load_settings, parse_office_hours


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os

    for name in list(os.environ):
        if name.startswith("GREENLIGHT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_defaults() -> None:
    settings = load_settings()
    assert settings.api_base_url == "https://api.telegram.org"
    assert settings.timezone == "Asia/Shanghai"
    assert settings.default_locale == "zh"
    assert settings.sweep_interval_seconds == 60
    assert settings.db_url.startswith("sqlite+aiosqlite:///")
    assert settings.db_url.endswith("data/greenlight.db")
    assert settings.office_intervals == ((time(8, 30), time(12)), (time(14), time(17, 30)))


def test_environment_and_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / ".env").write_text("GREENLIGHT_DEFAULT_LOCALE=en\nGREENLIGHT_BOT_TOKEN=1:abc\n")
    monkeypatch.setenv("GREENLIGHT_SWEEP_INTERVAL_SECONDS", "30")
    settings = load_settings()
    assert settings.default_locale == "en"
    assert settings.sweep_interval_seconds == 30
    assert settings.token() == "1:abc"


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("GREENLIGHT_TIMEZONE", "Mars/Base", "GREENLIGHT_TIMEZONE: unknown time zone 'Mars/Base'"),
    ("GREENLIGHT_DEFAULT_LOCALE", "fr", "GREENLIGHT_DEFAULT_LOCALE: Input should be 'zh' or 'en'"),
    ("GREENLIGHT_SWEEP_INTERVAL_SECONDS", "1",
     "GREENLIGHT_SWEEP_INTERVAL_SECONDS: Input should be greater than or equal to 5"),
    ("GREENLIGHT_DATABASE_URL", "mysql://x",
     "GREENLIGHT_DATABASE_URL: must start with sqlite+aiosqlite:// or postgresql+asyncpg://"),
    ("GREENLIGHT_OFFICE_HOURS", "9-12", "GREENLIGHT_OFFICE_HOURS: '9-12' is not HH:MM-HH:MM"),
    ("GREENLIGHT_WEBHOOK_URL", "bot.example.org/hook",
     "GREENLIGHT_WEBHOOK_URL: must be a URL such as https://"),
    ("GREENLIGHT_WEBHOOK_SECRET", "has spaces and ünïcode",
     "GREENLIGHT_WEBHOOK_SECRET: must be 1-256 characters of A-Z, a-z, 0-9, _ and -"),
    ("GREENLIGHT_WEBHOOK_PATH", "hook", "GREENLIGHT_WEBHOOK_PATH: must start with /"),
])
def test_a_bad_setting_names_its_variable(monkeypatch: pytest.MonkeyPatch, variable: str,
                                          value: str, message: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as error:
        load_settings()
    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value)


def test_missing_token_is_named() -> None:
    with pytest.raises(SettingsError, match=r"^GREENLIGHT_BOT_TOKEN is not set"):
        load_settings().token()


def test_office_hours_must_be_ordered() -> None:
    with pytest.raises(ValueError, match="overlaps"):
        parse_office_hours("08:30-12:00,11:00-17:30")
    with pytest.raises(ValueError, match="ends before"):
        parse_office_hours("12:00-08:30")


def test_webhook_settings() -> None:
    settings = load_settings()
    assert settings.webhook_url is None and settings.webhook_route == "/webhook"
    with pytest.raises(SettingsError, match="GREENLIGHT_WEBHOOK_SECRET is not set"):
        settings.secret()
    settings = load_settings(webhook_url="https://bot.example.org/tg/hook", webhook_secret="s-1")
    assert settings.webhook_route == "/tg/hook" and settings.secret() == "s-1"
    assert "s-1" not in repr(settings)  # a secret never shows in a log of the settings
    assert load_settings(webhook_url="https://bot.example.org/tg/hook",
                         webhook_path="/local").webhook_route == "/local"


def test_the_weekly_digest_time_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GREENLIGHT_WEEKLY_DIGEST", "fri 17:00")
    assert load_settings().digest_time is not None
    monkeypatch.setenv("GREENLIGHT_WEEKLY_DIGEST", "off")
    assert load_settings().digest_time is None
    monkeypatch.setenv("GREENLIGHT_WEEKLY_DIGEST", "someday")
    with pytest.raises(SettingsError, match="GREENLIGHT_WEEKLY_DIGEST"):
        load_settings()
    monkeypatch.delenv("GREENLIGHT_WEEKLY_DIGEST")
    assert load_settings().weekly_digest == "mon 08:30"
