"""Live push over Socket.IO (python-socketio client against a live server): who may connect, which
rooms get which ticket, the screen-pop, privacy of the payloads, and catch-up after a reconnect."""
from __future__ import annotations

import time

import pytest
import socketio

from tests.web.conftest import Listener, api_login

PHONE = "13812345678"


def no_private_data(lst: Listener) -> None:
    dump = lst.dump()
    for secret in (PHONE, "5678", "张先生"):
        assert secret not in dump, f"{secret!r} pushed to a screen: {dump}"


def settle(seconds: float = 0.4) -> None:
    """Give a wrongly routed push the time to arrive before asserting it did not."""
    time.sleep(seconds)


def test_connect_refused_without_login(live):
    anon = Listener(live.url, None, connect=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        anon.connect()


def test_connect_refused_with_bad_token(live):
    sio = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        sio.connect(live.url, headers={"Authorization": "Bearer hl_nope"}, transports=["websocket"], wait_timeout=5)


def test_each_user_joins_only_their_rooms(city, listen):
    township = listen("t01").call("hello")
    assert set(township["rooms"]) == {f"user:{city.township_user.user_id}", "role:unit", f"unit:{city.township.id}"}
    assert township["last_event_id"] == 0
    expert = listen("lawyer").call("hello")
    assert f"unit:{city.legal.id}" in expert["rooms"]
    sup = listen("sup").call("hello")
    assert set(sup["rooms"]) == {f"user:{city.supervisor.user_id}", "role:supervisor"}


def test_a_unit_never_receives_another_units_ticket(city, listen):
    hl = city.hl
    township, roads, water = listen("t01"), listen("d02"), listen("p01")
    sup, op2 = listen("sup"), listen("op2")
    a = city.new_ticket(content="城关街道人民路路灯不亮")
    hl.tickets.dispatch(city.operator, a.id, city.township.id, [city.water.id])  # water co-handles
    b = city.new_ticket(content="市区主干道井盖缺失", caller_phone="13900001111")
    hl.tickets.dispatch(city.operator, b.id, city.roads.id)

    township.wait_for(lambda n, d: n == "ticket" and d["ticket_id"] == a.id and d["action"] == "dispatch")
    roads.wait_for(lambda n, d: n == "ticket" and d["ticket_id"] == b.id)
    water.wait_for(lambda n, d: n == "ticket" and d["ticket_id"] == a.id)
    sup.wait_for(lambda n, d: n == "ticket" and d["ticket_id"] == b.id and d["action"] == "dispatch")
    settle()
    assert township.ticket_ids() == {a.id}
    assert roads.ticket_ids() == {b.id}
    assert water.ticket_ids() == {a.id}
    assert sup.ticket_ids() == {a.id, b.id}  # the center sees everything
    assert op2.ticket_ids() == set()  # another operator's tickets do not flood a console
    for lst in (township, roads, water, sup):
        no_private_data(lst)
    # Signing and replying reach the lead unit and the operator who accepted the ticket.
    op1 = listen("op1")
    hl.tickets.sign(city.township_user, a.id)
    op1.wait_for(lambda n, d: n == "ticket" and d["ticket_id"] == a.id and d["action"] == "sign")
    township.wait_for(lambda n, d: n == "ticket" and d["action"] == "sign")
    settle(0.2)
    assert roads.ticket_ids() == {b.id}


def test_redispatch_moves_the_ticket_between_unit_rooms(city, listen):
    hl = city.hl
    township, roads = listen("t01"), listen("d02")
    t = city.dispatched()
    township.wait_for(lambda n, d: n == "ticket" and d["ticket_id"] == t.id)
    hl.tickets.return_ticket(city.township_user, t.id, "不属于本街道管辖")
    hl.tickets.redispatch(city.supervisor, t.id, city.roads.id)
    township.wait_for(lambda n, d: n == "ticket_removed" and d["ticket_id"] == t.id)
    roads.wait_for(lambda n, d: n == "ticket" and d["ticket_id"] == t.id and d["action"] == "redispatch")
    settle(0.2)
    # After losing it, the township hears nothing more of it.
    hl.tickets.sign(city.roads_user, t.id)
    roads.wait_for(lambda n, d: n == "ticket" and d["action"] == "sign")
    settle(0.2)
    assert not [d for d in township.named("ticket") if d["action"] == "sign"]
    assert set(township.named("ticket_removed")[0]) == {"ticket_id", "event_id"}


def test_expert_desk_gets_its_transfers(city, listen):
    lawyer, township = listen("lawyer"), listen("t01")
    t = city.new_ticket(content="劳动合同纠纷咨询")
    city.hl.tickets.transfer_to_expert(city.operator, t.id, city.legal.id, "三方通话")
    lawyer.wait_for(lambda n, d: n == "ticket" and d["ticket_id"] == t.id and d["action"] == "transfer_to_expert")
    settle(0.2)
    assert township.ticket_ids() == set()
    city.hl.tickets.hand_back(city.expert, t.id, "需要街道调解")
    lawyer.wait_for(lambda n, d: n == "ticket_removed" and d["ticket_id"] == t.id)


def test_screen_pop_reaches_only_the_assigned_operator(city, live, listen):
    hl = city.hl
    op1, op2, mgr = listen("op1"), listen("op2"), listen("mgr")
    city.new_ticket()  # the caller has history
    hl.calls.set_state(city.operator, city.operator.user_id, "available")
    call_id = hl.calls.offered(PHONE, "12345")
    hl.calls.assign(call_id, city.operator.user_id)
    _, pop, _ = op1.wait_for(lambda n, d: n == "call_pop")
    assert pop["call_id"] == call_id
    op1.wait_for(lambda n, d: n == "operator_state" and d["state"] == "on_call")
    mgr.wait_for(lambda n, d: n == "calls" and d["type"] == "assigned")
    settle(0.2)
    assert op2.named("call_pop") == []
    no_private_data(op1)  # the number is fetched over HTTPS by the operator, not pushed
    no_private_data(mgr)
    # The pop itself: the assigned operator gets the number and the history; nobody else does.
    r = api_login(live.url, "op1").get(f"{live.url}/workbench/calls/{call_id}/pop")
    assert r.status_code == 200
    body = r.json()
    assert body["caller"]["phone"] == PHONE and body["tickets"] and body["tickets"][0]["status"] == "accepted"
    assert api_login(live.url, "op2").get(f"{live.url}/workbench/calls/{call_id}/pop").status_code == 403
    assert api_login(live.url, "t01").get(f"{live.url}/workbench/calls/{call_id}/pop").status_code == 403
    hl.calls.ended(call_id, "answered")
    op1.wait_for(lambda n, d: n == "call_ended" and d["call_id"] == call_id)


def test_reconnect_catches_up_on_what_was_missed(city, live, listen):
    hl = city.hl
    township = listen("t01")
    first = city.dispatched()
    township.wait_for(lambda n, d: n == "ticket" and d["ticket_id"] == first.id)
    last_seen = max(d["event_id"] for d in township.named("ticket"))
    township.close()

    # While the screen is away: two tickets for the township, one for another unit, a sign.
    missed = [city.dispatched(content=f"第{i}件：小区积水") for i in range(2)]
    other = city.dispatched(unit=city.roads)
    hl.tickets.sign(city.township_user, first.id)

    township.connect()
    caught = township.call("catchup", {"after": last_seen})
    got = [(e["ticket_id"], e["action"]) for e in caught["items"]]
    assert got == [(missed[0].id, "accept"), (missed[0].id, "dispatch"), (missed[1].id, "accept"),
                   (missed[1].id, "dispatch"), (first.id, "sign")]  # fmt: skip
    assert other.id not in {e["ticket_id"] for e in caught["items"]}
    assert caught["last_id"] == max(e["event_id"] for e in caught["items"])
    assert PHONE not in str(caught)
    # The same through the HTTP API.
    s = api_login(live.url, "t01")
    r = s.get(f"{live.url}/api/v1/events", params={"after": last_seen}).json()
    assert [e["id"] for e in r["items"]] == [e["event_id"] for e in caught["items"]]
    # And live pushes flow again after the reconnect.
    again = city.dispatched()
    township.wait_for(lambda n, d: n == "ticket" and d["ticket_id"] == again.id)


def test_catchup_needs_a_login(live, city):
    # A socket is refused without a session, so catchup is never reachable anonymously.
    sio = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        sio.connect(live.url, transports=["websocket"], wait_timeout=5)
