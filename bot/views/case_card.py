"""The case card: one message that tells where a case stands, and who may do what from it.

The card shows the step trail of every round (each decision with actor and time, the
open step with its light and due time, joint steps lane by lane), "B for A" where a
delegate acts, CC, the latest comments, and the query code. Buttons depend on who
looks: the group card offers decisions to the step's holders and withdraw/resubmit to
the submitter; a private card offers its owner's turn only.
"""

from __future__ import annotations

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from markupsafe import Markup

from bot.domain.rules.turns import holds_turn
from bot.domain.rules.vocabulary import AssignmentState, CaseState, Decision, LaneState, StepState
from bot.domain.usecases.case_view import AssignmentView, CaseView, LaneView, StepView
from bot.i18n import N_, Translator
from bot.views.cards import attachments_line
from bot.views.keyboards import (
    CaseAct,
    CaseCb,
    DecideAct,
    DecideCb,
    PeopleAct,
    PeopleCb,
)
from bot.views.text import clip, esc, light_label, localized, mention, time_left
from storage.models import Card

STEP_ICON = {StepState.WAITING: "◻️", StepState.OPEN: "⏳", StepState.PAUSED: "⏸",
             StepState.APPROVED: "✅", StepState.RETURNED: "↩️", StepState.WITHDRAWN: "🗑"}
NUMBERS = "①②③④⑤⑥⑦⑧⑨⑩"
SHOWN_COMMENTS = 3


def holder_name(t: Translator, held: AssignmentView, link: bool = False) -> Markup:
    name = mention(held.person) if link else esc(held.person.name)
    if held.on_behalf_of is not None:
        name = t.gettext("{delegate} (for {person})").format(
            delegate=name, person=esc(held.on_behalf_of.name))
    return name


def _assignment_lines(t: Translator, held: AssignmentView, indent: str) -> list[Markup]:
    a = held.assignment
    who = holder_name(t, held)
    if held.assignment.added:
        who += t.gettext(" (added signer)")
    lines = []
    if a.decision and a.decided_at is not None:
        template = (N_("✅ {who} approved · {when}") if a.decision == Decision.APPROVE
                    else N_("↩️ {who} returned it · {when}"))
        lines.append(indent + t.gettext(template).format(who=who, when=t.when(a.decided_at)))
        if a.comment:
            lines.append(indent + "   " + t.gettext("💬 {text}").format(text=esc(a.comment)))
        if a.reason:
            lines.append(indent + "   " + t.gettext("Reason: {reason}").format(
                reason=esc(a.reason)))
    elif held.state is AssignmentState.TRANSFERRED and a.reason:
        lines.append(indent + t.gettext("🔁 {who} handed it on · {reason}").format(
            who=who, reason=esc(a.reason)))
    return lines


def _lane_lines(t: Translator, step: StepView, lane: LaneView, indent: str) -> list[Markup]:
    lines = []
    for held in lane.assignments:
        lines += _assignment_lines(t, held, indent)
    if step.state is StepState.OPEN and lane.lane.state is LaneState.OPEN:
        if lane.light is not None and lane.lane.due_at is not None:
            lines.append(indent + t.gettext("{light} · due {when}").format(
                light=light_label(t, lane.light), when=t.deadline(lane.lane.due_at)))
        waiting = [h for h in lane.assignments if holds_turn(step.step, h.assignment)]
        later = [h for h in lane.assignments if h.state is AssignmentState.WAITING]
        if waiting:
            names = t.gettext(" or ") if lane.lane.mode != "all" else t.gettext(", ")
            lines.append(indent + t.gettext("⏳ Waiting for {people}").format(
                people=names.join(holder_name(t, h, link=True) for h in waiting)))
        if later:
            lines.append(indent + t.gettext("then {people}").format(
                people=t.gettext(", ").join(holder_name(t, h) for h in later)))
    return lines


def _step_lines(t: Translator, view: CaseView, step: StepView) -> list[Markup]:
    s = step.step
    number = NUMBERS[s.seq - 1] if s.seq <= len(NUMBERS) else f"{s.seq}."
    name = localized(t, s.name, s.name_en)
    head = Markup("{} {} {}").format(STEP_ICON[step.state], number, name)
    if step.joint:
        head += t.gettext(" (joint: due with the slowest department)")
    lines = [head]
    if step.state is StepState.WAITING:
        return lines
    if step.joint:
        for lane in step.lanes:
            lines.append("   ▸ " + localized(t, lane.lane.name, lane.lane.name_en))
            lines += _lane_lines(t, step, lane, "      ")
    else:
        for lane in step.lanes:
            lines += _lane_lines(t, step, lane, "   ")
    if step.step.deemed and step.step.closed_at is not None:
        deemed = t.gettext("⏰ Deemed approved: nobody decided in time · {when}")
        lines.append("   " + deemed.format(when=t.when(step.step.closed_at)))
    if step.state is StepState.PAUSED:
        days = max((lane.lane.remaining_days or 0) for lane in step.lanes)
        lines.append("   " + t.ngettext(
            "⏸ Back with the handler for a supplement; the clock is stopped "
            "({n} working day left)",
            "⏸ Back with the handler for a supplement; the clock is stopped "
            "({n} working days left)", days).format(n=days))
    if step.cc and step.state is StepState.OPEN:
        lines.append("   " + t.gettext("CC: {people}").format(
            people=t.gettext(", ").join(esc(p.name) for p in step.cc)))
    return lines


