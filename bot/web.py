"""The worker's HTTP server: Telegram's webhook, ``/healthz`` and ``/readyz``; and serving.

Webhook mode is aiogram's aiohttp integration (``SimpleRequestHandler``, ``setup_application``)
with three differences that keep an update from being lost or doubled:

- the answer (HTTP 200) goes out only after the update was handled and its unit of work
  committed: never in the background, and not after aiogram's 55 s either (a slow update
  would then be confirmed before it is done); a failure answers 500, so Telegram delivers it
  again, and the update's id (:class:`bot.updates.HandleOnce`) makes a second delivery of a
  handled update change nothing;
- a request without the secret token, or with a wrong one, is answered 401 and logged with
  where it came from (never the token or the secret);
- on stop the server stops listening and answers what still comes on open connections 503
  (Telegram tries again, another worker takes it), while the updates in flight finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiogram.exceptions import TelegramAPIError
from aiogram.methods import TelegramMethod
from aiogram.types import Update
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from bot.app import App, WatchedJobs, run_polling, start_duties
from bot.board.web import BoardSite
from bot.startup import StartupError, _reason
from bot.telegram import describe

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
PROBE_PATIENCE = 5.0  # seconds a readiness probe waits for the database or the Bot API
API_FRESH = 60.0  # seconds a successful getMe counts as the Bot API being reachable


def sweep_limit(interval_seconds: int) -> float:
    """How long after the last sweep finished the sweep counts as stuck: a few intervals,
    since one sweep may take a while (it sends at Telegram's pace)."""
    return 3.0 * interval_seconds + 30.0


class Health:
    """What ``/readyz`` checks: the database answers (a new connection, the schema there),
    the Bot API answers (``getMe``, or one that succeeded less than a minute ago), and the
    sweep is not stuck (in a process that runs it). ``monotonic`` is the event loop's clock
    unless a test brings its own."""

    def __init__(self, app: App, *, sweeping: bool,
                 monotonic: Callable[[], float] | None = None) -> None:
        self.app = app
        self.sweeping = sweeping
        self.monotonic = monotonic or asyncio.get_running_loop().time
        self.api_ok_at: float | None = None
        self.stopping = False
        self._probe: AsyncEngine | None = None
        self._api_lock = asyncio.Lock()

    def api_answered(self) -> None:
        self.api_ok_at = self.monotonic()

    async def checks(self) -> dict[str, str]:
        """Each check's name and ``ok`` (``off`` for one this process does not do) or why not."""
        database, bot_api = await asyncio.gather(self._database(), self._bot_api())
        found = {"database": database, "bot_api": bot_api, "sweep": self._sweep()}
        if self.stopping:
            found["process"] = "stopping"
        return found

    async def _database(self) -> str:
        if self._probe is None:
            self._probe = probe_engine(self.app.settings.db_url)
        try:
            async with asyncio.timeout(PROBE_PATIENCE):
                async with self._probe.connect() as connection:
                    revision = (await connection.execute(
                        text("SELECT version_num FROM alembic_version"))).scalar()
        except TimeoutError:
            return f"no answer in {PROBE_PATIENCE:g} s"
        except Exception as exc:
            return _reason(exc)
        return "ok" if revision else "no schema"

    async def _bot_api(self) -> str:
        async with self._api_lock:  # probes arriving together share one getMe
            if self.api_ok_at is not None and self.monotonic() - self.api_ok_at < API_FRESH:
                return "ok"
            try:
                async with asyncio.timeout(PROBE_PATIENCE):
                    await self.app.bot.get_me()
            except TimeoutError:
                return f"no answer in {PROBE_PATIENCE:g} s"
            except TelegramAPIError as exc:
                return describe(exc, self.app.bot.token)
            self.api_answered()
            return "ok"

    def _sweep(self) -> str:
        if not self.sweeping:
            return "off"
        jobs = self.app.jobs
        swept_at = jobs.swept_at if isinstance(jobs, WatchedJobs) else None
        if swept_at is None:
            return "no sweep has finished yet"
        ago, limit = self.monotonic() - swept_at, sweep_limit(
            self.app.settings.sweep_interval_seconds)
        if ago > limit:
            return f"the last sweep finished {ago:.0f} s ago (more than {limit:.0f} s)"
        return "ok"

    async def close(self) -> None:
        if self._probe is not None:
            await self._probe.dispose()


def probe_engine(url: str) -> AsyncEngine:
    """An engine opening a new connection for every probe (a pooled one can outlive the
    database's reach); a SQLite file is opened read-write only, never created."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        uri = f"{Path(parsed.database or '').resolve().as_uri()}?mode=rw"
        parsed = parsed.set(database=uri, query={"uri": "true"})
    return create_async_engine(parsed, poolclass=NullPool)


class UpdateHandler(SimpleRequestHandler):
    """aiogram's webhook handler, answering only once the update is handled and committed."""

    def __init__(self, app: App, secret: str) -> None:
        super().__init__(app.dispatcher, app.bot, handle_in_background=False,
                         secret_token=secret)
        self.accepting = True

    def verify_secret(self, telegram_secret_token: str, bot: Any) -> bool:
        # As bytes: compare_digest refuses a str that is not ASCII, and a header may be.
        given = telegram_secret_token.encode("utf-8", "surrogateescape")
        return secrets.compare_digest(given, (self.secret_token or "").encode())

    async def handle(self, request: web.Request) -> web.Response:
        if not self.accepting:
            return web.Response(status=503, text="stopping")
        given = request.headers.get(SECRET_HEADER)
        if given is None or not self.verify_secret(given, self.bot):
            log.warning("webhook request from %s refused (401): %s", _peer(request),
                        "no secret token" if given is None else "a wrong secret token")
            return web.Response(status=401, text="Unauthorized")
        try:
            update = Update.model_validate(await request.json(loads=self.bot.session.json_loads),
                                           context={"bot": self.bot})
        except (ValueError, ValidationError):
            log.warning("webhook request from %s refused (400): not an update", _peer(request))
            return web.Response(status=400, text="not an update")
        try:
            result = await self.dispatcher.feed_update(self.bot, update, **self.data)
            if isinstance(result, TelegramMethod):  # as polling does with a returned method
                await self.bot(result)
        except Exception:
            log.exception("update %s failed: Telegram delivers it again", update.update_id)
            return web.Response(status=500, text="failed")
        return web.json_response({})


def _peer(request: web.Request) -> str:
    forwarded = request.headers.get("X-Forwarded-For", "").split(",", 1)[0].strip()
    return forwarded or request.remote or "?"


class WebServer:
    """``/healthz``, ``/readyz``, the lights board (``/board``, ``bot/board/web.py``) and,
    with a secret, the webhook at ``path``."""

    def __init__(self, app: App, health: Health, *, secret: str | None, path: str) -> None:
        self.app, self.health = app, health
        self.web = web.Application()
        self.web.router.add_get("/healthz", self.healthz)
        self.web.router.add_get("/readyz", self.readyz)
        BoardSite(app.sessions, app.services, app.bot.token).install(self.web)
        self.updates = UpdateHandler(app, secret) if secret is not None else None
        if self.updates is not None:
            # Not ``register``: it closes the bot's session on shutdown, before the updates
            # in flight are done with it; the worker closes it last.
            self.web.router.add_post(path, self.updates.handle)
            setup_application(self.web, app.dispatcher, bot=app.bot)
        self.runner = web.AppRunner(self.web, access_log=None, shutdown_timeout=1.0)
        self.port = 0

    async def start(self, host: str, port: int) -> int:
        """Listen; the port listened on (``port`` 0 picks a free one)."""
        await self.runner.setup()
        site = web.TCPSite(self.runner, host, port)
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []
        self.port = int(sockets[0].getsockname()[1]) if sockets else port
        return self.port

    async def stop_accepting(self) -> None:
        """No new connections, 503 to requests on open ones; requests in flight go on."""
        self.health.stopping = True
        if self.updates is not None:
            self.updates.accepting = False
        for site in list(self.runner.sites):
            await site.stop()

    async def close(self) -> None:
        await self.runner.cleanup()

    async def healthz(self, _request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(self, _request: web.Request) -> web.Response:
        checks = await self.health.checks()
        problems = {name: why for name, why in checks.items() if why not in ("ok", "off")}
        return web.json_response({"ready": not problems, "not_ready": problems,
                                  "checks": checks}, status=503 if problems else 200)


class WebhookWorker:
    """Greenlight taking its updates by webhook: :meth:`start` listens, does the start-up
    duties and sets the webhook; :meth:`stop` stops gracefully."""

    def __init__(self, app: App, *, with_scheduler: bool = True,
                 monotonic: Callable[[], float] | None = None) -> None:
        self.app = app
        settings = app.settings
        self.secret = settings.secret()
        self.health = Health(app, sweeping=with_scheduler, monotonic=monotonic)
        self.server = WebServer(app, self.health, secret=self.secret,
                                path=settings.webhook_route)
        self.with_scheduler = with_scheduler

    @property
    def port(self) -> int:
        return self.server.port

    async def start(self, url: str | Callable[[int], str] | None = None) -> None:
        """Serve at ``url`` (default ``GREENLIGHT_WEBHOOK_URL``; tests give one made from the
        port listened on). The server listens before the webhook is set, so Telegram's first
        delivery finds it."""
        settings = self.app.settings
        try:
            port = await self.server.start(settings.webhook_host, settings.webhook_port)
            public = url(port) if callable(url) else url or settings.webhook_url
            if not public:
                raise ValueError("no webhook URL: set GREENLIGHT_WEBHOOK_URL")
            await start_duties(self.app, with_scheduler=self.with_scheduler)
            await self.app.bot.set_webhook(
                public, secret_token=self.secret, drop_pending_updates=False,
                allowed_updates=self.app.dispatcher.resolve_used_update_types())
            me = await self.app.bot.get_me()
            self.health.api_answered()
        except BaseException:
            await self.stop()
            raise
        log.info("Greenlight takes updates by webhook as @%s, listening on %s:%d%s",
                 me.username, settings.webhook_host, port, settings.webhook_route)

    async def stop(self, hurry: asyncio.Event | None = None) -> None:
        """Stop taking updates, let those in flight finish (at most ``stop_timeout_seconds``
        or until ``hurry``), then close the server, the scheduler, the bot and the database.
        The webhook stays set: the other workers (or this one, restarted) take what comes."""
        try:
            await self.server.stop_accepting()
            await self.app.drain(hurry)
            await self.server.close()
            await self.health.close()
        finally:
            await self.app.close()


async def _health_server(app: App) -> WebServer | None:
    """In polling mode, ``/healthz`` and ``/readyz`` on ``GREENLIGHT_HEALTH_PORT`` (if set)."""
    settings = app.settings
    if settings.health_port is None:
        return None
    server = WebServer(app, Health(app, sweeping=True), secret=None, path="/")
    try:
        port = await server.start(settings.webhook_host, settings.health_port)
    except OSError as exc:
        await server.close()
        raise StartupError(
            f"cannot listen on {settings.webhook_host}:{settings.health_port} "
            f"({exc.strerror or exc}): check GREENLIGHT_WEBHOOK_HOST and "
            "GREENLIGHT_HEALTH_PORT") from None
    log.info("health checks on %s:%d (/healthz, /readyz)", settings.webhook_host, port)
    return server


async def serve(app: App, *, webhook: bool) -> None:
    """Serve until SIGTERM or SIGINT, then stop gracefully; a second signal cuts the wait for
    the work under way short."""
    loop = asyncio.get_running_loop()
    stop, hurry = asyncio.Event(), asyncio.Event()

    def signalled(signum: int) -> None:
        if stop.is_set():
            log.warning("%s again: not waiting for the work under way",
                        signal.Signals(signum).name)
            hurry.set()
            return
        log.info("%s: stopping once the updates under way are done",
                 signal.Signals(signum).name)
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, signalled, signum)
    try:
        if webhook:
            worker = WebhookWorker(app)
            try:
                await worker.start()
            except TelegramAPIError as exc:
                raise StartupError(
                    f"the Bot API refused the webhook ({describe(exc, app.bot.token)}): check "
                    "GREENLIGHT_WEBHOOK_URL and GREENLIGHT_WEBHOOK_SECRET") from None
            except OSError as exc:
                raise StartupError(
                    f"cannot listen on {app.settings.webhook_host}:{app.settings.webhook_port} "
                    f"({exc.strerror or exc}): check GREENLIGHT_WEBHOOK_HOST and "
                    "GREENLIGHT_WEBHOOK_PORT") from None
            try:
                await stop.wait()
            finally:
                await worker.stop(hurry)
        else:
            health = await _health_server(app)
            polling = asyncio.create_task(run_polling(app, hurry=hurry), name="polling")
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait({polling, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if health is not None:
                await health.stop_accepting()
            if not polling.done():
                try:
                    await app.dispatcher.stop_polling()
                except RuntimeError:  # stopped before polling began: nothing is in flight
                    polling.cancel()
            try:
                with contextlib.suppress(asyncio.CancelledError):
                    await polling
            finally:
                if health is not None:
                    await health.close()
                    await health.health.close()
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
    log.info("Greenlight stopped")
