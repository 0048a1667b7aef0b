"""The demo city loads at every hour of the day and on every kind of day, and a first start that
failed half-way is noticed and redone (issue 15)."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from hotline import bootstrap, demo
from hotline.app import Hotline
from hotline.system_state import get_state
from hotline.tickets import Ticket, TicketEvent
from hotline.users import User

WEDNESDAY = dt.date(2026, 12, 2)
# Every kind of day the calendar knows, and one year chinesecalendar does not know yet.
DAYS = {
    "saturday": dt.date(2026, 11, 28),
    "sunday": dt.date(2026, 11, 29),
    "national_day": dt.date(2026, 10, 3),  # a public holiday
    "swapped_saturday": dt.date(2026, 10, 10),  # a Saturday made a working day
    "after_holiday": dt.date(2026, 10, 8),
    "unknown_year": dt.date(2027, 1, 4),
}
# A city a third of the full demo's size: every ticket path of the plan appears at least once.
SWEEP_TICKETS = 110


def _load(settings, when: dt.datetime) -> int:
    logins = demo.load(settings, when, tickets=SWEEP_TICKETS)
    hl = Hotline(settings)
    try:
        with hl.uow(readonly=True) as uow:
            s = uow.session
            assert s.scalar(select(func.count()).select_from(User)) == len(logins) == 104
            tickets = s.scalar(select(func.count()).select_from(Ticket))
            assert tickets > 100
            assert s.scalar(select(func.max(Ticket.accepted_at))) < when  # nothing in the future
            assert s.scalar(select(func.max(TicketEvent.at))) < when
            return tickets
    finally:
        hl.dispose()


def _hours(database_url: str) -> list[int]:
    # Every hour on SQLite; every fourth on PostgreSQL, where a load costs twice as much.
    return list(range(24)) if database_url.startswith("sqlite") else list(range(0, 24, 4))


@pytest.mark.slow
def test_demo_loads_at_every_hour_of_a_working_day(settings, database_url):
    from tests.conftest import _truncate

    for hour in _hours(database_url):
        when = dt.datetime.combine(WEDNESDAY, dt.time(hour, 17))
        if database_url.startswith("sqlite"):
            settings.database_url = _copy_template(settings, hour)
        else:
            _truncate(database_url)
        _load(settings, when)


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(DAYS))
def test_demo_loads_on_every_kind_of_day(settings, database_url, kind):
    from tests.conftest import _truncate

    # Just after midnight and just before; PostgreSQL at one hour of the day (it varies by kind).
    times = (dt.time(0, 5), dt.time(23, 55)) if database_url.startswith("sqlite") else \
        (dt.time(sorted(DAYS).index(kind) * 4 + 1, 30),)  # fmt: skip
    for i, t in enumerate(times):
        if database_url.startswith("sqlite"):
            settings.database_url = _copy_template(settings, f"{kind}{i}")
        else:
            _truncate(database_url)
        _load(settings, dt.datetime.combine(DAYS[kind], t))


def _copy_template(settings, name) -> str:
    import shutil
    from pathlib import Path

    src = Path(settings.database_url[len("sqlite:///"):])
    dst = src.with_name(f"sweep-{name}.db")
    if not hasattr(_copy_template, "template"):
        _copy_template.template = src.with_name("sweep-template.db")
        shutil.copy(src, _copy_template.template)
    shutil.copy(_copy_template.template, dst)
    return f"sqlite:///{dst}"


def test_a_failed_first_start_is_noticed_cleared_and_retried(settings, monkeypatch):
    settings.demo = True
    said: list[str] = []
    settings.demo_tickets = 40
    real_tickets = demo._tickets

    def tickets_then_disk_full(hl, clock, rng, now, count):
        real_tickets(hl, clock, rng, now, 20)
        raise OSError("磁盘已满")

    monkeypatch.setattr(demo, "_tickets", tickets_then_disk_full)
    with pytest.raises(bootstrap.DemoLoadError, match="磁盘已满"):
        bootstrap.prepare(settings, progress=said.append)
    hl = Hotline(settings)
    try:
        assert get_state(hl, "demo")["state"] == "loading"  # the half-city is marked, not "healthy"
        with hl.uow(readonly=True) as uow:
            assert uow.session.scalar(select(func.count()).select_from(Ticket)) > 0
    finally:
        hl.dispose()

    monkeypatch.setattr(demo, "_tickets", real_tickets)
    said.clear()
    prepared = bootstrap.prepare(settings, progress=said.append)
    assert prepared.created and len(prepared.logins) == 104
    assert any("未写完" in m and "磁盘已满" in m for m in said), said  # the start says what happened
    hl = Hotline(settings)
    try:
        assert get_state(hl, "demo")["state"] == "complete"
        with hl.uow(readonly=True) as uow:
            assert uow.session.scalar(select(func.count()).select_from(User)) == 104  # not twice
            assert uow.session.scalar(select(func.count()).select_from(Ticket)) > 20
    finally:
        hl.dispose()
    # The next start finds it complete and hands back the logins to print again.
    again = bootstrap.prepare(settings, progress=said.append)
    assert not again.created and [x.username for x in again.logins][:2] == ["admin", "manager"]


def test_two_processes_starting_together_write_the_demo_once(settings, tmp_path):
    """``python run.py`` and ``python run.py sip`` started together on an empty database: the schema
    is migrated once, the demo written once, and the second process waits for the first."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    code = ("from hotline.users import configure_hasher; configure_hasher(time_cost=1, memory_cost=8, parallelism=1)\n"
            "from hotline.bootstrap import prepare; from hotline.config import Settings\n"
            "p = prepare(Settings.from_env(), progress=lambda m: None); print('created' if p.created else 'waited')")
    env = dict(os.environ, DATABASE_URL=settings.database_url, HOTLINE_DATA_DIR=str(tmp_path),
               HOTLINE_DEMO="1", HOTLINE_DEMO_TICKETS="30", PYTHONPATH=str(root))  # fmt: skip
    procs = [subprocess.Popen([sys.executable, "-c", code], cwd=root, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]  # fmt: skip
    outs = [p.communicate(timeout=180) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
    assert sorted(o[0].strip() for o in outs) == ["created", "waited"]
    hl = Hotline(settings)
    try:
        with hl.uow(readonly=True) as uow:
            assert uow.session.scalar(select(func.count()).select_from(User)) == 104
    finally:
        hl.dispose()
