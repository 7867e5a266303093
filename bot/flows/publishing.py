"""Case cards kept true: one in the project group, one per open turn in private, CC copies.

After every change :func:`sync_cards` does three things, in this order:
1. every pending turn that has no card yet gets one: a private card with its buttons, or,
   when Telegram refuses a private message (403), a mention in the project group;
2. CC recipients of the open step and, when the case waits on a supplement, the submitter
   get their copy;
3. every existing card is re-rendered and edited only if what it shows would change
   (Telegram refuses an edit to identical content), so stale buttons disappear at once.

A deadline reminder to someone who holds a turn carries the buttons of their private card;
it is kept as a card of its own kind, whose text stays as sent and whose buttons go with
the turn, like the card's.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from aiogram import Bot
from aiogram.types import InlineKeyboardMarkup, Message, ReplyParameters
from markupsafe import Markup
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.domain.rules.vocabulary import CardKind, CaseState, Channel
from bot.domain.usecases.case_view import CaseView, case_view
from bot.flows.delivery import edit_buttons, edit_text, send_private
from bot.i18n import Rendering, Translator
from bot.locks import KeyedLocks
from bot.services import Services
from bot.views.cards import shown_hash
from bot.views.case_card import (
    case_card,
    group_keyboard,
    mention_text,
    outcome_notice,
    submitter_keyboard,
    turn_keyboard,
)
from bot.views.text import mention
from storage.models import Assignment, Card, Chat, Person, Step
from storage.store import Store

log = logging.getLogger(__name__)

_NO_BUTTONS = shown_hash("", None)  # a reminder whose turn is over (it never reopens)
_NEVER_EDITED = frozenset({CardKind.NOTICE, CardKind.OUTCOME})  # told once, kept as said
_CARDS_LOCK_SPACE = 0x67726E63  # "grnc": PostgreSQL advisory locks (space, case id) for cards


def reply_to_message(message_id: int | None) -> ReplyParameters | None:
    """Reply to a message, or send plainly if it was deleted meanwhile."""
    if message_id is None:
        return None
    return ReplyParameters(message_id=message_id, allow_sending_without_reply=True)


def _render(kind: CardKind, t: Translator, view: CaseView,
            card: Card | None) -> tuple[Markup, InlineKeyboardMarkup | None]:
    text = case_card(t, view)
    if kind == CardKind.GROUP:
        return text, group_keyboard(t, view)
    if kind == CardKind.PRIVATE:
        return text, turn_keyboard(t, view, card)
    if kind == CardKind.SUBMITTER:
        notice = outcome_notice(t, view) if view.state is CaseState.SUPPLEMENT else None
        shown = Markup("{}\n\n{}").format(notice, text) if notice else text
        return shown, submitter_keyboard(t, view)
    return text, None  # a CC copy


async def publish_case(bot: Bot, store: Store, services: Services, case_id: int, *,
                       group_chat_id: int, reply_to: int | None) -> None:
    """Post the group card of a new case (under the message that submitted it), then send
    every card it needs."""
    async with _cards_of(store, case_id):
        await _sync(bot, store, services, case_id, None, True,
                    GroupPost(group_chat_id, reply_to))


async def sync_cards(bot: Bot, store: Store, services: Services, case_id: int, *,
                     view: CaseView | None = None, announce: bool = True) -> CaseView:
    """Bring every card of the case up to date; the case as its cards now show it."""
    async with _cards_of(store, case_id):
        return await _sync(bot, store, services, case_id, view, announce, None)


@dataclass(frozen=True)
class GroupPost:
    """Where a new case's group card goes: the chat it was submitted in, under its message."""

    chat_id: int
    reply_to: int | None = None


