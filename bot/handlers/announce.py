"""After a decision: every card brought up to date, and the submitter told."""

from __future__ import annotations

from aiogram import Bot

from bot.delivery import send_to_person
from bot.domain.approvals import case_view
from bot.domain.people import Actor
from bot.domain.vocabulary import CaseState
from bot.publishing import refresh_cards
from bot.services import Services
from bot.views.cards import decision_notice
from storage.store import Store


async def announce_decision(bot: Bot, store: Store, services: Services, case_id: int,
                            actor: Actor) -> None:
    """Bring every card up to date and tell the submitter what was decided."""
    view = await case_view(store, case_id, services.now(), services.calendar, services.policy)
    await refresh_cards(bot, store, view, services.rendering)
    if view.case.state == CaseState.PENDING or view.submitter.id == actor.id:
        return
    submitter = view.submitter
    t = services.rendering.for_person(submitter)
    await send_to_person(bot, store, submitter, decision_notice(t, view), group_chat_id=None)
    await store.commit()
