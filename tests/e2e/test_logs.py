"""Logs an operator can search: one JSON line per record, one line per update handled with
its id, chat, person key, kind, outcome and duration; never the token, never what people
wrote."""

from __future__ import annotations

import json
import logging

import pytest

from bot.logs import JsonFormatter, Redact
from tests.e2e.conftest import World

SECRET_TEXT = "现场踏勘发现管线冲突（内部）"


async def test_each_update_is_one_line_with_ids_and_no_text(world: World,
                                                            caplog: pytest.LogCaptureFixture
                                                            ) -> None:
    caplog.set_level(logging.INFO)
    await world.say("liuxiao", "KP-002", f"/report {SECRET_TEXT}")
    await world.say("huang", "huang", "/projects")  # not registered: refused, still logged
    lines = [json.loads(JsonFormatter().format(r)) for r in caplog.records
             if r.name == "greenlight.updates"]
    report = next(line for line in lines if line["person"] == "liuxiao")
    assert report["chat_id"] == world.cid("KP-002")
    assert report["kind"] == "message" and report["outcome"] == "ok"
    assert isinstance(report["update_id"], int) and report["duration_ms"] >= 0
    stranger = [line for line in lines if line["chat_id"] == world.cid("huang")]
    assert stranger and stranger[0]["person"] is None
    everything = "\n".join(JsonFormatter().format(r) for r in caplog.records)
    assert SECRET_TEXT not in everything


def test_the_token_never_reaches_a_line() -> None:
    token = "123456:ABC-secret-token"
    record = logging.LogRecord("aiohttp", logging.WARNING, __file__, 1,
                               "GET https://api.telegram.org/bot%s/getMe failed", (token,), None)
    assert Redact(token).filter(record)
    assert token not in JsonFormatter().format(record)
    assert "<token>" in JsonFormatter().format(record)
    try:
        raise ConnectionError(f"cannot reach https://api.telegram.org/bot{token}/getUpdates")
    except ConnectionError as exc:
        failed = logging.LogRecord("bot", logging.ERROR, __file__, 1, "poll failed", None,
                                   (type(exc), exc, exc.__traceback__))
    Redact(token).filter(failed)
    line = JsonFormatter().format(failed)
    assert token not in line and "<token>" in line
    assert json.loads(line)["level"] == "ERROR"


async def test_a_refusal_to_someone_registered_is_one_line_with_their_key(
        world: World, caplog: pytest.LogCaptureFixture) -> None:
    """A refusal rolls the unit of work back, which expires the person read for the update:
    the line is still written (with their key), and the update is not failed and handled
    again for want of it."""
    caplog.set_level(logging.INFO)
    await world.say("liuxiao", "liuxiao", "/submit 管线迁改方案")  # refused: not in a group
    lines = [json.loads(JsonFormatter().format(r)) for r in caplog.records
             if r.name == "greenlight.updates"]
    assert [(line["person"], line["outcome"]) for line in lines] == [("liuxiao", "ok")]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
