"""A lease row in the application database: exactly one scheduler process acts at a time.

``acquire`` inserts the row or takes it over when it has expired (or is already ours); ``renew``
extends it only while we are still the holder; ``release`` lets it expire at once. Each is one
short transaction with a conditional write, so two processes racing for the row cannot both win
(PostgreSQL: the row lock of the UPDATE; SQLite: the write lock taken at BEGIN IMMEDIATE).
``epoch`` grows on every change of holder.

Times are UTC wall-clock from ``now`` (injectable for tests), not the hotline's clock: a lease is
about real processes being alive, and a test's frozen hotline clock must not freeze it.
"""
from __future__ import annotations

import datetime as dt
import os
import socket
import uuid
from typing import Callable

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from scheduler.models import SchedulerLease


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def new_holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Lease:
    def __init__(self, engine: Engine, name: str = "scheduler", ttl_s: float = 30.0, holder: str | None = None,
                 now: Callable[[], dt.datetime] = utcnow) -> None:  # fmt: skip
        self.engine = engine
        self.name = name
        self.ttl = dt.timedelta(seconds=ttl_s)
        self.holder = holder or new_holder_id()
        self.now = now
        self.epoch: int | None = None
        self.valid_until: dt.datetime | None = None

    @property
    def held(self) -> bool:
        """Held as far as this process knows: acquired or renewed less than a TTL ago."""
        return self.valid_until is not None and self.now() < self.valid_until

    def acquire(self) -> bool:
        now = self.now()
        t = SchedulerLease.__table__
        try:
            with self.engine.begin() as c:
                c.execute(insert(t).values(name=self.name, holder=self.holder, acquired_at=now, renewed_at=now,
                                           expires_at=now + self.ttl, epoch=1))  # fmt: skip
            self.epoch, self.valid_until = 1, now + self.ttl
            return True
        except IntegrityError:
            pass
        with self.engine.begin() as c:
            row = c.execute(select(t.c.holder, t.c.expires_at, t.c.epoch).where(t.c.name == self.name)).first()
            if row is None:
                return False
            if row.holder != self.holder and row.expires_at > now:
                return False
            new_epoch = row.epoch + (0 if row.holder == self.holder else 1)
            n = c.execute(
                update(t)
                .where(t.c.name == self.name, t.c.holder == row.holder, t.c.epoch == row.epoch,
                       t.c.expires_at == row.expires_at)  # fmt: skip
                .values(holder=self.holder, acquired_at=now, renewed_at=now, expires_at=now + self.ttl, epoch=new_epoch)
            ).rowcount
        if n == 1:
            self.epoch, self.valid_until = new_epoch, now + self.ttl
            return True
        return False

    def renew(self) -> bool:
        now = self.now()
        t = SchedulerLease.__table__
        with self.engine.begin() as c:
            n = c.execute(
                update(t)
                .where(t.c.name == self.name, t.c.holder == self.holder, t.c.epoch == self.epoch)
                .values(renewed_at=now, expires_at=now + self.ttl)
            ).rowcount
        if n == 1:
            self.valid_until = now + self.ttl
            return True
        self.valid_until = None
        return False

    def release(self) -> None:
        t = SchedulerLease.__table__
        now = self.now()
        with self.engine.begin() as c:
            c.execute(update(t).where(t.c.name == self.name, t.c.holder == self.holder)
                      .values(expires_at=now - dt.timedelta(seconds=1)))  # fmt: skip
        self.valid_until = None

    def current(self) -> dict | None:
        t = SchedulerLease.__table__
        with self.engine.connect() as c:
            row = c.execute(select(t).where(t.c.name == self.name)).first()
        return dict(row._mapping) if row else None
