"""System state (e.g. whether the demo city was written completely)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 15:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'system_state',
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('value', sa.JSON(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_system_state')),
    )


def downgrade() -> None:
    op.drop_table('system_state')
