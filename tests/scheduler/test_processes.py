"""Two real scheduler processes (``python run.py scheduler``) on one database: one acts; killed
with SIGKILL, it is replaced by the other once the lease runs out."""
from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from hotline.tickets import TicketEvent
from scheduler.lease import Lease
from tests.scheduler.conftest import at

ROOT = Path(__file__).resolve().parents[2]


def _spawn(settings, log_path):
    env = dict(os.environ, DATABASE_URL=settings.database_url, HOTLINE_DEMO="0", HOTLINE_DATA_DIR=settings.data_dir,
               HOTLINE_SCHEDULER_LEASE_TTL="2", HOTLINE_SCHEDULER_HEARTBEAT="0.3", HOTLINE_DEADLINE_SCAN_SECONDS="1",
               HOTLINE_CALLBACK_SCAN_SECONDS="1", HOTLINE_RETRAIN="0", HOTLINE_MESSAGE_QUEUE="")
    fh = open(log_path, "w")  # noqa: SIM115
    return subprocess.Popen([sys.executable, "run.py", "scheduler"], cwd=ROOT, env=env, stdout=fh, stderr=fh), fh


def _wait(cond, timeout=20.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.1)
    return False


def test_two_processes_one_acts_and_a_killed_leader_is_replaced(city, clock, settings, tmp_path):
    if not settings.database_url.startswith("sqlite"):
        pytest.skip("the process test runs once, on SQLite")
    hl = city.hl
    # An overdue ticket by the real clock the processes use: dispatched 20 days ago.
    real_now = dt.datetime.now()
    at(clock, *(real_now - dt.timedelta(days=20)).timetuple()[:5])
    t = city.signed()
    lease = Lease(hl.engine)
    procs = []
    try:
        for i in range(2):
            procs.append(_spawn(settings, tmp_path / f"s{i}.log"))
        # Two Python processes starting on a loaded 2-core machine can take a while to import.
        assert _wait(lambda: (lease.current() or {}).get("holder") is not None, timeout=60)

        def presses():
            with hl.uow(readonly=True) as uow:
                return list(uow.session.scalars(select(TicketEvent).where(
                    TicketEvent.ticket_id == t.id, TicketEvent.action.in_(("press", "escalate")))))

        assert _wait(lambda: len(presses()) == 2)  # pressed once, escalated once
        time.sleep(2.5)  # more scans by the leader, none by the follower
        assert [e.action for e in presses()] == ["press", "escalate"]
        first = lease.current()
        leader_pid = int(first["holder"].split(":")[1])
        leader = next(p for p, _ in procs if p.pid == leader_pid)
        follower = next(p for p, _ in procs if p.pid != leader_pid)
        leader.send_signal(signal.SIGKILL)
        leader.wait(10)
        assert _wait(lambda: lease.current()["holder"].split(":")[1] == str(follower.pid))
        second = lease.current()
        assert second["epoch"] == first["epoch"] + 1
        assert second["acquired_at"] >= first["expires_at"] - dt.timedelta(seconds=1)  # waited for the expiry
        time.sleep(1.5)
        assert len(presses()) == 2  # the new leader does not press the ticket again
        follower.send_signal(signal.SIGTERM)
        assert follower.wait(15) == 0
        assert lease.current()["expires_at"] < dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)  # released
    finally:
        for p, fh in procs:
            if p.poll() is None:
                p.kill()
                p.wait(10)
            fh.close()
