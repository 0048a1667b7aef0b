"""Call records from offer to end, operator selection, interrupted calls, outbound jobs."""
from __future__ import annotations


import pytest

from hotline.errors import InvalidInput
from hotline.events import CallAssigned


def test_call_record_and_longest_idle_operator(city, clock):
    hl = city.hl
    pops = []
    hl.bus.subscribe(CallAssigned, pops.append)
    hl.calls.set_state(city.operator, city.operator.user_id, "available")
    clock.advance(minutes=1)
    hl.calls.set_state(city.operator2, city.operator2.user_id, "available")
    call_id = hl.calls.offered("+86 138-1234-5678", "12345", bridge_id="b1", sip_call_id="abc@x")
    hl.calls.queued(call_id)
    op = hl.calls.next_available()
    assert op[0] == city.operator.user_id  # idle longest
    assert hl.calls.next_available()[0] == city.operator2.user_id
    assert hl.calls.next_available() is None
    hl.calls.assign(call_id, op[0])
    assert pops[0].operator_id == op[0]
    clock.advance(seconds=12)
    hl.calls.answered(call_id, op[0])
    t = hl.tickets.accept(city.operator, content="咨询社保", call_id=call_id, caller_phone="13812345678")
    clock.advance(minutes=3)
    hl.calls.ended(call_id, "answered")
    hl.calls.ended(call_id, "answered")  # a repeated report is harmless
    call = hl.calls.get(call_id)
    assert call.number == "13812345678" and call.wait_seconds == 12 and call.ticket_id == t.id
    assert call.outcome == "answered" and call.operator_id == op[0]
    states = {s["user_id"]: s["status"] for s in hl.calls.operator_states()}
    assert states[op[0]] == "wrap_up"


def test_abandoned_calls_form_the_missed_list(city, clock):
    hl = city.hl
    call_id = hl.calls.offered("13900001234", "12345", bridge_id="b1")
    hl.calls.queued(call_id)
    clock.advance(seconds=40)
    hl.calls.ended(call_id, "abandoned")
    missed = hl.calls.missed_calls()
    assert [c.id for c in missed] == [call_id] and missed[0].wait_seconds == 40
    job = hl.calls.enqueue_outbound("missed_call", "13900001234", call_id=call_id, operator_id=city.operator.user_id)
    claimed = hl.calls.claim_outbound("b1")
    assert [j.id for j in claimed] == [job] and hl.calls.claim_outbound("b2") == []
    hl.calls.finish_outbound(job, {"outcome": "answered"})
    assert hl.calls.missed_calls() == []


def test_bridge_restart_closes_its_open_calls(city):
    hl = city.hl
    a = hl.calls.offered("13900001234", bridge_id="b1")
    b = hl.calls.offered("13900005678", bridge_id="b2")
    assert hl.calls.close_interrupted("b1") == 1
    assert hl.calls.get(a).outcome == "interrupted" and hl.calls.get(b).ended_at is None


def test_stale_claims_are_claimable_again(city, clock):
    hl = city.hl
    job = hl.calls.enqueue_outbound("satisfaction", "13900001234")
    assert [j.id for j in hl.calls.claim_outbound("dead-bridge")] == [job]
    clock.advance(minutes=11)
    assert [j.id for j in hl.calls.claim_outbound("b2")] == [job]


def test_bad_call_input(city):
    with pytest.raises(InvalidInput):
        city.hl.calls.ended(city.hl.calls.offered(None), "exploded")
    anon = city.hl.calls.get(city.hl.calls.offered("anonymous"))
    assert anon.number is None


def test_caller_leaving_while_the_operator_rings_frees_the_operator(city, clock):
    hl = city.hl
    hl.calls.set_state(city.operator, city.operator.user_id, "available")
    call_id = hl.calls.offered("13900001234", bridge_id="b1")
    clock.advance(seconds=20)  # greeting and menu do not count as waiting for a person
    hl.calls.queued(call_id)
    op, _ = hl.calls.next_available()
    hl.calls.assign(call_id, op)
    clock.advance(seconds=9)
    hl.calls.ended(call_id, "abandoned")
    assert hl.calls.get(call_id).wait_seconds == 9
    assert {s["user_id"]: s["status"] for s in hl.calls.operator_states()}[op] == "available"


def test_expert_join_goes_to_the_bridge_holding_the_call(city):
    hl = city.hl
    call_id = hl.calls.offered("13900001234", bridge_id="b1")
    hl.calls.queued(call_id)
    from hotline.errors import IllegalStep

    with pytest.raises(IllegalStep):  # not answered yet
        hl.calls.request_expert(city.operator, call_id, city.legal.id)
    hl.calls.answered(call_id, city.operator.user_id)
    with pytest.raises(InvalidInput):
        hl.calls.request_expert(city.operator, call_id, city.township.id)
    job = hl.calls.request_expert(city.operator, call_id, city.legal.id)
    assert hl.calls.claim_outbound("b2") == []
    claimed = hl.calls.claim_outbound("b1")
    assert [(j.id, j.kind, j.unit_id) for j in claimed] == [(job, "expert_join", city.legal.id)]
    hl.calls.expert_joined(call_id, city.expert.user_id)
    assert hl.calls.get(call_id).expert_id == city.expert.user_id


def test_one_live_job_per_callback(city):
    from sqlalchemy import select

    from hotline.callbacks import Callback
    from hotline.errors import Conflict

    t = city.closed()
    with city.hl.uow(readonly=True) as uow:
        cb = uow.session.scalar(select(Callback).where(Callback.ticket_id == t.id))
    city.hl.calls.enqueue_outbound("satisfaction", "13812345678", callback_id=cb.id)
    with pytest.raises(Conflict):
        city.hl.calls.enqueue_outbound("satisfaction", "13812345678", callback_id=cb.id)
