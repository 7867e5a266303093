"""Progress reports: a handler pushes text, photos and documents into the project's group."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.domain.rules.calendar import DayCount, WorkCalendar
from bot.domain.rules.errors import EmptyText, TooLong
from bot.domain.rules.lights import light, milestone_due
from bot.domain.rules.policy import Policy
from bot.domain.rules.vocabulary import AttachmentKind, Light
from bot.domain.usecases.people import Actor, require_reporter
from storage.models import Attachment, Milestone, Person, Project, Report
from storage.store import Store


@dataclass(frozen=True)
class FileRef:
    """A Telegram file as the bot received it (stored by file_id, never downloaded)."""

    kind: AttachmentKind
    file_id: str
    file_unique_id: str
    file_name: str | None = None
    mime_type: str | None = None
    file_size: int | None = None


@dataclass(frozen=True)
class MilestoneStatus:
    milestone: Milestone
    light: Light
    left: DayCount


@dataclass
class ReportView:
    report: Report
    project: Project
    author: Person
    milestone: MilestoneStatus | None
    attachments: list[Attachment] = field(default_factory=list)


def milestone_status(milestone: Milestone, now: datetime, calendar: WorkCalendar,
                     policy: Policy) -> MilestoneStatus:
    """A milestone with its light and the working days left to its due."""
    due = milestone_due(milestone.due_on, calendar)
    return MilestoneStatus(milestone, light(now, due, calendar, policy),
                           calendar.remaining_working_days(now, due))


async def current_milestone(store: Store, project: Project, now: datetime,
                            calendar: WorkCalendar, policy: Policy) -> MilestoneStatus | None:
    """The first milestone not done yet, with its light."""
    for milestone in await store.milestones(project.id):
        if milestone.done_on is None:
            return milestone_status(milestone, now, calendar, policy)
    return None


async def file_report(store: Store, actor: Actor, project: Project, *, text: str,
                      files: list[FileRef], tg_chat_id: int, message_id: int,
                      media_group_id: str | None, now: datetime, calendar: WorkCalendar,
                      policy: Policy) -> tuple[ReportView, bool]:
    """Store a report; returns its view and whether it is new (False: an album's next item)."""
    await require_reporter(store, actor, project)
    text = text.strip()
    if len(text) > policy.report_max_chars:
        raise TooLong(length=len(text), limit=policy.report_max_chars)
    report = None
    if media_group_id:
        report = await store.report_by_media_group(tg_chat_id, media_group_id)
    created = report is None
    status = None
    if report is None:
        if not text and not files:
            raise EmptyText()
        status = await current_milestone(store, project, now, calendar, policy)
        report = Report(
            project_id=project.id, milestone_id=status.milestone.id if status else None,
            author_id=actor.id, text=text, created_at=now, tg_chat_id=tg_chat_id,
            source_message_id=message_id, media_group_id=media_group_id,
        )
        if media_group_id is None:
            await store.save(report)  # no album: nothing to race for, no savepoint
        elif not await store.insert_once(report):
            # Another item of the same album won the race: join its report.
            report = await store.report_by_media_group(tg_chat_id, media_group_id)
            assert report is not None
            created = False
        if created:
            await store.audit(at=now, actor_id=actor.id, action="report.filed",
                              subject=f"project:{project.code}",
                              data={"report": report.id, "files": len(files)})
    if not created and text and not report.text:
        report.text = text
    added = [Attachment(report_id=report.id, kind=ref.kind, file_id=ref.file_id,
                        file_unique_id=ref.file_unique_id, file_name=ref.file_name,
                        mime_type=ref.mime_type, file_size=ref.file_size) for ref in files]
    for attachment in added:
        store.add(attachment)
    await store.flush()
    if created:
        # A new report's project, author, milestone and files were all read or written in
        # this transaction: the card needs no second reading of them.
        return ReportView(report, project, actor.person, status, added), created
    return await report_view(store, report, now, calendar, policy), created


async def report_view(store: Store, report: Report, now: datetime, calendar: WorkCalendar,
                      policy: Policy) -> ReportView:
    project = await store.get(Project, report.project_id)
    author = await store.get(Person, report.author_id)
    assert project is not None and author is not None
    status = None
    if report.milestone_id is not None:
        milestone = await store.get(Milestone, report.milestone_id)
        if milestone is not None:
            due = milestone_due(milestone.due_on, calendar)
            status = MilestoneStatus(milestone, light(now, due, calendar, policy),
                                     calendar.remaining_working_days(now, due))
    return ReportView(report, project, author, status,
                      await store.attachments(report_id=report.id))