async def _sync(bot: Bot, store: Store, services: Services, case_id: int,
                view: CaseView | None, announce: bool, post: GroupPost | None) -> CaseView:
    rendering = services.rendering
    if view is None:
        view = await case_view(store, case_id, services.now(), services.calendar,
                               services.policy)
    changes = view.case.changes  # what this sync shows: a change after it is shown later
    cards = await _drop_cut_short(store, await store.cards(case_id))
    group = next((c for c in cards if c.kind == CardKind.GROUP), None)
    if announce and group is None:
        post = post or await _project_group(store, view)
        if post is not None:
            group = await _post_group_card(bot, store, rendering, view, post)
    # Who was already told: a turn by its private card or group mention; a return by the
    # submitter's card or, when private messages are refused, a notice in the group.
    turns_told = {(c.assignment_id, c.turn_version) for c in cards
                  if c.kind in (CardKind.PRIVATE, CardKind.MENTION)}
    returns_told = {c.assignment_id for c in cards
                    if c.kind in (CardKind.SUBMITTER, CardKind.NOTICE)}
    sent = False  # a card was claimed (kept or withdrawn): the list is read again
    current = view.current
    if announce and current is not None and view.state is CaseState.PENDING:
        for held in current.pending():
            if (held.assignment.id, held.assignment.version) not in turns_told:
                await _announce_turn(bot, store, rendering, view, held.assignment,
                                     held.person, group)
                sent = True
        copied = {c.person_id for c in cards
                  if c.kind is CardKind.CC and c.step_id == current.step.id}
        for person in current.cc:
            if person.id not in copied:
                await _send_card(bot, store, rendering, view, CardKind.CC, person,
                                 step_id=current.step.id)
                sent = True
    if announce and view.state is CaseState.SUPPLEMENT:
        returned = _returning_assignment(view)
        if returned is not None and returned not in returns_told:
            await _send_card(bot, store, rendering, view, CardKind.SUBMITTER, view.submitter,
                             assignment_id=returned, group=group)
            sent = True
    if announce and view.state is CaseState.APPROVED and not any(
            c.kind is CardKind.OUTCOME for c in cards):
        await _tell_approved(bot, store, services, view, group)
    if sent:
        cards = await store.cards(case_id)
    await _edit_cards(bot, store, rendering, view, cards)
    if announce:
        await store.mark_shown(case_id, changes)
    return view


async def _drop_cut_short(store: Store, cards: list[Card]) -> list[Card]:
    """Claims without a message, found under the case's lock, were being sent by a process
    that stopped: withdrawn, so they are sent again. Telegram may have taken one before the
    process stopped, and has no way to ask: such a card may arrive twice, and is logged."""
    cut_short = [c for c in cards if c.tg_message_id is None]
    for card in cut_short:
        log.warning("card %s (%s) of case %s was being sent when a process stopped: sent "
                    "again, it may arrive twice", card.id, card.kind, card.case_id)
        await store.delete(card)
    if not cut_short:
        return cards
    await store.commit()
    return [c for c in cards if c.tg_message_id is not None]


async def _project_group(store: Store, view: CaseView) -> GroupPost | None:
    """The project's group, for a group card a stopped process never posted."""
    chat = await store.get(Chat, view.project.chat_id) if view.project.chat_id else None
    return GroupPost(chat.tg_chat_id) if chat is not None else None


async def _post_group_card(bot: Bot, store: Store, rendering: Rendering, view: CaseView,
                           post: GroupPost) -> Card:
    """The case's card in the group, claimed before it is sent like every card."""
    text, markup = _render(CardKind.GROUP, rendering.for_group(), view, None)
    claim = Card(case_id=view.case.id, tg_chat_id=post.chat_id, tg_message_id=None,
                 kind=CardKind.GROUP)
    await store.save(claim)
    async with _withdrawn_on_failure(store, claim):
        message = await bot.send_message(post.chat_id, text, reply_markup=markup,
                                         reply_parameters=reply_to_message(post.reply_to))
    _record(claim, CardKind.GROUP, message, shown_hash(text, markup))
    await store.flush()
    return claim


