"""urge notice copies

The messages showing an urge notice with its ✍️ button, so that the button can be removed
once the notice is answered.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'urgecopy',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('urge_id', sa.Integer(), nullable=False),
        sa.Column('tg_chat_id', sa.BigInteger(), nullable=False),
        sa.Column('tg_message_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['urge_id'], ['urgenotice.id'], ),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('tg_chat_id', 'tg_message_id'),
    )
    op.create_index(op.f('ix_urgecopy_urge_id'), 'urgecopy', ['urge_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_urgecopy_urge_id'), table_name='urgecopy')
    op.drop_table('urgecopy')
