"""first-question ledger (首问负责制台账)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

from storage.types import UTCDateTime

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'inquiry',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('unit_id', sa.Integer(), nullable=True),
        sa.Column('asked_id', sa.Integer(), nullable=False),
        sa.Column('asker', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('question', sa.Text(), nullable=False),
        sa.Column('owner_id', sa.Integer(), nullable=False),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('due_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('closed_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('closed_by_id', sa.Integer(), nullable=True),
        sa.Column('outcome', sa.Text(), nullable=True),
        sa.Column('next_at', UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['asked_id'], ['person.id']),
        sa.ForeignKeyConstraint(['closed_by_id'], ['person.id']),
        sa.ForeignKeyConstraint(['owner_id'], ['person.id']),
        sa.ForeignKeyConstraint(['unit_id'], ['unit.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('inquiry') as batch:
        batch.create_index(batch.f('ix_inquiry_next_at'), ['next_at'], unique=False)
        batch.create_index(batch.f('ix_inquiry_owner_id'), ['owner_id'], unique=False)
        batch.create_index(batch.f('ix_inquiry_unit_id'), ['unit_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('inquiry') as batch:
        batch.drop_index(batch.f('ix_inquiry_unit_id'))
        batch.drop_index(batch.f('ix_inquiry_owner_id'))
        batch.drop_index(batch.f('ix_inquiry_next_at'))
    op.drop_table('inquiry')
