"""supervision items

The supervision office's own workflow (督查七步): items registered, assigned to a section or
a person with a due, urged, answered (with files), reviewed, bulletined and archived, each
step an event with its actor and time; ``next_at`` for the sweep's lights and nudges.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

from storage.types import UTCDateTime

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'supervisionitem',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column('requirement', sa.Text(), nullable=False),
        sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('registered_by_id', sa.Integer(), nullable=False),
        sa.Column('registered_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('unit_id', sa.Integer(), nullable=True),
        sa.Column('section_id', sa.Integer(), nullable=True),
        sa.Column('assignee_id', sa.Integer(), nullable=True),
        sa.Column('limit_days', sa.Integer(), nullable=True),
        sa.Column('due_on', sa.Date(), nullable=True),
        sa.Column('assigned_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('due_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('feedback', sa.Text(), nullable=True),
        sa.Column('feedback_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('closed_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('next_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['assignee_id'], ['person.id']),
        sa.ForeignKeyConstraint(['registered_by_id'], ['person.id']),
        sa.ForeignKeyConstraint(['section_id'], ['section.id']),
        sa.ForeignKeyConstraint(['unit_id'], ['unit.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('code'),
    )
    with op.batch_alter_table('supervisionitem', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_supervisionitem_next_at'), ['next_at'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_supervisionitem_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_supervisionitem_unit_id'), ['unit_id'],
                              unique=False)
    op.create_table(
        'itemevent',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('item_id', sa.Integer(), nullable=False),
        sa.Column('act', sqlmodel.sql.sqltypes.AutoString(length=4), nullable=False),
        sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('actor_id', sa.Integer(), nullable=True),
        sa.Column('at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['actor_id'], ['person.id']),
        sa.ForeignKeyConstraint(['item_id'], ['supervisionitem.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('itemevent', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_itemevent_item_id'), ['item_id'], unique=False)
    op.create_table(
        'itemfile',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('event_id', sa.Integer(), nullable=False),
        sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('file_id', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column('file_name', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.ForeignKeyConstraint(['event_id'], ['itemevent.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('itemfile', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_itemfile_event_id'), ['event_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('itemfile', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_itemfile_event_id'))
    op.drop_table('itemfile')
    with op.batch_alter_table('itemevent', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_itemevent_item_id'))
    op.drop_table('itemevent')
    with op.batch_alter_table('supervisionitem', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_supervisionitem_state'))
        batch_op.drop_index(batch_op.f('ix_supervisionitem_next_at'))
    op.drop_table('supervisionitem')
