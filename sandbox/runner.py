"""``greenlight sandbox``: the whole bot on this machine, no token, no Telegram.

One process runs the Telegram Bot API emulator (``sandbox.emulator``), the real bot polling
it, the demo bureau (``sandbox.demo``) and a Telegram-like chat page where a visitor acts as
any of the bureau's people. Its database is ``<data_dir>/sandbox.db``, never the production
one. Time is :class:`sandbox.clock.OffsetClock`: real time plus an offset the page moves
forward (an hour, a working day) to watch lights turn yellow and red and nudges go out.

Routes added to the emulator's app (besides the Bot API and ``/_control/...``):

==============================  =================================================================
``GET /``                       the chat page (``sandbox/web/index.html``)
``GET /sandbox/static/<file>``  its script and style sheet
``GET /sandbox/info``           demo people (names, roles, keys, ids), chats, the sandbox time
``GET /sandbox/overview``       ``?user_id=``: that person's chats (last message, force-reply
                                prompts), the sandbox time, recent failed Bot API calls
``POST /sandbox/press``         press an inline button and wait for the bot's callback answer
``GET /sandbox/file/<file_id>`` a file the emulator keeps, with its MIME type
``POST /sandbox/advance``       ``{"hours": n}``, ``{"working_days": n}`` (lands at the office's
                                opening) or ``{"to": "next_due"}``; sweeps at every moment
                                something falls due on the way
``GET /sandbox/next``           the next moment something falls due, and what
``POST /sandbox/sweep``         run the deadline sweep now
``GET /sandbox/events``         ``?user_id=``: server-sent events for that person's page:
                                ``message`` (added, edited or deleted in a chat they see),
                                ``prompt`` (a force-reply prompt became known), ``clock``
                                (the sandbox time moved), ``errors`` (a Bot API call failed)
``POST /sandbox/lang``          ``{"user_id": id, "lang": "zh" | "en"}``: that person's bot
                                language, as their /lang sets it
``POST /sandbox/webapp``        ``{"user_id": id, "dark": bool}``: the lights board's URL with
                                the launch parameters a Telegram client adds (initData signed
                                with the emulator's token for that person, at sandbox time;
                                a light or dark theme)
``GET /board``, ``/board/api/…`` the lights board itself (``bot/board/web.py``)
==============================  =================================================================
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import math
import secrets
from collections.abc import Awaitable, Callable, Iterable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiogram import Bot
from aiohttp import web
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import App, create_app, run_polling
from bot.board.web import BoardSite
from bot.config import Settings, SettingsError
from bot.domain.rules.org_file import parse_org
from bot.domain.usecases import nudging, supervision_items
from bot.domain.usecases.org_import import apply_org
from bot.domain.usecases.people import choose_locale, identify, person_by_telegram_id
from bot.i18n import LOCALES
from bot.jobs import Jobs, SweepResult
from bot.scheduling import Timers
from bot.services import Services
from bot.telegram import Pace
from bot.updates import last_handled
from sandbox.clock import OffsetClock, load_offset, save_offset, working_days_later
from sandbox.demo import (
    DEMO_CHATS,
    DEMO_ITEMS,
    DEMO_USERS,
    PEOPLE,
    PROJECTS,
    SECTIONS,
    demo_org_yaml,
    working_day,
)
from sandbox.emulator.actions import ActionError
from sandbox.emulator.client import ControlClient
from sandbox.emulator.config import EmulatorConfig
from sandbox.emulator.control import Refusal
from sandbox.emulator.server import Emulator
from sandbox.emulator.webapp import launch_fragment, sign_init_data
from storage.db import SessionFactory
from storage.models import SupervisionItem
from storage.store import Store

log = logging.getLogger(__name__)
Json = dict[str, Any]

SANDBOX_TOKEN = "7000000001:SANDBOX-greenlight-local-only"
DB_FILE = "sandbox.db"
CLOCK_FILE = "sandbox-clock.json"
WEB_DIR = Path(__file__).with_name("web")
# Staff who never open a private chat with the bot: their nudges fall back to a group mention.
NOT_STARTED = frozenset({"lin"})
MAX_HOURS = 24 * 366
MAX_WORKING_DAYS = 250
NEXT_DUE = "next_due"
# Moments a jump stops at to sweep; past these it lands in one go (nudges then say "late").
MAX_STOPS = 200
# Telegram's own themeParams (its light and night themes), as a client passes them to a Mini App.
LIGHT_THEME = {"bg_color": "#ffffff", "text_color": "#000000", "hint_color": "#707579",
               "link_color": "#3390ec", "button_color": "#3390ec",
               "button_text_color": "#ffffff", "secondary_bg_color": "#f4f4f5",
               "section_bg_color": "#ffffff"}
DARK_THEME = {"bg_color": "#212121", "text_color": "#ffffff", "hint_color": "#aaaaaa",
              "link_color": "#8774e1", "button_color": "#8774e1",
              "button_text_color": "#ffffff", "secondary_bg_color": "#0f0f0f",
              "section_bg_color": "#212121"}
FLOOD_PER_GROUP_PER_MINUTE = 20
FLOOD_GLOBAL_PER_SECOND = 30
# Telegram's 20 messages a minute per group, counted per second here (by the emulator and by
# the bot's pace alike): a jump packs days of nudges into a moment of real time, which the
# real minute would hold up for most of a minute.
GROUP_WINDOW_SECONDS = 1.0
KEEP_ALIVE_SECONDS = 15.0  # a comment line on an idle event stream: a closed page is noticed

# Every role a demo person can hold, in the order a person's roles are listed: a section
# head's 科长 first, then the grants of the org file (bot.domain.rules.vocabulary.Role).
SECTION_HEAD = "section_head"
ROLE_LABELS = {
    "director": ("局长", "director"),
    "leader": ("分管领导", "leader in charge"),
    SECTION_HEAD: ("科长", "section head"),
    "handler": ("经办人", "handler"),
    "guide": ("规划引导员", "planning guide"),
    "supervisor": ("督查室", "supervision office"),
    "admin": ("管理员", "admin"),
}
OFFICES = frozenset({"office", "supervision"})  # sections headed by a 主任, not a 科长
OFFICE_HEAD_LABEL = ("主任", "head of office")
APPLICANT_LABEL = ("报建单位联系人（未登记）", "applicant (not in the bureau)")
# What each persona can try first, by role (zh, en).
ROLE_TRIES = {
    "director": ("在私聊里审批提交到局长的事项；/stats 看全局统计和图表，/urges 看催办统计",
                 "approve from the private chat; /stats for the whole with charts, /urges "
                 "for the urge counts"),
    "leader": ("在私聊里点「✅ 同意」或「↩️ 退回」；/pending 批量审批，/stats 看统计，"
               "/status KP-002 改项目状态",
               "approve or return from the private chat; /pending to bulk-decide, /stats "
               "for the figures, /status KP-002 to change a project's status"),
    SECTION_HEAD: ("红灯和催办通知书会发给科长：在私聊里点「✍️」书面答复",
                   "red lights and urge notices reach the section head: answer with ✍️ "
                   "in the private chat"),
    "handler": ("在项目群发 /report（📎 可附照片）和 /submit 提交审批；/done 标记节点完成",
                "in the project group: /report (📎 add a photo), /submit for approval, "
                "/done when a milestone is reached"),
    "guide": ("临近时限收到🟡黄灯提醒，逾期收到🔴红灯；/projects 看项目灯",
              "gets 🟡 yellow before a due and 🔴 red after it; /projects for the lights"),
    "supervisor": ("收到催办通知书；/dc 看督查事项（DC-2026-001 已超期，可点「📣 通报」），"
                   "/dc new 登记新事项；/urges 看谁被催办了几次",
                   "receives urge notices; /dc lists supervision items (DC-2026-001 is late: "
                   "📣 bulletin it), /dc new registers one; /urges shows who was urged how "
                   "often"),
    "admin": ("/bind KP-00x 把群绑定到项目；/calendar 看节假日",
              "/bind KP-00x links a group to a project; /calendar for the holidays"),
}
APPLICANT_TRIES = ("不在局里登记：用受理回执上的查询码发 /query 查办理进度",
                   "not in the bureau: send /query with the code on a receipt to follow an "
                   "item")
WEEKDAYS = "一二三四五六日"


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def reply(value: Any, status: int = 200) -> web.Response:
    return web.json_response(value, status=status, dumps=dumps)


def failure(status: int, message: str) -> web.Response:
    return reply({"error": message}, status)


def local_text(instant: datetime) -> str:
    return f"{instant:%Y-%m-%d} 周{WEEKDAYS[instant.weekday()]} {instant:%H:%M}"


def upcoming_text(instant: datetime) -> str:
    return f"周{WEEKDAYS[instant.weekday()]} {instant:%m-%d %H:%M}"


RUNG_MARKS = {"yellow": "🟡", "red": "🔴", "urge": "📮", "repeat": "🔴", "due": "⏰"}
RUNG_WORDS = {"yellow": "黄灯预警", "red": "红灯超期", "urge": "催办通知书", "repeat": "仍在超期",
              "due": "到期"}


def upcoming_subject(upcoming: nudging.Upcoming, what: str) -> str:
    subject = upcoming.subject
    if upcoming.item is not None:
        return f"{RUNG_MARKS[what]} 督查事项 {upcoming.item.code} {upcoming.item.title} " \
               f"{RUNG_WORDS[what]}"
    if subject is None:
        return f"{RUNG_MARKS[what]} {RUNG_WORDS[what]}"
    name = subject.title
    if subject.step is not None:
        name = f"{subject.title}「{subject.step.name}」"
    elif subject.kind == nudging.MISSING:
        name = f"容缺材料「{subject.title}」"
    return f"{RUNG_MARKS[what]} {subject.project.code} {name} {RUNG_WORDS[what]}"


def _subject_json(subject: nudging.Subject | None) -> Json | None:
    if subject is None:
        return None
    return {
        "kind": subject.kind,
        "id": subject.id,
        "project": subject.project.code,
        "title": subject.title,
        "step": subject.step.name if subject.step is not None else None,
        "case_id": subject.case.id if subject.case is not None else None,
        "due": subject.due.isoformat(),
    }


def _item_json(item: SupervisionItem | None) -> Json | None:
    if item is None:
        return None
    return {"kind": "item", "id": item.id, "code": item.code, "title": item.title,
            "due": item.due_at.isoformat() if item.due_at else None}


def offset_text(offset: timedelta) -> str:
    minutes = round(offset.total_seconds() / 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{days}天" if days else "", f"{hours}小时" if hours else "",
             f"{minutes}分" if minutes and not days else ""]
    return "+" + ("".join(parts) or "0")


# --------------------------------------------------------------------------- serial sweeps


class SerialJobs(Jobs):
    """The bot's jobs with sweeps one at a time: the scheduler's and the page's never overlap,
    so the count an advance reports is the nudges that advance caused."""

    def __init__(self, bot: Bot, sessions: SessionFactory, services: Services,
                 engine: AsyncEngine, timers: Timers | None = None) -> None:
        super().__init__(bot, sessions, services, engine, timers)
        self.lock = asyncio.Lock()

    async def sweep(self) -> SweepResult:
        async with self.lock:
            return await super().sweep()

    async def sweep_after(self, change: Callable[[], object]) -> SweepResult:
        """``change()`` (e.g. move the clock), then sweep, with no other sweep in between;
        and the leaders' weekly digest once its time has come (the daily job that sends it
        runs on real time, which a jump leaves behind)."""
        async with self.lock:
            change()
            result = await super().sweep()
            await self.weekly_digest()
            return result


# --------------------------------------------------------------------------- the page's routes


@dataclass
class SandboxSite:
    """The chat page and the ``/sandbox/...`` routes, installed on the emulator's app."""

    emu: Emulator
    clock: OffsetClock
    clock_path: Path
    tz_name: str
    app: App | None = None  # set once the bot is wired
    jobs: SerialJobs | None = None
    # chat id -> message id -> {"selective", "placeholder"}: the bot's force-reply prompts.
    # Telegram does not return a ForceReply in the Message, so the page learns of it here.
    force_replies: dict[int, dict[int, Json]] = field(default_factory=dict)
    run_id: str = field(default_factory=lambda: secrets.token_hex(4))  # per start: page state
    # The open event streams: (whose page, its queue); None in a queue ends that stream.
    streams: list[tuple[int, asyncio.Queue[Json | None]]] = field(default_factory=list)
    published_offset: timedelta | None = None
    board: BoardSite = field(default_factory=BoardSite)  # bound to the bot once it is wired

    def install(self, web_app: web.Application) -> None:
        web_app.middlewares.append(self._watch_force_replies)
        web_app.middlewares.append(self._announce)
        web_app.on_shutdown.append(self._end_streams)
        self.emu.world.listeners.append(self._message_changed)
        router = web_app.router
        router.add_get("/", self.index)
        router.add_get("/index.html", self.index)
        router.add_static("/sandbox/static/", WEB_DIR, append_version=False)
        router.add_get("/sandbox/info", self.info)
        router.add_get("/sandbox/overview", self.overview)
        router.add_post("/sandbox/press", self.press)
        router.add_get("/sandbox/file/{file_id}", self.file)
        router.add_post("/sandbox/advance", self.advance)
        router.add_get("/sandbox/next", self.next_due)
        router.add_post("/sandbox/sweep", self.sweep)
        router.add_get("/sandbox/events", self.events)
        router.add_post("/sandbox/lang", self.lang)
        router.add_post("/sandbox/webapp", self.webapp)
        self.board.install(web_app)

    # -- page ----------------------------------------------------------------------------------

    async def index(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(WEB_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    async def webapp(self, request: web.Request) -> web.StreamResponse:
        """What a Telegram client opens for a web_app button: the board with signed initData."""
        body = await _json_body(request)
        if isinstance(body, web.StreamResponse):
            return body
        user_id = body.get("user_id")
        user = next((u for u in DEMO_USERS.values() if u.telegram_id == user_id), None)
        if user is None:
            return failure(400, "user_id: not a demo person")
        init_data = sign_init_data(self.emu.config.bot_token, {
            "id": user.telegram_id, "first_name": user.first_name,
            **({"username": user.username} if user.username else {}),
            "language_code": "zh", "allows_write_to_pm": True,
        }, int(self.clock.now().timestamp()))
        theme = DARK_THEME if body.get("dark") else LIGHT_THEME
        return reply({"url": "/board#" + launch_fragment(init_data, theme)})

    # -- time ----------------------------------------------------------------------------------

    def clock_json(self) -> Json:
        now = self.clock.now()
        local = now.astimezone(ZoneInfo(self.tz_name))
        calendar = self.app.services.calendar if self.app is not None else None
        return {
            "now": local.isoformat(),
            "text": local_text(local),
            "timezone": self.tz_name,
            "offset_seconds": self.clock.offset.total_seconds(),
            "offset_text": offset_text(self.clock.offset),
            "workday": calendar.is_workday(local.date()) if calendar else None,
            "office_time": calendar.is_office_time(now) if calendar else None,
            # Messages are dated in sandbox time already (the emulator reads this clock): no
            # offset to add to them. Kept (empty) for pages that map real dates.
            "history": [],
        }

    # -- who is who ----------------------------------------------------------------------------

    async def info(self, request: web.Request) -> web.StreamResponse:
        world = self.emu.world
        sections = {s.code: s.name for s in SECTIONS}
        people = []
        heads = {s.head: s.code for s in SECTIONS}
        for key, user in DEMO_USERS.items():
            person = next((p for p in PEOPLE if p.key == key), None)
            roles = _roles(key, person.roles if person else (), heads)
            labels = [OFFICE_HEAD_LABEL if r == SECTION_HEAD and heads[key] in OFFICES
                      else ROLE_LABELS.get(r, (r, r)) for r in roles]
            if not labels:
                labels = [APPLICANT_LABEL]
            office_head = key in heads and heads[key] in OFFICES  # not asked to answer urges
            tries = [ROLE_TRIES[r] for r in roles if r in ROLE_TRIES
                     and not (r == SECTION_HEAD and office_head)] or [APPLICANT_TRIES]
            projects = sorted(
                {p.code for p in PROJECTS
                 if key == p.leader or key in p.handlers or key in p.guides}
            )
            record = world.users.get(user.telegram_id)
            people.append({
                "key": key,
                "name": user.first_name,
                "username": user.username,
                "telegram_id": user.telegram_id,
                "language": user.language,
                "staff": user.staff,
                "roles": roles,
                "role_label": "、".join(zh for zh, _ in labels),
                "role_label_en": ", ".join(en for _, en in labels),
                "tries": {"zh": "；".join(zh for zh, _ in tries[:2]),
                          "en": "; ".join(en for _, en in tries[:2])},
                "section": sections.get(person.section) if person else None,
                "projects": projects,
                "started": bool(record and record.started),
            })
        chats = [
            {
                "key": key,
                "chat_id": chat.chat_id,
                "title": chat.title,
                "kind": chat.kind,
                "project": chat.project,
                "type": chat.type,
                "members": list(chat.members),
            }
            for key, chat in DEMO_CHATS.items()
        ]
        return reply({
            "bot": world.get_me(),
            "people": people,
            "chats": chats,
            "clock": self.clock_json(),
            "ready": self.app is not None,
            "run_id": self.run_id,
        })

    async def overview(self, request: web.Request) -> web.StreamResponse:
        """One person's view: their chats with the newest message in each, the clock."""
        try:
            user_id = int(request.query["user_id"])
        except (KeyError, ValueError):
            return failure(400, "user_id is required")
        world = self.emu.world
        user = world.users.get(user_id)
        if user is None:
            return failure(404, f"unknown user {user_id}")
        chats: list[Json] = []
        for chat in world.chats.values():
            if chat.type == "private" and chat.id != user_id:
                continue
            if chat.is_group and not world.is_member(chat, user_id):
                continue
            ids = sorted(chat.messages)
            last = chat.messages[ids[-1]] if ids else None
            chats.append({
                "id": chat.id,
                "type": chat.type,
                "title": world.bot.first_name if chat.type == "private" else chat.title,
                "message_ids": ids[-100:],
                "last": _preview(last) if last else None,
                "force_reply": self.force_replies.get(chat.id, {}),
            })
        chats.sort(key=lambda c: (c["type"] != "private", -(c["last"] or {}).get("date", 0)))
        return reply({
            "user": {**user.to_dict(), "started": user.started, "blocked": user.blocked},
            "chats": chats,
            "clock": self.clock_json(),
            "api_errors": self._api_errors(),
        })

    def _api_errors(self, limit: int = 20) -> list[Json]:
        """The bot's most recent failed Bot API calls, newest first."""
        out: list[Json] = []
        for entry in reversed(self.emu.request_log):
            if entry.get("ok") is False:
                params = entry.get("params") or {}
                out.append({
                    "method": entry["method"],
                    "chat_id": params.get("chat_id"),
                    "error_code": entry.get("error_code"),
                    "description": entry.get("description"),
                    "at": entry.get("at"),
                })
                if len(out) >= limit:
                    break
        return out

    # -- buttons and files ---------------------------------------------------------------------

    async def press(self, request: web.Request) -> web.StreamResponse:
        """The control API's ``press``, but waiting for the callback answer: the bot handles
        updates as tasks, so the answer may come a moment after the update is confirmed."""
        body = await _json_body(request)
        if isinstance(body, web.StreamResponse):
            return body
        try:
            outcome = await self.emu.control.press({**body, "wait": True, "timeout": 10.0})
        except Refusal as error:
            return failure(error.status, str(error))
        except (ActionError, ValueError, TypeError) as error:
            return failure(400, str(error))
        record = self.emu.world.callbacks.get(outcome["callback_query_id"])
        for _ in range(200):  # up to 10 s
            if record is None or record.answered:
                break
            await asyncio.sleep(0.05)
        answer = None
        if record is not None and record.answer is not None:
            answer = {k: record.answer.get(k) for k in ("text", "show_alert", "url")}
        return reply({**outcome, "answer": answer,
                      "answered": bool(record and record.answered)})

    async def file(self, request: web.Request) -> web.StreamResponse:
        stored = self.emu.world.files.get(request.match_info["file_id"])
        if stored is None:
            return failure(404, "unknown file_id")
        mime = stored.mime_type or _sniff(stored.data) or "application/octet-stream"
        headers = {"Cache-Control": "max-age=86400"}
        if stored.file_name:
            disposition = "attachment" if "download" in request.query else "inline"
            headers["Content-Disposition"] = (
                f"{disposition}; filename*=UTF-8''{_quote(stored.file_name)}"
            )
        return web.Response(body=stored.data, content_type=mime, headers=headers)

    # -- time travel ---------------------------------------------------------------------------

    async def advance(self, request: web.Request) -> web.StreamResponse:
        """Move the clock forward, stopping at every moment something falls due on the way
        and sweeping there, as a bot running all along would have: each nudge goes out (and
        is dated) at its moment, on time, never as a catch-up of the whole jump."""
        body = await _json_body(request)
        if isinstance(body, web.StreamResponse):
            return body
        app, jobs = self.app, self.jobs
        if app is None or jobs is None:
            return failure(503, "the sandbox is still starting")
        given = [key for key in ("hours", "working_days", "to") if body.get(key) is not None]
        if len(given) != 1:
            return failure(400, 'POST {"hours": n}, {"working_days": n} or {"to": "next_due"}')
        amount = 0.0
        if given == ["to"]:
            if body["to"] != NEXT_DUE:
                return failure(400, '"to" must be "next_due"')
        else:
            given_amount = _amount(body[given[0]])
            if isinstance(given_amount, web.StreamResponse):
                return given_amount
            amount = given_amount
            if given == ["hours"] and amount > MAX_HOURS:
                return failure(400, f"at most {MAX_HOURS} hours at a time")
            if given == ["working_days"] and (amount != int(amount)
                                              or amount > MAX_WORKING_DAYS):
                return failure(400,
                               f"working_days must be a whole number up to {MAX_WORKING_DAYS}")
        before = self.clock.now()
        # Rows changed since the last sweep get their next moment before the jump plans on it.
        first = await jobs.sweep()
        sent, failed = first.sent, first.failed
        now = self.clock.now()
        if given == ["to"]:
            upcoming = await self._upcoming()
            if upcoming is None:
                return failure(409, "nothing more falls due: no deadline is pending")
            target = upcoming.at
        elif given == ["hours"]:
            target = now + timedelta(hours=amount)
        else:
            # A working day on lands at the opening of the office, not at the hour it was
            # pressed (a jump from 16:00 would otherwise land past every 17:30 deadline).
            calendar = app.services.calendar
            target = working_days_later(now, calendar, int(amount),
                                        calendar.office_hours.opening)
        # Where the offset ends, so that "+1 hour" is an hour whatever the sweeps take.
        offset = self.clock.offset + max(target - now, timedelta(0))
        for _ in range(MAX_STOPS):
            upcoming = await self._upcoming()
            if upcoming is None or upcoming.at >= target:
                break
            result = await jobs.sweep_after(functools.partial(self._move_to, upcoming.at))
            sent, failed = sent + result.sent, failed + result.failed
        result = await jobs.sweep_after(functools.partial(self._move_by, offset))
        return reply({
            "advanced_seconds": (self.clock.now() - before).total_seconds(),
            "sent": sent + result.sent,
            "failed": failed + result.failed,
            "clock": self.clock_json(),
        })

    def _move_by(self, offset: timedelta) -> None:
        self.clock.advance(max(offset - self.clock.offset, timedelta(0)))
        save_offset(self.clock_path, self.clock.offset)

    def _move_to(self, instant: datetime) -> None:
        self.clock.advance_to(instant)
        save_offset(self.clock_path, self.clock.offset)

    async def _upcoming(self) -> nudging.Upcoming | None:
        assert self.app is not None
        services = self.app.services
        async with self.app.sessions() as session:
            return await nudging.upcoming(Store(session), self.clock.now(), services.calendar,
                                          services.policy)

    async def next_due(self, request: web.Request) -> web.StreamResponse:
        """When something next falls due and what it is, for the page to show before one
        presses ⏩ to it."""
        if self.app is None:
            return failure(503, "the sandbox is still starting")
        upcoming = await self._upcoming()
        if upcoming is None:
            return reply({"at": None, "text": None, "what": None, "subject": None,
                          "clock": self.clock_json()})
        local = upcoming.at.astimezone(ZoneInfo(self.tz_name))
        what = upcoming.rungs[-1].value if upcoming.rungs else "due"
        return reply({
            "at": local.isoformat(),
            "text": f"{upcoming_text(local)} · {upcoming_subject(upcoming, what)}",
            "what": what,
            "subject": _subject_json(upcoming.subject) or _item_json(upcoming.item),
            "clock": self.clock_json(),
        })

    async def sweep(self, request: web.Request) -> web.StreamResponse:
        if self.jobs is None:
            return failure(503, "the sandbox is still starting")
        result = await self.jobs.sweep()
        return reply({"sent": result.sent, "failed": result.failed, "clock": self.clock_json()})

    # -- live events ---------------------------------------------------------------------------

    async def events(self, request: web.Request) -> web.StreamResponse:
        """A ``text/event-stream`` of what changed for one person's page; an idle page makes
        no requests (EventSource reconnects by itself, and the page then catches up)."""
        try:
            user_id = int(request.query["user_id"])
        except (KeyError, ValueError):
            return failure(400, "user_id is required")
        response = web.StreamResponse(headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        })
        await response.prepare(request)
        queue: asyncio.Queue[Json | None] = asyncio.Queue()
        stream = (user_id, queue)
        self.streams.append(stream)
        try:
            await response.write(_sse("hello", {"run_id": self.run_id}, retry_ms=2000))
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), KEEP_ALIVE_SECONDS)
                except TimeoutError:
                    await response.write(b": keep-alive\n\n")
                    continue
                if event is None:
                    break
                await response.write(_sse(str(event.pop("type")), event))
        except (ConnectionResetError, RuntimeError):  # the page went away
            pass
        finally:
            with contextlib.suppress(ValueError):
                self.streams.remove(stream)
        return response

    def publish(self, event: Json, chat_id: int | None = None) -> None:
        """Queue ``event`` for every open page, or, with ``chat_id``, for the pages of those
        who see that chat."""
        chat = self.emu.world.chats.get(chat_id) if chat_id is not None else None
        for user_id, queue in self.streams:
            if chat_id is not None and not self._sees(chat, user_id):
                continue
            queue.put_nowait(dict(event))

    def _sees(self, chat: Any, user_id: int) -> bool:
        if chat is None:
            return False
        if chat.type == "private":
            return bool(chat.id == user_id)
        return bool(self.emu.world.is_member(chat, user_id))

    def _message_changed(self, change: Json) -> None:
        self.publish({"type": "message", **change}, change["chat_id"])

    async def _end_streams(self, web_app: web.Application) -> None:
        for _, queue in self.streams:
            queue.put_nowait(None)

    @web.middleware
    async def _announce(
        self, request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        """After a call that moved the clock or a failed Bot API call, tell the pages."""
        response = await handler(request)
        if request.method == "POST" and self.clock.offset != self.published_offset:
            self.published_offset = self.clock.offset
            self.publish({"type": "clock", "clock": self.clock_json()})
        if request.path.startswith("/bot") and self.emu.request_log:
            entry = self.emu.request_log[-1]
            if entry.get("ok") is False:
                self.publish({"type": "errors", "chat_id": (entry.get("params") or {})
                              .get("chat_id")})
        return response

    # -- a persona's language ----------------------------------------------------------------

    async def lang(self, request: web.Request) -> web.StreamResponse:
        """The persona's bot language, set as their /lang would (the page's 中文 / EN)."""
        body = await _json_body(request)
        if isinstance(body, web.StreamResponse):
            return body
        if self.app is None:
            return failure(503, "the sandbox is still starting")
        user_id, lang = body.get("user_id"), body.get("lang")
        if not isinstance(user_id, int) or isinstance(user_id, bool):
            return failure(400, 'POST {"user_id": <telegram id>, "lang": "zh" | "en"}')
        if lang not in LOCALES:
            return failure(400, f"lang must be one of {', '.join(LOCALES)}")
        async with self.app.sessions() as session:
            store = Store(session)
            person = await person_by_telegram_id(store, user_id)
            if person is None:
                return failure(404, f"user {user_id} is not one of the bureau's people")
            await choose_locale(store, person, lang, now=self.clock.now())
            await store.commit()
        return reply({"ok": True, "user_id": user_id, "lang": lang})

    # -- force-reply prompts -------------------------------------------------------------------

    @web.middleware
    async def _watch_force_replies(
        self, request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        response = await handler(request)
        if not request.path.startswith("/bot") or not isinstance(response, web.Response):
            return response
        # The emulator logged the call just before answering (no await in between).
        entry = self.emu.request_log[-1] if self.emu.request_log else None
        if not entry or not entry.get("ok"):
            return response
        markup = (entry.get("params") or {}).get("reply_markup")
        if not isinstance(markup, dict) or not markup.get("force_reply"):
            return response
        body = response.body
        if not isinstance(body, bytes | bytearray):
            return response
        with contextlib.suppress(ValueError, TypeError, KeyError):
            result = json.loads(body)["result"]
            self.force_replies.setdefault(int(result["chat"]["id"]), {})[
                int(result["message_id"])] = {
                "selective": bool(markup.get("selective")),
                "placeholder": markup.get("input_field_placeholder"),
            }
            chat_id = int(result["chat"]["id"])
            self.publish({"type": "prompt", "chat_id": chat_id,
                          "message_id": int(result["message_id"])}, chat_id)
        return response


def _sse(event: str, data: Json, retry_ms: int | None = None) -> bytes:
    retry = f"retry: {retry_ms}\n" if retry_ms is not None else ""
    return f"{retry}event: {event}\ndata: {dumps(data)}\n\n".encode()


def _roles(key: str, granted: Iterable[str], heads: dict[str, str]) -> list[str]:
    """A person's roles in :data:`ROLE_LABELS` order, a section head's 科长 included."""
    held = set(granted) | ({SECTION_HEAD} if key in heads else set())
    order = list(ROLE_LABELS)
    return sorted(held, key=lambda r: order.index(r) if r in order else len(order))


def _preview(message: Json) -> Json:
    text = message.get("text") or message.get("caption") or ""
    if not text:
        text = "[图片]" if "photo" in message else (
            f"[文件] {message['document'].get('file_name', '')}" if "document" in message
            else "…")
    sender = message.get("from") or {}
    return {
        "message_id": message["message_id"],
        "date": message.get("date", 0),
        "from": sender.get("first_name", ""),
        "is_bot": bool(sender.get("is_bot")),
        "text": text[:80],
    }


def _sniff(data: bytes) -> str | None:
    from sandbox.emulator.media import image_info

    info = image_info(data)
    return info[2] if info else None


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")


def _amount(value: Any) -> float | web.StreamResponse:
    try:
        amount = float(value)
    except (TypeError, ValueError):
        return failure(400, "the amount must be a number")
    if not math.isfinite(amount) or amount <= 0:
        return failure(400, "the sandbox clock only moves forward: give a positive amount")
    return amount


async def _json_body(request: web.Request) -> Json | web.StreamResponse:
    try:
        body = await request.json() if request.body_exists else {}
    except ValueError:
        return failure(400, "body must be JSON")
    if not isinstance(body, dict):
        return failure(400, "body must be a JSON object")
    return body


# --------------------------------------------------------------------------- start-up steps


async def import_demo(app: App, clock: OffsetClock) -> bool:
    """The demo bureau, milestone dates counted from the sandbox's today (idempotent).
    Returns whether the bureau was new (the database's first start)."""
    today = clock.now().astimezone(app.settings.tz).date()
    org = parse_org(demo_org_yaml(today, app.services.calendar), "demo.yaml")
    async with app.sessions() as session:
        store = Store(session)
        report = await apply_org(store, org, now=clock.now())
        await store.commit()
    projects = report.counts["projects"]
    new = projects.created > 0 and not projects.updated and not projects.unchanged
    if new:
        await seed_items(app, today)
    return new


async def seed_items(app: App, today: date) -> None:
    """The demo's supervision items (督查事项), registered and assigned by 周正 in the past:
    one red (urged already), one yellow."""
    services = app.services
    calendar = services.calendar
    async with app.sessions() as session:
        store = Store(session)
        zhou = await identify(store, DEMO_USERS["zhou"].telegram_id)
        assert zhou is not None
        for demo in DEMO_ITEMS:
            at = datetime.combine(working_day(today, calendar, demo.assigned),
                                  time(9, 0), tzinfo=app.settings.tz)
            due = str(demo.due) if demo.due is not None else \
                working_day(today, calendar, demo.due_on or 0).isoformat()
            item = await supervision_items.register(
                store, zhou, title=demo.title, requirement=demo.requirement,
                assignee=demo.assignee, due=due, now=at, today=at.date(),
                policy=services.policy)
            await supervision_items.assign(store, zhou, item, now=at, calendar=calendar,
                                           today=at.date())
            if demo.urged is not None:
                urged = datetime.combine(working_day(today, calendar, demo.urged),
                                         time(10, 0), tzinfo=app.settings.tz)
                await supervision_items.urge(store, zhou, item, now=urged)
        await store.commit()


async def populate(ctl: ControlClient) -> None:
    """The demo people and their groups in the emulated Telegram."""
    for user in DEMO_USERS.values():
        await ctl.create_user(user.telegram_id, user.first_name, username=user.username,
                              language_code=user.language)
    for chat in DEMO_CHATS.values():
        await ctl.create_chat(chat.chat_id, "supergroup" if chat.type == "supergroup"
                              else "group", chat.title,
                              members=[DEMO_USERS[m].telegram_id for m in chat.members])


def starters() -> list[str]:
    """Who opens a private chat with the bot at start: the staff, except :data:`NOT_STARTED`."""
    return [key for key, user in DEMO_USERS.items() if user.staff and key not in NOT_STARTED]


async def open_private_chats(ctl: ControlClient, keys: Iterable[str]) -> list[int]:
    """Each sends /start in private, before the bot runs: Telegram (the emulator) knows at
    once that they started the bot, so the first sweep can already write to them."""
    ids = [DEMO_USERS[key].telegram_id for key in keys]
    for user_id in ids:
        await ctl.send_text(user_id, user_id, "/start", wait=False)
    return ids


async def greeted(emu: Emulator, ids: list[int], patience: float = 20.0) -> None:
    """Returns once the bot has answered every /start (or after ``patience`` seconds)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + patience
    while True:
        waiting = [uid for uid in ids if not any(
            m.get("from", {}).get("is_bot") for m in emu.world.chats[uid].messages.values())]
        if not waiting:
            return
        if loop.time() > deadline:
            log.warning("the bot has not answered /start for %s yet", waiting)
            return
        await asyncio.sleep(0.02)


def quiet_logs(settings: Settings) -> None:
    """Keep the console readable: no line per update or per scheduled sweep."""
    if settings.log_level != "DEBUG":
        for name in ("aiogram.event", "apscheduler.executors.default", "apscheduler.scheduler"):
            logging.getLogger(name).setLevel(logging.WARNING)


def remove_database(data_dir: Path) -> None:
    for name in (DB_FILE, f"{DB_FILE}-wal", f"{DB_FILE}-shm", f"{DB_FILE}-journal", CLOCK_FILE):
        with contextlib.suppress(FileNotFoundError):
            (data_dir / name).unlink()


def banner(base_url: str, db_path: Path, clock: OffsetClock, tz_name: str) -> str:
    now = local_text(clock.now().astimezone(ZoneInfo(tz_name)))
    moved = f"（已前进 {offset_text(clock.offset)}）" if clock.offset else ""
    return "\n".join([
        "",
        "🚦 绿灯 Greenlight 沙盒已就绪 · sandbox ready",
        f"   聊天页面 chat page    {base_url}/",
        f"   沙盒时间 clock        {now} {tz_name}{moved}",
        f"   沙盒数据库 database   {db_path}",
        "                         (always this file, whatever GREENLIGHT_DATABASE_URL says;"
        " --fresh starts empty)",
        "   提醒不受办公时间限制 nudges at any hour (GREENLIGHT_QUIET_HOURS=true to hold them)",
        f"   Bot API emulator      {base_url}/bot<token>/<method>, control: {base_url}/_control/",
        "",
        "试一试 · try it:",
        "   1. 汇报 report    以「刘晓」在「天台山公园工作群」发送 /report 今日完成现场踏勘",
        "                     as 刘晓 in 天台山公园工作群 send `/report 今日完成现场踏勘`",
        "   2. 审批 approve   以「刘晓」在群里发送 /submit 微波站迁建选址方案，选「一般事项审批」，"
        "再以「李副局长」在私聊里点「✅ 同意」",
        "                     as 刘晓 send `/submit 微波站迁建选址方案`, pick 一般事项审批,"
        " then as 李副局长 press 同意 in the private chat",
        "                     /pending 列出待办可批量审批，/away 登记外出由代理人审批"
        " · /pending to bulk-decide, /away to delegate",
        "   3. 催办 nudge     提交后在页面上点「⏩ +1 工作日」，看黄灯、红灯提醒；",
        "                     林引导没有启动机器人（私信 403），康乐公园的提醒会在群里 @ 他",
        "                     press ⏩ +1 working day on the page to watch the lights turn"
        " yellow and red",
        "",
        "正式使用：配置真实 token 后运行 `greenlight run` · production: `greenlight run`"
        " with a real token",
        "按 Ctrl-C 停止 · Ctrl-C stops the sandbox",
        "",
    ])


# --------------------------------------------------------------------------- the sandbox


async def run_sandbox(settings: Settings, *, port: int = 8081, fresh: bool = False,
                      ready: asyncio.Event | None = None, start: datetime | None = None) -> None:
    """Run the emulator, the bot, the demo bureau and the chat page until cancelled; the
    sandbox's time begins at ``start`` when given (else it is real time)."""
    data_dir = settings.data_dir.expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    if fresh:
        remove_database(data_dir)
    db_path = data_dir / DB_FILE
    clock_path = data_dir / CLOCK_FILE
    offset = load_offset(clock_path)
    clock = (OffsetClock.starting_at(start, offset) if start is not None
             else OffsetClock(offset=offset))
    quiet_logs(settings)

    emu = Emulator(EmulatorConfig(
        host="127.0.0.1", port=port, bot_token=SANDBOX_TOKEN, privacy_mode=True,
        flood_per_group_per_minute=FLOOD_PER_GROUP_PER_MINUTE,
        flood_global_per_second=FLOOD_GLOBAL_PER_SECOND,
    ))
    emu.flood.configure(emu.flood.per_chat_per_second, FLOOD_PER_GROUP_PER_MINUTE,
                        FLOOD_GLOBAL_PER_SECOND, group_window_seconds=GROUP_WINDOW_SECONDS)
    # Telegram dates its messages when it receives them: in the sandbox, by the sandbox's
    # clock, so a nudge sent right after a jump is dated after the jump.
    emu.world.now = lambda: clock.now().timestamp()
    site = SandboxSite(emu, clock, clock_path, settings.timezone)
    site.install(emu.app)

    async with AsyncExitStack() as stack:
        try:
            await emu.start()
        except OSError as error:
            raise SettingsError(f"cannot listen on 127.0.0.1:{port} ({error.strerror}); "
                                "try another --port") from None
        stack.push_async_callback(emu.stop)
        ctl = ControlClient(emu.base_url)
        stack.push_async_callback(ctl.close)

        sandbox_settings = settings.model_copy(update={
            "database_url": f"sqlite+aiosqlite:///{db_path}",
            "api_base_url": emu.base_url,
            "bot_token": SecretStr(SANDBOX_TOKEN),
            "data_dir": data_dir,
            # A visitor moving the clock at any hour should see the nudges it causes; quiet
            # hours only when asked for (GREENLIGHT_QUIET_HOURS=true).
            "quiet_hours": settings.quiet_hours if "quiet_hours" in settings.model_fields_set
            else False,
            # Telegram wants an https Mini App; the chat page opens this path on its own origin.
            "board_url": settings.board_url or f"https://127.0.0.1:{port}/board",
        })
        app = await create_app(sandbox_settings, clock=clock, token=SANDBOX_TOKEN,
                               pace=Pace(group_window=GROUP_WINDOW_SECONDS,
                                         chat_window=GROUP_WINDOW_SECONDS / 60))
        stack.push_async_callback(app.close)
        # The emulator starts numbering updates afresh; the bot would skip ids it handled in
        # an earlier run of the sandbox as redelivered.
        handled = await last_handled(app.sessions)
        if handled is not None:
            emu.queue.continue_from(handled + 1)
        jobs = SerialJobs(app.bot, app.sessions, app.services, app.engine, app.timers)
        app.jobs = jobs
        first_start = await import_demo(app, clock)
        if first_start:
            # The demo's past (an overdue milestone) is the story, not news: no burst of
            # late nudges greets the first visitor; lights still show on cards and lists.
            await jobs.set_aside_past()
        await populate(ctl)

        started = await open_private_chats(ctl, starters())
        polling = asyncio.create_task(run_polling(app), name="greenlight-sandbox-polling")
        stack.push_async_callback(stop_polling, app, jobs, polling)
        await greeted(emu, started)
        site.app, site.jobs = app, jobs
        site.board.bind(app.sessions, app.services, SANDBOX_TOKEN)

        print(banner(emu.base_url, db_path, clock, settings.timezone), flush=True)
        if ready is not None:
            ready.set()
        # Until cancelled; if the bot stops on its own, its error ends the sandbox.
        await asyncio.wait({polling})
        polling.result()


async def stop_polling(app: App, jobs: SerialJobs, polling: asyncio.Task[None]) -> None:
    """Let a running sweep finish and stop the scheduler, stop taking updates, let the
    handlers in flight finish."""
    if app.timers.running:
        app.timers.scheduler.pause()  # no new sweeps; one running or waiting finishes first
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(10), jobs.lock:
                await app.timers.shutdown()
    if not polling.done():
        with contextlib.suppress(RuntimeError):  # "Polling is not started": still starting
            await asyncio.wait_for(app.dispatcher.stop_polling(), 10)
        if not polling.done():
            polling.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(polling, 10)
    handling = list(app.dispatcher._handle_update_tasks)
    if handling:
        _, late = await asyncio.wait(handling, timeout=5)
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late, timeout=1)