async def _edit_cards(bot: Bot, store: Store, rendering: Rendering, view: CaseView,
                      cards: list[Card]) -> None:
    """Re-render every card and edit those whose content would change, all at once (each
    chat waits only for its own pace); what Telegram took is recorded after the edits, in
    one write."""
    people = _people_in(view)
    missing = {c.person_id for c in cards if c.person_id and c.person_id not in people}
    if missing:
        people.update(await store.by_ids(Person, sorted(missing)))
    edits: list[tuple[Card, str, Callable[[], Awaitable[bool]]]] = []
    for card in cards:
        if card.kind in _NEVER_EDITED or card.tg_message_id is None or (
                card.kind == CardKind.REMINDER and card.shown_hash == _NO_BUTTONS):
            continue  # never edited, still being sent, or nothing left to take away
        if card.kind == CardKind.MENTION:  # "… waits for you" until the turn is over
            text = mention_text(rendering.for_group(), view, card.assignment_id,
                                card.turn_version)
            key = shown_hash(text, None)
            if key != card.shown_hash and card.shown_hash:
                edits.append((card, key, partial(edit_text, bot, card.tg_chat_id,
                                                 card.tg_message_id, text, None)))
            continue
        owner = people.get(card.person_id) if card.person_id else None
        t = rendering.for_person(owner) if owner else rendering.for_group()
        if card.kind == CardKind.REMINDER:
            buttons = turn_keyboard(t, view, card)
            key = shown_hash("", buttons)
            if key != card.shown_hash:
                edits.append((card, key, partial(edit_buttons, bot, card.tg_chat_id,
                                                         card.tg_message_id, buttons)))
            continue
        text, markup = _render(card.kind, t, view, card)
        key = shown_hash(text, markup)
        if key != card.shown_hash:
            edits.append((card, key, partial(edit_text, bot, card.tg_chat_id,
                                                     card.tg_message_id, text, markup)))
    if not edits:
        return
    await store.commit()  # before the edits run side by side: none of them may commit it
    taken = await asyncio.gather(*(edit() for _, _, edit in edits))
    for (card, key, _), ok in zip(edits, taken, strict=True):
        if ok:
            card.shown_hash = key
        else:
            await store.delete(card)
    await store.flush()


def _people_in(view: CaseView) -> dict[int, Person]:
    """Everyone the read model already holds: the cards' owners are almost always among them."""
    found = [view.submitter]
    for step in view.steps:
        found += step.cc
        for lane in step.lanes:
            for held in lane.assignments:
                found.append(held.person)
                if held.on_behalf_of is not None:
                    found.append(held.on_behalf_of)
    return {p.id: p for p in found}


@asynccontextmanager
async def _cards_of(store: Store, case_id: int) -> AsyncIterator[None]:
    """One card update per case at a time: two decisions on one case at the same moment (both
    lanes of a joint step) must not both announce the step that opened, nor leave a card
    showing the older state. The update's work is committed first, so the wait holds no
    transaction; within a process an asyncio lock serializes, across PostgreSQL processes a
    session-level advisory lock on a connection of its own."""
    await store.commit()
    async with _case_locks(case_id):
        engine = store.session.bind
        if not isinstance(engine, AsyncEngine) or engine.dialect.name != "postgresql":
            yield
            return
        key = {"space": _CARDS_LOCK_SPACE, "case_id": case_id}
        async with engine.connect() as holder:
            await holder.execute(text("SELECT pg_advisory_lock(:space, :case_id)"), key)
            await holder.commit()
            try:
                yield
            finally:
                await holder.execute(text("SELECT pg_advisory_unlock(:space, :case_id)"), key)
                await holder.commit()


_case_locks = KeyedLocks()


async def _announce_turn(bot: Bot, store: Store, rendering: Rendering, view: CaseView,
                         assignment: Assignment, person: Person, group: Card | None
                         ) -> None:
    """A new (or reopened) turn: a private card, or a mention under the group card when a
    private message is refused."""
    claim = await _send_card(bot, store, rendering, view, CardKind.PRIVATE, person,
                             assignment_id=assignment.id, turn_version=assignment.version)
    if claim.tg_message_id is not None:
        return
    if group is None or group.tg_message_id is None:
        await _withdraw(store, claim)
        return
    text = mention_text(rendering.for_group(), view, assignment.id, assignment.version)
    async with _withdrawn_on_failure(store, claim):
        message = await bot.send_message(
            group.tg_chat_id, text, reply_parameters=reply_to_message(group.tg_message_id))
    _record(claim, CardKind.MENTION, message, shown_hash(text, None))
    await store.flush()


