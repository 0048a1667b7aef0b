"""scheduler: lease, rate snapshots, APScheduler's job table, indexes for the rate queries

The ``apscheduler_jobs`` table matches APScheduler 3.x ``SQLAlchemyJobStore`` column for column and
is also declared in ``scheduler.models`` (so the schema has one source, the migrations, and the job
store's own ``CREATE TABLE ... checkfirst`` finds it present). The report indexes on ``tickets`` and
``callbacks`` serve the day/range/unit aggregates in ``scheduler.rates``.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 12:52:25.560175
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('apscheduler_jobs',
    sa.Column('id', sa.Unicode(length=191), nullable=False),
    sa.Column('next_run_time', sa.Float(precision=25), nullable=True),
    sa.Column('job_state', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_apscheduler_jobs'))
    )
    with op.batch_alter_table('apscheduler_jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_apscheduler_jobs_next_run_time'), ['next_run_time'], unique=False)

    op.create_table('rate_snapshots',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('scope', sa.String(length=16), nullable=False),
    sa.Column('scope_id', sa.Integer(), nullable=False),
    sa.Column('rate', sa.String(length=40), nullable=False),
    sa.Column('numerator', sa.Integer(), nullable=False),
    sa.Column('denominator', sa.Integer(), nullable=False),
    sa.Column('computed_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('day', 'scope', 'scope_id', 'rate', name=op.f('pk_rate_snapshots'))
    )
    with op.batch_alter_table('rate_snapshots', schema=None) as batch_op:
        batch_op.create_index('ix_rate_snapshots_scope_day', ['scope', 'scope_id', 'day'], unique=False)

    op.create_table('scheduler_leases',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('holder', sa.String(length=128), nullable=False),
    sa.Column('acquired_at', sa.DateTime(), nullable=False),
    sa.Column('renewed_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('epoch', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_scheduler_leases'))
    )
    with op.batch_alter_table('callbacks', schema=None) as batch_op:
        batch_op.create_index('ix_callbacks_completed_at', ['completed_at'], unique=False)
        batch_op.create_index('ix_callbacks_due_at', ['due_at'], unique=False)

    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.create_index('ix_tickets_dispatched_at', ['dispatched_at'], unique=False)
        batch_op.create_index('ix_tickets_unit_accepted', ['unit_id', 'accepted_at'], unique=False)
        batch_op.create_index('ix_tickets_unit_closed', ['unit_id', 'closed_at'], unique=False)
        batch_op.create_index('ix_tickets_unit_dispatched', ['unit_id', 'dispatched_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_tickets_unit_dispatched')
        batch_op.drop_index('ix_tickets_unit_closed')
        batch_op.drop_index('ix_tickets_unit_accepted')
        batch_op.drop_index('ix_tickets_dispatched_at')

    with op.batch_alter_table('callbacks', schema=None) as batch_op:
        batch_op.drop_index('ix_callbacks_due_at')
        batch_op.drop_index('ix_callbacks_completed_at')

    op.drop_table('scheduler_leases')
    with op.batch_alter_table('rate_snapshots', schema=None) as batch_op:
        batch_op.drop_index('ix_rate_snapshots_scope_day')

    op.drop_table('rate_snapshots')
    with op.batch_alter_table('apscheduler_jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_apscheduler_jobs_next_run_time'))

    op.drop_table('apscheduler_jobs')
