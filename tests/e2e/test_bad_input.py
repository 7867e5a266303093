"""Every bad input gets a clear reply in the asker's language and changes nothing.

One row per input: who, where, what they send (a message, or a press of forged button data
on a bot message there), and the words the reply must carry. A press must be answered with an
alert. Nothing the bot keeps may change, but the audit trail (a refused press is written
there) and the reply itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel

from bot.domain.rules.inputs import MAX_ID
from bot.i18n import translator
from bot.status import SWEEP_MARK
from tests.e2e.conftest import World, text_of

zh = translator("zh").gettext
STALE_BUTTON = zh("This button is no longer valid.")
UNKNOWN = zh("Unknown command {command}. Send /help to see what I can do.").split("{")[0]
MISSING_USAGE = "/missing #12"
FAULT = zh("Something went wrong on our side, and nothing was changed. Please try again in a "
           "moment.")
# A refused press is audited; every update, refused or not, is recorded as handled.
UNCHANGED_EXCEPT = {"auditevent", "handledupdate"}


@dataclass(frozen=True)
class Bad:
    who: str
    where: str
    text: str | None = None  # a message
    press: str | None = None  # forged callback data, pressed on the newest bot message there
    expect: str = ""  # part of the reply (message text, or the alert)

    def __str__(self) -> str:
        return f"{self.who}@{self.where}:{self.text or self.press}"


CASES = [
    # Unknown commands, in a group and in private.
    Bad("liuxiao", "KP-002", text="/frobnicate", expect=UNKNOWN),
    Bad("li", "li", text="/approve_all", expect=UNKNOWN),
    # Forged buttons: ids beyond what the database holds, negative, not numbers, unknown kinds.
    Bad("liuxiao", "liuxiao", press="dc:99999999999999999999:a", expect=STALE_BUTTON),
    Bad("li", "li", press=f"dc:{MAX_ID + 1}:a", expect=STALE_BUTTON),
    Bad("li", "li", press="pp:-1:t:0:0:", expect=STALE_BUTTON),
    Bad("li", "li", press="cs:²:w", expect=STALE_BUTTON),
    Bad("li", "li", press="ty:5000:-1", expect=STALE_BUTTON),
    Bad("zhou", "zhou", press="ug:99999999999999999999", expect=STALE_BUTTON),
    Bad("li", "li", press="zz:1", expect=STALE_BUTTON),
    Bad("li", "li", press="dc:1", expect=STALE_BUTTON),
    # Well-formed data with an action no button has.
    Bad("li", "li", press="dc:1:q", expect=STALE_BUTTON),
    Bad("li", "li", press="pp:1:q:0:0:", expect=STALE_BUTTON),
    Bad("liuxiao", "liuxiao", press="cs:1:q", expect=STALE_BUTTON),
    Bad("li", "li", press="pd:q:1", expect=STALE_BUTTON),
    # Command arguments that are not ids or years.
    Bad("liuxiao", "KP-002", text="/missing #99999999999999999999", expect=MISSING_USAGE),
    Bad("liuxiao", "KP-002", text="/missing #²", expect=MISSING_USAGE),
    Bad("liuxiao", "KP-002", text="/missing #-4", expect=MISSING_USAGE),
    Bad("zhou", "zhou", text="/urges 99999999999999", expect="/urges 2026"),
    Bad("zhou", "zhou", text="/urges ²⁰²⁶", expect="/urges 2026"),
    # Dates that make no sense.
    Bad("li", "li", text="/away 12-10 12-05 @he_deputy",
        expect=zh("That absence ends ({end}) before it starts ({start}).").format(
            end="2026-12-05", start="2026-12-10")),
    Bad("li", "li", text="/away 13-45 12-20 @he_deputy", expect="13-45"),
    Bad("li", "li", text="/away 9999-01-01 9999-01-02 @he_deputy", expect="9999-01-02"),
    # Over-long text.
    Bad("liuxiao", "KP-002", text="/report " + "进" * 3001, expect="3001"),
]


async def kept(world: World) -> dict[str, list[tuple[Any, ...]]]:
    return await rows_kept(world.app.engine)


async def rows_kept(engine: AsyncEngine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row the bot keeps, table by table, but the audit trail."""
    async with engine.connect() as connection:
        kept = {table.name: [tuple(row) for row in
                             await connection.execute(select(table).order_by(*table.primary_key))]
                for table in SQLModel.metadata.sorted_tables
                if table.name not in UNCHANGED_EXCEPT}
    # When the last sweep ran is not the input's doing (workers sweep on their own).
    kept["fsmrecord"] = [row for row in kept["fsmrecord"] if row[0] != SWEEP_MARK]
    return kept


async def answered(world: World, case: Bad) -> None:
    """Send or press as ``case`` says; the reply carries its words."""
    if case.press is not None:
        target = await world.last_from_bot(case.where)
        pressed = await world.press(case.who, case.where, target["message_id"], case.press,
                                    forge=True)
        answer = pressed["answer"]
        assert answer is not None and answer["show_alert"] is True, pressed
        assert case.expect in answer["text"]
    else:
        assert case.text is not None
        await world.say(case.who, case.where, case.text)
        reply = await world.last_from_bot(case.where)
        assert case.expect in text_of(reply), text_of(reply)


@pytest.mark.parametrize("case", CASES, ids=str)
async def test_bad_input_is_answered_and_changes_nothing(world: World, case: Bad) -> None:
    before = await kept(world)
    await answered(world, case)
    assert await kept(world) == before


@pytest.mark.parametrize(("table", "case"), [
    ("report", Bad("liuxiao", "KP-002", text="/report 路面已完成", expect=FAULT)),
    ("step", Bad("li", "li", press="dc:1:a", expect=FAULT)),
], ids=["message", "press"])
async def test_a_fault_inside_the_bot_is_answered_and_rolled_back(world: World, table: str,
                                                                  case: Bad) -> None:
    before = await kept(world)
    async with world.app.engine.begin() as connection:  # the handler's query will fail
        await connection.execute(text(f'ALTER TABLE "{table}" RENAME TO "{table}_gone"'))
    try:
        await answered(world, case)
    finally:
        async with world.app.engine.begin() as connection:
            await connection.execute(text(f'ALTER TABLE "{table}_gone" RENAME TO "{table}"'))
    assert await kept(world) == before
