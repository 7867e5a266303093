"""Case cards: one in the project group, one in each assignee's private chat, kept true.

Every card is re-rendered after each decision; a card whose text and buttons would not
change is not edited (Telegram refuses such an edit), and buttons disappear as soon as
the person (or, on the group card, everyone) has nothing left to decide.
"""

from __future__ import annotations

from aiogram import Bot
from aiogram.types import InlineKeyboardMarkup, ReplyParameters

from bot.delivery import PRIVATE, edit_text, send_private
from bot.domain.approvals import CaseView
from bot.domain.vocabulary import CaseState
from bot.i18n import Rendering, Translator
from bot.views.cards import case_card, shown_hash
from bot.views.keyboards import decision_keyboard
from storage.models import Card, Person
from storage.store import Store

GROUP_CARD, PRIVATE_CARD = "group", "private"


def reply_to_message(message_id: int | None) -> ReplyParameters | None:
    """Reply to a message, or send plainly if it was deleted meanwhile."""
    if message_id is None:
        return None
    return ReplyParameters(message_id=message_id, allow_sending_without_reply=True)


def _buttons(t: Translator, view: CaseView, person: Person | None) -> InlineKeyboardMarkup | None:
    """Decision buttons while the step is open; on a private card only for its owner's turn."""
    current = view.current
    if view.case.state != CaseState.PENDING or current is None or current.step.id is None:
        return None
    undecided = [a for a in current.assignments if a.assignment.decision is None]
    if person is not None and all(a.person.id != person.id for a in undecided):
        return None
    return decision_keyboard(t, current.step.id) if undecided else None


async def publish_case(bot: Bot, store: Store, view: CaseView, *, group_chat_id: int,
                       reply_to: int | None, rendering: Rendering) -> None:
    """Post the group card, then a private card to each assignee who can get one."""
    assert view.case.id is not None
    t = rendering.for_group()
    text, markup = case_card(t, view), _buttons(t, view, None)
    message = await bot.send_message(group_chat_id, text, reply_markup=markup,
                                     reply_parameters=reply_to_message(reply_to))
    store.add(Card(case_id=view.case.id, tg_chat_id=group_chat_id,
                   tg_message_id=message.message_id, kind=GROUP_CARD,
                   shown_hash=shown_hash(text, markup)))
    current = view.current
    for assignee in current.assignments if current else []:
        person = assignee.person
        t = rendering.for_person(person)
        text, markup = case_card(t, view), _buttons(t, view, person)
        delivered = await send_private(bot, store, person, text, markup)
        if delivered.channel == PRIVATE and delivered.message is not None:
            store.add(Card(case_id=view.case.id, tg_chat_id=delivered.message.chat.id,
                           tg_message_id=delivered.message.message_id, person_id=person.id,
                           kind=PRIVATE_CARD, shown_hash=shown_hash(text, markup)))
    await store.commit()


async def refresh_cards(bot: Bot, store: Store, view: CaseView, rendering: Rendering) -> int:
    """Edit every card of the case to what it should show now; returns how many changed."""
    assert view.case.id is not None
    changed = 0
    for card in await store.cards(view.case.id):
        person = await store.get(Person, card.person_id) if card.person_id else None
        t = rendering.for_person(person) if person else rendering.for_group()
        text, markup = case_card(t, view), _buttons(t, view, person)
        key = shown_hash(text, markup)
        if key == card.shown_hash:
            continue
        if await edit_text(bot, card.tg_chat_id, card.tg_message_id, text, markup):
            card.shown_hash = key
            changed += 1
        else:
            await store.delete(card)
    await store.commit()
    return changed

