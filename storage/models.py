"""SQLModel tables. Telegram ids are BIGINT; instants are aware UTC (:class:`UTCDateTime`).

Enumerated columns are plain strings whose values the domain defines
(``bot.domain.rules.vocabulary``); that keeps migrations and both databases simple.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    Text,
    UniqueConstraint,
    event,
    select,
    text,
    update,
)
from sqlalchemy import inspect as inspect_row
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key
from sqlmodel import Field, SQLModel

from bot.domain.rules.casetypes import TimeoutPolicy
from bot.domain.rules.vocabulary import (
    AssignmentState,
    AttachmentKind,
    CardKind,
    CaseState,
    Channel,
    ChatKind,
    Decision,
    ItemAct,
    ItemState,
    LaneState,
    MemberRole,
    ProjectStatus,
    Role,
    StepMode,
    StepState,
)
from storage.types import Enumerated, UTCDateTime


def _utc(nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, index=index)


def _enum(enum: type[StrEnum], length: int, *, index: bool = False, nullable: bool = False,
          default: StrEnum | None = None) -> Any:
    """A column of a StrEnum's values (``storage.types.Enumerated``)."""
    return Field(default=default, sa_type=Enumerated(enum, length),
                 nullable=nullable, index=index)


class Unit(SQLModel, table=True):
    """One level of the organisation (city, district or county, township), any depth.

    ``path`` is the materialized path of ids from the root down, e.g. ``/1/4/9/``: a subtree is
    every unit whose path starts with its root's, one indexed query on both databases, with no
    walk of the tree per row. Rows outside any unit (``unit_id`` null) belong to the root."""

    id: int = Field(default=None, primary_key=True)  # set by the database on flush
    code: str = Field(unique=True, max_length=64)
    name: str = Field(max_length=200)
    parent_id: int | None = Field(default=None, foreign_key="unit.id")
    path: str = Field(default="/", max_length=255, index=True)


class Section(SQLModel, table=True):
    id: int = Field(default=None, primary_key=True)  # set by the database on flush
    code: str = Field(unique=True, max_length=64)
    name: str = Field(max_length=200)
    unit_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    # The section head is a person; the FK is added after both tables exist (a cycle).
    head_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("person.id", use_alter=True, name="fk_section_head"), nullable=True
        ),
    )


class Person(SQLModel, table=True):
    id: int = Field(default=None, primary_key=True)  # set by the database on flush
    key: str = Field(unique=True, max_length=64)  # handle used in the org file
    tg_user_id: int | None = Field(default=None, sa_type=BigInteger, unique=True)
    name: str = Field(max_length=200)
    username: str | None = Field(default=None, max_length=64)
    locale: str | None = Field(default=None, max_length=8)
    locale_chosen: bool = False  # set by the person (/lang): an org import leaves it be
    section_id: int | None = Field(default=None, foreign_key="section.id")
    unit_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    backup_id: int | None = Field(default=None, foreign_key="person.id")  # the B post
    started_at: datetime | None = _utc()  # opened a private chat
    dm_blocked: bool = False  # Telegram refused a private message (403)
    active: bool = True


class RoleGrant(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("person_id", "role"),)
    id: int = Field(default=None, primary_key=True)  # set by the database on flush
    person_id: int = Field(foreign_key="person.id", index=True)
    role: Role = _enum(Role, 32)


class Chat(SQLModel, table=True):
    id: int = Field(default=None, primary_key=True)  # set by the database on flush
    tg_chat_id: int = Field(sa_type=BigInteger, unique=True)
    kind: ChatKind = _enum(ChatKind, 32)
    title: str = Field(default="", max_length=255)
    unit_id: int | None = Field(default=None, foreign_key="unit.id", index=True)


class Project(SQLModel, table=True):
    id: int = Field(default=None, primary_key=True)  # set by the database on flush
    code: str = Field(unique=True, max_length=32)
    name: str = Field(max_length=255)
    status: ProjectStatus = _enum(ProjectStatus, 32)
    leader_id: int | None = Field(default=None, foreign_key="person.id")
    section_id: int | None = Field(default=None, foreign_key="section.id")
    unit_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    work_plan: str = Field(default="", sa_type=Text)
    follow_through: str = Field(default="", sa_type=Text)
    green_channel: bool = False
    chat_id: int | None = Field(default=None, foreign_key="chat.id", unique=True)
    status_changed_in_chat_at: datetime | None = _utc()  # the org file's import keeps it then


