"""Submitting items and deciding them from the cards' buttons."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject
from aiogram.fsm.scene import ScenesManager
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot.domain.rules.errors import (
    BadReturnTarget,
    CaseClosed,
    NotAllowed,
    StaleCard,
    UnknownButton,
)
from bot.domain.rules.vocabulary import CaseState, Decision
from bot.domain.usecases.approvals import (
    ACTIVE,
    add_signer,
    check_press,
    decide,
    own_case,
    withdraw,
)
from bot.domain.usecases.people import Actor, require_actor, require_submitter
from bot.flows.announce import announce
from bot.flows.context import GROUP_TYPES, files_of, project_here
from bot.i18n import Translator
from bot.scenarios.decision_comment import ApproveCommentScene
from bot.scenarios.resubmit import ResubmitScene
from bot.scenarios.return_reason import ReturnReasonScene
from bot.scenarios.submit import SubmitScene, file_dicts
from bot.scenarios.transfer_reason import TransferReasonScene
from bot.services import Services
from bot.views.keyboards import CaseCb, DecideCb, PeopleCb, ReturnToCb, TypeCb
from bot.views.text import esc, localized
from storage.models import Assignment, Person, Step
from storage.store import Store

PEOPLE_PER_PAGE = 8


async def submit_command(message: Message, command: CommandObject, actor: Actor | None,
                         store: Store, scenes: ScenesManager) -> None:
    """``/submit [title]``; a document or photo may come with it or in the message replied to."""
    assert message.from_user is not None
    actor = require_actor(actor, message.from_user.id)
    project = await project_here(store, message)
    await require_submitter(store, actor, project)
    files = files_of(message) or files_of(message.reply_to_message)
    await scenes.enter(SubmitScene, title=command.args or "", files=file_dicts(files),
                       project_id=project.id)


async def submit_in_private(message: Message, actor: Actor | None, store: Store) -> None:
    assert message.from_user is not None
    require_actor(actor, message.from_user.id)
    await project_here(store, message)  # refuses: items are submitted in the project's group


async def someone_elses_form(query: CallbackQuery, t: Translator) -> None:
    await query.answer(t.gettext("This question is for whoever sent /submit."), show_alert=True)


async def on_decision(query: CallbackQuery, callback_data: DecideCb, actor: Actor | None,
                      store: Store, services: Services, bot: Bot, t: Translator,
                      scenes: ScenesManager) -> None:
    actor = require_actor(actor, query.from_user.id)
    decision = callback_data.decision
    if decision is None:
        raise UnknownButton()
    step_id = callback_data.step
    if callback_data.act == "c":
        await check_press(store, actor, step_id)
        await query.answer(t.gettext("Please reply with your comment."))
        await scenes.enter(ApproveCommentScene, step_id=step_id)
        return
    if decision is Decision.RETURN:
        step, _ = await check_press(store, actor, step_id)
        if step.seq > 1 and isinstance(query.message, Message):
            await query.answer()
            await query.message.answer(t.gettext("Return it to whom?"),
                                       reply_markup=await _return_targets(store, t, step))
            return
        await query.answer(t.gettext("Please reply with the reason for returning it."))
        await scenes.enter(ReturnReasonScene, step_id=step_id, return_to=0)
        return
    outcome = await decide(store, actor, step_id, decision, now=services.now(),
                           calendar=services.calendar, policy=services.policy)
    await query.answer(t.gettext("✅ Approved. Thank you."))
    await announce(bot, store, services, outcome)


async def _return_targets(store: Store, t: Translator, step: Step) -> InlineKeyboardMarkup:
    assert step.id is not None
    rows = [[InlineKeyboardButton(text=t.gettext("↩️ To the handler, for a supplement"),
                                  callback_data=ReturnToCb(step=step.id, to=0).pack())]]
    earlier = await store.all(Step, order_by=Step.seq, case_id=step.case_id, round=step.round)
    for other in earlier:
        if other.seq < step.seq:
            rows.append([InlineKeyboardButton(
                text=t.gettext("↩️ Back to “{step}”").format(
                    step=localized(t, other.name, other.name_en)),
                callback_data=ReturnToCb(step=step.id, to=other.seq).pack())])
    return InlineKeyboardMarkup(inline_keyboard=rows)


async def on_return_target(query: CallbackQuery, callback_data: ReturnToCb, actor: Actor | None,
                           store: Store, t: Translator, scenes: ScenesManager) -> None:
    actor = require_actor(actor, query.from_user.id)
    step, _ = await check_press(store, actor, callback_data.step)
    # Refused at the press (a forged target: this step or a later one), not after the
    # reason is typed.
    if not 0 <= callback_data.to < step.seq:
        raise BadReturnTarget()
    await query.answer(t.gettext("Please reply with the reason for returning it."))
    # Editing a message that has no buttons (left) fails with "message is not modified".
    if isinstance(query.message, Message) and query.message.reply_markup is not None:
        await query.message.edit_reply_markup(reply_markup=None)
    await scenes.enter(ReturnReasonScene, step_id=callback_data.step,
                       return_to=callback_data.to)


async def on_case_button(query: CallbackQuery, callback_data: CaseCb, actor: Actor | None,
                         store: Store, services: Services, bot: Bot, t: Translator,
                         scenes: ScenesManager) -> None:
    """The submitter's buttons: withdraw (asked to confirm first) and resubmit."""
    actor = require_actor(actor, query.from_user.id)
    case = await own_case(store, actor, callback_data.case)
    if callback_data.act == "s":
        if case.state == CaseState.PENDING:
            # An old 📤 pressed after the case was resubmitted: out of date, not closed.
            raise StaleCard()
        if case.state != CaseState.SUPPLEMENT:
            raise CaseClosed(state=case.state)
        await query.answer(t.gettext("Please reply with the supplement."))
        await scenes.enter(ResubmitScene, case_id=case.id)
        return
    if callback_data.act == "w":
        if case.state not in (CaseState.PENDING, CaseState.SUPPLEMENT):
            raise CaseClosed(state=case.state)
        await query.answer()
        if isinstance(query.message, Message):
            await query.message.answer(
                t.gettext("Withdraw #{id} “{title}”? This cannot be undone.").format(
                    id=case.id, title=esc(case.title)),
                reply_markup=InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(
                    text=t.gettext("🗑 Yes, withdraw it"),
                    callback_data=CaseCb(case=callback_data.case, act="W").pack())]]))
        return
    if callback_data.act == "W":
        outcome = await withdraw(store, actor, callback_data.case, now=services.now())
        await query.answer(t.gettext("🗑 Withdrawn."))
        if isinstance(query.message, Message):
            await query.message.edit_text(t.gettext("🗑 #{id} withdrawn.").format(id=case.id))
        await announce(bot, store, services, outcome)
        return
    raise UnknownButton()


