"""Deadline watch across the 2026 Spring Festival (15–23 Feb off; Sat 14 and Sat 28 Feb are working days)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from hotline.tickets import TicketEvent
from scheduler.events import DeadlineLightChanged
from tests.scheduler.conftest import at


def _events(hl, ticket_id, action):
    with hl.uow(readonly=True) as uow:
        return list(uow.session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket_id,
                                                                   TicketEvent.action == action)))


def test_lights_press_and_escalation_across_the_spring_festival(city, clock, tasks):
    hl = city.hl
    pushed = []
    hl.bus.subscribe(DeadlineLightChanged, pushed.append)
    at(clock, 2026, 2, 13, 10, 0)  # Friday before the holiday
    t = city.signed()
    # 5 working days: Sat 14 (swapped working day), then Tue 24 … Fri 27 Feb
    assert t.due_at == dt.datetime(2026, 2, 27, 10, 0)

    at(clock, 2026, 2, 20, 12, 0)  # in the holiday: the clock of working time stands still
    assert tasks.deadline_watch() == {"yellow": 0, "red": 0, "pressed": 0, "escalated": 0}
    at(clock, 2026, 2, 26, 10, 30)  # 23.5 h of 120 left: yellow
    assert tasks.deadline_watch()["yellow"] == 1
    assert tasks.deadline_watch()["yellow"] == 0  # published once per change
    assert pushed[-1].light == "yellow" and pushed[-1].ticket_id == t.id and city.township.id in pushed[-1].unit_ids

    at(clock, 2026, 2, 27, 10, 1)  # overdue: red and one press notice by the system
    stats = tasks.deadline_watch()
    assert stats["red"] == 1 and stats["pressed"] == 1
    assert pushed[-1].action in ("press", "deadline_overdue")
    presses = _events(hl, t.id, "press")
    assert len(presses) == 1 and presses[0].actor_role == "system" and "自动催办" in presses[0].note
    tasks.deadline_watch()
    assert len(_events(hl, t.id, "press")) == 1  # never twice for one deadline

    # Sun 1 Mar: 38 working hours overdue (Fri 14 h + the working Saturday 24 h): not yet 2 working days
    at(clock, 2026, 3, 1, 12, 0)
    assert tasks.deadline_watch()["escalated"] == 0
    at(clock, 2026, 3, 2, 9, 59)
    assert tasks.deadline_watch()["escalated"] == 0
    at(clock, 2026, 3, 2, 10, 0)  # 48 working hours: escalate to the supervisors
    assert tasks.deadline_watch()["escalated"] == 1
    assert tasks.deadline_watch()["escalated"] == 0
    view = hl.queries.get(city.supervisor, t.id)
    assert view["escalated"] is True and view["press_count"] == 2 and view["light"] == "red"
    assert len(_events(hl, t.id, "escalate")) == 1


def test_an_extension_rearms_the_press(city, clock, tasks):
    hl = city.hl
    at(clock, 2026, 11, 23, 9, 0)
    t = city.signed()
    at(clock, 2026, 11, 27, 9, 0)
    hl.tickets.request_extension(city.township_user, t.id, 2, "需协调")
    hl.tickets.approve_extension(city.supervisor, t.id)
    at(clock, 2026, 12, 2, 9, 1)  # 5 + 2 working days after Mon 23 Nov: due Wed 2 Dec 09:00
    assert tasks.deadline_watch()["pressed"] == 1
    assert tasks.deadline_watch()["pressed"] == 0


def test_a_ticket_signed_on_the_swapped_saturday_runs_through_the_other_one(city, clock, tasks):
    at(clock, 2026, 2, 14, 10, 0)  # the working Saturday before the Festival
    t = city.signed()
    # Tue 24, Wed 25, Thu 26, Fri 27, and the working Saturday 28 Feb
    assert t.due_at == dt.datetime(2026, 2, 28, 10, 0)
    at(clock, 2026, 2, 23, 23, 0)  # last day of the holiday: 5 full working days still ahead
    assert tasks.deadline_watch() == {"yellow": 0, "red": 0, "pressed": 0, "escalated": 0}
    at(clock, 2026, 2, 28, 10, 1)
    assert tasks.deadline_watch()["pressed"] == 1
