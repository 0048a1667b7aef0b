"""The bridge on the real hotline core (SQLite, and PostgreSQL when reachable): a call offered,
queued, popped onto an operator's screen, answered and ended; a voicemail ticket; an outbound job."""
from __future__ import annotations

import time

import pytest

from .helpers import needs_sipp, wait_until

pytestmark = [pytest.mark.sip, needs_sipp]

hotline = pytest.importorskip("hotline.app")


@pytest.fixture
def core(hl):
    from hotline.users import Actor
    d, sysa = hl.directory, Actor.system()
    legal = d.create_unit(sysa, code="E01", name="法律专家坐席", kind="expert_desk")
    return hl, d, sysa, legal


class _RunningClock:
    """The test day's start, running in real time: waits measured by the core become real."""

    def __init__(self, start):
        self.start, self.t0 = start, time.monotonic()

    def now(self):
        import datetime as dt
        return self.start + dt.timedelta(seconds=time.monotonic() - self.t0)


def _start(bridge_fixture, hl, **kw):
    from telephony.hotline_adapter import hotline_ports
    from telephony.bridge import start_bridge
    b, _ = bridge_fixture(**kw)  # a memory-ports bridge only to get the test config; replace it
    cfg = b.cfg
    b.stop()
    cfg.listen_port = 0
    nb = start_bridge(cfg, hotline_ports(hl))
    return nb


def test_call_through_the_core_pops_the_operator_screen(core, bridge, sipp):
    from hotline.calls import Call
    from hotline.events import CallAssigned
    hl, d, sysa, _ = core
    op_sipp = sipp("uas_answer", keys={"rtp_port": 4000})
    time.sleep(0.3)
    op = d.create_user(sysa, username="op1", password="password123", display_name="话务员一",
                       role="operator", sip_uri=f"sip:1001@127.0.0.1:{op_sipp.port}")
    hl.calls.set_state(sysa, op.id, "available")
    pops = []
    hl.bus.subscribe(CallAssigned, pops.append)
    b = _start(bridge, hl)
    try:
        caller = sipp("uac_call", b.port, keys={"codecs": "8 101", "rtp_port": 4000}, extra=["-d", "2000"])
        assert caller.wait(20) == 0, caller.errors()
        assert op_sipp.wait(10) == 0, op_sipp.errors()

        def ended():
            with hl.uow(readonly=True) as uow:
                c = uow.session.query(Call).first()
                return c if c is not None and c.ended_at is not None else None
        call = wait_until(ended, 5)
        assert call.outcome == "answered" and call.operator_id == op.id
        assert call.number == "13812345678" and call.bridge_id == b.cfg.bridge_id
        assert [p.operator_id for p in pops] == [op.id]
        states = {s["user_id"]: s["status"] for s in hl.calls.operator_states()}
        assert states[op.id] == "wrap_up"
    finally:
        b.stop()


def test_voicemail_opens_a_ticket_and_jobs_are_reported(core, bridge, sipp):
    """Voicemail opens a ticket; the satisfaction job asks both questions and the scheduler reads
    the reported digits (1 satisfied, 2 not solved) as the bridge meant them."""
    from hotline.calls import Call, OutboundJob
    from hotline.tickets import Ticket
    from scheduler.callbacks import parse_result
    hl, *_ = core
    callee = sipp("uas_survey")
    time.sleep(0.3)
    b = _start(bridge, hl, flow="menu")
    try:
        run = sipp("uac_menu_voicemail", b.port, keys={"codecs": "8 101"})
        assert run.wait(30) == 0, run.errors()

        def vm_call():
            with hl.uow(readonly=True) as uow:
                c = uow.session.query(Call).filter(Call.outcome == "voicemail").first()
                return c
        call = wait_until(vm_call, 5)
        assert call is not None and call.ticket_id and call.recording_path.endswith(".wav")
        with hl.uow(readonly=True) as uow:
            t = uow.session.get(Ticket, call.ticket_id)
            assert t.status == "accepted" and call.recording_path in t.content
        # ticket status read-back uses the same number
        from telephony.hotline_adapter import HotlineTickets
        assert HotlineTickets(hl).status_by_number(t.number.replace("-", "")) == "accepted"

        job = hl.calls.enqueue_outbound("satisfaction", "13900001111", ticket_id=t.id)
        # the bridge dials job.number via its peer; point this job at the SIPp callee directly
        with hl.uow() as uow:
            uow.session.get(OutboundJob, job).number = f"sip:13900001111@127.0.0.1:{callee.port}"
            uow.commit()

        def done():
            with hl.uow(readonly=True) as uow:
                j = uow.session.get(OutboundJob, job)
                return j if j.status in ("done", "failed") else None
        j = wait_until(done, 15)
        assert j is not None and j.status == "done" and j.result["digits"] == "12", j and j.result
        assert parse_result(j.result) == ("answered", "satisfied", False)
        assert callee.wait(10) == 0, callee.errors()
        out = hl.calls.get(j.result["call_id"])
        assert (out.direction, out.purpose, out.line, out.outcome) == ("out", "satisfaction", "12345", "answered")
        assert out.caller_id is None  # the job carried a number only
    finally:
        b.stop()


