"""Cards: the report card, the case card, the project roll-up, nudges and refusals."""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import date, datetime

from markupsafe import Markup

from bot.domain.rules.errors import Refusal
from bot.domain.rules.vocabulary import (
    AttachmentKind,
    CaseState,
    Decision,
    ItemState,
    ProjectStatus,
)
from bot.domain.usecases.projects import ProjectLine
from bot.domain.usecases.reporting import MilestoneStatus, ReportView
from bot.i18n import N_, Translator
from bot.views.text import LIGHT_EMOJI, clip, esc, status_label, time_left
from storage.models import Attachment


def shown_hash(text: str, buttons: object) -> str:
    """What a message shows, as a key: an edit to the same key would be refused."""
    return hashlib.sha256(f"{text}\x00{buttons!r}".encode()).hexdigest()


def attachments_line(t: Translator, files: list[Attachment]) -> Markup | None:
    if not files:
        return None
    photos = sum(1 for f in files if f.kind == AttachmentKind.PHOTO)
    documents = [f for f in files if f.kind == AttachmentKind.DOCUMENT]
    parts = []
    if photos:
        parts.append(t.ngettext("{n} photo", "{n} photos", photos).format(n=photos))
    if documents:
        names = Markup(", ").join(f.file_name or t.gettext("document") for f in documents[:5])
        extra = len(documents) - 5
        parts.append(names + (f" +{extra}" if extra > 0 else ""))
    return Markup("📎 ") + Markup("; ").join(parts)


def milestone_line(t: Translator, status: MilestoneStatus) -> Markup:
    m = status.milestone
    return t.gettext("{light} Milestone: {title} · due {day} · {left}").format(
        light=LIGHT_EMOJI[status.light], title=esc(m.title), day=t.day(m.due_on),
        left=time_left(t, status.left))


def report_card(t: Translator, view: ReportView) -> Markup:
    lines = [
        t.gettext("📋 <b>Progress report</b> · {code} {name}").format(
            code=esc(view.project.code), name=esc(view.project.name)),
    ]
    if view.milestone is not None:
        lines.append(milestone_line(t, view.milestone))
    lines.append(Markup("👤 {} · {}").format(view.author.name, t.when(view.report.created_at)))
    if view.report.text:
        lines.append(Markup("<blockquote>{}</blockquote>").format(view.report.text))
    files = attachments_line(t, view.attachments)
    if files:
        lines.append(files)
    return clip(Markup("\n").join(lines))


def projects_list(t: Translator, lines: list[ProjectLine], counts: Counter[str],
                  unit: str | None = None) -> Markup:
    """The roll-up; ``unit`` names whose it is when the organisation has several levels."""
    if not lines:
        if unit is not None:
            return t.gettext("{unit}: no key projects.").format(unit=esc(unit))
        return t.gettext("No key projects yet. An administrator can import them with "
                         "<code>greenlight org import</code>.")
    title = t.ngettext("<b>{n} key project</b>", "<b>{n} key projects</b>", len(lines)).format(
        n=len(lines))
    out = [Markup("🏛 <b>{}</b> · {}").format(unit, title) if unit is not None else title]
    out.append(Markup(" · ").join(
        Markup("{} {}").format(status_label(t, status), counts[status])
        for status in ProjectStatus if counts[status]))
    out.append(Markup())
    for line in lines:
        p = line.project
        head = LIGHT_EMOJI[line.light] if line.light else "✅"
        row = Markup("{} <b>{}</b> {} · {}").format(head, p.code, p.name,
                                                    status_label(t, p.status))
        if line.light is not None and line.milestone is not None:
            row += "\n    " + milestone_line(t, line.milestone)
        if line.open_cases:
            row += "\n    " + t.ngettext("{n} item awaiting approval",
                                         "{n} items awaiting approval",
                                         line.open_cases).format(n=line.open_cases)
        out.append(row)
    return clip(Markup("\n").join(out))


