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
    PENDING = "pending"  # waiting for decisions
    APPROVED = "approved"
    RETURNED = "returned"


class StepMode(StrEnum):
    SINGLE = "single"  # one assignee decides
    ALL = "all"  # countersign 会签: everyone must approve
    ANY = "any"  # or-sign 或签: the first decision counts


class StepState(StrEnum):
    WAITING = "waiting"  # a later step, not started yet
    OPEN = "open"
    APPROVED = "approved"
    RETURNED = "returned"


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