def test_run_py_plugin_starts_a_bridge_on_the_core(hl, sipp, monkeypatch, short_prompts):
    from telephony import integration
    from .helpers import free_udp_port
    port = free_udp_port()
    monkeypatch.setenv("HOTLINE_SIP_LISTEN", f"127.0.0.1:{port}")
    monkeypatch.setenv("HOTLINE_SIP_PROMPT_DIR", str(short_prompts))
    monkeypatch.setenv("HOTLINE_SIP", "off")
    assert integration.start(hl) is None
    monkeypatch.setenv("HOTLINE_SIP", "on")
    handle = integration.start(hl)
    try:
        run = sipp("uac_options", port)
        assert run.wait(15) == 0, run.errors()
    finally:
        handle.stop()


def test_missed_call_job_rings_the_operator_then_the_citizen(core, bridge, sipp):
    from hotline.calls import Call, OutboundJob
    from hotline.users import Actor
    hl, d, sysa, _ = core
    op_sipp = sipp("uas_answer", keys={"rtp_port": 4000})
    citizen = sipp("uas_answer_hangup", keys={"rtp_port": 4000}, extra=["-d", "800"])
    time.sleep(0.3)
    op = d.create_user(sysa, username="op1", password="password123", display_name="话务员一",
                       role="operator", sip_uri=f"sip:1001@127.0.0.1:{op_sipp.port}")
    hl.calls.set_state(sysa, op.id, "available")
    missed = hl.calls.offered("13812345678", "12345", bridge_id="elsewhere")
    hl.calls.queued(missed)
    hl.calls.ended(missed, "abandoned")
    b = _start(bridge, hl)
    try:
        # while the operator's phone rings for a queued caller, a call-back must not ring it too
        other = hl.calls.offered("13900000000", "12345", bridge_id="elsewhere")
        hl.calls.assign(other, op.id)
        first = hl.calls.request_call_back(Actor.of(op), missed)
        j = wait_until(_job_done(hl, first), 5)
        assert j is not None and j.status == "failed", j and j.result
        assert (j.result["outcome"], j.result["detail"]) == ("failed", "operator is on another call")
        hl.calls.ended(other, "abandoned")  # that caller gave up while it rang: operator free again
        assert {st["user_id"]: st["status"] for st in hl.calls.operator_states()}[op.id] == "available"
        # the operator clicks the missed call (POST /api/v1/calls/{id}/call-back); any bridge may take it
        job = hl.calls.request_call_back(Actor.of(op), missed)
        with hl.uow() as uow:  # dial the SIPp "citizen" directly instead of through a carrier
            uow.session.get(OutboundJob, job).number = f"sip:13812345678@127.0.0.1:{citizen.port}"
            uow.commit()

        def done():
            with hl.uow(readonly=True) as uow:
                j = uow.session.get(OutboundJob, job)
                return j if j.status in ("done", "failed") else None
        j = wait_until(done, 15)
        assert j is not None and j.status == "done" and j.result["outcome"] == "answered"
        assert citizen.wait(10) == 0, citizen.errors()
        assert op_sipp.wait(10) == 0, op_sipp.errors()
        assert [c.id for c in hl.calls.missed_calls()] == [other]  # the one called back is off the list
        with hl.uow(readonly=True) as uow:
            out = uow.session.query(Call).filter(Call.direction == "out", Call.purpose == "missed_call").one()
            assert out.operator_id == op.id and out.answered_at is not None
            assert (out.purpose, out.line, out.number) == ("missed_call", "12345", "13812345678")
        assert j.result["call_id"] == out.id
        assert wait_until(lambda: hl.calls.get(out.id).ended_at is not None, 5)
        assert hl.calls.get(out.id).outcome == "answered"
        assert hl.calls.get(missed).callback_done_at is not None
        states = {st["user_id"]: st["status"] for st in hl.calls.operator_states()}
        assert states[op.id] == "wrap_up"
    finally:
        b.stop()


def _open_call(hl):
    from hotline.calls import Call
    with hl.uow(readonly=True) as uow:
        return uow.session.query(Call).filter(Call.direction == "in").order_by(Call.id.desc()).first()


def _job_done(hl, job_id):
    from hotline.calls import OutboundJob

    def done():
        with hl.uow(readonly=True) as uow:
            j = uow.session.get(OutboundJob, job_id)
            return j if j.status in ("done", "failed") else None
    return done


