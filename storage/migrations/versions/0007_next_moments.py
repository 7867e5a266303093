"""next moments

Each step, milestone and missing material keeps when the deadline sweep must next look at it
(``next_at``, indexed), so that a sweep reads what is due, not everything open. Rows still
open start at a moment long past: the first sweep works out each one's next moment. Nudges
and urge notices not yet sent get partial indexes: a sweep looks for those every time.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import storage.types

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

AT_ONCE = datetime(1970, 1, 1, tzinfo=UTC)  # storage.models.AT_ONCE, as of this revision
STILL_OPEN = {'step': sa.text("state = 'open'"), 'milestone': sa.text("done_on IS NULL"),
              'missingitem': sa.text("supplied_at IS NULL")}


def upgrade() -> None:
    for name, still_open in STILL_OPEN.items():
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.add_column(sa.Column('next_at', storage.types.UTCDateTime(timezone=True),
                                          nullable=True))
            batch_op.create_index(batch_op.f(f'ix_{name}_next_at'), ['next_at'], unique=False)
        table = sa.table(name, sa.column('next_at', storage.types.UTCDateTime(timezone=True)))
        op.execute(table.update().where(still_open).values(next_at=AT_ONCE))
    unsent = sa.text('sent_at IS NULL')
    op.create_index('ix_nudge_unsent', 'nudge', ['created_at'], unique=False,
                    sqlite_where=unsent, postgresql_where=unsent)
    op.create_index('ix_urgenotice_unsent', 'urgenotice', ['issued_at'], unique=False,
                    sqlite_where=unsent, postgresql_where=unsent)


def downgrade() -> None:
    op.drop_index('ix_urgenotice_unsent', table_name='urgenotice')
    op.drop_index('ix_nudge_unsent', table_name='nudge')
    for name in STILL_OPEN:
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f'ix_{name}_next_at'))
            batch_op.drop_column('next_at')
