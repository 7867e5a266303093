"""weekly digest

Each week's digest to the leaders' group is claimed under its ISO week before it is sent, so
it goes out once whatever restarts or several workers do.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

from storage.types import UTCDateTime

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'weeklydigest',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('week', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column('claimed_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('sent_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('error', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('week'),
    )


def downgrade() -> None:
    op.drop_table('weeklydigest')
