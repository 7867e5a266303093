"""Refusals the domain raises; handlers turn each into a clear, localized reply.

Each carries a stable ``code`` (the key the rendering layer translates) and the
values the message needs. Nothing is changed when one is raised.
"""

from __future__ import annotations

from typing import Any


class Refusal(Exception):
    code = "refused"

    def __init__(self, **values: Any) -> None:
        super().__init__(self.code, values)
        self.values = values


class NotRegistered(Refusal):
    code = "not_registered"


class NoProjectHere(Refusal):
    code = "no_project_here"


class NotShownHere(Refusal):
    """Asked where the answer would reach people it is not for."""

    code = "not_shown_here"


class GroupTaken(Refusal):
    """This group is already another project's work group."""

    code = "group_taken"


class ProjectHasGroup(Refusal):
    """The project has its work group elsewhere: moving it must be asked for."""

    code = "project_has_group"


class UnknownProject(Refusal):
    code = "unknown_project"


class UnknownUnit(Refusal):
    """No unit by that code or name within the asker's reach."""

    code = "unknown_unit"


class NotAllowed(Refusal):
    code = "not_allowed"


class TooLong(Refusal):
    code = "too_long"


class EmptyText(Refusal):
    code = "empty_text"


class NoApprover(Refusal):
    code = "no_approver"


class StaleCard(Refusal):
    code = "stale_card"


class AlreadyDecided(Refusal):
    code = "already_decided"


class NotYourTurn(Refusal):
    code = "not_your_turn"


class UnknownButton(Refusal):
    code = "unknown_button"


class NotYetYourTurn(Refusal):
    code = "not_yet_your_turn"


class Transferred(Refusal):
    code = "transferred"


class CaseClosed(Refusal):
    code = "case_closed"


class BadReturnTarget(Refusal):
    code = "bad_return_target"


class MissingField(Refusal):
    code = "missing_field"


class UnknownCaseType(Refusal):
    code = "unknown_case_type"


class BadDate(Refusal):
    code = "bad_date"


class UnknownPerson(Refusal):
    code = "unknown_person"


class UnknownItem(Refusal):
    code = "unknown_item"


class BadRange(Refusal):
    code = "bad_range"


class NoMilestone(Refusal):
    """No open milestone (``which`` empty), or none matching ``which``."""

    code = "no_milestone"


class MilestoneReached(Refusal):
    code = "milestone_reached"


class UnknownStatus(Refusal):
    code = "unknown_status"


class UnknownLanguage(Refusal):
    code = "unknown_language"


class UnknownInquiry(Refusal):
    """No ledger entry by that number within the asker's reach."""

    code = "unknown_inquiry"


class InquiryClosed(Refusal):
    code = "inquiry_closed"


class AlreadyAnswered(Refusal):
    """An urge notice answered in writing already."""

    code = "already_answered"


class UnknownSupervisionItem(Refusal):
    """No supervision item with that code (or id, from a button)."""

    code = "unknown_dc"


class ItemStep(Refusal):
    """A step the supervision item's state does not allow now (``state``: where it is)."""

    code = "item_step"


class UnknownAssignee(Refusal):
    code = "unknown_assignee"
