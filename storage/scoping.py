"""The one place a scope becomes SQL: the projects of the scope's units (a scope is its
units' ids, worked out once from the tree's materialized paths)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, true
from sqlmodel import col

from bot.domain.rules.scope import Scope
from storage.models import Project


def project_in(scope: Scope) -> ColumnElement[bool]:
    if scope.unit_ids is None:
        return true()
    return col(Project.unit_id).in_(sorted(scope.unit_ids))
