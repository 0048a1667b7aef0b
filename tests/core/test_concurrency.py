"""Two people acting on one ticket at once: one wins, the other gets a conflict, nothing is lost."""
from __future__ import annotations

import threading

import pytest

from hotline.errors import Conflict, IllegalStep


def test_stale_version_is_refused(city):
    hl = city.hl
    t = city.dispatched()
    seen = hl.queries.get(city.township_user, t.id)["version"]
    hl.tickets.press(city.supervisor, t.id, "请尽快")  # somebody else acts first
    with pytest.raises(Conflict) as e:
        hl.tickets.sign(city.township_user, t.id, expected_version=seen)
    assert e.value.extra["current_version"] == seen + 1
    assert hl.tickets.sign(city.township_user, t.id, expected_version=seen + 1).status == "signed"


def test_racing_writers_one_wins(city):
    """Ten threads sign and return the same ticket at once from the same version."""
    hl = city.hl
    t = city.dispatched()
    results: list[str] = []
    barrier = threading.Barrier(10)

    def act(i: int) -> None:
        barrier.wait()
        try:
            if i % 2:
                hl.tickets.sign(city.township_user, t.id, expected_version=t.version)
            else:
                hl.tickets.return_ticket(city.township_user, t.id, "不是本单位", expected_version=t.version)
            results.append("ok")
        except (Conflict, IllegalStep):
            results.append("refused")

    threads = [threading.Thread(target=act, args=(i,)) for i in range(10)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert results.count("ok") == 1 and results.count("refused") == 9
    events = hl.queries.events(city.supervisor, t.id)
    assert [e["action"] for e in events][:2] == ["accept", "dispatch"] and len(events) == 3


def test_numbers_stay_unique_under_concurrent_acceptance(city):
    hl = city.hl
    numbers: list[str] = []
    lock = threading.Lock()

    def accept() -> None:
        for _ in range(10):
            n = hl.tickets.accept(city.operator, content="并发受理测试").number
            with lock:
                numbers.append(n)

    threads = [threading.Thread(target=accept) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(numbers) == 40 and len(set(numbers)) == 40