class ProjectMember(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("project_id", "person_id", "role"),)
    id: int = Field(default=None, primary_key=True)  # set by the database on flush
    project_id: int = Field(foreign_key="project.id", index=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    role: MemberRole = _enum(MemberRole, 32)


class Milestone(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("project_id", "seq"),)
    id: int = Field(default=None, primary_key=True)  # set by the database on flush
    project_id: int = Field(foreign_key="project.id", index=True)
    seq: int
    title: str = Field(max_length=255)
    due_on: date
    done_on: date | None = None
    next_at: datetime | None = _utc(index=True)  # when the sweep must look again (see below)
    changed_in_chat_at: datetime | None = _utc()  # reached or moved in chat: the import keeps it


class Report(SQLModel, table=True):
    # Album items arrive as separate updates, maybe at once: one report per album. Reports
    # whose card a stopped process never posted are few, and the sweep looks for them.
    __table_args__ = (UniqueConstraint("tg_chat_id", "media_group_id"),
                      Index("ix_report_no_card", "created_at",
                            sqlite_where=text("card_message_id IS NULL"),
                            postgresql_where=text("card_message_id IS NULL")))
    id: int = Field(default=None, primary_key=True)  # set by the database on flush
    project_id: int = Field(foreign_key="project.id", index=True)
    milestone_id: int | None = Field(default=None, foreign_key="milestone.id")
    author_id: int = Field(foreign_key="person.id")
    text: str = Field(default="", sa_type=Text)
    created_at: datetime = _utc(nullable=False)
    tg_chat_id: int = Field(sa_type=BigInteger)
    source_message_id: int
    card_message_id: int | None = None
    media_group_id: str | None = Field(default=None, max_length=64)


class Attachment(SQLModel, table=True):
    id: int = Field(default=None, primary_key=True)  # set by the database on flush
    report_id: int | None = Field(default=None, foreign_key="report.id", index=True)
    case_id: int | None = Field(default=None, foreign_key="case.id", index=True)
    kind: AttachmentKind = _enum(AttachmentKind, 16)
    file_id: str = Field(max_length=255)
    file_unique_id: str = Field(max_length=128)
    file_name: str | None = Field(default=None, max_length=255)
    mime_type: str | None = Field(default=None, max_length=128)
    file_size: int | None = None


class Case(SQLModel, table=True):
    # Cases whose cards are behind: few at any moment, found by the sweep's repair.
    __table_args__ = (Index("ix_case_cards_behind", "id",
                            sqlite_where=text("shown < changes"),
                            postgresql_where=text("shown < changes")),)
    id: int = Field(default=None, primary_key=True)  # set by the database on flush
    project_id: int = Field(foreign_key="project.id", index=True)
    type_code: str = Field(max_length=64)
    # The case type as it was at submission (JSON), so later config edits leave it alone.
    definition: str = Field(default="{}", sa_type=Text)
    details: str = Field(default="{}", sa_type=Text)  # the type's extra fields (JSON)
    title: str = Field(max_length=255)
    body: str = Field(default="", sa_type=Text)
    green_channel: bool = False
    round: int = 1  # goes up when a case is returned to an earlier step
    submitter_id: int = Field(foreign_key="person.id")
    state: CaseState = _enum(CaseState, 32, index=True)
    query_code: str = Field(unique=True, max_length=16)
    created_at: datetime = _utc(nullable=False)
    closed_at: datetime | None = _utc()
    version: int = 1
    # Its cards' debt, kept in the transaction of each change (see below): ``changes`` counts
    # the flushes that changed what its cards show, ``shown`` is the count they were last
    # brought up to. A process that dies in between leaves ``shown < changes`` for the repair.
    changes: int = 0
    shown: int = 0


class Step(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("case_id", "round", "seq"),)
    id: int = Field(default=None, primary_key=True)  # set by the database on flush
    case_id: int = Field(foreign_key="case.id", index=True)
    round: int = 1
    seq: int
    name: str = Field(max_length=255)
    name_en: str | None = Field(default=None, max_length=255)
    mode: StepMode = _enum(StepMode, 16)
    limit_days: int
    timeout_policy: TimeoutPolicy = _enum(TimeoutPolicy, 16, default=TimeoutPolicy.NONE)
    state: StepState = _enum(StepState, 16, index=True)
    started_at: datetime | None = _utc()
    due_at: datetime | None = _utc(index=True)
    due_uncertain: bool = False
    closed_at: datetime | None = _utc()
    paused_at: datetime | None = _utc()  # waiting on the submitter: the clock stops
    deemed: bool = False  # approved by its timeout policy (超时默许), not by anyone
    next_at: datetime | None = _utc(index=True)  # when the sweep must look again (see below)
    cc: str = Field(default="[]", sa_type=Text)  # person ids given a copy (JSON)
    version: int = 1  # compare-and-set guard for concurrent decisions


class Lane(SQLModel, table=True):
    """One department's part of a step; a normal step has one lane, a joint step several."""

    __table_args__ = (UniqueConstraint("step_id", "seq"),)
    id: int = Field(default=None, primary_key=True)  # set by the database on flush
    step_id: int = Field(foreign_key="step.id", index=True)
    seq: int
    name: str = Field(max_length=255)
    name_en: str | None = Field(default=None, max_length=255)
    mode: StepMode = _enum(StepMode, 16)
    limit_days: int
    state: LaneState = _enum(LaneState, 16)
    due_at: datetime | None = _utc()
    due_uncertain: bool = False
    remaining_days: int | None = None  # working days left when the clock stopped


class Assignment(SQLModel, table=True):
    id: int = Field(default=None, primary_key=True)  # set by the database on flush
    step_id: int = Field(foreign_key="step.id", index=True)
    lane_id: int = Field(foreign_key="lane.id", index=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    on_behalf_of_id: int | None = Field(default=None, foreign_key="person.id")  # "B for A"
    state: AssignmentState = _enum(AssignmentState, 16, default=AssignmentState.PENDING,
                                   index=True)
    added: bool = False  # a signer added to the step, who must approve as well
    waits_for_id: int | None = Field(default=None, foreign_key="assignment.id")
    transferred_from_id: int | None = Field(default=None, foreign_key="assignment.id")
    decision: Decision | None = _enum(Decision, 16, nullable=True)
    reason: str | None = Field(default=None, sa_type=Text)  # why returned or transferred
    comment: str | None = Field(default=None, sa_type=Text)  # said with an approval
    decided_at: datetime | None = _utc()
    created_at: datetime | None = _utc()
    version: int = 1


class Delegation(SQLModel, table=True):
    """Out of office: assignments arriving for ``person`` go to ``delegate`` meanwhile."""

    id: int = Field(default=None, primary_key=True)  # set by the database on flush
    person_id: int = Field(foreign_key="person.id", index=True)
    delegate_id: int = Field(foreign_key="person.id")
    starts_on: date
    ends_on: date
    note: str = Field(default="", max_length=255)
    created_at: datetime = _utc(nullable=False)
    cancelled_at: datetime | None = _utc()


class Comment(SQLModel, table=True):
    """A remark on a case, written as a reply to one of its cards."""

    id: int = Field(default=None, primary_key=True)  # set by the database on flush
    case_id: int = Field(foreign_key="case.id", index=True)
    author_id: int = Field(foreign_key="person.id")
    text: str = Field(sa_type=Text)
    created_at: datetime = _utc(nullable=False)
    tg_chat_id: int | None = Field(default=None, sa_type=BigInteger)
    tg_message_id: int | None = None


class MissingItem(SQLModel, table=True):
    """Accepted with missing materials (容缺受理): what is owed, and by when."""

    id: int = Field(default=None, primary_key=True)  # set by the database on flush
    case_id: int = Field(foreign_key="case.id", index=True)
    name: str = Field(max_length=200)
    supply_by: date
    created_at: datetime = _utc(nullable=False)
    created_by_id: int = Field(foreign_key="person.id")
    supplied_at: datetime | None = _utc()
    next_at: datetime | None = _utc(index=True)  # when the sweep must look again (see below)


class Inquiry(SQLModel, table=True):
    """A first-question ledger entry (首问负责制台账): whoever is asked first records who asked
    what, owns it (or hands it to whoever does) until it is closed with its outcome."""

    id: int = Field(default=None, primary_key=True)  # set by the database on flush
    unit_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    asked_id: int = Field(foreign_key="person.id")  # the first person asked (首问责任人)
    asker: str = Field(max_length=200)  # who asked: a name, a contact
    question: str = Field(sa_type=Text)
    owner_id: int = Field(foreign_key="person.id", index=True)  # sees it through
    created_at: datetime = _utc(nullable=False)
    due_at: datetime = _utc(nullable=False)  # answered by then (限时办结)
    closed_at: datetime | None = _utc()
    closed_by_id: int | None = Field(default=None, foreign_key="person.id")
    outcome: str | None = Field(default=None, sa_type=Text)
    next_at: datetime | None = _utc(index=True)  # when the sweep must look again


class UrgeNotice(SQLModel, table=True):
    """A formal urge notice (催办通知书), issued once for a late step or milestone; the section
    head answers it in writing with the cause of the delay and a plan."""

    __table_args__ = (UniqueConstraint("target_kind", "target_id"),
                      # the few a sweep must still deliver, found without reading the rest
                      Index("ix_urgenotice_unsent", "issued_at",
                            sqlite_where=text("sent_at IS NULL"),
                            postgresql_where=text("sent_at IS NULL")))
    id: int = Field(default=None, primary_key=True)  # set by the database on flush
    target_kind: str = Field(max_length=16)  # step | milestone
    target_id: int
    project_id: int = Field(foreign_key="project.id", index=True)
    section_id: int | None = Field(default=None, foreign_key="section.id")
    head_id: int | None = Field(default=None, foreign_key="person.id")
    issued_at: datetime = _utc(nullable=False)
    due_at: datetime = _utc(nullable=False)  # the deadline that was missed
    head_sent_at: datetime | None = _utc()  # the section head's copy (private, or in the group)
    office_sent_at: datetime | None = _utc()  # the supervision office's chats
    sent_at: datetime | None = _utc()  # both: nothing left to deliver
    answered_at: datetime | None = _utc()
    answered_by_id: int | None = Field(default=None, foreign_key="person.id")
    cause: str | None = Field(default=None, sa_type=Text)
    plan: str | None = Field(default=None, sa_type=Text)


class UrgeCopy(SQLModel, table=True):
    """A message showing an urge notice with its ✍️ button (the head's copy, the supervision
    office's), so that the button goes once the notice is answered."""

    __table_args__ = (UniqueConstraint("tg_chat_id", "tg_message_id"),)
    id: int = Field(default=None, primary_key=True)  # set by the database on flush
    urge_id: int = Field(foreign_key="urgenotice.id", index=True)
    tg_chat_id: int = Field(sa_type=BigInteger)
    tg_message_id: int


class SupervisionItem(SQLModel, table=True):
    """A supervision item (督查事项) along the seven steps (``bot.domain.rules.supervision``):
    registered by the supervision office, assigned to a section (its head answers) or a
    person with a due, urged, answered, reviewed, bulletined, archived."""

    id: int = Field(default=None, primary_key=True)  # set by the database on flush
    code: str = Field(unique=True, max_length=32)  # DC-2026-001
    title: str = Field(max_length=255)
    requirement: str = Field(default="", sa_type=Text)  # the source and what is required
    state: ItemState = _enum(ItemState, 16, index=True)
    registered_by_id: int = Field(foreign_key="person.id")
    registered_at: datetime = _utc(nullable=False)
    unit_id: int | None = Field(default=None, foreign_key="unit.id", index=True)  # the office's
    section_id: int | None = Field(default=None, foreign_key="section.id")  # its head answers
    assignee_id: int | None = Field(default=None, foreign_key="person.id")  # else this person
    limit_days: int | None = None  # the due as working days from the assignment
    due_on: date | None = None  # or as a date
    assigned_at: datetime | None = _utc()
    due_at: datetime | None = _utc()  # set when assigned
    feedback: str | None = Field(default=None, sa_type=Text)  # the latest answer
    feedback_at: datetime | None = _utc()
    closed_at: datetime | None = _utc()  # archived
    next_at: datetime | None = _utc(index=True)  # when the sweep must look again (see below)
    version: int = 1  # compare-and-set guard: one of two simultaneous presses wins


class ItemEvent(SQLModel, table=True):
    """One step taken on a supervision item: what, by whom, when (and the words said)."""

    id: int = Field(default=None, primary_key=True)  # set by the database on flush
    item_id: int = Field(foreign_key="supervisionitem.id", index=True)
    act: ItemAct = _enum(ItemAct, 4)
    state: ItemState = _enum(ItemState, 16)  # the state it led to
    actor_id: int | None = Field(default=None, foreign_key="person.id")
    at: datetime = _utc(nullable=False)
    text: str = Field(default="", sa_type=Text)  # the answer, the reason sent back, a note


class ItemFile(SQLModel, table=True):
    """A photo or document given with an answer (by its Telegram file id)."""

    id: int = Field(default=None, primary_key=True)  # set by the database on flush
    event_id: int = Field(foreign_key="itemevent.id", index=True)
    kind: AttachmentKind = _enum(AttachmentKind, 16)
    file_id: str = Field(max_length=255)
    file_name: str | None = Field(default=None, max_length=255)


class Card(SQLModel, table=True):
    """A message showing a case: the one in the project group and each private copy."""

    __table_args__ = (UniqueConstraint("tg_chat_id", "tg_message_id"),)
    id: int = Field(default=None, primary_key=True)  # set by the database on flush
    case_id: int = Field(foreign_key="case.id", index=True)
    tg_chat_id: int = Field(sa_type=BigInteger)
    tg_message_id: int | None = None  # None while it is being sent: claimed, not yet delivered
    person_id: int | None = Field(default=None, foreign_key="person.id")
    kind: CardKind = _enum(CardKind, 16)
    # What the card was sent for: a turn (a private card or a group mention), a step (CC),
    # or the return that asks the submitter for a supplement.
    assignment_id: int | None = Field(default=None, foreign_key="assignment.id", index=True)
    step_id: int | None = Field(default=None, foreign_key="step.id")
    turn_version: int = 0  # the assignment's version it was sent for: a reopened turn is new
    shown_hash: str = Field(default="", max_length=64)  # what it shows now, to skip no-op edits


class Nudge(SQLModel, table=True):
    """A deadline ping; the unique key makes each level go out once per person."""

    __table_args__ = (UniqueConstraint("target_kind", "target_id", "person_id", "level"),
                      # claims never marked sent, which a sweep retakes: few, among many
                      Index("ix_nudge_unsent", "created_at",
                            sqlite_where=text("sent_at IS NULL"),
                            postgresql_where=text("sent_at IS NULL")))
    id: int = Field(default=None, primary_key=True)  # set by the database on flush
    target_kind: str = Field(max_length=16)  # step | milestone
    target_id: int
    person_id: int = Field(foreign_key="person.id", index=True)
    level: str = Field(max_length=32)
    created_at: datetime = _utc(nullable=False)
    sent_at: datetime | None = _utc()
    channel: Channel | None = _enum(Channel, 16, nullable=True)
    late: bool = False
    error: str | None = Field(default=None, max_length=255)


class AuditEvent(SQLModel, table=True):
    """Append-only trail; each row carries the hash of the one before (a chain)."""

    id: int = Field(default=None, primary_key=True)  # set by the database on flush
    at: datetime = _utc(nullable=False)
    actor_id: int | None = Field(default=None, foreign_key="person.id")
    action: str = Field(max_length=64, index=True)
    subject: str = Field(max_length=64, index=True)
    data: str = Field(default="{}", sa_type=Text)
    prev_hash: str = Field(max_length=64, unique=True)
    hash: str = Field(max_length=64)


class WeeklyDigest(SQLModel, table=True):
    """A week's digest to the leaders' group, claimed before it is sent: sent once."""

    id: int = Field(default=None, primary_key=True)  # set by the database on flush
    week: str = Field(max_length=10, unique=True)  # ISO week, e.g. 2026-W49
    claimed_at: datetime = _utc(nullable=False)
    sent_at: datetime | None = _utc()
    error: str | None = Field(default=None, max_length=255)


class FsmRecord(SQLModel, table=True):
    """aiogram FSM state and data, so a half-finished conversation survives a restart."""

    key: str = Field(primary_key=True, max_length=255)
    state: str | None = Field(default=None, max_length=255)
    data: str = Field(default="{}", sa_type=Text)


class HandledUpdate(SQLModel, table=True):
    """A Telegram update already handled: recorded in the update's own unit of work, so a
    redelivered update (a webhook retried, polling resumed after a crash) changes nothing.
    Rows older than Telegram keeps updates are pruned."""

    update_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    handled_at: datetime = Field(sa_type=UTCDateTime, index=True)


class CalendarOverride(SQLModel, table=True):
    day: date = Field(primary_key=True)
    is_workday: bool
    name: str = Field(default="", max_length=100)
    source: str = Field(default="", max_length=255)


class CalendarYear(SQLModel, table=True):
    """A year whose official holiday notice an admin imported."""

    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    source: str = Field(default="", max_length=255)


# The deadline sweep reads only the steps, milestones and missing materials whose next moment
# of interest has come (``next_at <= now``; NULL: nothing more will happen). It works that
# moment out itself, with the calendar, the policy and the case's ladder; a row whose timing
# changes is handed back to it by setting ``next_at`` to :data:`AT_ONCE` here, on every flush,
# so that no change (a step opened, paused, resumed or closed, a due moved, a milestone done,
# a material supplied) can be forgotten by the code that makes it.
AT_ONCE = datetime(1970, 1, 1, tzinfo=UTC)
TIMING: dict[Any, tuple[str, ...]] = {Step: ("state", "due_at", "limit_days", "timeout_policy"),
                                      Milestone: ("due_on", "done_on"),
                                      MissingItem: ("supply_by", "supplied_at"),
                                      SupervisionItem: ("state", "due_at")}


@event.listens_for(Session, "before_flush")
def _timing_changed(session: Session, _context: Any, _instances: Any) -> None:
    for row in session.new:
        if type(row) in TIMING:
            row.next_at = AT_ONCE
    for row in session.dirty:
        fields = TIMING.get(type(row))
        if fields:
            attrs = inspect_row(row).attrs
            if any(attrs[name].history.has_changes() for name in fields):
                row.next_at = AT_ONCE


# What a case's cards show changes with these rows; a flush that changes any of them (but
# for the sweep's own bookkeeping) adds one to the case's ``changes`` in the same
# transaction, so no change can leave cards behind unnoticed, whoever makes it.
BOOKKEEPING: dict[Any, frozenset[str]] = {Case: frozenset({"changes", "shown"}),
                                          Step: frozenset({"next_at"}),
                                          MissingItem: frozenset({"next_at"})}
SHOWN_ON_CARDS = (Case, Step, Lane, Assignment, Comment, MissingItem, Attachment)


@event.listens_for(Session, "before_flush")
def _cards_behind(session: Session, _context: Any, _instances: Any) -> None:
    cases: set[int] = set()
    steps: set[int] = set()
    for row in (*session.new, *session.dirty, *session.deleted):
        if not isinstance(row, SHOWN_ON_CARDS) or (
                row in session.dirty and not _shown_changed(row)):
            continue
        if isinstance(row, Case):
            if row in session.new:
                row.changes = 1
                continue
            case_id: int | None = row.id
        elif isinstance(row, Lane | Assignment):
            step = session.identity_map.get(identity_key(Step, row.step_id))
            if step is None:
                steps.add(row.step_id)
                continue
            case_id = step.case_id
        else:
            case_id = row.case_id
        if case_id is not None:
            cases.add(case_id)
    table = Case.__table__  # type: ignore[attr-defined]
    for case_id in cases:
        case = session.identity_map.get(identity_key(Case, case_id))
        if case is not None:
            if case not in session.new:  # a new case counts its first flush itself
                case.changes = Case.changes + 1  # in SQL, so no concurrent change is lost
            continue
        session.connection().execute(update(table).where(table.c.id == case_id)
                                     .values(changes=table.c.changes + 1))
    if steps:
        step_table = Step.__table__  # type: ignore[attr-defined]
        session.connection().execute(
            update(table).where(table.c.id.in_(select(step_table.c.case_id)
                                               .where(step_table.c.id.in_(steps))))
            .values(changes=table.c.changes + 1))


def _shown_changed(row: Any) -> bool:
    """Whether a dirty row changed more than the sweep's bookkeeping."""
    ignored = BOOKKEEPING.get(type(row), frozenset())
    return any(attr.history.has_changes() for attr in inspect_row(row).attrs
               if attr.key not in ignored)