async def on_people(query: CallbackQuery, callback_data: PeopleCb, actor: Actor | None,
                    store: Store, services: Services, bot: Bot, t: Translator,
                    scenes: ScenesManager) -> None:
    """Transfer (t) or add a signer (s): pick a colleague, then a reason or a position."""
    actor = require_actor(actor, query.from_user.id)
    step, mine = await check_press(store, actor, callback_data.step)
    if callback_data.act not in ("t", "s"):
        raise UnknownButton()
    if not isinstance(query.message, Message):
        raise UnknownButton()
    if callback_data.person == 0:
        markup = await _people_page(store, t, callback_data, actor, mine)
        await query.answer()
        title = (t.gettext("Hand your turn to whom?") if callback_data.act == "t"
                 else t.gettext("Who else must approve?"))
        if query.message.text in (t.gettext("Hand your turn to whom?"),
                                  t.gettext("Who else must approve?")):
            await query.message.edit_reply_markup(reply_markup=markup)
        else:
            await query.message.answer(title, reply_markup=markup)
        return
    # Refused at the press (the checks transfer/add_signer make), not after the reason is
    # typed or the position pressed.
    person = await store.get(Person, callback_data.person)
    if person is None or not person.active:
        raise NotAllowed(action="unknown_person")
    if person.id == actor.id:
        raise NotAllowed(action="self")
    if any(a.person_id == person.id and a.lane_id == mine.lane_id and a.state in ACTIVE
           for a in await store.assignments(step.id)):  # type: ignore[arg-type]
        raise NotAllowed(action="already_assigned")
    name = esc(person.name)
    if callback_data.act == "t":
        await query.answer(t.gettext("Please reply with the reason."))
        await query.message.edit_text(t.gettext("🔁 To {who}").format(who=name))
        await scenes.enter(TransferReasonScene, step_id=step.id, person_id=callback_data.person)
        return
    if callback_data.pos not in ("b", "a"):
        await query.answer()
        await query.message.edit_text(
            t.gettext("➕ {who}: before or after you?").format(who=name),
            reply_markup=InlineKeyboardMarkup(inline_keyboard=[[
                InlineKeyboardButton(text=t.gettext("Before me"), callback_data=PeopleCb(
                    step=callback_data.step, act="s", person=callback_data.person,
                    pos="b").pack()),
                InlineKeyboardButton(text=t.gettext("After me"), callback_data=PeopleCb(
                    step=callback_data.step, act="s", person=callback_data.person,
                    pos="a").pack()),
            ]]))
        return
    before = callback_data.pos == "b"
    outcome = await add_signer(store, actor, callback_data.step, callback_data.person,
                               before=before, now=services.now(), calendar=services.calendar)
    await query.answer(t.gettext("➕ Added."))
    await query.message.edit_text(
        (t.gettext("➕ {who} approves before you; your turn comes after.") if before
         else t.gettext("➕ {who} approves after you.")).format(who=name))
    await announce(bot, store, services, outcome)


