"""Supervision items (督查事项): the item's card with the buttons its state allows the reader,
the list, what the assignee is sent (assigned, urged, sent back, accepted), the nudges, and
the bulletin (通报) posted to the supervision chat."""

from __future__ import annotations

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from markupsafe import Markup

from bot.domain.rules.supervision import WAITING, Lateness, allowed
from bot.domain.rules.vocabulary import AttachmentKind, ItemAct, ItemState
from bot.domain.usecases.supervision_items import ItemView, PlannedItemNudge
from bot.i18n import N_, Translator
from bot.views.cards import ITEM_STATE_WORDS
from bot.views.keyboards import FeedbackDoneCb, ItemCb
from bot.views.text import LIGHT_EMOJI, clip, esc, time_left
from storage.models import ItemFile, Person

ACT_WORDS = {
    ItemAct.REGISTER: N_("registered"),
    ItemAct.ASSIGN: N_("assigned"),
    ItemAct.URGE: N_("urged"),
    ItemAct.FEEDBACK: N_("feedback"),
    ItemAct.ACCEPT: N_("accepted"),
    ItemAct.SEND_BACK: N_("sent back"),
    ItemAct.BULLETIN: N_("bulletined"),
    ItemAct.ARCHIVE: N_("archived"),
}
BUTTONS = {
    ItemAct.ASSIGN: N_("📨 Assign"),
    ItemAct.URGE: N_("⏰ Urge"),
    ItemAct.FEEDBACK: N_("✍️ Feedback"),
    ItemAct.ACCEPT: N_("✅ Accept"),
    ItemAct.SEND_BACK: N_("↩️ Send back"),
    ItemAct.BULLETIN: N_("📣 Bulletin"),
    ItemAct.ARCHIVE: N_("🗄 Archive"),
}
LATE_STEPS = {"feedback": N_("feedback"), "review": N_("review")}


def _state(t: Translator, state: ItemState) -> str:
    return t.gettext(ITEM_STATE_WORDS[state])


def assignee_line(t: Translator, view: ItemView) -> Markup:
    """The section (with its head) or the person the item is assigned to."""
    who = view.answerer.name if view.answerer else "—"
    if view.section is not None:
        return t.gettext("{section} (head: {who})").format(section=view.section.name, who=who)
    return esc(who)


def due_line(t: Translator, view: ItemView) -> Markup:
    item = view.item
    if item.due_at is not None:
        due = t.deadline(item.due_at)
    elif item.limit_days is not None:
        due = t.ngettext("{n} working day from assignment", "{n} working days from assignment",
                         item.limit_days).format(n=item.limit_days)
    elif item.due_on is not None:
        due = Markup(t.day(item.due_on))
    else:
        due = Markup("—")
    if view.left is not None:
        due = Markup("{} · {}").format(due, time_left(t, view.left))
    return due


def _head(view: ItemView) -> Markup:
    return Markup("{} ").format(LIGHT_EMOJI[view.light]) if view.light else Markup()


def item_card(t: Translator, view: ItemView) -> Markup:
    item = view.item
    lines = [
        t.gettext("{light}📌 <b>Supervision item {code}</b> · {title}").format(
            light=_head(view), code=item.code, title=item.title),
        t.gettext("State: {state}").format(state=_state(t, item.state)),
        t.gettext("Assigned to: {who}").format(who=assignee_line(t, view)),
        t.gettext("Due: {due}").format(due=due_line(t, view)),
        t.gettext("Requirement: {text}").format(text=item.requirement),
    ]
    if item.feedback:
        lines.append(t.gettext("Feedback: {text}").format(text=item.feedback))
        if view.files:
            lines.append(files_line(t, view.files))
    if view.late is not None and not view.late.waiting:  # while waiting the due line says it
        lines.append(late_line(t, view.late))
    if view.events:
        lines.append(Markup())
        for event, actor in view.events:
            values = {"when": t.when(event.at), "act": t.gettext(ACT_WORDS[event.act]),
                      "who": actor, "text": event.text}
            if event.text and event.act != ItemAct.FEEDBACK:  # the answer is shown above
                lines.append(t.gettext("· {when} {act} · {who}: {text}").format(**values))
            else:
                lines.append(t.gettext("· {when} {act} · {who}").format(**values))
    return clip(Markup("\n").join(lines))


