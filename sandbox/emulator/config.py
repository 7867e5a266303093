"""Emulator configuration."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class EmulatorConfig:
    """Settings of one emulated Telegram Bot API server and the bot it serves."""

    host: str = "127.0.0.1"
    port: int = 8081
    bot_token: str = "123456:TEST-TOKEN"
    bot_username: str = "greenlight_bot"
    bot_first_name: str = "绿灯 Greenlight"
    privacy_mode: bool = True
    strict: bool = False
    callback_answer_timeout: float = 15.0
    flood_per_chat_per_second: float | None = None
    flood_per_group_per_minute: int | None = None
    flood_global_per_second: int | None = None
    long_poll_max_timeout: float = 50.0
    webhook_timeout: float = 30.0
    webhook_retry_base: float = 0.2
    webhook_retry_max: float = 5.0
    webhook_allow_http: bool = True
    request_log_limit: int = 10_000

    @property
    def bot_id(self) -> int:
        """The bot's user id: the numeric prefix of the token, as on Telegram."""
        prefix = self.bot_token.split(":", 1)[0]
        if not prefix.isdigit():
            raise ValueError(f"bot token must start with the bot id: {self.bot_token!r}")
        return int(prefix)
