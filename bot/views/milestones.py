"""What the group reads when a milestone is reached or moved, or a project's status changes."""

from __future__ import annotations

from markupsafe import Markup

from bot.domain.usecases.milestones import Changed
from bot.domain.usecases.reporting import MilestoneStatus
from bot.i18n import Translator
from bot.views.cards import milestone_line
from bot.views.text import esc, status_label
from storage.models import Person, Project


def _next(t: Translator, upcoming: MilestoneStatus | None) -> Markup:
    if upcoming is None:
        return t.gettext("🎉 Every milestone is reached.")
    return t.gettext("Next: {line}").format(line=milestone_line(t, upcoming))


def reached_text(t: Translator, changed: Changed, who: Person,
                 upcoming: MilestoneStatus | None) -> Markup:
    milestone = changed.milestone
    assert milestone is not None and milestone.done_on is not None
    return Markup("\n").join([
        t.gettext("🏁 <b>{code}</b> {name}: milestone “{title}” reached ({who} · {day}).").format(
            code=esc(changed.project.code), name=esc(changed.project.name),
            title=esc(milestone.title), who=esc(who.name), day=t.day(milestone.done_on)),
        _next(t, upcoming),
    ])


def moved_text(t: Translator, changed: Changed, who: Person,
               upcoming: MilestoneStatus | None) -> Markup:
    milestone = changed.milestone
    assert milestone is not None
    before = changed.due_before
    return Markup("\n").join([
        t.gettext("📅 <b>{code}</b> {name}: milestone “{title}” now due {to} (was {before}; "
                  "{who}).").format(
            code=esc(changed.project.code), name=esc(changed.project.name),
            title=esc(milestone.title), to=t.day(milestone.due_on),
            before=t.day(before) if before is not None else "?",
            who=esc(who.name)),
        t.gettext("Reason: {reason}").format(reason=esc(changed.reason)),
        _next(t, upcoming),
    ])


def status_changed_text(t: Translator, changed: Changed, who: Person) -> Markup:
    project = changed.project
    if changed.status_before in (None, project.status):
        return t.gettext("<b>{code}</b> {name} is already {status}.").format(
            code=esc(project.code), name=esc(project.name),
            status=status_label(t, project.status))
    return t.gettext("📌 <b>{code}</b> {name}: {before} → {after} ({who}).").format(
        code=esc(project.code), name=esc(project.name),
        before=status_label(t, str(changed.status_before)), after=status_label(t, project.status),
        who=esc(who.name))


def status_prompt(t: Translator, project: Project) -> Markup:
    return t.gettext("<b>{code}</b> {name} is {status}. Its new status:").format(
        code=esc(project.code), name=esc(project.name), status=status_label(t, project.status))
