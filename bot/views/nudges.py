"""What the deadline sweep says: nudges, urge notices, digests, warnings, deemed approvals."""

from __future__ import annotations

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from markupsafe import Markup

from bot.domain.usecases.nudging import MILESTONE, MISSING, PlannedNudge, PlannedUrge, Subject
from bot.i18n import N_, Translator
from bot.views.keyboards import UrgeCb
from bot.views.text import esc, localized, time_left

HEADS = {
    "yellow": N_("🟡 <b>Due soon</b>"),
    "red": N_("🔴 <b>Overdue</b>"),
    "urge": N_("📮 <b>Urge notice</b>"),
    "repeat": N_("🔴 <b>Still overdue</b>"),
}


def subject_line(t: Translator, subject: Subject) -> Markup:
    project = Markup("{} {}").format(subject.project.code, subject.project.name)
    if subject.kind == MILESTONE:
        return t.gettext("Milestone “{title}” of {project}").format(
            title=esc(subject.title), project=project)
    if subject.kind == MISSING:
        assert subject.case is not None
        return t.gettext("Missing material “{name}” of #{id} “{case}” ({project})").format(
            name=esc(subject.title), id=subject.case.id, case=esc(subject.case.title),
            project=project)
    assert subject.case is not None and subject.step is not None
    return t.gettext("“{title}” #{id}, step “{step}” ({project})").format(
        title=esc(subject.title), id=subject.case.id,
        step=localized(t, subject.step.name, subject.step.name_en), project=project)


def nudge_text(t: Translator, planned: PlannedNudge, waiting_for: list[str]) -> Markup:
    kind = planned.reached.rung.kind.value
    head = t.gettext(HEADS[kind])
    if planned.late:
        head = t.gettext("{head} (sent late: it fell due at {when})").format(
            head=head, when=t.when(planned.reached.since))
    subject = planned.subject
    lines = [t.gettext("{head}: {subject}").format(head=head, subject=subject_line(t, subject)),
             t.gettext("Due {when} — {left}.").format(when=t.deadline(subject.due),
                                                      left=time_left(t, planned.left))]
    if waiting_for:
        lines.append(t.gettext("⏳ Waiting for {people}").format(
            people=t.gettext(" or ").join(esc(name) for name in waiting_for)))
    if subject.case is not None:
        lines.append(t.gettext("Query code: <code>{code}</code>").format(
            code=subject.case.query_code))
    return Markup("\n").join(lines)


def decide_hint(t: Translator, *, here: bool) -> Markup:
    """The last line of a reminder to someone who holds the turn: decide from its buttons
    (``here``), or, in the group, from the case card's."""
    if here:
        return t.gettext("👇 Yours to decide: the buttons below work as on your card.")
    return t.gettext("Yours to decide: use the buttons on the case card.")


def digest_text(t: Translator, lines: list[Markup]) -> Markup:
    head = t.ngettext("⏰ <b>{n} deadline needs you</b>", "⏰ <b>{n} deadlines need you</b>",
                      len(lines)).format(n=len(lines))
    return Markup("\n\n").join([head, *lines])


def urge_text(t: Translator, planned: PlannedUrge, section_name: str | None,
              head_name: str | None, late_days: int) -> Markup:
    subject = planned.subject
    lines = [t.gettext("📮 <b>Urge notice</b> (催办通知书) · {code} {name}").format(
        code=esc(subject.project.code), name=esc(subject.project.name)),
        t.ngettext("{subject} was due {when} and is {n} working day late.",
                   "{subject} was due {when} and is {n} working days late.",
                   late_days).format(subject=subject_line(t, subject),
                                     when=t.deadline(subject.due), n=late_days)]
    if section_name or head_name:
        lines.append(t.gettext("Responsible section: {section} (head: {head})").format(
            section=esc(section_name or "?"), head=esc(head_name or "?")))
    lines.append(t.gettext("The section head follows it up personally and answers in writing "
                           "with the cause of the delay and a plan: press ✍️ below."))
    return Markup("\n").join(lines)


def urge_keyboard(t: Translator, urge_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(
        text=t.gettext("✍️ Answer in writing"), callback_data=UrgeCb(urge=urge_id).pack())]])


def uncertain_year_text(t: Translator, year: int) -> Markup:
    return t.gettext(
        "⚠️ There are no official holidays for {year} yet: due dates in {year} are counted "
        "with weekends only and marked uncertain. Import the State Council notice with "
        "<code>greenlight calendar import FILE</code> or add days with /calendar."
    ).format(year=year)


def deemed_text(t: Translator, step_name: str, title: str, case_id: int | None) -> Markup:
    return t.gettext("⏰ Deemed approved (超时默许): nobody decided step “{step}” of “{title}” "
                     "(#{id}) in time, so by its rules it counts as approved.").format(
        step=step_name, title=esc(title), id=case_id)
