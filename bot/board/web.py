"""The lights board's routes, installed on whichever aiohttp app serves the bot (the webhook
server, the polling bot's health server, the sandbox's emulator).

==================================  ==========================================================
``GET /board``                      the page (static, shipped in ``bot/board/static``)
``GET /board/static/<file>``        its script and style sheet
``GET /board/api/overview``         the viewer's board; ``?unit=&section=&person=&light=``
``GET /board/api/case/<id>``        a case's timeline (404 outside the viewer's scope)
==================================  ==========================================================

The API answers only with ``Authorization: tma <initData>``: missing or not signed with the
bot's token → 401 ``invalid``/``missing``, older than ``GREENLIGHT_BOARD_MAX_AGE`` → 401
``expired``, a Telegram user who is not a registered person → 403. Every refusal carries a
localized ``message`` for the page, and is logged without the initData.
"""

from __future__ import annotations

import contextlib
import json
import logging
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from bot.board.auth import NotAuthorized, Refusal, init_data_of, verify
from bot.domain.rules.vocabulary import AssignmentState, Light, ProjectStatus, StepState
from bot.domain.usecases import board as usecase
from bot.domain.usecases.scope import scope_of
from bot.i18n import N_, Translator, pick_locale, translator
from bot.services import Services
from storage.db import SessionFactory
from storage.models import Person
from storage.store import Store

log = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().with_name("static")
Json = dict[str, Any]
# The page's own words, sent in the viewer's language with every board.
PAGE_STRINGS = {
    "title": N_("Lights board"),
    "red": N_("Red"),
    "yellow": N_("Yellow"),
    "green": N_("Green"),
    "done": N_("Finished"),
    "all": N_("All"),
    "unit": N_("Unit"),
    "section": N_("Section"),
    "person": N_("Person"),
    "light": N_("Light"),
    "no_section": N_("No section"),
    "no_unit": N_("Whole organisation"),
    "nothing": N_("No project matches these filters."),
    "milestone": N_("Milestone"),
    "steps": N_("Open steps"),
    "no_steps": N_("No open step."),
    "due": N_("due"),
    "no_due": N_("no limit"),
    "holders": N_("to decide"),
    "more": N_("more open steps not listed"),
    "back": N_("Back"),
    "submitted_by": N_("Submitted by"),
    "decisions": N_("Decisions"),
    "nudges": N_("Nudges"),
    "round": N_("round"),
    "no_nudges": N_("No nudge sent."),
    "reason": N_("Reason"),
    "comment": N_("Comment"),
    "late": N_("sent late"),
    "not_sent": N_("not sent yet"),
    "deemed": N_("approved by its time limit"),
    "failed": N_("The board could not be loaded. Try again."),
    "projects": N_("projects"),
    "updated": N_("As of"),
    "pick_unit": N_("Many projects: their open steps are listed once you pick a unit or a "
                    "section."),
}
STEP_STATES = {
    StepState.WAITING: N_("not started"),
    StepState.OPEN: N_("open"),
    StepState.PAUSED: N_("paused for a supplement"),
    StepState.APPROVED: N_("approved"),
    StepState.RETURNED: N_("returned"),
    StepState.WITHDRAWN: N_("withdrawn"),
}
STATUSES = {
    ProjectStatus.PRE_INTERVENTION: N_("early involvement"),
    ProjectStatus.IN_PROGRESS: N_("in progress"),
    ProjectStatus.DONE: N_("finished"),
    ProjectStatus.DONE_FOLLOW_UP: N_("finished, follow-up"),
}
DECISIONS = {
    "approve": N_("✅ approved"),
    "return": N_("↩️ returned"),
    AssignmentState.TRANSFERRED: N_("🔁 transferred"),
    AssignmentState.PENDING: N_("⏳ to decide"),
}
NUDGE_LEVELS = {
    "yellow": N_("🟡 yellow reminder"),
    "red": N_("🔴 red reminder"),
    "urge": N_("📮 urge notice"),
    "repeat": N_("🔴 repeated reminder"),
}
REFUSALS = {
    Refusal.MISSING: N_("Open the board from Telegram: the bot's menu button or /board."),
    Refusal.INVALID: N_("This board link is not valid. Open the board again from Telegram."),
    Refusal.EXPIRED: N_("This board session has expired. Close it and open the board again "
                        "from Telegram."),
}
UNKNOWN_USER = N_("You are not registered in Greenlight: ask an administrator to add you.")
NOT_FOUND = N_("No such item on your board.")
BAD_FILTER = N_("That filter is not valid.")


def _s(t: Translator, message: str) -> str:
    return str(t.gettext(message))