def case_card(t: Translator, view: CaseView) -> Markup:
    case, project = view.case, view.project
    head = t.gettext("📝 <b>{type}</b> #{id} · {code} {name}").format(
        type=esc(view.case_type.display_name(t.locale)), id=case.id, code=esc(project.code),
        name=esc(project.name))
    lines = [head, Markup("<b>{}</b>").format(case.title)]
    submitted = t.gettext("👤 Submitted by {who} · {when}").format(
        who=esc(view.submitter.name), when=t.when(case.created_at))
    if case.green_channel:
        submitted += " · " + t.gettext("🟢 green channel")
    lines.append(submitted)
    for field in view.case_type.fields:
        if field.key in view.details:
            lines.append(Markup("{}：{}" if t.locale == "zh" else "{}: {}").format(
                field.display_name(t.locale), view.details[field.key]))
    files = attachments_line(t, view.attachments)
    if files:
        lines.append(files)
    for item in view.missing:
        lines.append(t.gettext("✅ {name} supplied").format(name=esc(item.name)) if item.supplied_at
                     else t.gettext("🧩 Missing: {name}, due {day}").format(
                         name=esc(item.name), day=t.day(item.supply_by)))
    lines.append(Markup())
    shown_round = 0
    for step in view.steps:
        if step.step.round != shown_round:
            if shown_round:
                lines.append(t.gettext("— round {n}: returned to this step —").format(
                    n=step.step.round))
            shown_round = step.step.round
        if step.step.round < view.case.round and step.state is StepState.WAITING:
            continue  # steps an earlier round never reached
        lines += _step_lines(t, view, step)
    if view.comments:
        lines.append(Markup())
        for comment, author in view.comments[-SHOWN_COMMENTS:]:
            lines.append(t.gettext("💬 {who}: {text} · {when}").format(
                who=esc(author.name), text=esc(comment.text), when=t.when(comment.created_at)))
        hidden = len(view.comments) - SHOWN_COMMENTS
        if hidden > 0:
            lines.append(t.ngettext("({n} earlier comment)", "({n} earlier comments)",
                                    hidden).format(n=hidden))
    lines.append(Markup())
    lines.append(_closing_line(t, view))
    lines.append(t.gettext("Query code: <code>{code}</code>").format(code=case.query_code))
    return clip(Markup("\n").join(lines))


def _closing_line(t: Translator, view: CaseView) -> Markup:
    case = view.case
    match view.state:
        case CaseState.APPROVED:
            assert case.closed_at is not None
            return t.gettext("✅ <b>Approved</b> · {when}").format(when=t.when(case.closed_at))
        case CaseState.WITHDRAWN:
            assert case.closed_at is not None
            return t.gettext("🗑 Withdrawn by the submitter · {when}").format(
                when=t.when(case.closed_at))
        case CaseState.RETURNED:
            return t.gettext("↩️ Returned")
        case CaseState.SUPPLEMENT:
            return t.gettext("⏸ Waiting for {who}'s supplement").format(
                who=mention(view.submitter))
    current = view.current
    if current is not None and current.left is not None and current.light is not None:
        return t.gettext("{light} · {left}").format(light=light_label(t, current.light),
                                                     left=time_left(t, current.left))
    return t.gettext("⏳ In progress")


# -- buttons -----------------------------------------------------------------------------------


def decision_row(t: Translator, step_id: int) -> list[InlineKeyboardButton]:
    return [
        InlineKeyboardButton(text=t.gettext("✅ Approve"),
                             callback_data=DecideCb(step=step_id, act=DecideAct.APPROVE).pack()),
        InlineKeyboardButton(text=t.gettext("↩️ Return"),
                             callback_data=DecideCb(step=step_id, act=DecideAct.RETURN).pack()),
    ]


