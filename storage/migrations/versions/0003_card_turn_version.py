"""card turn version

A turn that reopens (an added signer before me approved) must arrive as a new card, which
notifies, not as an edit of the old one, which does not. Cards remember the version of the
assignment they were sent for.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('card', schema=None) as batch_op:
        batch_op.add_column(sa.Column('turn_version', sa.Integer(), nullable=False,
                                      server_default='0'))
    # Existing private cards were sent for their assignment as it is now.
    op.execute("UPDATE card SET turn_version = (SELECT assignment.version FROM assignment"
               " WHERE assignment.id = card.assignment_id) WHERE card.assignment_id IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table('card', schema=None) as batch_op:
        batch_op.drop_column('turn_version')