class BoardSite:
    """The board's page and API over the bot's sessions, clock and token. The sandbox
    installs the routes before the bot exists and :meth:`bind`s it later (503 meanwhile)."""

    def __init__(self, sessions: SessionFactory | None = None,
                 services: Services | None = None, token: str = "") -> None:
        self._sessions, self._services, self.token = sessions, services, token

    def bind(self, sessions: SessionFactory, services: Services, token: str) -> None:
        self._sessions, self._services, self.token = sessions, services, token

    @property
    def sessions(self) -> SessionFactory:
        if self._sessions is None:
            raise web.HTTPServiceUnavailable(text="starting")
        return self._sessions

    @property
    def services(self) -> Services:
        if self._services is None:
            raise web.HTTPServiceUnavailable(text="starting")
        return self._services

    def install(self, app: web.Application) -> None:
        router = app.router
        router.add_get("/board", self.page)
        router.add_get("/board/", self.page)
        router.add_static("/board/static/", STATIC, append_version=False)
        router.add_get("/board/api/overview", self.overview)
        router.add_get("/board/api/case/{case_id}", self.case)

    async def page(self, _request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "index.html", headers={
            "Cache-Control": "no-cache",
            # Nothing from elsewhere: the page is self-contained (no telegram-web-app.js).
            "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                                       "base-uri 'none'; form-action 'none'",
        })

    # -- the API --------------------------------------------------------------------------

    async def overview(self, request: web.Request) -> web.Response:
        async with self.sessions() as session:
            store = Store(session)
            viewer = await self._viewer(request, store)
            if isinstance(viewer, web.Response):
                return viewer
            person, t = viewer
            try:
                wanted = _filter(request.query)
            except ValueError:
                return _refuse(request, 400, "bad_filter", _s(t, BAD_FILTER))
            now = self.services.now()  # one instant for the lights and the "as of"
            board = await usecase.board(
                store, await scope_of(store, person), now, self.services.calendar,
                self.services.policy, wanted, english=t.locale == "en")
            return web.json_response(board_json(board, t, person, wanted, now),
                                     headers={"Cache-Control": "no-store"})

    async def case(self, request: web.Request) -> web.Response:
        async with self.sessions() as session:
            store = Store(session)
            viewer = await self._viewer(request, store)
            if isinstance(viewer, web.Response):
                return viewer
            person, t = viewer
            try:
                case_id = int(request.match_info["case_id"])
            except ValueError:
                return _refuse(request, 404, "not_found", _s(t, NOT_FOUND))
            found = await usecase.timeline(
                store, await scope_of(store, person), case_id, self.services.now(),
                self.services.calendar, self.services.policy, english=t.locale == "en")
            if found is None:
                return _refuse(request, 404, "not_found", _s(t, NOT_FOUND))
            return web.json_response(timeline_json(found, t),
                                     headers={"Cache-Control": "no-store"})

    async def _viewer(self, request: web.Request,
                      store: Store) -> tuple[Person, Translator] | web.Response:
        """The registered person the verified initData names, and their translator."""
        settings = self.services.settings
        init_data = init_data_of(request.headers.get("Authorization"))
        try:
            _, user = verify(self.token, init_data, self.services.now(),
                             timedelta(seconds=settings.board_max_age))
        except NotAuthorized as refused:
            t = self._translator(None, _unverified_language(init_data))
            return _refuse(request, 401, refused.reason, _s(t, REFUSALS[refused.reason]))
        await store.begin_reading()
        person = await store.person_by_tg(user.id)
        if person is None or not person.active:
            t = self._translator(None, user.language_code)
            return _refuse(request, 403, "unknown_user", _s(t, UNKNOWN_USER))
        return person, self._translator(person.locale, user.language_code)

    def _translator(self, person_locale: str | None, language: str | None) -> Translator:
        settings = self.services.settings
        return translator(pick_locale(person_locale, language, settings.default_locale),
                          settings.timezone)


def _refuse(request: web.Request, status: int, reason: str, message: str) -> web.Response:
    forwarded = request.headers.get("X-Forwarded-For", "").split(",", 1)[0].strip()
    log.warning("board request %s from %s refused (%d): %s", request.path,
                forwarded or request.remote or "?", status, reason)
    return web.json_response({"error": reason, "message": message}, status=status)


def _unverified_language(init_data: str | None) -> str | None:
    """The language an initData's user claims: only to word a refusal, never to trust."""
    for key, value in parse_qsl(init_data or ""):
        if key == "user":
            with contextlib.suppress(ValueError, AttributeError):
                language = json.loads(value).get("language_code")
                return language if isinstance(language, str) else None
    return None


