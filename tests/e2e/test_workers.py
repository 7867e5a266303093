"""Two webhook workers behind nginx, on PostgreSQL and Redis, as production runs them.

The emulator delivers every update to nginx, which hands them round-robin to two
``greenlight run --webhook`` subprocesses sharing the database, Redis and (through a clock
file) the test's clock. Scripted updates (reports in several groups, a submission with its
presses, a /help, one update posted twice at once, so once to each worker) are each handled
once, both workers get traffic, and the nudges falling due once the clock moves to an office
morning go out once each although both workers sweep. The table of bad inputs gets the same
answers, and changes nothing, whichever worker takes each one.

Needs Debian's nginx (skipped without it unless ``GREENLIGHT_REQUIRE_NGINX=1``), PostgreSQL
(``GREENLIGHT_TEST_DATABASE_URL``) and Redis.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import sys
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import aiohttp
import pytest
from sqlalchemy import func, select
from sqlmodel import col

from bot.app import App
from bot.clock_file import write_clock_file
from bot.domain.rules.clock import ManualClock
from bot.web import SECRET_HEADER
from sandbox.demo import DEMO_CHATS, DEMO_USERS
from sandbox.emulator.client import ControlClient
from sandbox.emulator.config import EmulatorConfig
from sandbox.emulator.server import Emulator
from storage.db import create_engine, is_sqlite
from storage.models import Card, HandledUpdate, Nudge, Report
from tests.conftest import TEST_REDIS_URL
from tests.e2e.conftest import (
    SHANGHAI,
    START,
    TOKEN,
    DemoSnapshot,
    Json,
    World,
    button,
    eventually,
    submit_item,
    text_of,
)
from tests.e2e.test_bad_input import CASES, answered, rows_kept
from tests.test_serving import free_port

SECRET = "two-workers-secret"
PATH = "/tg/hook"
NUDGE_HEADS = ("🟡", "🔴", "📮", "⏰", "⚠️")
OFFICE_MORNING = datetime(2026, 11, 25, 8, 30, tzinfo=SHANGHAI)  # Wednesday: yellow is due

NGINX_CONF = """\
{user}
daemon off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log info;
events {{ worker_connections 128; }}
http {{
    log_format upstreams '$upstream_addr $status $request_uri';
    access_log {tmp}/access.log upstreams;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    upstream workers {{
        server 127.0.0.1:{first};
        server 127.0.0.1:{second};
    }}
    server {{
        listen 127.0.0.1:{port};
        location {path} {{
            proxy_pass http://workers;
            proxy_next_upstream error timeout http_503;
            proxy_set_header X-Forwarded-For $remote_addr;
        }}
    }}
}}
"""


def nginx_or_skip() -> str:
    found = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/sbin/nginx") if os.access(p, os.X_OK)), None)
    if found is None:
        if os.environ.get("GREENLIGHT_REQUIRE_NGINX") == "1":
            pytest.fail("nginx is not installed but GREENLIGHT_REQUIRE_NGINX=1")
        pytest.skip("nginx is not installed (apt-get install nginx); "
                    "GREENLIGHT_REQUIRE_NGINX=1 makes this a failure")
    return found


@dataclass
class Cluster:
    world: World
    nginx_port: int
    worker_ports: list[int]
    tmp: Path
    workers: list[asyncio.subprocess.Process] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.nginx_port}{PATH}"

    def upstream_counts(self) -> Counter[str]:
        """Requests per worker port, from nginx's access log."""
        counts: Counter[str] = Counter()
        log = self.tmp / "access.log"
        for line in log.read_text().splitlines() if log.exists() else []:
            for address in line.split(" ", 1)[0].split(","):
                counts[address.strip().rsplit(":", 1)[-1]] += 1
        return counts


async def start_worker(tmp: Path, port: int, env: dict[str, str]) -> asyncio.subprocess.Process:
    data = tmp / f"worker-{port}"
    data.mkdir()
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run", "--webhook", cwd=data,
        env={**env, "GREENLIGHT_WEBHOOK_PORT": str(port), "GREENLIGHT_DATA_DIR": str(data)},
        stdout=asyncio.subprocess.DEVNULL, stderr=open(data / "stderr.log", "wb"))  # noqa: ASYNC230


async def ready(port: int) -> bool:
    try:
        async with aiohttp.ClientSession() as http, http.get(
                f"http://127.0.0.1:{port}/readyz") as answer:
            return answer.status == 200
    except aiohttp.ClientError:
        return False


