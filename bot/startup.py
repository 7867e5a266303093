"""What ``greenlight run`` checks before it writes anything, each failure one line.

In order: the token's form, the Bot API (does it answer, does it take the token), then the
database (can it be opened, can it be brought to the newest schema). Nothing is written to
disk before the first two pass; a failure names what is wrong and what to do.
"""

from __future__ import annotations

import asyncio
import logging

from aiogram import Bot
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramNetworkError,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.types import User
from aiogram.utils.token import TokenValidationError, validate_token
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from bot.telegram import Session
from storage.db import create_engine
from storage.migrate import current_revision, upgrade

log = logging.getLogger(__name__)

API_PATIENCE = 15.0  # seconds for getMe: enough for a slow link, short enough to say why


class StartupError(Exception):
    """A reason not to start, as one line for the operator."""


def check_token(token: str) -> None:
    try:
        validate_token(token)
    except TokenValidationError:
        raise StartupError(
            "GREENLIGHT_BOT_TOKEN is malformed: a token looks like 123456789:AAE…, copy it "
            "whole from @BotFather") from None


async def check_bot_api(token: str, base_url: str, patience: float = API_PATIENCE) -> User:
    """``getMe`` on the configured server: the bot it is, or why not."""
    where = base_url.rstrip("/")
    session = Session(where)
    bot = Bot(token, session=session)
    try:
        return await asyncio.wait_for(bot.get_me(), patience)
    except TelegramUnauthorizedError:
        raise StartupError(
            f"the Bot API at {where} refused the token (401 Unauthorized): check "
            "GREENLIGHT_BOT_TOKEN, or revoke and copy a new one from @BotFather") from None
    except (TelegramNetworkError, TimeoutError, OSError) as exc:
        reason = _reason(exc) or f"no answer in {patience:g} s"
        raise StartupError(
            f"cannot reach the Bot API at {where} ({reason}): check the network and "
            "GREENLIGHT_API_BASE_URL") from None
    except TelegramServerError as exc:
        raise StartupError(
            f"the Bot API at {where} is failing ({_reason(exc)}): try again later") from None
    except TelegramAPIError as exc:
        raise StartupError(
            f"the Bot API at {where} answered getMe with: {_reason(exc)}") from None
    finally:
        await session.close()


async def check_database(url: str) -> None:
    """Open the database and bring it to the newest schema."""
    shown = make_url(url).render_as_string(hide_password=True)
    try:
        engine = create_engine(url)
    except Exception as exc:  # a bad URL, a missing driver, a data folder it cannot make
        raise StartupError(
            f"cannot use the database {shown} ({_reason(exc)}): check "
            "GREENLIGHT_DATABASE_URL") from None
    try:
        try:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception as exc:
            raise StartupError(
                f"cannot open the database {shown} ({_reason(exc)}): check that it runs and "
                "GREENLIGHT_DATABASE_URL") from None
        try:
            before = await current_revision(engine)
            await upgrade(engine)
            after = await current_revision(engine)
        except Exception as exc:
            raise StartupError(
                f"cannot bring the database {shown} to the newest schema ({_reason(exc)}): "
                "is it from a newer Greenlight, or changed by hand? `greenlight db upgrade` "
                "tells the revision") from None
        if before != after:
            log.info("database schema brought from %s to %s", before or "empty", after)
    finally:
        await engine.dispose()


def _reason(exc: BaseException) -> str:
    """The gist of an exception, on one line."""
    if isinstance(exc, TelegramAPIError):
        message = exc.message
    elif isinstance(exc, DBAPIError) and exc.orig is not None:
        message = str(exc.orig)  # the driver's words, without SQLAlchemy's statement and link
    else:
        message = str(exc)
    return (" ".join(message.split()) or type(exc).__name__)[:300]
