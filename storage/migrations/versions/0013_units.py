"""units: a multi-level organisation (city → district/county → township)

Sections, people, projects and chats belong to a unit. A database holding a flat bureau gets
one root unit, and every existing row is put in it, so nothing changes for a bureau of one
level.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

_TABLES = ('section', 'person', 'project', 'chat')
ROOT_CODE, ROOT_NAME = 'main', '本局'


def upgrade() -> None:
    op.create_table(
        'unit',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('parent_id', sa.Integer(), nullable=True),
        sa.Column('path', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.ForeignKeyConstraint(['parent_id'], ['unit.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('code'),
    )
    with op.batch_alter_table('unit') as batch:
        batch.create_index(batch.f('ix_unit_path'), ['path'], unique=False)
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column('unit_id', sa.Integer(), nullable=True))
            batch.create_foreign_key(f'fk_{table}_unit', 'unit', ['unit_id'], ['id'])
            batch.create_index(batch.f(f'ix_{table}_unit_id'), ['unit_id'], unique=False)
    bind = op.get_bind()
    populated = any(bind.execute(sa.text(f'SELECT 1 FROM {table} LIMIT 1')).first()
                    for table in _TABLES)
    if populated:
        unit = sa.table('unit', sa.column('id', sa.Integer), sa.column('code', sa.String),
                        sa.column('name', sa.String), sa.column('path', sa.String))
        bind.execute(unit.insert().values(code=ROOT_CODE, name=ROOT_NAME, path='/'))
        root = bind.execute(sa.select(unit.c.id).where(unit.c.code == ROOT_CODE)).scalar_one()
        bind.execute(unit.update().where(unit.c.id == root).values(path=f'/{root}/'))
        for table in _TABLES:
            bind.execute(sa.text(f'UPDATE {table} SET unit_id = :root'), {'root': root})


def downgrade() -> None:
    for table in reversed(_TABLES):
        with op.batch_alter_table(table) as batch:
            batch.drop_index(batch.f(f'ix_{table}_unit_id'))
            batch.drop_constraint(f'fk_{table}_unit', type_='foreignkey')
            batch.drop_column('unit_id')
    with op.batch_alter_table('unit') as batch:
        batch.drop_index(batch.f('ix_unit_path'))
    op.drop_table('unit')