async def _send_card(bot: Bot, store: Store, rendering: Rendering, view: CaseView, kind: CardKind,
                     person: Person, *, assignment_id: int | None = None,
                     turn_version: int = 0, step_id: int | None = None,
                     group: Card | None = None) -> Card:
    """Send a card privately; the card is recorded (claimed) before it is sent, so a second
    update of the case cannot send it again. The claim comes back without a message id when
    the person cannot be written to privately (for the caller to fall back on the group)."""
    t = rendering.for_person(person)
    claim = Card(case_id=view.case.id, tg_chat_id=person.tg_user_id or 0,
                 tg_message_id=None, person_id=person.id, kind=kind,
                 assignment_id=assignment_id, step_id=step_id, turn_version=turn_version)
    text, markup = _render(kind, t, view, claim)
    await store.save(claim)
    async with _withdrawn_on_failure(store, claim):
        delivered = await send_private(bot, store, person, text, markup)
        if delivered.channel == Channel.PRIVATE and delivered.message is not None:
            _record(claim, kind, delivered.message, shown_hash(text, markup))
        elif kind == CardKind.SUBMITTER and group is not None and group.tg_message_id is not None:
            notice = outcome_notice(rendering.for_group(), view) or ""  # must hear of a return
            message = await bot.send_message(
                group.tg_chat_id, Markup("{}\n{}").format(mention(person), notice),
                reply_parameters=reply_to_message(group.tg_message_id))
            _record(claim, CardKind.NOTICE, message)
        elif kind != CardKind.PRIVATE:
            await _withdraw(store, claim)  # tried again at the next change, cheaply
            return claim
    await store.flush()
    return claim


def _record(claim: Card, kind: CardKind, message: Message, shown: str = "") -> None:
    claim.kind, claim.shown_hash = kind, shown
    claim.tg_chat_id, claim.tg_message_id = message.chat.id, message.message_id


async def _withdraw(store: Store, claim: Card) -> None:
    await store.delete(claim)
    await store.flush()


@asynccontextmanager
async def _withdrawn_on_failure(store: Store, claim: Card) -> AsyncIterator[None]:
    """A card Telegram did not take is not recorded as sent: the next change retries it."""
    try:
        yield
    except Exception:
        await store.rollback()
        if inspect(claim).persistent:
            await _withdraw(store, claim)
            await store.commit()
        raise


async def reminder_buttons(store: Store, services: Services, person: Person,
                           turn: Assignment) -> tuple[Card, InlineKeyboardMarkup] | None:
    """The buttons of ``person``'s private card for this turn, for a deadline reminder, with
    the card that keeps them true once the reminder is sent (:func:`keep_reminder`); None
    when the turn is over."""
    step = await store.get(Step, turn.step_id)
    if step is None:
        return None
    view = await case_view(store, step.case_id, services.now(), services.calendar,
                           services.policy)
    draft = Card(case_id=step.case_id, tg_chat_id=0, tg_message_id=0, person_id=person.id,
                 kind=CardKind.REMINDER, assignment_id=turn.id, turn_version=turn.version)
    markup = turn_keyboard(services.rendering.for_person(person), view, draft)
    return None if markup is None else (draft, markup)


def keep_reminder(store: Store, draft: Card, markup: InlineKeyboardMarkup,
                  message: Message) -> None:
    """Note a reminder sent with its buttons, so that :func:`sync_cards` removes them when
    the turn is over."""
    draft.tg_chat_id, draft.tg_message_id = message.chat.id, message.message_id
    draft.shown_hash = shown_hash("", markup)
    store.add(draft)


def _returning_assignment(view: CaseView) -> int | None:
    """The decision that sent the case back to its submitter (the newest return)."""
    returns = [h.assignment for s in view.steps for lane in s.lanes for h in lane.assignments
               if h.assignment.decision == "return" and h.assignment.decided_at is not None]
    if not returns:
        return None
    newest = max(returns, key=lambda a: (a.decided_at or datetime.min, a.id or 0))
    return newest.id


async def _tell_approved(bot: Bot, store: Store, services: Services, view: CaseView,
                         group: Card | None) -> None:
    """Tell the submitter their case is approved, once (returns reach them through their
    card): privately, else by a mention in the project group."""
    notice = outcome_notice(services.rendering.for_person(view.submitter), view)
    if not notice:
        return
    claim = Card(case_id=view.case.id, tg_chat_id=view.submitter.tg_user_id or 0,
                 tg_message_id=None, person_id=view.submitter.id, kind=CardKind.OUTCOME)
    await store.save(claim)
    async with _withdrawn_on_failure(store, claim):
        delivered = await send_private(bot, store, view.submitter, notice)
        if delivered.channel == Channel.PRIVATE and delivered.message is not None:
            _record(claim, CardKind.OUTCOME, delivered.message)
        elif group is not None and group.tg_message_id is not None:
            notice = outcome_notice(services.rendering.for_group(), view)
            message = await bot.send_message(
                group.tg_chat_id, Markup("{} {}").format(mention(view.submitter), notice))
            _record(claim, CardKind.OUTCOME, message)
        else:
            await _withdraw(store, claim)  # nobody to tell: tried again at the next change
            return
    await store.flush()
