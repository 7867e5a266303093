"""card claims

A card is recorded before it is sent (its message id still unknown), so that two updates
of one case cannot both send it and no transaction stays open while Telegram answers.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('card', schema=None) as batch_op:
        batch_op.alter_column('tg_message_id', existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM card WHERE tg_message_id IS NULL")  # never delivered
    with op.batch_alter_table('card', schema=None) as batch_op:
        batch_op.alter_column('tg_message_id', existing_type=sa.Integer(), nullable=False)
