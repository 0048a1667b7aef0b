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
    from hotline.calls import Call, OutboundJob
    from hotline.tickets import Ticket
    hl, *_ = core
    callee = sipp("uas_answer_dtmf")
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
        assert j is not None and j.status == "done" and j.result["digits"] == "1"
        assert callee.wait(10) == 0
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
    job = hl.calls.enqueue_outbound("missed_call", "13812345678", call_id=missed, operator_id=op.id)
    with hl.uow() as uow:  # dial the SIPp "citizen" directly instead of through a carrier
        uow.session.get(OutboundJob, job).number = f"sip:13812345678@127.0.0.1:{citizen.port}"
        uow.commit()
    b = _start(bridge, hl)
    try:
        def done():
            with hl.uow(readonly=True) as uow:
                j = uow.session.get(OutboundJob, job)
                return j if j.status in ("done", "failed") else None
        j = wait_until(done, 15)
        assert j is not None and j.status == "done" and j.result["outcome"] == "answered"
        assert citizen.wait(10) == 0, citizen.errors()
        assert op_sipp.wait(10) == 0, op_sipp.errors()
        assert hl.calls.missed_calls() == []
        with hl.uow(readonly=True) as uow:
            out = uow.session.query(Call).filter(Call.direction == "out").one()
            assert out.operator_id == op.id and out.answered_at is not None
        assert wait_until(lambda: hl.calls.get(out.id).ended_at is not None, 5)
        assert hl.calls.get(out.id).outcome == "answered"
    finally:
        b.stop()