def _filter(query: Any) -> usecase.BoardFilter:
    """The board's filters from the query string; ValueError for a bad one."""

    def number(name: str) -> int | None:
        value = query.get(name) or None
        return None if value is None else int(value)

    light = query.get("light") or None
    return usecase.BoardFilter(unit_id=number("unit"), section_id=number("section"),
                               person_id=number("person"),
                               light=Light(light) if light is not None else None)


# -- JSON -------------------------------------------------------------------------------------


def _when(t: Translator, instant: datetime | None) -> Json | None:
    return None if instant is None else {"at": instant.isoformat(), "text": t.when(instant)}


def _day(t: Translator, value: date) -> Json:
    return {"at": value.isoformat(), "text": t.day(value)}


def _counts(counter: Any) -> Json:
    return {light.value: counter.get(light, 0) for light in Light}


def board_json(board: usecase.Board, t: Translator, person: Person,
               wanted: usecase.BoardFilter, now: datetime) -> Json:
    sections = dict(board.sections)
    return {
        "locale": t.locale,
        "viewer": {"name": person.name},
        "now": _when(t, now),
        "strings": {key: _s(t, text) for key, text in PAGE_STRINGS.items()},
        "filters": {
            "units": [{"id": i, "name": name} for i, name in board.units],
            "sections": [{"id": i, "name": name} for i, name in board.sections],
            "people": [{"id": i, "name": name} for i, name in board.people],
            "lights": [light.value for light in (Light.RED, Light.YELLOW, Light.GREEN)],
        },
        "applied": {"unit": wanted.unit_id, "section": wanted.section_id,
                    "person": wanted.person_id,
                    "light": wanted.light.value if wanted.light else None},
        "steps_hidden": board.steps_hidden,
        "counts": {"projects": _counts(board.projects_by_light),
                   "steps": _counts(board.steps_by_light)},
        "groups": [{
            "unit": None if group.unit_id is None else {"id": group.unit_id,
                                                        "name": group.name},
            "sections": [{
                "section": None if section.section_id is None else {
                    "id": section.section_id,
                    "name": section.name or sections.get(section.section_id, "")},
                "projects": [_project_json(card, t) for card in section.projects],
            } for section in group.sections],
        } for group in board.groups],
    }


def _project_json(card: usecase.ProjectCard, t: Translator) -> Json:
    milestone = card.milestone
    return {
        "id": card.id,
        "code": card.code,
        "name": card.name,
        "unit": None if card.unit_id is None else {"id": card.unit_id,
                                                   "name": card.unit_name},
        "section_id": card.section_id,
        "status": card.status.value,
        "status_text": _s(t, STATUSES[card.status]),
        "light": card.light.value if card.light else None,
        "milestone": None if milestone is None else {
            "title": milestone.title, "due": _day(t, milestone.due_on),
            "light": milestone.light.value},
        "steps": [{
            "id": step.id, "case_id": step.case_id, "case_title": step.case_title,
            "query_code": step.query_code, "name": step.name,
            "due": _when(t, step.due_at), "light": step.light.value if step.light else None,
            "holders": step.holders,
        } for step in card.steps],
        "steps_more": card.steps_more,
        "steps_by_light": _counts(card.steps_by_light),
    }


def _decision_text(t: Translator, line: usecase.TimelineDecisionLine) -> str:
    key = line.decision if line.state == AssignmentState.DECIDED and line.decision else line.state
    return _s(t, DECISIONS[key]) if key in DECISIONS else str(key)


def _level_text(t: Translator, level: str) -> str:
    for prefix, text in NUDGE_LEVELS.items():
        if level.startswith(prefix):
            return _s(t, text)
    return level


def timeline_json(found: usecase.Timeline, t: Translator) -> Json:
    case = found.case
    return {
        "case": {"id": case.id, "title": case.title, "query_code": case.query_code,
                 "state": case.state, "project": {"code": case.project_code,
                                                  "name": case.project_name},
                 "submitter": found.submitter, "created": _when(t, case.created_at),
                 "closed": _when(t, case.closed_at)},
        "steps": [{
            "round": step.round, "seq": step.seq, "name": step.name,
            "state": step.state.value, "state_text": _s(t, STEP_STATES[step.state]),
            "started": _when(t, step.started_at), "due": _when(t, step.due_at),
            "closed": _when(t, step.closed_at),
            "light": step.light.value if step.light else None, "deemed": step.deemed,
            "decisions": [{"who": line.who, "text": _decision_text(t, line),
                           "reason": line.reason, "comment": line.comment,
                           "at": _when(t, line.at)} for line in step.decisions],
            "nudges": [{"who": line.who, "text": _level_text(t, line.level),
                        "at": _when(t, line.at), "sent": line.sent, "late": line.late}
                       for line in step.nudges],
        } for step in found.steps],
    }

