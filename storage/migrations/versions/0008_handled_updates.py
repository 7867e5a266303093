"""handled updates

Telegram may deliver an update again (a webhook answer lost or late, polling resumed after
a crash); the ids of updates already handled let the bot handle each once.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'handledupdate',
        sa.Column('update_id', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('handled_at', UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('update_id'),
    )
    op.create_index(op.f('ix_handledupdate_handled_at'), 'handledupdate', ['handled_at'],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_handledupdate_handled_at'), table_name='handledupdate')
    op.drop_table('handledupdate')