def test_expert_join_job_mixes_the_desk_expert_into_the_live_call(core, bridge, sipp):
    """POST /calls/{id}/expert (calls.request_expert) -> a job for the call's bridge -> the desk's
    free expert rings, answers, is mixed in and recorded; a job for an ended call fails."""
    from hotline.calls import OutboundJob
    from hotline.users import Actor
    hl, d, sysa, legal = core
    hl.clock = _RunningClock(hl.now())
    op_sipp = sipp("uas_answer", keys={"rtp_port": 4000})
    expert_sipp = sipp("uas_answer", keys={"rtp_port": 4000})
    time.sleep(0.3)
    op = d.create_user(sysa, username="op1", password="password123", display_name="话务员一",
                       role="operator", sip_uri=f"sip:1001@127.0.0.1:{op_sipp.port}")
    lawyer = d.create_user(sysa, username="law1", password="password123", display_name="法律专家",
                           role="expert", unit_id=legal.id, sip_uri=f"sip:2001@127.0.0.1:{expert_sipp.port}")
    hl.calls.set_state(sysa, op.id, "available")
    hl.calls.set_state(sysa, lawyer.id, "available")
    b = _start(bridge, hl, operator_ring_seconds=5)
    try:
        caller = sipp("uac_call", b.port, keys={"codecs": "8 101", "rtp_port": 4000}, extra=["-d", "3500"])
        call = wait_until(lambda: (c := _open_call(hl)) is not None and c.answered_at is not None and c, 10)
        assert call and call.bridge_id == b.cfg.bridge_id
        # the queue wait runs from queueing (after the greeting), not from the INVITE
        assert call.wait_seconds == pytest.approx((call.answered_at - call.queued_at).total_seconds(), abs=0.01)
        assert (call.queued_at - call.offered_at).total_seconds() > 0.5  # ring + greeting
        job_id = hl.calls.request_expert(Actor.of(op), call.id, legal.id)
        j = wait_until(_job_done(hl, job_id), 10)
        assert j is not None and j.status == "done", j and j.result
        assert (j.result["outcome"], j.result["expert_id"], j.result["call_id"]) == ("answered", lawyer.id, call.id)
        assert hl.calls.get(call.id).expert_id == lawyer.id
        assert caller.wait(20) == 0, caller.errors()
        assert op_sipp.wait(10) == 0, op_sipp.errors()
        assert expert_sipp.wait(10) == 0, expert_sipp.errors()  # hung up with the call
        ended = wait_until(lambda: (c := hl.calls.get(call.id)).ended_at is not None and c, 5)
        assert ended.outcome == "answered" and ended.expert_id == lawyer.id
        states = {st["user_id"]: st["status"] for st in hl.calls.operator_states()}
        assert wait_until(lambda: {st["user_id"]: st["status"] for st in hl.calls.operator_states()}[lawyer.id]
                          == "available", 3)
        assert states[op.id] == "wrap_up"
        # a job that reaches the bridge after the call ended (the citizen hung up meanwhile)
        now = hl.now()
        with hl.uow() as uow:
            late = OutboundJob(kind="expert_join", number="", call_id=call.id, unit_id=legal.id,
                               bridge_id=b.cfg.bridge_id, status="pending", not_before=now, attempts=0,
                               created_at=now)
            uow.session.add(late)
            uow.commit()
            late_id = late.id
        j = wait_until(_job_done(hl, late_id), 5)
        assert j is not None and j.status == "failed" and j.result["outcome"] == "failed", j and j.result
    finally:
        b.stop()


def test_caller_leaving_while_the_operator_rings_frees_the_operator(core, bridge, sipp):
    """The citizen hangs up while the operator's phone rings: abandoned, the wait counted from
    queueing, the ring cancelled, the operator available again (nothing to wrap up)."""
    hl, d, sysa, _ = core
    hl.clock = _RunningClock(hl.now())
    op_sipp = sipp("uas_noanswer")
    time.sleep(0.3)
    op = d.create_user(sysa, username="op1", password="password123", display_name="话务员一",
                       role="operator", sip_uri=f"sip:1001@127.0.0.1:{op_sipp.port}")
    hl.calls.set_state(sysa, op.id, "available")
    b = _start(bridge, hl)
    try:
        caller = sipp("uac_call", b.port, keys={"codecs": "8 101", "rtp_port": 4000}, extra=["-d", "1800"])
        assert caller.wait(20) == 0, caller.errors()
        assert op_sipp.wait(10) == 0, op_sipp.errors()  # CANCEL, 487, ACK
        call = wait_until(lambda: (c := _open_call(hl)) is not None and c.ended_at is not None and c, 5)
        assert (call.outcome, call.answered_at, call.operator_id) == ("abandoned", None, op.id)
        assert call.wait_seconds == pytest.approx((call.ended_at - call.queued_at).total_seconds(), abs=0.01)
        assert (call.queued_at - call.offered_at).total_seconds() > 0.5 and call.wait_seconds > 0.5
        states = {st["user_id"]: st["status"] for st in hl.calls.operator_states()}
        assert states[op.id] == "available"
    finally:
        b.stop()
