"""cards and report cards behind: a case's count of changes and of what its cards show;
reports without a card

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('case') as batch:
        batch.add_column(sa.Column('changes', sa.Integer(), nullable=False,
                                   server_default='0'))
        batch.add_column(sa.Column('shown', sa.Integer(), nullable=False, server_default='0'))
    behind = sa.text('shown < changes')
    op.create_index('ix_case_cards_behind', 'case', ['id'], unique=False,
                    sqlite_where=behind, postgresql_where=behind)
    no_card = sa.text('card_message_id IS NULL')
    op.create_index('ix_report_no_card', 'report', ['created_at'], unique=False,
                    sqlite_where=no_card, postgresql_where=no_card)


def downgrade() -> None:
    op.drop_index('ix_report_no_card', table_name='report')
    op.drop_index('ix_case_cards_behind', table_name='case')
    with op.batch_alter_table('case') as batch:
        batch.drop_column('shown')
        batch.drop_column('changes')
