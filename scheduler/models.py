"""The scheduler's tables: the lease that elects one scheduler per deployment, the daily rate
snapshots, and APScheduler's own job table.

All three are created by the Alembic migration ``0002_scheduler_rates`` (never by APScheduler or
``create_all``): the schema has one source, and a production database user needs no DDL rights.
``apscheduler_jobs`` is declared here exactly as APScheduler's ``SQLAlchemyJobStore`` defines it,
so the model/migration comparison covers it, the test fixtures empty it between tests like every
other table, and ``SQLAlchemyJobStore.start()`` (``CREATE TABLE`` with ``checkfirst``) finds it
already there.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Column, Date, Float, Index, Integer, LargeBinary, String, Table, Unicode
from sqlalchemy.orm import Mapped, mapped_column

from hotline.db import Base


class SchedulerLease(Base):
    """One row per lease name. The holder renews ``expires_at`` every few seconds; anybody may take
    the row once it has expired. Times are UTC wall-clock (not the hotline's injectable clock),
    because a lease is about real processes being alive."""

    __tablename__ = "scheduler_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    acquired_at: Mapped[dt.datetime]
    renewed_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    # Bumped on every change of holder: a fencing token (a job can check it still holds the lease).
    epoch: Mapped[int] = mapped_column(Integer, default=1)


class RateSnapshot(Base):
    """A rate's numerator and denominator for one day and one scope, stored at 00:10 for history.

    scope: ``center`` (scope_id 0), ``unit`` (scope_id = units.id; 0 = tickets with no unit, which
    are only the call hall's own), ``operator`` (scope_id = users.id).
    """

    __tablename__ = "rate_snapshots"
    __table_args__ = (Index("ix_rate_snapshots_scope_day", "scope", "scope_id", "day"),)

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    scope: Mapped[str] = mapped_column(String(16), primary_key=True)
    scope_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rate: Mapped[str] = mapped_column(String(40), primary_key=True)
    numerator: Mapped[int] = mapped_column(Integer)
    denominator: Mapped[int] = mapped_column(Integer)
    computed_at: Mapped[dt.datetime]


# APScheduler 3.x SQLAlchemyJobStore's table, column for column (191 = MySQL key length,
# Float(25) = an 8-byte float holding a UTC timestamp).
apscheduler_jobs = Table(
    "apscheduler_jobs",
    Base.metadata,
    Column("id", Unicode(191), primary_key=True),
    Column("next_run_time", Float(25), index=True),
    Column("job_state", LargeBinary, nullable=False),
)


# Indexes the rate queries need on the core's tables (created by migration 0002). They are declared
# here, beside the migration that creates them, so that models and migrations stay in agreement.
def _report_indexes() -> None:
    from hotline.callbacks import Callback
    from hotline.tickets import Ticket

    t, cb = Ticket.__table__, Callback.__table__
    Index("ix_tickets_dispatched_at", t.c.dispatched_at)
    Index("ix_tickets_unit_accepted", t.c.unit_id, t.c.accepted_at)
    Index("ix_tickets_unit_closed", t.c.unit_id, t.c.closed_at)
    Index("ix_tickets_unit_dispatched", t.c.unit_id, t.c.dispatched_at)
    Index("ix_callbacks_due_at", cb.c.due_at)
    Index("ix_callbacks_completed_at", cb.c.completed_at)


_report_indexes()
