"""Submitting items and deciding them from the cards' buttons."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject
from aiogram.fsm.scene import ScenesManager
from aiogram.types import CallbackQuery, Message

from bot.domain.rules.errors import BadReturnTarget, CaseClosed, StaleCard, UnknownButton
from bot.domain.rules.vocabulary import CaseState, Decision
from bot.domain.usecases.approvals import add_signer, check_press, decide, own_case, withdraw
from bot.domain.usecases.colleagues import check_candidate, turn_candidates
from bot.domain.usecases.people import Actor, require_actor, require_submitter
from bot.flows.announce import announce
from bot.flows.context import GROUP_TYPES, files_of, project_here
from bot.i18n import N_, Translator
from bot.scenarios.decision_comment import ApproveCommentScene
from bot.scenarios.resubmit import ResubmitScene
from bot.scenarios.return_reason import ReturnReasonScene
from bot.scenarios.submit import SubmitScene, file_dicts
from bot.scenarios.transfer_reason import TransferReasonScene
from bot.services import Services
from bot.views.keyboards import (
    CaseAct,
    CaseCb,
    DecideAct,
    DecideCb,
    PeopleAct,
    PeopleCb,
    ReturnToCb,
    SignerPos,
    TypeCb,
    confirm_withdraw_keyboard,
    people_keyboard,
    return_targets_keyboard,
    signer_position_keyboard,
)
from bot.views.text import esc
from storage.models import Person
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


async def on_approve(query: CallbackQuery, callback_data: DecideCb, actor: Actor | None,
                     store: Store, services: Services, bot: Bot, t: Translator) -> None:
    actor = require_actor(actor, query.from_user.id)
    outcome = await decide(store, actor, callback_data.step, Decision.APPROVE,
                           now=services.now(), calendar=services.calendar,
                           policy=services.policy)
    await query.answer(t.gettext("✅ Approved. Thank you."))
    await announce(bot, store, services, outcome)


async def on_approve_with_comment(query: CallbackQuery, callback_data: DecideCb,
                                  actor: Actor | None, store: Store, t: Translator,
                                  scenes: ScenesManager) -> None:
    actor = require_actor(actor, query.from_user.id)
    await check_press(store, actor, callback_data.step)
    await query.answer(t.gettext("Please reply with your comment."))
    await scenes.enter(ApproveCommentScene, step_id=callback_data.step)


async def on_return(query: CallbackQuery, callback_data: DecideCb, actor: Actor | None,
                    store: Store, t: Translator, scenes: ScenesManager) -> None:
    """↩️ Asks where to when there are earlier steps, else the reason (to the handler)."""
    actor = require_actor(actor, query.from_user.id)
    step, _ = await check_press(store, actor, callback_data.step)
    if step.seq > 1 and isinstance(query.message, Message):
        earlier = [other for other in await store.round_steps(step.case_id, step.round)
                   if other.seq < step.seq]
        await query.answer()
        await query.message.answer(t.gettext("Return it to whom?"),
                                   reply_markup=return_targets_keyboard(t, step, earlier))
        return
    await query.answer(t.gettext("Please reply with the reason for returning it."))
    await scenes.enter(ReturnReasonScene, step_id=callback_data.step, return_to=0)


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


async def on_resubmit(query: CallbackQuery, callback_data: CaseCb, actor: Actor | None,
                      store: Store, t: Translator, scenes: ScenesManager) -> None:
    actor = require_actor(actor, query.from_user.id)
    case = await own_case(store, actor, callback_data.case)
    if case.state == CaseState.PENDING:
        # An old 📤 pressed after the case was resubmitted: out of date, not closed.
        raise StaleCard()
    if case.state != CaseState.SUPPLEMENT:
        raise CaseClosed(state=case.state)
    await query.answer(t.gettext("Please reply with the supplement."))
    await scenes.enter(ResubmitScene, case_id=case.id)


async def on_withdraw(query: CallbackQuery, callback_data: CaseCb, actor: Actor | None,
                      store: Store, t: Translator) -> None:
    """🗑 Asks to confirm first: a withdrawal cannot be undone."""
    actor = require_actor(actor, query.from_user.id)
    case = await own_case(store, actor, callback_data.case)
    if case.state not in (CaseState.PENDING, CaseState.SUPPLEMENT):
        raise CaseClosed(state=case.state)
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer(
            t.gettext("Withdraw #{id} “{title}”? This cannot be undone.").format(
                id=case.id, title=esc(case.title)),
            reply_markup=confirm_withdraw_keyboard(t, callback_data.case))


async def on_confirm_withdraw(query: CallbackQuery, callback_data: CaseCb, actor: Actor | None,
                              store: Store, services: Services, bot: Bot,
                              t: Translator) -> None:
    actor = require_actor(actor, query.from_user.id)
    case = await own_case(store, actor, callback_data.case)
    outcome = await withdraw(store, actor, callback_data.case, now=services.now())
    await query.answer(t.gettext("🗑 Withdrawn."))
    if isinstance(query.message, Message):
        await query.message.edit_text(t.gettext("🗑 #{id} withdrawn.").format(id=case.id))
    await announce(bot, store, services, outcome)


PICKER_TITLES = {PeopleAct.TRANSFER: N_("Hand your turn to whom?"),
                 PeopleAct.ADD_SIGNER: N_("Who else must approve?")}


async def on_people_page(query: CallbackQuery, callback_data: PeopleCb, actor: Actor | None,
                         store: Store, t: Translator) -> None:
    """🔁 / ➕ (and ◀ ▶): a page of the colleagues the turn may be handed to."""
    actor = require_actor(actor, query.from_user.id)
    step, mine = await check_press(store, actor, callback_data.step)
    if not isinstance(query.message, Message):
        raise UnknownButton()
    people = await turn_candidates(store, actor, step, mine)
    markup = people_keyboard(callback_data.step, callback_data.act, people, callback_data.page,
                             PEOPLE_PER_PAGE)
    await query.answer()
    if query.message.text in {t.gettext(title) for title in PICKER_TITLES.values()}:
        await query.message.edit_reply_markup(reply_markup=markup)  # paging: the same picker
    else:
        await query.message.answer(t.gettext(PICKER_TITLES[callback_data.act]),
                                   reply_markup=markup)


async def _picked(query: CallbackQuery, callback_data: PeopleCb, actor: Actor | None,
                  store: Store) -> tuple[Actor, Message, Person]:
    """A name pressed in the picker: refused at once when the turn may not go to them (the
    same check the change makes), not after a reason is typed or a position pressed."""
    actor = require_actor(actor, query.from_user.id)
    step, mine = await check_press(store, actor, callback_data.step)
    if not isinstance(query.message, Message):
        raise UnknownButton()
    person = await check_candidate(store, actor, step, mine, callback_data.person)
    return actor, query.message, person


async def on_transfer_to(query: CallbackQuery, callback_data: PeopleCb, actor: Actor | None,
                         store: Store, t: Translator, scenes: ScenesManager) -> None:
    """🔁 A colleague picked: ask for the reason."""
    _, message, person = await _picked(query, callback_data, actor, store)
    await query.answer(t.gettext("Please reply with the reason."))
    await message.edit_text(t.gettext("🔁 To {who}").format(who=esc(person.name)))
    await scenes.enter(TransferReasonScene, step_id=callback_data.step, person_id=person.id)


async def on_signer_picked(query: CallbackQuery, callback_data: PeopleCb, actor: Actor | None,
                           store: Store, t: Translator) -> None:
    """➕ A colleague picked: before or after me?"""
    _, message, person = await _picked(query, callback_data, actor, store)
    await query.answer()
    await message.edit_text(
        t.gettext("➕ {who}: before or after you?").format(who=esc(person.name)),
        reply_markup=signer_position_keyboard(t, callback_data.step, callback_data.person))


async def on_signer_placed(query: CallbackQuery, callback_data: PeopleCb, actor: Actor | None,
                           store: Store, services: Services, bot: Bot, t: Translator) -> None:
    """➕ Before or after me pressed: the signer is added."""
    actor, message, person = await _picked(query, callback_data, actor, store)
    before = callback_data.pos is SignerPos.BEFORE
    outcome = await add_signer(store, actor, callback_data.step, callback_data.person,
                               before=before, now=services.now(), calendar=services.calendar)
    await query.answer(t.gettext("➕ Added."))
    await message.edit_text(
        (t.gettext("➕ {who} approves before you; your turn comes after.") if before
         else t.gettext("➕ {who} approves after you.")).format(who=esc(person.name)))
    await announce(bot, store, services, outcome)


def build_router() -> Router:
    router = Router(name="approvals")
    router.message.register(submit_command, Command("submit"), F.chat.type.in_(GROUP_TYPES))
    router.message.register(submit_in_private, Command("submit"))
    # One handler per action; data with an unknown action matches none of them and reaches
    # the fallback router, which refuses it.
    register = router.callback_query.register
    register(on_approve, DecideCb.filter(F.act == DecideAct.APPROVE))
    register(on_approve_with_comment, DecideCb.filter(F.act == DecideAct.APPROVE_WITH_COMMENT))
    register(on_return, DecideCb.filter(F.act == DecideAct.RETURN))
    register(on_return_target, ReturnToCb.filter())
    register(on_resubmit, CaseCb.filter(F.act == CaseAct.RESUBMIT))
    register(on_withdraw, CaseCb.filter(F.act == CaseAct.WITHDRAW))
    register(on_confirm_withdraw, CaseCb.filter(F.act == CaseAct.CONFIRM_WITHDRAW))
    register(on_people_page, PeopleCb.filter(F.person == 0))
    register(on_transfer_to, PeopleCb.filter((F.act == PeopleAct.TRANSFER) & (F.person != 0)))
    register(on_signer_picked, PeopleCb.filter(
        (F.act == PeopleAct.ADD_SIGNER) & (F.person != 0) & F.pos.is_(None)))
    register(on_signer_placed, PeopleCb.filter(
        (F.act == PeopleAct.ADD_SIGNER) & (F.person != 0) & F.pos.is_not(None)))
    register(someone_elses_form, TypeCb.filter())
    return router

