"""One scheduler per deployment: two processes at once (only one acts), takeover when the leader
dies, APScheduler's jobs persisted in the database and kept across restarts."""
from __future__ import annotations

import datetime as dt
import time

from sqlalchemy import func, select

from hotline.app import Hotline
from scheduler.config import SchedulerConfig
from scheduler.lease import Lease
from scheduler.models import apscheduler_jobs
from scheduler.service import SchedulerService


def fast_cfg() -> SchedulerConfig:
    c = SchedulerConfig()
    c.lease_ttl_s, c.heartbeat_s = 1.5, 0.2
    c.deadline_scan_s = c.callback_scan_s = 1
    c.retrain_enabled = False
    return c


def wait_for(cond, timeout=8.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)
    return False


def test_lease_is_exclusive_and_taken_over_after_expiry(hl):
    now = [dt.datetime(2026, 11, 23, 9, 0)]
    a = Lease(hl.engine, ttl_s=30, holder="a", now=lambda: now[0])
    b = Lease(hl.engine, ttl_s=30, holder="b", now=lambda: now[0])
    assert a.acquire() and not b.acquire()
    assert a.renew() and a.held
    now[0] += dt.timedelta(seconds=29)
    assert not b.acquire()
    now[0] += dt.timedelta(seconds=2)  # a missed its renewals: expired
    assert b.acquire() and b.epoch == 2
    assert not a.renew() and not a.held  # the old holder learns it lost the lease
    assert not a.acquire()
    b.release()
    assert a.acquire() and a.epoch == 3


def test_two_schedulers_only_one_acts_and_the_other_takes_over(settings, clock):
    hl_a, hl_b = Hotline(settings, clock=clock), Hotline(settings, clock=clock)
    a = SchedulerService(hl_a, fast_cfg(), service_key="a")
    b = SchedulerService(hl_b, fast_cfg(), service_key="b")
    try:
        a.start()
        assert wait_for(lambda: a.leading)
        b.start()
        assert wait_for(lambda: "callbacks" in a.runs and "deadline_watch" in a.runs)
        time.sleep(1.2)
        assert a.leading and not b.leading
        assert b.runs == []  # the follower ran nothing
        assert b.run_task("callbacks") is None  # and refuses to, even when asked
        with hl_a.engine.connect() as c:
            ids = sorted(c.execute(select(apscheduler_jobs.c.id)).scalars())
        assert ids == ["callbacks", "daily_snapshot", "deadline_watch", "retrain"]
        snapshot_next = {j["id"]: j["next_run_time"] for j in a.status()["jobs"]}["daily_snapshot"]
        assert snapshot_next.endswith("00:10:00+08:00")

        a.kill()  # the leader dies without releasing: b waits for the lease to run out
        died = time.monotonic()
        assert wait_for(lambda: b.leading, timeout=6)
        assert time.monotonic() - died >= 1.0  # not before the lease expired
        assert wait_for(lambda: "callbacks" in b.runs)
        with hl_b.engine.connect() as c:  # the same four jobs, not a second set
            assert c.execute(select(func.count()).select_from(apscheduler_jobs)).scalar() == 4
        runs_of_a = len(a.runs)
        time.sleep(1.2)
        assert len(a.runs) == runs_of_a  # the dead one stays silent
        b.stop()  # a clean stop releases at once
        c_hl = Hotline(settings, clock=clock)
        c = SchedulerService(c_hl, fast_cfg(), service_key="c").start()
        try:
            assert wait_for(lambda: c.leading, timeout=1.0)
            nxt = {j["id"]: j["next_run_time"] for j in c.status()["jobs"]}
            assert nxt["daily_snapshot"] == snapshot_next  # a restart keeps the stored schedule
        finally:
            c.stop()
            c_hl.dispose()
    finally:
        a.stop()
        b.stop()
        hl_a.dispose()
        hl_b.dispose()
