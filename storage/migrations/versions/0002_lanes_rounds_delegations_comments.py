"""lanes, rounds, delegations, comments

Steps get lanes (a joint step has several departments in parallel), rounds (a case
returned to an earlier step runs it again) and a stoppable clock; assignments get a
state, an order (added signers) and transfers; out-of-office delegations and comments
are new. Existing steps get one lane each, existing assignments their lane and state.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import storage.types

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

# SQLite cannot name what it never named: give the old unnamed unique key a name to drop.
SQLITE_NAMES = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def _drop_old_step_key() -> None:
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("step", naming_convention=SQLITE_NAMES) as batch:
            batch.drop_constraint("uq_step_case_id", type_="unique")
    else:
        op.drop_constraint("step_case_id_seq_key", "step", type_="unique")


def upgrade() -> None:
    op.create_table('delegation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('delegate_id', sa.Integer(), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('cancelled_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['delegate_id'], ['person.id'], ),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('delegation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_delegation_person_id'), ['person_id'], unique=False)

    op.create_table('comment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('tg_chat_id', sa.BigInteger(), nullable=True),
    sa.Column('tg_message_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['author_id'], ['person.id'], ),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('comment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_comment_case_id'), ['case_id'], unique=False)

    op.create_table('lane',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('step_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('name_en', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
    sa.Column('mode', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('limit_days', sa.Integer(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('due_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('due_uncertain', sa.Boolean(), nullable=False),
    sa.Column('remaining_days', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['step_id'], ['step.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('step_id', 'seq')
    )
    with op.batch_alter_table('lane', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lane_step_id'), ['step_id'], unique=False)

    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('definition', sa.Text(), nullable=False, server_default='{}'))
        batch_op.add_column(sa.Column('details', sa.Text(), nullable=False, server_default='{}'))
        batch_op.add_column(sa.Column('green_channel', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column('round', sa.Integer(), nullable=False, server_default='1'))

    _drop_old_step_key()
    with op.batch_alter_table('step', schema=None) as batch_op:
        batch_op.add_column(sa.Column('round', sa.Integer(), nullable=False, server_default='1'))
        batch_op.add_column(sa.Column('name_en', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True))
        batch_op.add_column(sa.Column('paused_at', storage.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('cc', sa.Text(), nullable=False, server_default='[]'))
        batch_op.create_unique_constraint('uq_step_case_round_seq', ['case_id', 'round', 'seq'])

    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lane_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16),
                                      nullable=False, server_default='pending'))
        batch_op.add_column(sa.Column('added', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('waits_for_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('transferred_from_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('comment', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=True))

    with op.batch_alter_table('card', schema=None) as batch_op:
        batch_op.add_column(sa.Column('assignment_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('step_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_card_assignment_id'), ['assignment_id'], unique=False)
        batch_op.create_foreign_key('fk_card_assignment', 'assignment', ['assignment_id'], ['id'])
        batch_op.create_foreign_key('fk_card_step', 'step', ['step_id'], ['id'])
    # Old private cards belong to their person's turn in the step they show.
    op.execute("UPDATE card SET assignment_id = (SELECT assignment.id FROM assignment"
               " JOIN step ON step.id = assignment.step_id WHERE step.case_id = card.case_id"
               " AND assignment.person_id = card.person_id ORDER BY assignment.id LIMIT 1)"
               " WHERE card.kind = 'private'")

    # Data: every existing step becomes a one-lane step; assignments join it.
    op.execute(
        "INSERT INTO lane (step_id, seq, name, name_en, mode, limit_days, state, due_at,"
        " due_uncertain) SELECT id, 1, name, name_en, mode, limit_days, state, due_at,"
        " due_uncertain FROM step"
    )
    op.execute("UPDATE assignment SET lane_id = (SELECT lane.id FROM lane"
               " WHERE lane.step_id = assignment.step_id)")
    op.execute("UPDATE assignment SET state = 'decided' WHERE decision IS NOT NULL")
    op.execute("UPDATE assignment SET state = 'cancelled' WHERE decision IS NULL AND step_id IN"
               " (SELECT id FROM step WHERE state <> 'open')")

    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.alter_column('lane_id', existing_type=sa.Integer(), nullable=False)
        batch_op.create_index(batch_op.f('ix_assignment_lane_id'), ['lane_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_assignment_state'), ['state'], unique=False)
        batch_op.create_foreign_key('fk_assignment_transferred_from', 'assignment',
                                    ['transferred_from_id'], ['id'])
        batch_op.create_foreign_key('fk_assignment_waits_for', 'assignment',
                                    ['waits_for_id'], ['id'])
        batch_op.create_foreign_key('fk_assignment_lane', 'lane', ['lane_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('card', schema=None) as batch_op:
        batch_op.drop_constraint('fk_card_step', type_='foreignkey')
        batch_op.drop_constraint('fk_card_assignment', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_card_assignment_id'))
        batch_op.drop_column('step_id')
        batch_op.drop_column('assignment_id')
    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.drop_constraint('fk_assignment_lane', type_='foreignkey')
        batch_op.drop_constraint('fk_assignment_waits_for', type_='foreignkey')
        batch_op.drop_constraint('fk_assignment_transferred_from', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_assignment_state'))
        batch_op.drop_index(batch_op.f('ix_assignment_lane_id'))
        batch_op.drop_column('created_at')
        batch_op.drop_column('comment')
        batch_op.drop_column('transferred_from_id')
        batch_op.drop_column('waits_for_id')
        batch_op.drop_column('added')
        batch_op.drop_column('state')
        batch_op.drop_column('lane_id')

    op.execute("DELETE FROM step WHERE round > 1")
    with op.batch_alter_table('step', schema=None) as batch_op:
        batch_op.drop_constraint('uq_step_case_round_seq', type_='unique')
        batch_op.drop_column('cc')
        batch_op.drop_column('paused_at')
        batch_op.drop_column('name_en')
        batch_op.drop_column('round')
        batch_op.create_unique_constraint('step_case_id_seq_key', ['case_id', 'seq'])

    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.drop_column('round')
        batch_op.drop_column('green_channel')
        batch_op.drop_column('details')
        batch_op.drop_column('definition')

    with op.batch_alter_table('lane', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lane_step_id'))
    op.drop_table('lane')
    with op.batch_alter_table('comment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_comment_case_id'))
    op.drop_table('comment')
    with op.batch_alter_table('delegation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_delegation_person_id'))
    op.drop_table('delegation')
