"""The bureau's vocabulary as enumerations; storage keeps their string values."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"  # 管理员
    DIRECTOR = "director"  # 局长
    LEADER = "leader"  # 分管领导
    HANDLER = "handler"  # 经办人
    GUIDE = "guide"  # 规划引导员
    SUPERVISOR = "supervisor"  # 督查室


class ProjectStatus(StrEnum):
    PRE_INTERVENTION = "pre_intervention"  # 提前介入 (before formal filing)
    IN_PROGRESS = "in_progress"  # 推进中
    DONE = "done"  # 已办结
    DONE_FOLLOW_UP = "done_follow_up"  # 已办结需跟进


class ChatKind(StrEnum):
    PROJECT = "project"
    LEADERS = "leaders"
    SUPERVISION = "supervision"
    OTHER = "other"


class MemberRole(StrEnum):
    HANDLER = "handler"
    GUIDE = "guide"


class CaseState(StrEnum):
    PENDING = "pending"  # moving through its steps
    SUPPLEMENT = "supplement"  # returned to the submitter for supplement (补正): clock stopped
    APPROVED = "approved"
    WITHDRAWN = "withdrawn"  # taken back by the submitter
    RETURNED = "returned"  # closed by a return before supplements existed (old records)


CLOSED_CASE_STATES = frozenset({CaseState.APPROVED, CaseState.WITHDRAWN, CaseState.RETURNED})


class StepMode(StrEnum):
    SINGLE = "single"  # one assignee decides
    ALL = "all"  # countersign 会签: everyone must approve
    ANY = "any"  # or-sign 或签: the first decision counts
    JOINT = "joint"  # a step of several lanes (departments) in parallel; never a lane's mode


class StepState(StrEnum):
    WAITING = "waiting"  # a later step, not started yet
    OPEN = "open"
    PAUSED = "paused"  # waiting on the submitter's supplement; its clock is stopped
    APPROVED = "approved"
    RETURNED = "returned"  # sent back to an earlier step (or, in old records, to the handler)
    WITHDRAWN = "withdrawn"


class LaneState(StrEnum):
    OPEN = "open"
    APPROVED = "approved"
    RETURNED = "returned"


class AssignmentState(StrEnum):
    WAITING = "waiting"  # an added signer's turn comes after someone else's approval
    PENDING = "pending"  # can decide now
    DECIDED = "decided"
    TRANSFERRED = "transferred"  # handed to someone else, who got a new assignment
    CANCELLED = "cancelled"  # no longer needed: the or-sign was decided, or the case ended
    SUPERSEDED = "superseded"  # an earlier pass, before the case was resubmitted


class Decision(StrEnum):
    APPROVE = "approve"
    RETURN = "return"


class Light(StrEnum):
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


class NudgeLevel(StrEnum):
    YELLOW = "yellow"
    RED = "red"


class AttachmentKind(StrEnum):
    PHOTO = "photo"
    DOCUMENT = "document"


class CardKind(StrEnum):
    """A message the bot keeps about a case."""

    GROUP = "group"  # the case's card in the project group
    PRIVATE = "private"  # a turn holder's private card, with the buttons
    CC = "cc"  # a copy for those the step informs
    SUBMITTER = "submitter"  # the submitter's card while the case waits on a supplement
    MENTION = "mention"  # a turn announced in the group (private messages refused); never edited
    NOTICE = "notice"  # a return told in the group (private messages refused); never edited
    REMINDER = "reminder"  # a holder's deadline reminder: only its buttons are kept true
    OUTCOME = "outcome"  # the submitter told of the approval; never edited


class Channel(StrEnum):
    """How a message reached a person."""

    PRIVATE = "private"
    GROUP = "group"  # a mention in a group, private messages being refused
    NONE = "none"


class OutcomeEvent(StrEnum):
    """What a change to a case did, for the cards and notices that follow it."""

    APPROVED = "approved"  # one decision recorded; the step goes on
    APPROVED_STEP = "approved_step"  # the step is approved and the next one opened
    APPROVED_CASE = "approved_case"  # the last step is approved: the case is done
    RETURNED = "returned"  # back to the submitter for a supplement
    RETURNED_TO_STEP = "returned_to_step"  # back to an earlier step, in a new round
    RESUBMITTED = "resubmitted"
    WITHDRAWN = "withdrawn"
    TRANSFERRED = "transferred"
    SIGNER_ADDED = "signer_added"


class ItemState(StrEnum):
    """A supervision item (督查事项) along the seven steps (督查七步)."""

    REGISTERED = "registered"  # 登记: recorded, not yet sent to anyone
    ASSIGNED = "assigned"  # 交办: with the assignee, the clock running
    URGED = "urged"  # 催办: urged at least once, still waiting for feedback
    REVIEWING = "reviewing"  # 反馈: the assignee answered; the office reviews it
    SENT_BACK = "sent_back"  # 审核 not passed: back with the assignee, with a reason
    ACCEPTED = "accepted"  # 审核 passed
    BULLETINED = "bulletined"  # 通报: the result published to the supervision chat
    ARCHIVED = "archived"  # 归档


class ItemAct(StrEnum):
    """What is done to a supervision item; the letters are packed into button data."""

    REGISTER = "n"
    ASSIGN = "a"
    URGE = "u"
    FEEDBACK = "f"
    ACCEPT = "y"
    SEND_BACK = "b"
    BULLETIN = "p"
    ARCHIVE = "z"
