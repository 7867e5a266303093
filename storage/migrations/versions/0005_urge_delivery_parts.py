"""urge delivery parts

An urge notice goes to the section head and to the supervision office; each copy is
recorded on its own, so a sweep can finish the one that failed without repeating the other.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.types

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('urgenotice', schema=None) as batch_op:
        batch_op.add_column(sa.Column('head_sent_at', storage.types.UTCDateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column('office_sent_at', storage.types.UTCDateTime(timezone=True),
                                      nullable=True))
    # Notices sent before: both copies went out with them.
    op.execute("UPDATE urgenotice SET head_sent_at = sent_at, office_sent_at = sent_at"
               " WHERE sent_at IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table('urgenotice', schema=None) as batch_op:
        batch_op.drop_column('office_sent_at')
        batch_op.drop_column('head_sent_at')