def files_line(t: Translator, files: list[ItemFile]) -> Markup:
    photos = sum(1 for f in files if f.kind == AttachmentKind.PHOTO)
    documents = len(files) - photos
    return t.gettext("📎 {photos} photo(s), {documents} document(s)").format(
        photos=photos, documents=documents)


def late_line(t: Translator, late: Lateness) -> Markup:
    step = t.gettext(LATE_STEPS[late.step])
    if late.days == 0:
        return t.gettext("🔴 Late at “{step}”, by less than a working day").format(step=step)
    return t.ngettext("🔴 Late at “{step}” by {n} working day",
                      "🔴 Late at “{step}” by {n} working days", late.days).format(
        step=step, n=late.days)


def item_keyboard(t: Translator, view: ItemView, *, manager: bool,
                  reader: Person | None) -> InlineKeyboardMarkup | None:
    """The steps the item's state allows this reader: the office's, or the assignee's ✍️."""
    answers = reader is not None and view.answerer is not None and \
        view.answerer.id == reader.id
    # Assigning again (another assignee or due) is ``/dc assign``: a 📨 on an assigned card
    # would only send it once more.
    acts = [act for act in allowed(view.item.state)
            if (act is ItemAct.FEEDBACK and answers) or ((act is not ItemAct.FEEDBACK and manager)
            and (act is not ItemAct.ASSIGN or view.item.state is ItemState.REGISTERED))]
    if not acts:
        return None
    buttons = [InlineKeyboardButton(text=t.gettext(BUTTONS[act]), callback_data=ItemCb(
        item=view.item.id, act=act).pack()) for act in acts]
    return InlineKeyboardMarkup(inline_keyboard=[buttons[i:i + 3]
                                                 for i in range(0, len(buttons), 3)])


def feedback_keyboard(t: Translator, item_id: int) -> InlineKeyboardMarkup:
    """✍️ for the assignee, on what they are sent."""
    return InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(
        text=t.gettext(BUTTONS[ItemAct.FEEDBACK]),
        callback_data=ItemCb(item=item_id, act=ItemAct.FEEDBACK).pack())]])


def submit_keyboard(t: Translator, item_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(
        text=t.gettext("📤 Send the feedback"),
        callback_data=FeedbackDoneCb(item=item_id).pack())]])


def list_text(t: Translator, views: list[ItemView], *, manager: bool) -> Markup:
    if not views:
        return (t.gettext("No open supervision items. Register one with <code>/dc new</code>.")
                if manager else t.gettext("No supervision items are assigned to you."))
    lines = [t.ngettext("📌 <b>{n} open supervision item</b>",
                        "📌 <b>{n} open supervision items</b>", len(views)).format(n=len(views))]
    for view in views:
        item = view.item
        row = Markup("{}<b>{}</b> {} · {} · {}").format(
            _head(view) if view.light else Markup("⚪ "), item.code, item.title,
            assignee_line(t, view), _state(t, item.state))
        if item.state in WAITING:
            row += Markup("\n    ") + t.gettext("Due: {due}").format(due=due_line(t, view))
        lines.append(row)
    lines.append(t.gettext("Open one with <code>/dc CODE</code>."))
    return clip(Markup("\n").join(lines))


def assigned_text(t: Translator, view: ItemView) -> Markup:
    """To the assignee: the item is theirs."""
    return Markup("\n").join([
        t.gettext("📨 <b>Supervision item assigned to you</b>: {code} {title}").format(
            code=view.item.code, title=view.item.title),
        t.gettext("Requirement: {text}").format(text=view.item.requirement),
        t.gettext("Due: {due}").format(due=due_line(t, view)),
        t.gettext("Press ✍️ Feedback to answer with the result (and photos or documents)."),
    ])