def group_keyboard(t: Translator, view: CaseView) -> InlineKeyboardMarkup | None:
    """Decisions while a step waits for them; withdraw / resubmit for the submitter."""
    rows: list[list[InlineKeyboardButton]] = []
    current = view.current
    if view.state is CaseState.PENDING and current is not None and current.pending():
        rows.append(decision_row(t, current.step.id))
    if view.state is CaseState.SUPPLEMENT:
        rows.append([InlineKeyboardButton(
            text=t.gettext("📤 Resubmit"),
            callback_data=CaseCb(case=view.case.id, act=CaseAct.RESUBMIT).pack())])
    if view.state in (CaseState.PENDING, CaseState.SUPPLEMENT):
        rows.append([InlineKeyboardButton(
            text=t.gettext("🗑 Withdraw"),
            callback_data=CaseCb(case=view.case.id, act=CaseAct.WITHDRAW).pack())])
    return InlineKeyboardMarkup(inline_keyboard=rows) if rows else None


def turn_keyboard(t: Translator, view: CaseView, card: Card | None) -> InlineKeyboardMarkup | None:
    """A private card's buttons: only while the turn it was sent for is open, and only on the
    card sent for this opening of it (a reopened turn gets a new card)."""
    current = view.current
    if card is None or view.state is not CaseState.PENDING or current is None \
            or current.step.id is None:
        return None
    if not any(h.assignment.id == card.assignment_id
               and h.assignment.version == card.turn_version for h in current.pending()):
        return None
    step_id = current.step.id
    return InlineKeyboardMarkup(inline_keyboard=[
        decision_row(t, step_id),
        [InlineKeyboardButton(text=t.gettext("💬 Approve with a comment"), callback_data=DecideCb(
            step=step_id, act=DecideAct.APPROVE_WITH_COMMENT).pack())],
        [InlineKeyboardButton(text=t.gettext("🔁 Transfer"), callback_data=PeopleCb(
            step=step_id, act=PeopleAct.TRANSFER).pack()),
         InlineKeyboardButton(text=t.gettext("➕ Add a signer"), callback_data=PeopleCb(
             step=step_id, act=PeopleAct.ADD_SIGNER).pack())],
    ])


def submitter_keyboard(t: Translator, view: CaseView) -> InlineKeyboardMarkup | None:
    if view.state is not CaseState.SUPPLEMENT:
        return None
    return InlineKeyboardMarkup(inline_keyboard=[[
        InlineKeyboardButton(text=t.gettext("📤 Resubmit"),
                             callback_data=CaseCb(case=view.case.id, act=CaseAct.RESUBMIT).pack()),
        InlineKeyboardButton(text=t.gettext("🗑 Withdraw"),
                             callback_data=CaseCb(case=view.case.id, act=CaseAct.WITHDRAW).pack()),
    ]])


def outcome_notice(t: Translator, view: CaseView) -> Markup | None:
    """What the submitter is told when a case is approved or sent back to an earlier step."""
    case, project = view.case, view.project
    values = {"title": esc(case.title), "code": esc(project.code), "id": case.id}
    if view.state is CaseState.APPROVED:
        return t.gettext("✅ Your item “{title}” ({code}, #{id}) is approved.").format(**values)
    if view.state is CaseState.SUPPLEMENT:
        last = _last_decision(view)
        text = t.gettext("↩️ Your item “{title}” ({code}, #{id}) was returned to you by "
                         "{who} for a supplement.").format(who=esc(last.person.name) if last
                                                           else "?", **values)
        if last is not None and last.assignment.reason:
            text += "\n" + t.gettext("Reason: {reason}").format(
                reason=esc(last.assignment.reason))
        return text + "\n" + t.gettext("The clock is stopped. Press 📤 Resubmit when the "
                                       "supplement is ready.")
    return None


def _last_decision(view: CaseView) -> AssignmentView | None:
    decided = [h for s in view.steps for lane in s.lanes for h in lane.assignments
               if h.assignment.decided_at is not None]
    return max(decided, key=lambda h: (h.assignment.decided_at, h.assignment.id or 0),
               default=None)


def mention_text(t: Translator, view: CaseView, assignment_id: int | None,
                 version: int) -> Markup:
    """The group mention of someone who cannot be written to privately: waiting for them
    while their turn is open, then saying it no longer waits (their name no longer linked,
    so nobody is pinged again)."""
    for step in view.steps:
        for lane in step.lanes:
            for held in lane.assignments:
                if held.assignment.id != assignment_id:
                    continue
                if holds_turn(step.step, held.assignment) and held.assignment.version == version:
                    return t.gettext("⏳ {who}, “{title}” (#{id}) waits for your decision: use "
                                     "the buttons on the card above.").format(
                        who=holder_name(t, held, link=True), title=view.case.title,
                        id=view.case.id)
                return t.gettext("☑️ {who}: “{title}” (#{id}) no longer waits for you.").format(
                    who=holder_name(t, held), title=view.case.title, id=view.case.id)
    return t.gettext("☑️ “{title}” (#{id}) no longer waits for a decision here.").format(
        title=view.case.title, id=view.case.id)
