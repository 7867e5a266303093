"""Settings, read from the environment (prefix ``GREENLIGHT_``) and an optional ``.env`` file.

A bad or missing setting stops start-up with one line naming the variable
(:func:`load_settings` raises :class:`SettingsError`; the CLI prints it and exits 2).
"""

from __future__ import annotations

import re
from datetime import time
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.domain.rules.digest import DigestTime, parse_digest_time

ENV_PREFIX = "GREENLIGHT_"
TELEGRAM_API = "https://api.telegram.org"
SUPPORTED_LOCALES = ("zh", "en")
WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")  # what Telegram accepts as secret_token


class SettingsError(Exception):
    """One clear line naming the variable that is wrong."""


def parse_office_hours(value: str) -> tuple[tuple[time, time], ...]:
    """``"08:30-12:00,14:00-17:30"`` → ordered, non-overlapping intervals."""
    intervals: list[tuple[time, time]] = []
    for part in value.split(","):
        part = part.strip()
        try:
            start_s, end_s = part.split("-")
            start, end = time.fromisoformat(start_s.strip()), time.fromisoformat(end_s.strip())
        except ValueError:
            raise ValueError(f"'{part}' is not HH:MM-HH:MM") from None
        if start >= end:
            raise ValueError(f"'{part}' ends before it starts")
        if intervals and start < intervals[-1][1]:
            raise ValueError(f"'{part}' overlaps or precedes the interval before it")
        intervals.append((start, end))
    if not intervals:
        raise ValueError("no interval given")
    return tuple(intervals)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    bot_token: SecretStr | None = Field(
        default=None, description="Bot token from @BotFather; without it `run` refuses to start."
    )
    api_base_url: str = Field(
        default=TELEGRAM_API,
        description="Bot API server: Telegram's, or any compatible server such as the emulator.",
    )
    data_dir: Path = Field(default=Path("data"), description="Where the default SQLite file lives.")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy async URL; default `sqlite+aiosqlite:///<data_dir>/greenlight.db`."
        " PostgreSQL: `postgresql+asyncpg://user@host/db`.",
    )
    timezone: str = Field(default="Asia/Shanghai", description="The bureau's local time zone.")
    default_locale: Literal["zh", "en"] = Field(
        default="zh", description="Language for people without their own (zh or en)."
    )
    sweep_interval_seconds: int = Field(
        default=60, ge=5, le=3600, description="How often the deadline sweep runs."
    )
    office_hours: str = Field(
        default="08:30-12:00,14:00-17:30",
        description="Office hours, comma-separated HH:MM-HH:MM intervals.",
    )
    yellow_working_days: int = Field(
        default=1,
        ge=0,
        le=30,
        description="A step turns yellow when this many working days or fewer are left.",
    )
    yellow_share: float | None = Field(
        default=None, gt=0, lt=1,
        description="Also yellow when this share of the limit or less is left (e.g. 0.2).",
    )
    quiet_hours: bool = Field(
        default=True,
        description="Hold nudges outside office hours and on days off; they go out at the "
        "next office hour, once.",
    )
    urgent_breaks_quiet: bool = Field(
        default=True, description="Green-channel cases are nudged at any hour."
    )
    digest_after: int = Field(
        default=3, ge=1, le=50,
        description="More nudges than this for one person in one sweep arrive as one digest.",
    )
    ask_limit_days: int = Field(
        default=3, ge=0, le=30,
        description="A first-question ledger entry (/ask) is answered within this many working "
        "days: yellow the day before, then red, each told to its owner once.",
    )
    weekly_digest: str = Field(
        default="mon 08:30",
        description="When the leaders' group gets the weekly digest: a weekday (mon … sun) and "
        "HH:MM; on a day off it goes the next working day. `off`: no digest.",
    )
    case_types_file: Path | None = Field(
        default=None,
        description="YAML file of case types (steps, modes, limits); default: the packaged "
        "`bot/case_types.yaml`.",
    )
    report_max_chars: int = Field(
        default=3000, ge=100, le=3500, description="Longest progress report text accepted."
    )
    log_level: str = Field(default="INFO", description="Python logging level.")
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="`json`: one JSON object per line (time, level, logger, message; for each "
        "update its id, chat, person key, kind, outcome and duration), never the token or "
        "what people wrote.",
    )
    webhook_url: str | None = Field(
        default=None,
        description="Public HTTPS URL Telegram posts updates to; when set, `run` takes updates "
        "by webhook instead of polling.",
    )
    webhook_secret: SecretStr | None = Field(
        default=None,
        description="Secret Telegram sends with every webhook request (1-256 of A-Z a-z 0-9 _ "
        "-); the same on every worker. Required in webhook mode.",
    )
    webhook_host: str = Field(
        default="127.0.0.1", description="Interface the webhook and health server listens on."
    )
    webhook_port: int = Field(
        default=8080, ge=0, le=65535,
        description="Port of the webhook and health server (one per worker).",
    )
    webhook_path: str | None = Field(
        default=None,
        description="Local path of the webhook; default: the path of GREENLIGHT_WEBHOOK_URL.",
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis for several workers (`redis://host:6379/0`): conversation state and "
        "each person's in-order handling shared between processes; default: none, one worker "
        "keeps both itself (state in the database).",
    )
    redis_prefix: str = Field(
        default="greenlight", min_length=1,
        description="Prefix of every Redis key Greenlight writes (several bots on one Redis).",
    )
    pace_per_second: int = Field(
        default=25, ge=1, le=1000,
        description="Messages a second to Telegram, all chats together (Telegram allows 30).",
    )
    pace_per_group_per_minute: int = Field(
        default=19, ge=1, le=1000,
        description="Messages and edits a minute in one group (Telegram allows 20).",
    )
    pace_per_chat_per_second: int = Field(
        default=1, ge=1, le=1000,
        description="Messages and edits a second in one private chat (Telegram: about one).",
    )
    health_port: int | None = Field(
        default=None, ge=0, le=65535,
        description="In polling mode, serve /healthz and /readyz on this port "
        "(GREENLIGHT_WEBHOOK_HOST); webhook mode serves them on the webhook's port.",
    )
    board_url: str | None = Field(
        default=None,
        description="Public HTTPS URL of the lights board (this server's /board behind the "
        "proxy); when set, /board and the private chats' menu button open it.",
    )
    board_max_age: int = Field(
        default=86400, ge=60, le=30 * 86400,
        description="Seconds a board session's Telegram initData stays valid after its "
        "auth_date.",
    )
    clock_file: Path | None = Field(
        default=None,
        description="Tests only: read the time from this file (an ISO instant) instead of the "
        "system clock.",
    )
    stop_timeout_seconds: float = Field(
        default=20.0, ge=0, le=600,
        description="On SIGTERM, how long updates in flight may take to finish.",
    )
    pace_group_window_seconds: float = Field(
        default=60.0, gt=0, le=60,
        description="Tests only: the window in which a group takes at most 19 messages "
        "(edits included); Telegram counts a minute.",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone '{value}'") from None
        return value

    @field_validator("office_hours")
    @classmethod
    def _valid_hours(cls, value: str) -> str:
        parse_office_hours(value)
        return value

    @field_validator("weekly_digest")
    @classmethod
    def _digest_time(cls, value: str) -> str:
        parse_digest_time(value)
        return value

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError(
                "must start with sqlite+aiosqlite:// or postgresql+asyncpg:// "
                f"(got '{value.split('://')[0]}://…')"
            )
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix:// "
                             "(e.g. redis://127.0.0.1:6379/0)")
        return value

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        levels = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}
        if value.upper() not in levels:
            raise ValueError(f"must be one of {', '.join(sorted(levels))}")
        return value.upper()

    @field_validator("webhook_url")
    @classmethod
    def _webhook_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        parsed = urlsplit(value)
        if parsed.scheme not in ("https", "http") or not parsed.netloc:
            raise ValueError("must be a URL such as https://bot.example.org/telegram/webhook")
        return value

    @field_validator("board_url")
    @classmethod
    def _board_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        parsed = urlsplit(value)
        # Telegram opens a Mini App only from an https URL.
        if parsed.scheme != "https" or not parsed.netloc:
            raise ValueError("must be an https URL such as https://bot.example.org/board")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        if not WEBHOOK_SECRET.fullmatch(value.get_secret_value()):
            raise ValueError("must be 1-256 characters of A-Z, a-z, 0-9, _ and - "
                             "(e.g. from `openssl rand -hex 32`)")
        return value

    @field_validator("webhook_path")
    @classmethod
    def _webhook_path(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("/"):
            raise ValueError("must start with /")
        return value or None

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'greenlight.db').resolve()}"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def digest_time(self) -> DigestTime | None:
        return parse_digest_time(self.weekly_digest)

    @property
    def office_intervals(self) -> tuple[tuple[time, time], ...]:
        return parse_office_hours(self.office_hours)

    def token(self) -> str:
        """The bot token, or a :class:`SettingsError` naming the variable."""
        if self.bot_token is None or not self.bot_token.get_secret_value().strip():
            raise SettingsError(
                f"{ENV_PREFIX}BOT_TOKEN is not set: get a token from @BotFather, "
                "or run `greenlight sandbox` to try Greenlight without one"
            )
        return self.bot_token.get_secret_value().strip()

    @property
    def webhook_route(self) -> str:
        """The path the webhook is served on locally (a proxy may map another onto it)."""
        if self.webhook_path:
            return self.webhook_path
        path = urlsplit(self.webhook_url).path if self.webhook_url else ""
        return path if path not in ("", "/") else "/webhook"

    def secret(self) -> str:
        """The webhook secret, or a :class:`SettingsError` naming the variable."""
        if self.webhook_secret is None:
            raise SettingsError(
                f"{ENV_PREFIX}WEBHOOK_SECRET is not set: webhook mode needs a secret shared by "
                "every worker, e.g. from `openssl rand -hex 32`")
        return self.webhook_secret.get_secret_value()


def load_settings(**overrides: object) -> Settings:
    """Build settings, turning pydantic's report into one line per bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "?"
            message = str(error["msg"]).removeprefix("Value error, ")
            lines.append(f"{ENV_PREFIX}{field.upper()}: {message}")
        raise SettingsError("; ".join(lines)) from None