def urged_text(t: Translator, view: ItemView) -> Markup:
    return Markup("\n").join([
        t.gettext("⏰ <b>Urged</b> by the supervision office: {code} {title}").format(
            code=view.item.code, title=view.item.title),
        t.gettext("Due: {due}").format(due=due_line(t, view)),
        t.gettext("Please give your feedback as soon as possible."),
    ])


def sent_back_text(t: Translator, view: ItemView, reason: str) -> Markup:
    return Markup("\n").join([
        t.gettext("↩️ <b>Feedback sent back</b>: {code} {title}").format(
            code=view.item.code, title=view.item.title),
        t.gettext("Reason: {text}").format(text=reason),
        t.gettext("Press ✍️ Feedback to answer again."),
    ])


def accepted_text(t: Translator, view: ItemView) -> Markup:
    return t.gettext("✅ Your feedback on {code} {title} was accepted.").format(
        code=view.item.code, title=view.item.title)


def feedback_posted_text(t: Translator, view: ItemView) -> Markup:
    """To the office: an answer came, with the card and the review buttons."""
    who = view.answerer.name if view.answerer else "—"
    return Markup("{}\n\n{}").format(
        t.gettext("✍️ <b>Feedback</b> from {who}, for review:").format(who=who),
        item_card(t, view))


def bulletin_text(t: Translator, view: ItemView) -> Markup:
    """通报: the item, the late step, the section and the working days late."""
    item = view.item
    section = view.unit.name if view.unit else "—"
    lines = [
        t.gettext("📣 <b>Supervision bulletin</b> · {code} {title}").format(
            code=item.code, title=item.title),
        t.gettext("Section: {section}; responsible: {who}").format(
            section=section, who=view.answerer.name if view.answerer else "—"),
        t.gettext("Due: {due}").format(due=due_line(t, view)),
    ]
    if view.late is None:
        lines.append(t.gettext("Done on time: no step was late."))
    else:
        step = t.gettext(LATE_STEPS[view.late.step])
        if view.late.waiting:
            lines.append(t.ngettext(
                "Late step: {step}, still awaited, {n} working day late",
                "Late step: {step}, still awaited, {n} working days late",
                view.late.days).format(step=step, n=view.late.days))
        else:
            lines.append(t.ngettext(
                "Late step: {step}, given {n} working day late",
                "Late step: {step}, given {n} working days late",
                view.late.days).format(step=step, n=view.late.days))
    lines.append(t.gettext("Requirement: {text}").format(text=item.requirement))
    lines.append(t.gettext("State: {state}").format(state=_state(t, item.state)))
    return clip(Markup("\n").join(lines))


def item_nudge_text(t: Translator, planned: PlannedItemNudge) -> Markup:
    item = planned.item
    if planned.rung.key == "yellow":
        head = t.gettext("🟡 Supervision item {code} {title} is due soon: {left}.")
    elif planned.office:
        head = t.gettext("🔴 Supervision item {code} {title} is overdue ({left}); "
                         "its assignee has not answered.")
    else:
        head = t.gettext("🔴 Supervision item {code} {title} is overdue: {left}. "
                         "Please give your feedback.")
    text = head.format(code=item.code, title=item.title, left=time_left(t, planned.left))
    if planned.nudge.late:  # the bot was down when it fell due
        text = t.gettext("{head} (sent late: it fell due at {when})").format(
            head=text, when=t.when(planned.rung.since))
    return text


def told(t: Translator, done: Markup, who: str, channel: str) -> Markup:
    """What was done, and how the person heard of it."""
    text = done.format(who=who)
    if channel == "group":
        return text + t.gettext(" (no private chat: mentioned in the supervision chat)")
    if channel == "none":
        return text + t.gettext(" (they could not be told: no private chat with the bot)")
    return text
