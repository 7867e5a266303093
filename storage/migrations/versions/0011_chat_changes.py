"""changes made in chat

A milestone reached or moved, or a project's status changed, from the chat: the org file's
next import keeps them (and says so) instead of undoing them.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('milestone') as batch:
        batch.add_column(sa.Column('changed_in_chat_at', UTCDateTime(timezone=True),
                                   nullable=True))
    with op.batch_alter_table('project') as batch:
        batch.add_column(sa.Column('status_changed_in_chat_at', UTCDateTime(timezone=True),
                                   nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('project') as batch:
        batch.drop_column('status_changed_in_chat_at')
    with op.batch_alter_table('milestone') as batch:
        batch.drop_column('changed_in_chat_at')
