"""How many SQL statements one Approve press costs, held to a ceiling.

The ceiling is today's count (``bench.e2e`` prints the statements one by one): a change that
adds statements to the press fails here, and one that removes some should lower it. Counted
on the bot's engine (``before_cursor_execute``), SQLite's own ``BEGIN`` aside.
"""

from __future__ import annotations

from bench._common import StatementCounter
from storage.db import is_sqlite
from tests.e2e.conftest import World, button, buttons, submit_item

# Per database: on PostgreSQL the cards' advisory lock and the pool's pre-ping add a few.
# One of them records the update's id (handled once, whatever Telegram redelivers); three
# keep the press safe from a crash: the submitter's approval notice claimed before it is
# sent and its message id recorded after, and the count of changes the cards now show.
APPROVE_ON_GROUP_CARD = {"sqlite": 22, "postgresql": 25}


async def test_an_approve_press_on_the_group_card_stays_within_its_statements(
        world: World) -> None:
    card = await submit_item(world, "微波站迁建选址方案")
    with StatementCounter(world.app.engine) as counter:
        pressed = await world.press("li", "KP-002", card["message_id"], button(card, "✅ 同意"))
    assert (pressed.get("answer") or {}).get("text")
    assert buttons(await world.ctl.message(world.cid("KP-002"), card["message_id"])) == {}
    kind = "sqlite" if is_sqlite(str(world.app.engine.url)) else "postgresql"
    ceiling = APPROVE_ON_GROUP_CARD[kind]
    assert 0 < counter.statements <= ceiling, (
        f"{counter.statements} statements for one press (ceiling {ceiling}):\n"
        + "\n".join(f"{n} × {sql}" for n, sql in counter.top(60)))