@pytest.fixture
async def cluster(database_url: str, tmp_path: Path, demo_snapshot: DemoSnapshot,
                  redis_prefix: str) -> AsyncIterator[Cluster]:
    if is_sqlite(database_url):
        pytest.skip("several workers need PostgreSQL: set GREENLIGHT_TEST_DATABASE_URL")
    nginx = nginx_or_skip()
    emu = Emulator(EmulatorConfig(port=0, bot_token=TOKEN, strict=True))
    await emu.start()
    await demo_snapshot.restore(database_url)
    emu.load_world(demo_snapshot.emulator)
    ctl = ControlClient(emu.base_url)
    world = World(emu, ctl, cast(App, None), ManualClock(START),
                  users={key: user.telegram_id for key, user in DEMO_USERS.items()},
                  chats={key: chat.chat_id for key, chat in DEMO_CHATS.items()})
    found = Cluster(world, free_port(), [free_port(), free_port()], tmp_path)
    clock_file = tmp_path / "clock.json"
    write_clock_file(clock_file, START)
    user = "user root;" if os.geteuid() == 0 else ""
    conf = tmp_path / "nginx.conf"
    conf.write_text(NGINX_CONF.format(user=user, tmp=tmp_path, port=found.nginx_port,
                                      first=found.worker_ports[0],
                                      second=found.worker_ports[1], path=PATH))
    proxy = await asyncio.create_subprocess_exec(
        nginx, "-c", str(conf), "-p", str(tmp_path), "-e", str(tmp_path / "error.log"),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GREENLIGHT_")}
    env.update({
        "GREENLIGHT_BOT_TOKEN": TOKEN, "GREENLIGHT_API_BASE_URL": emu.base_url,
        "GREENLIGHT_DATABASE_URL": database_url, "GREENLIGHT_REDIS_URL": TEST_REDIS_URL,
        "GREENLIGHT_REDIS_PREFIX": redis_prefix, "GREENLIGHT_CLOCK_FILE": str(clock_file),
        "GREENLIGHT_SWEEP_INTERVAL_SECONDS": "5", "GREENLIGHT_WEBHOOK_URL": found.url,
        "GREENLIGHT_WEBHOOK_SECRET": SECRET, "GREENLIGHT_WEBHOOK_PATH": PATH,
        "GREENLIGHT_STOP_TIMEOUT_SECONDS": "5",
    })
    try:
        for port in found.worker_ports:
            found.workers.append(await start_worker(tmp_path, port, env))

        async def both_ready() -> bool:
            for process in found.workers:
                assert process.returncode is None, stderr_of(found)
            return all([await ready(port) for port in found.worker_ports])

        await eventually(both_ready, "both workers to be ready", timeout=30)
        yield found
    finally:
        violations = list(await ctl.violations())
        for process in found.workers:
            if process.returncode is None:
                process.terminate()
        for process in found.workers:
            await asyncio.wait_for(process.wait(), 30)
        if proxy.returncode is None:
            proxy.terminate()
            await asyncio.wait_for(proxy.wait(), 10)
        await ctl.close()
        await emu.stop()
    assert [p.returncode for p in found.workers] == [0, 0], stderr_of(found)
    assert violations == [], "Bot API spec violations:\n" + "\n".join(violations)


def stderr_of(cluster: Cluster) -> str:
    return "\n".join((cluster.tmp / f"worker-{port}" / "stderr.log").read_text()[-3000:]
                     for port in cluster.worker_ports
                     if (cluster.tmp / f"worker-{port}" / "stderr.log").exists())


async def post_twice_at_once(cluster: Cluster, update: Json) -> list[int]:
    async def post() -> int:
        async with aiohttp.ClientSession() as http, http.post(
                cluster.url, data=json.dumps(update),
                headers={"Content-Type": "application/json", SECRET_HEADER: SECRET}) as answer:
            return answer.status

    return list(await asyncio.gather(post(), post()))


async def counts(database_url: str) -> dict[str, Any]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as db:
            reports = await db.scalar(select(func.count()).select_from(Report))
            cards = (await db.execute(select(Card.case_id, Card.kind, Card.tg_chat_id,
                                             Card.assignment_id))).all()
            handled = await db.scalar(select(func.count()).select_from(HandledUpdate))
            nudges = (await db.execute(select(Nudge.sent_at).where(
                col(Nudge.sent_at).is_not(None)))).all()
            unsent = await db.scalar(select(func.count()).select_from(Nudge).where(
                col(Nudge.sent_at).is_(None)))
    finally:
        await engine.dispose()
    return {"reports": reports, "cards": cards, "handled": handled, "nudges_sent": len(nudges),
            "nudges_unsent": unsent}


async def nudge_messages(world: World) -> list[tuple[int, str]]:
    found = []
    for user in DEMO_USERS.values():
        for message in await world.ctl.private(user.telegram_id):
            if message.get("from", {}).get("is_bot") and text_of(message).startswith(
                    NUDGE_HEADS):
                found.append((user.telegram_id, text_of(message)))
    return found


async def test_two_workers_behind_nginx_handle_each_update_once(
        cluster: Cluster, database_url: str) -> None:
    world = cluster.world
    said = [
        await world.say("liuxiao", "KP-002", "/report 新址已完成现场踏勘"),
        await world.say("liuxiao", "KP-003", "/report 方案已报审"),
        await world.say("liuxiao", "KP-002", "/report 已与产权单位对接"),
    ]
    await world.say("liuxiao", "liuxiao", "/help")
    assert "/report" in text_of(await world.last_from_bot("liuxiao"))
    group_card = await submit_item(world, "微波站迁建选址方案")
    li_card = await world.last_from_bot("li")
    await world.press("li", "li", li_card["message_id"], button(li_card, "✅ 同意"))
    await world.say("liuxiao", "KP-003", "/report 专家评审通过")

    # The same update at once to both workers (round-robin): one handles it, one skips it.
    again = {"update_id": said[0]["update_id"], "message": said[0]["message"]}
    assert await post_twice_at_once(cluster, again) == [200, 200]
    before = await counts(database_url)
    shown = {where: len(await world.shown(where)) for where in ("KP-002", "KP-003", "li")}
    assert await post_twice_at_once(cluster, again) == [200, 200]
    assert await counts(database_url) == before

    assert before["reports"] == 4
    report_cards = [text_of(m) for m in await world.from_bot("KP-002") + await world.from_bot(
        "KP-003") if "进展汇报" in text_of(m)]
    assert len(report_cards) == 4
    assert len(set(before["cards"])) == len(before["cards"])  # one card per place
    assert {where: len(await world.shown(where)) for where in shown} == shown
    assert "同意" in text_of(await world.ctl.message(world.cid("KP-002"),
                                                     group_card["message_id"]))

    # An office morning: nudges fall due; both workers sweep every 5 s, one at a time.
    write_clock_file(cluster.tmp / "clock.json", OFFICE_MORNING)

    async def nudged() -> bool:
        found = await counts(database_url)
        return bool(found["nudges_sent"]) and not found["nudges_unsent"]

    await eventually(nudged, "the nudges to go out", timeout=20)
    await asyncio.sleep(6)  # at least one more sweep on each worker: nothing goes out again
    after = await counts(database_url)
    messages = await nudge_messages(world)
    doubled = [m for m, n in Counter(messages).items() if n > 1]
    assert doubled == []
    assert messages and after["nudges_sent"] >= len(messages)

    traffic = cluster.upstream_counts()
    by_worker = [traffic[str(port)] for port in cluster.worker_ports]
    print(f"\nreports {after['reports']}, report cards {len(report_cards)}, cards "
          f"{len(after['cards'])}, handled updates {after['handled']}, nudges sent "
          f"{after['nudges_sent']}, nudge messages {len(messages)}, doubled {len(doubled)}, "
          f"requests per worker {by_worker}")
    assert all(n > 0 for n in by_worker), traffic
    assert re.search(r"Greenlight takes updates by webhook", stderr_of(cluster))


async def test_bad_input_is_answered_and_changes_nothing_whichever_worker_takes_it(
        cluster: Cluster, database_url: str) -> None:
    world = cluster.world

    async def swept() -> bool:  # the demo's nudges, due at start, went out: nothing else is
        found = await counts(database_url)
        return bool(found["nudges_sent"]) and not found["nudges_unsent"]

    await eventually(swept, "the first sweep's nudges", timeout=20)
    engine = create_engine(database_url)
    try:
        for case in CASES:
            before = await rows_kept(engine)
            await answered(world, case)
            assert await rows_kept(engine) == before, case
    finally:
        await engine.dispose()
    traffic = cluster.upstream_counts()
    by_worker = [traffic[str(port)] for port in cluster.worker_ports]
    print(f"\n{len(CASES)} bad inputs, requests per worker {by_worker}")
    assert all(n > 0 for n in by_worker), traffic
