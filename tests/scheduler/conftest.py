"""Fixtures for the scheduler: the core's small city, a scheduler configuration, a fake SIP bridge."""
from __future__ import annotations

import datetime as dt

import pytest

from hotline.calls import OutboundJob
from scheduler.config import SchedulerConfig
from scheduler.service import Tasks
from tests.core.conftest import make_city


@pytest.fixture
def city(hl):
    return make_city(hl)


@pytest.fixture
def cfg():
    c = SchedulerConfig()
    c.escalate_after_workdays = 2
    c.callback_max_attempts = 3
    return c


@pytest.fixture
def tasks(hl, cfg):
    return Tasks(hl, cfg)


class FakeBridge:
    """Plays the SIP bridge's part: claims outbound jobs and reports a result for each."""

    def __init__(self, hl):
        self.hl = hl

    def answer(self, outcome="answered", digits="", limit=10):
        jobs = self.hl.calls.claim_outbound("bridge-test", limit=limit)
        for job in jobs:
            self.hl.calls.finish_outbound(job.id, {"outcome": outcome, "digits": digits, "call_id": None, "detail": ""},
                                          ok=outcome == "answered")
        return jobs

    def jobs(self):
        from sqlalchemy import select

        with self.hl.uow(readonly=True) as uow:
            return list(uow.session.scalars(select(OutboundJob).order_by(OutboundJob.id)))


@pytest.fixture
def bridge(hl):
    return FakeBridge(hl)


def at(clock, *args):
    clock.set(dt.datetime(*args))