async def _people_page(store: Store, t: Translator, data: PeopleCb, actor: Actor,
                       mine: Assignment) -> InlineKeyboardMarkup:
    """Colleagues who could take the turn, a page at a time."""
    busy = {a.person_id for a in await store.assignments(data.step)
            if a.lane_id == mine.lane_id and a.state in ("pending", "waiting")}
    people = [p for p in await store.all(Person, order_by=Person.id, active=True)
              if p.id not in busy and p.id != actor.id and p.tg_user_id is not None
              and await store.roles_of(p.id)]  # type: ignore[arg-type]
    pages = max(1, -(-len(people) // PEOPLE_PER_PAGE))
    page = min(max(data.page, 0), pages - 1)
    shown = people[page * PEOPLE_PER_PAGE:(page + 1) * PEOPLE_PER_PAGE]
    rows = [[InlineKeyboardButton(text=p.name, callback_data=PeopleCb(
        step=data.step, act=data.act, person=p.id or 0).pack())] for p in shown]
    paging = []
    if page > 0:
        paging.append(InlineKeyboardButton(text="◀", callback_data=PeopleCb(
            step=data.step, act=data.act, page=page - 1).pack()))
    if page < pages - 1:
        paging.append(InlineKeyboardButton(text="▶", callback_data=PeopleCb(
            step=data.step, act=data.act, page=page + 1).pack()))
    if paging:
        rows.append(paging)
    return InlineKeyboardMarkup(inline_keyboard=rows)


def build_router() -> Router:
    router = Router(name="approvals")
    router.message.register(submit_command, Command("submit"), F.chat.type.in_(GROUP_TYPES))
    router.message.register(submit_in_private, Command("submit"))
    router.callback_query.register(on_decision, DecideCb.filter())
    router.callback_query.register(on_return_target, ReturnToCb.filter())
    router.callback_query.register(on_case_button, CaseCb.filter())
    router.callback_query.register(on_people, PeopleCb.filter())
    router.callback_query.register(someone_elses_form, TypeCb.filter())
    return router

