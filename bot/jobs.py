"""Timed work: the deadline sweep (yellow and red nudges)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError

from bot.delivery import send_to_person
from bot.domain import nudging
from bot.domain.vocabulary import AssignmentState, StepState
from bot.services import Services
from bot.views.cards import nudge_text
from storage.db import SessionFactory
from storage.models import Chat, Person
from storage.store import Store

log = logging.getLogger(__name__)
SWEEP_JOB_ID = "deadline-sweep"


@dataclass
class SweepResult:
    sent: int = 0
    failed: int = 0


class Jobs:
    def __init__(self, bot: Bot, sessions: SessionFactory, services: Services) -> None:
        self.bot, self.sessions, self.services = bot, sessions, services

    async def sweep(self) -> SweepResult:
        """Claim what is due, then deliver each nudge and record how it went out."""
        result = SweepResult()
        services = self.services
        async with self.sessions() as session:
            store = Store(session)
            now = services.now()
            for planned in await nudging.plan(store, now, services.calendar, services.policy):
                try:
                    await self._deliver(store, planned)
                    result.sent += 1
                except TelegramAPIError as exc:  # one failure must not stop the sweep
                    log.warning("nudge %s not sent (%s); a later sweep retries it",
                                planned.nudge.id, exc)
                    planned.nudge.error = str(exc)[:255]
                    await store.save(planned.nudge)
                    await store.commit()
                    result.failed += 1
        return result

    async def _deliver(self, store: Store, planned: nudging.PlannedNudge) -> None:
        rendering = self.services.rendering
        assert planned.step.id is not None
        waiting = []
        if planned.step.state == StepState.OPEN:
            for a in await store.assignments(planned.step.id):
                person = await store.get(Person, a.person_id)
                if a.state == AssignmentState.PENDING and person is not None:
                    waiting.append(person.name)
        chat = await store.get(Chat, planned.project.chat_id) if planned.project.chat_id else None
        text = nudge_text(rendering.for_person(planned.person), planned, waiting)
        group_text = nudge_text(rendering.for_group(), planned, waiting)
        delivered = await send_to_person(
            self.bot, store, planned.person, text,
            group_chat_id=chat.tg_chat_id if chat else None, group_text=group_text)
        await nudging.mark_sent(store, planned.nudge, channel=delivered.channel,
                                at=self.services.now(), error=delivered.error)