REFUSALS = {
    "not_registered": N_("You are not registered in Greenlight yet. Ask an administrator to "
                         "add your Telegram id <code>{tg_user_id}</code>."),
    "no_project_here": N_("This group is not linked to a key project. An administrator can "
                          "link it with /bind CODE."),
    "unknown_project": N_("There is no key project with the code {code}."),
    "unknown_inquiry": N_("There is no ledger entry #{number}. /asks lists yours."),
    "inquiry_closed": N_("Ledger entry #{number} was closed on {at} by {by}."),
    "unknown_unit": N_("There is no unit “{code}” within what you oversee."),
    "too_long": N_("Too long: {length} characters, the limit is {limit}. Please shorten it."),
    "no_approver": N_("Project {project} has no leader in charge to approve it. "
                      "Please ask an administrator."),
    "stale_card": N_("This card is out of date."),
    "already_decided": N_("Already decided: {decision} by {by} at {at}."),
    "not_your_turn": N_("This decision is not yours: it waits for someone else."),
    "unknown_button": N_("This button is no longer valid."),
    "not_yet_your_turn": N_("Not your turn yet: {waiting_for} decides first."),
    "transferred": N_("You handed this on to {to}."),
    "bad_return_target": N_("It can only go back to an earlier step."),
    "missing_field": N_("“{field}” is required."),
    "unknown_case_type": N_("There is no such kind of item."),
    "bad_date": N_("“{text}” is not a date I understand: write 2026-11-24, 11-24 or 11月24日."),
    "unknown_person": N_("I do not know “{text}”: use their @username or their name as "
                         "registered."),
    "unknown_item": N_("No missing material “{name}” is listed for this item."),
    "group_taken": N_("This group is already the work group of {code}. A group works on one "
                      "project: send /bind {wanted} in that project's own group."),
    "unknown_language": N_("There is no language “{text}”: choose 中文 or English."),
    "project_has_group": N_("{code} already has its work group “{title}”. To move it here, "
                            "send <code>/bind {code} move</code>."),
    "milestone_reached": N_("The milestone “{title}” was already reached on {on}."),
    "unknown_status": N_("“{word}” is not a project status. Send /status to pick one."),
    "unknown_dc": N_("There is no supervision item {code}."),
    "unknown_assignee": N_("I do not know “{text}”: name a section (its code or name) or a "
                           "person (@username or name as registered)."),
}
ITEM_STATE_WORDS = {
    ItemState.REGISTERED: N_("registered, not yet assigned"),
    ItemState.ASSIGNED: N_("assigned, waiting for feedback"),
    ItemState.URGED: N_("urged, waiting for feedback"),
    ItemState.REVIEWING: N_("answered, under review"),
    ItemState.SENT_BACK: N_("sent back, waiting for new feedback"),
    ItemState.ACCEPTED: N_("accepted"),
    ItemState.BULLETINED: N_("accepted and bulletined"),
    ItemState.ARCHIVED: N_("archived"),
}

CASE_CLOSED = {
    CaseState.SUPPLEMENT: N_("This item is back with its handler for a supplement; it can be "
                             "decided again once resubmitted."),
    CaseState.WITHDRAWN: N_("This item was withdrawn by its submitter."),
    CaseState.APPROVED: N_("This item is already approved."),
    CaseState.RETURNED: N_("This item was returned."),
}
NOT_ALLOWED = {
    "report": N_("Only the handlers, guides and leader of {project} can report its progress."),
    "submit": N_("Only the handlers of {project} can submit items for approval."),
    "bind": N_("Only administrators can link a group to a project."),
    "own_case": N_("Only the submitter can do that."),
    "self": N_("Choose someone other than yourself."),
    "submitter": N_("The submitter cannot decide their own item."),
    "answer_urge": N_("Only the head of the responsible section answers this urge notice."),
    "supervise": N_("Only the supervision office handles supervision items."),
    "item_feedback": N_("Only the assignee of {code} answers it."),
    "dc_here": N_("Supervision items are handled in private or in the supervision office's "
                  "chat."),
    "urges": N_("Only the supervision office, the director and admins see the urge counts."),
    "stats": N_("Only leaders, the director, the supervision office and admins see the "
                "figures."),
    "export": N_("Only leaders, the director, the supervision office and admins export "
                 "records."),
    "calendar": N_("Only administrators can change the calendar."),
    "already_assigned": N_("They already have a turn in this step."),
    "unknown_person": N_("That person is not available."),
    "read": N_("Only the people working on {project} can see its items."),
    "milestone": N_("Only the handlers, guides and leader of {project} can mark its "
                    "milestones reached."),
    "steer": N_("Only the leader in charge of {project} (or the director) can change its due "
                "dates and status."),
}
EMPTY = {
    "title": N_("Please give the item a title, e.g. <code>/submit Site plan for review</code>."),
    "reason": N_("A return needs a reason."),
    "comment": N_("The comment is empty."),
    "missing": N_("Name the missing material."),
    "answer": N_("The answer is empty."),
    "due_reason": N_("Say why the due date moves, e.g. <code>/due 2 12-20 waiting for the "
                     "survey</code>."),
    "item_title": N_("The supervision item needs a title."),
    "item_requirement": N_("Write what is required."),
    "item_feedback": N_("The feedback needs the result in words."),
    "return_reason": N_("A send-back needs a reason."),
}
DECISION_WORD: dict[str, str] = {Decision.APPROVE: N_("approved"),
                                 Decision.RETURN: N_("returned")}


