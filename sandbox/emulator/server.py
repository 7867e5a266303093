"""The emulator: an aiohttp server speaking the Bot API, plus the control API."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import logging
import time
from types import TracebackType
from typing import Any

from aiohttp import web

from .actions import UserActions
from .api import UPLOADS_KEY, BotApi, Described
from .config import EmulatorConfig
from .control import ControlApi
from .errors import (
    SERVER_ERRORS,
    ApiError,
    FrontEndError,
    bad_request,
    not_found,
    retry_after,
    unauthorized,
)
from .limits import FaultInjector, FloodControl
from .spec import ApiSpec, Violations
from .state import World
from .transport import error_reply, loggable, read_params, reply, split_uploads
from .updates import UpdateQueue
from .webhook import Webhook


@dataclasses.dataclass(frozen=True)
class WorldState:
    """What :meth:`Emulator.save_world` keeps: the world's data and the next update id."""

    world: dict[str, Any]
    next_update_id: int


log = logging.getLogger("sandbox.emulator")
Json = dict[str, Any]


class Emulator:
    """An in-process Telegram Bot API server for one bot.

    ``await emu.start()`` binds ``config.host:config.port`` (port 0 picks a free one);
    ``emu.base_url`` is then what ``TelegramAPIServer.from_base`` takes.
    """

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = config or EmulatorConfig()
        self.spec = ApiSpec.load()
        self.violations = Violations()
        self.world = World(self.config)
        self.queue = UpdateQueue()
        self.flood = FloodControl(self.config)
        self.faults = FaultInjector()
        self.webhook = Webhook(self.queue, self.config, self._webhook_reply, self._check_update)
        self.api = BotApi(self.config, self.world, self.queue, self.webhook, self.flood)
        self.actions = UserActions(self.world, self.queue)
        self.control = ControlApi(self)
        self.request_log: list[Json] = []
        self.app = self.build_app()  # add routes (e.g. a chat page) before start()
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    def build_app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._bot_endpoint)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file_endpoint)
        self.control.install(app)
        return app

    async def start(self) -> None:
        self.queue.closed = False
        if self.app.frozen:  # started before: aiohttp apps cannot be reused
            self.app = self.build_app()
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self._port = sockets[0].getsockname()[1] if sockets else self.config.port
        log.info("Telegram Bot API emulator listening on %s", self.base_url)

    async def stop(self) -> None:
        self.queue.close()
        await self.webhook.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Emulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("emulator not started")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://{self.config.host}:{self.port}"

    @property
    def api_url(self) -> str:
        """The bot's API root, ``{base_url}/bot{token}``."""
        return f"{self.base_url}/bot{self.config.bot_token}"

    async def reset(self) -> None:
        """Forget everything: users, chats, messages, updates, webhook, logs, faults."""
        await self.webhook.delete()
        self.webhook.clear()
        self.world.reset()
        self.world.privacy_mode = self.config.privacy_mode
        self.queue.reset()
        self.faults.clear()
        self.flood = FloodControl(self.config)
        self.api.flood = self.flood
        self.request_log.clear()
        self.violations.clear()

    def save_world(self) -> WorldState:
        """Users, chats, messages, files and the update count, for :meth:`load_world`.

        Taken between updates (none pending); logs, faults and the webhook are not kept.
        """
        if self.queue.pending_count:
            raise RuntimeError("save the world between updates: some are still pending")
        kept = {k: v for k, v in vars(self.world).items() if k != "config"}
        return WorldState(copy.deepcopy(kept), self.queue.next_id)

    def load_world(self, state: WorldState) -> None:
        """Continue from a saved world (this emulator's own settings stay as they are)."""
        vars(self.world).update(copy.deepcopy(state.world))
        self.queue.continue_from(state.next_update_id)

    # -- Bot API -------------------------------------------------------------------------------

    async def _bot_endpoint(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.config.bot_token:
            return error_reply(unauthorized())
        method = self.spec.canonical_method(request.match_info["method"])
        if method is None:
            return error_reply(not_found())
        entry: Json = {"method": method, "params": {}, "at": time.time()}
        try:
            raw, from_form = await read_params(request)
            params, uploads = split_uploads(raw)
            decoded = self.spec.coerce(method, params) if from_form else params
            entry["params"] = loggable(decoded)
            problems = self.spec.check_request(method, decoded)
            self.violations.add("request", method, problems)
            await self._apply_fault(method, decoded.get("chat_id"))
            if self.config.strict and problems:
                raise bad_request(f"emulator strict mode: {problems[0]}")
            result = await self.execute(
                method, {**self.spec.coerce(method, params), UPLOADS_KEY: uploads}
            )
        except ApiError as error:
            self._log(entry, error)
            return error_reply(error)
        except Exception:
            log.exception("emulator failed on %s", method)
            failure = ApiError(500, "Internal Server Error")
            self.violations.add("emulator", method, ["internal error (see log)"])
            self._log(entry, failure)
            return error_reply(failure)
        body: Json = {"ok": True}
        if isinstance(result, Described):
            body["result"] = result.result
            body["description"] = result.description
        else:
            body["result"] = result
        self._log(entry, None)
        return reply(body)

    async def execute(self, method: str, params: Json) -> Any:
        """Run a Bot API method and check its result against the spec."""
        if method not in self.api.handlers:
            if self.spec.returns(method) == ["Boolean"]:
                log.warning("%s is not emulated; answering True", method)
                return True
            raise ApiError(501, f"Not Implemented: {method} is not emulated")
        uploads = params.pop(UPLOADS_KEY, {})
        if method == "sendMediaGroup":
            params[UPLOADS_KEY] = uploads
        result = await self.api.call(method, params)
        value = result.result if isinstance(result, Described) else result
        self.violations.add("response", method, self.spec.check_result(method, value))
        return result

    async def _apply_fault(self, method: str, chat_id: object = None) -> None:
        try:
            chat = int(chat_id) if chat_id is not None else None  # type: ignore[call-overload]
        except (TypeError, ValueError):
            chat = None  # a username or garbage: the method's own checks answer it
        fault = self.faults.take(method, chat)
        if fault is None:
            return
        if fault.kind == "delay":
            await asyncio.sleep(fault.delay)
        elif fault.kind == "429":
            raise retry_after(fault.retry_after)
        else:
            code = int(fault.kind)
            error = FrontEndError if fault.html else ApiError
            raise error(code, SERVER_ERRORS.get(code, "Internal Server Error"))

    def _log(self, entry: Json, error: ApiError | None) -> None:
        entry["ok"] = error is None
        entry["error_code"] = error.code if error else None
        entry["description"] = error.description if error else None
        self.request_log.append(entry)
        overflow = len(self.request_log) - self.config.request_log_limit
        if overflow > 0:
            del self.request_log[:overflow]

    async def _webhook_reply(self, method: str, params: Json) -> None:
        canonical = self.spec.canonical_method(method)
        entry: Json = {"method": canonical or method, "params": params, "at": time.time()}
        try:
            if canonical is None:
                raise not_found()
            self.violations.add("request", canonical, self.spec.check_request(canonical, params))
            await self.execute(canonical, self.spec.coerce(canonical, params))
        except ApiError as error:
            self._log(entry, error)
            return
        self._log(entry, None)

    def _check_update(self, update: Json) -> None:
        problems = self.spec.check_value(update, ["Update"], "update")
        self.violations.add("webhook", "update", problems)

    # -- files ---------------------------------------------------------------------------------

    async def _file_endpoint(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.config.bot_token:
            return error_reply(unauthorized())
        stored = self.world.file_paths.get(request.match_info["path"])
        if stored is None:
            return error_reply(not_found())
        return web.Response(
            body=stored.data, content_type=stored.mime_type or "application/octet-stream"
        )


async def run_emulator(config: EmulatorConfig | None = None, **overrides: Any) -> None:
    """Run an emulator until cancelled, printing where it listens (for ``greenlight emulator``).

    ``overrides`` are :class:`EmulatorConfig` fields, e.g. ``run_emulator(port=8081)``.
    """
    config = dataclasses.replace(config or EmulatorConfig(), **overrides)
    emulator = Emulator(config)
    await emulator.start()
    print(f"Telegram Bot API emulator listening on {emulator.base_url}", flush=True)
    print(f"  bot API:     {emulator.base_url}/bot<token>/<method>", flush=True)
    print(f"  control API: {emulator.base_url}/_control/<action>", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await emulator.stop()