def refusal(t: Translator, error: Refusal) -> Markup:
    values: dict[str, str] = {k: esc(v) for k, v in error.values.items()}
    if error.code == "not_allowed":
        template = NOT_ALLOWED.get(str(error.values.get("action")),
                                   N_("You are not allowed to do that."))
    elif error.code == "empty_text":
        template = EMPTY.get(str(error.values.get("what")),
                             N_("Nothing to report: add text, a photo or a document."))
    elif error.code == "no_project_here" and error.values.get("private"):
        template = N_("Reports and items for approval go into the project's group: "
                      "send the command there.")
    elif error.code == "bad_range":
        if error.values.get("past"):
            template = N_("That absence ({start} – {end}) is already over.")
        elif error.values.get("long"):
            template = N_("An absence ({start} – {end}) can last a year at most.")
        else:
            template = N_("That absence ends ({end}) before it starts ({start}).")
    elif error.code == "bad_date" and error.values.get("past"):
        template = N_("{text} is already past: pick a date from today on.")
    elif error.code == "milestone_reached":
        on = error.values.get("on")
        values["on"] = t.day(on) if isinstance(on, date) else "?"
        template = REFUSALS["milestone_reached"]
    elif error.code == "no_milestone":
        template = (N_("{project} has no milestone “{which}”: give its number (1, 2 …) or a "
                       "part of its title.") if error.values.get("which") else
                    N_("Every milestone of {project} is already reached."))
    elif error.code == "not_shown_here":
        template = (N_("Items of {code} are not shown in this group: ask me in private, or in "
                       "the project's own group.") if error.values.get("code") else
                    N_("This group is not one of the bureau's, so I answer that only in "
                       "private: send it to me there."))
    elif error.code == "case_closed":
        state = str(error.values.get("state"))
        template = CASE_CLOSED.get(CaseState(state), N_("This item is closed.")) \
            if state in set(CaseState) else N_("This item is closed.")
    elif error.code == "inquiry_closed":
        at = error.values.get("at")
        values["at"] = t.when(at) if isinstance(at, datetime) else "?"
        template = REFUSALS["inquiry_closed"]
    elif error.code == "item_step":
        values["state"] = t.gettext(ITEM_STATE_WORDS[ItemState(str(error.values.get("state")))])
        template = N_("{code} is {state}: that step is not possible now.")
    elif error.code == "already_answered":
        at = error.values.get("at")
        values["at"] = t.when(at) if isinstance(at, datetime) else "?"
        template = N_("This urge notice was already answered in writing by {by} at {at}.")
    elif error.code == "already_decided":
        at = error.values.get("at")
        values["at"] = t.when(at) if isinstance(at, datetime) else "?"
        values["decision"] = t.gettext(DECISION_WORD[str(error.values["decision"])])
        template = REFUSALS["already_decided"]
    else:
        template = REFUSALS.get(error.code, N_("Sorry, that cannot be done."))
    return t.gettext(template).format(**values)
