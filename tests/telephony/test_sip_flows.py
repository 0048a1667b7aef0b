"""Call flows against real SIPp peers: menu, ticket status, voicemail, the queue, relays,
three-way, click-to-call-back, outbound jobs, and a SIGKILL in the middle of a call."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import wave
from pathlib import Path

import pytest

from telephony.ports import SATISFACTION_QUESTIONS, OutboundJob

from .helpers import free_udp_port, needs_sipp, rms, wait_until

pytestmark = [pytest.mark.sip, needs_sipp]


def _ended(ports, timeout=8.0):
    return ports.calls.wait_for(lambda r: r["ended_at"] is not None, timeout)


def _loud(sink, since: float, threshold: float = 300.0) -> int:
    """Packets after ``since`` whose payload decodes (A-law) to more than ``threshold`` RMS."""
    import audioop
    return sum(1 for p in sink.packets if p[0] >= since and p[2] == 8
               and rms(audioop.alaw2lin(p[4], 2)) > threshold)


def test_menu_ticket_status_read_back(bridge, sipp):
    b, ports = bridge(flow="menu", tickets={"123": "in_progress"})
    run = sipp("uac_menu_ticket", b.port, keys={"codecs": "8 0 101"}, extra=["-d", "2500"])
    assert run.wait(30) == 0, run.errors()
    rec = _ended(ports)
    assert rec["outcome"] == "self_service"
    assert ports.tickets.lookups == ["123"]


def test_menu_voicemail_records_the_caller_into_a_ticket(bridge, sipp):
    b, ports = bridge(flow="menu")
    run = sipp("uac_menu_voicemail", b.port, keys={"codecs": "8 101"})
    assert run.wait(30) == 0, run.errors()
    rec = _ended(ports)
    assert rec["outcome"] == "voicemail" and rec["ticket_id"] == 1001
    vm = ports.tickets.voicemails[0]
    assert vm["caller"] == "13812345678" and vm["call_id"] == rec["id"]
    with wave.open(vm["wav_path"]) as w:
        assert w.getframerate() == 8000 and w.getnchannels() == 1
        seconds = w.getnframes() / 8000
        pcm = w.readframes(w.getnframes())
    assert 2.0 < seconds < 5.0
    assert rms(pcm) > 300, "the recording is silent"


def test_queue_connects_longest_idle_operator_and_relays_audio_both_ways(bridge, sipp, rtp_sink):
    caller_sink, op_sink = rtp_sink(), rtp_sink()
    op = sipp("uas_answer_talk", keys={"rtp_port": op_sink.port})
    busy_op = sipp("uas_busy")  # registered but idle for less time: must not be chosen
    time.sleep(0.3)
    b, ports = bridge(operators={7: f"sip:1007@127.0.0.1:{op.port}",
                                 8: f"sip:1008@127.0.0.1:{busy_op.port}"})
    caller = sipp("uac_talk", b.port, keys={"codecs": "8 101", "rtp_port": caller_sink.port},
                  extra=["-d", "3000"])
    assert caller.wait(30) == 0, caller.errors()
    assert op.wait(10) == 0, op.errors()  # the bridge hung up the operator after the caller's BYE
    busy_op.kill()
    rec = _ended(ports)
    assert (rec["outcome"], rec["operator_id"], rec["rang"]) == ("answered", 7, [7])
    assert rec["wait_seconds"] is not None and rec["wait_seconds"] < 2.0
    answered = rec["answered_at"] - rec["offered_at"]
    t_answer = caller_sink.packets[0][0] + answered - 0.5
    assert _loud(op_sink, t_answer) > 20, "caller's voice did not reach the operator"
    assert _loud(caller_sink, t_answer + 0.5) > 20, "operator's voice did not reach the caller"
    assert ports.operators.ops[7]["state"] == "available"


def test_operator_who_does_not_pick_up_is_skipped(bridge, sipp):
    slow = sipp("uas_noanswer")
    good = sipp("uas_answer", keys={"rtp_port": 4000})
    time.sleep(0.3)
    b, ports = bridge(operators={1: f"sip:1001@127.0.0.1:{slow.port}",
                                 2: f"sip:1002@127.0.0.1:{good.port}"},
                      operator_ring_seconds=1.5)
    caller = sipp("uac_call", b.port, keys={"codecs": "8 101", "rtp_port": 4000}, extra=["-d", "4000"])
    assert caller.wait(30) == 0, caller.errors()
    assert slow.wait(10) == 0, slow.errors()  # got CANCEL, answered 487, got the ACK
    assert good.wait(10) == 0, good.errors()
    rec = _ended(ports)
    assert (rec["outcome"], rec["operator_id"], rec["rang"]) == ("answered", 2, [1, 2])


def test_caller_hanging_up_in_queue_is_abandoned_with_wait_time(bridge, sipp):
    b, ports = bridge()
    caller = sipp("uac_call", b.port, keys={"codecs": "8 101", "rtp_port": 4000}, extra=["-d", "2500"])
    assert caller.wait(20) == 0, caller.errors()
    rec = _ended(ports)
    assert rec["outcome"] == "abandoned"
    assert 1.2 < rec["wait_seconds"] < 2.6
    assert [r["id"] for r in ports.calls.missed_calls()] == [rec["id"]]


def test_operator_hangs_up_while_talking(bridge, sipp):
    op = sipp("uas_answer_hangup", keys={"rtp_port": 4000}, extra=["-d", "1000"])
    time.sleep(0.3)
    b, ports = bridge(operators={3: f"sip:1003@127.0.0.1:{op.port}"})
    caller = sipp("uac_wait_bye", b.port, keys={"codecs": "8 101", "rtp_port": 4000})
    assert caller.wait(20) == 0, caller.errors()  # the bridge's BYE reached the citizen
    assert op.wait(10) == 0, op.errors()
    rec = _ended(ports)
    assert (rec["outcome"], rec["operator_id"]) == ("answered", 3)


def test_three_way_with_an_expert_desk_mixes_the_caller_in(bridge, sipp, rtp_sink):
    """An ``expert_join`` job: the bridge holding the call rings the desk's expert and mixes them in;
    a job for a call that has ended finishes as failed."""
    expert_sink = rtp_sink()
    op = sipp("uas_answer", keys={"rtp_port": 4000})
    expert = sipp("uas_answer", keys={"rtp_port": expert_sink.port})
    time.sleep(0.3)
    b, ports = bridge(operators={1: f"sip:1001@127.0.0.1:{op.port}"},
                      experts={"legal": f"sip:law@127.0.0.1:{expert.port}"}, operator_ring_seconds=5)
    caller = sipp("uac_talk", b.port, keys={"codecs": "8 101", "rtp_port": 4000}, extra=["-d", "4500"])
    rec = ports.calls.wait_for(lambda r: r["answered_at"] is not None, 10)
    assert rec is not None
    ports.jobs.add(OutboundJob(1, "", purpose="expert_join", call_id=rec["id"], desk="legal"))
    results = ports.jobs.wait_results(1, 8)
    joined = time.monotonic()
    assert (results[1].outcome, results[1].expert_id, results[1].call_id) == ("answered", 9000, rec["id"])
    assert ports.calls.records[rec["id"]]["expert_id"] == 9000
    assert caller.wait(20) == 0, caller.errors()
    assert op.wait(10) == 0 and expert.wait(10) == 0, op.errors() + expert.errors()
    assert _loud(expert_sink, joined) > 20, "the expert did not hear the caller"
    ports.jobs.add(OutboundJob(2, "", purpose="expert_join", call_id=rec["id"], desk="legal"))
    late = ports.jobs.wait_results(2, 5)[2]
    assert (late.outcome, late.detail) == ("failed", "call not live on this bridge")


def test_click_to_call_back_rings_operator_then_citizen(bridge, sipp):
    op = sipp("uas_answer", keys={"rtp_port": 4000})
    citizen = sipp("uas_answer_hangup", keys={"rtp_port": 4000}, extra=["-d", "800"])
    time.sleep(0.3)
    b, ports = bridge(operators={5: f"sip:1005@127.0.0.1:{op.port}"})
    ports.operators.mark_busy(5)  # on another call: not rung (SIPp would take only one call)
    busy = b.call_back(5, f"sip:13812345678@127.0.0.1:{citizen.port}", ring_seconds=5)
    assert (busy.outcome, busy.detail) == ("failed", "operator is on another call")
    assert ports.operators.ops[5]["state"] == "busy" and not ports.calls.records
    ports.operators.mark_available(5)
    result = b.call_back(5, f"sip:13812345678@127.0.0.1:{citizen.port}", ring_seconds=5)
    assert result.outcome == "answered"
    assert citizen.wait(10) == 0, citizen.errors()
    assert op.wait(10) == 0, op.errors()  # the bridge hung the operator up too
    rec = _ended(ports)
    assert (rec["direction"], rec["purpose"], rec["line"], rec["outcome"], rec["operator_id"]) == (
        "out", "missed_call", "12345", "answered", 5)
    assert wait_until(lambda: ports.operators.ops[5]["state"] == "available", 3)


def test_outbound_jobs_are_claimed_dialled_and_reported(bridge, sipp):
    """A satisfaction callback asks two questions, one digit each: an invalid key gets the question
    again, and so does silence; the answers are reported as "32" (unsatisfied, not solved)."""
    ok = sipp("uas_survey_retry")
    busy = sipp("uas_busy")
    time.sleep(0.3)
    b, ports = bridge()
    ports.jobs.add(OutboundJob(1, f"sip:13900000001@127.0.0.1:{ok.port}", purpose="satisfaction",
                               questions=SATISFACTION_QUESTIONS, digit_timeout=1.5, ring_timeout=5))
    ports.jobs.add(OutboundJob(2, f"sip:13900000002@127.0.0.1:{busy.port}", ring_timeout=5))
    results = ports.jobs.wait_results(2, 20)
    assert (results[1].outcome, results[1].digits) == ("answered", "32")
    assert results[2].outcome == "busy"
    assert ok.wait(10) == 0, ok.errors()
    assert busy.wait(10) == 0, busy.errors()
    rec = ports.calls.records[results[1].call_id]
    assert (rec["direction"], rec["purpose"], rec["line"], rec["outcome"]) == (
        "out", "satisfaction", "12345", "answered")


def test_sigkill_mid_call_loses_no_record(sipp, tmp_path, short_prompts):
    journal = tmp_path / "calls.jsonl"
    port = free_udp_port()
    env = dict(os.environ, HOTLINE_SIP_LISTEN=f"127.0.0.1:{port}", HOTLINE_SIP_JOURNAL=str(journal),
               HOTLINE_SIP_BRIDGE_ID="kill-test", HOTLINE_SIP_PROMPT_DIR=str(short_prompts),
               HOTLINE_SIP_RING_SECONDS="0.2", HOTLINE_SIP_VOICEMAIL_DIR=str(tmp_path / "vm"),
               PYTHONPATH=str(Path(__file__).resolve().parents[2]))

    def start():
        log = tmp_path / f"bridge-{time.monotonic_ns()}.log"
        p = subprocess.Popen([sys.executable, "-m", "telephony"], env=env, stdout=open(log, "w"),
                             stderr=subprocess.STDOUT)
        assert wait_until(lambda: "ready" in log.read_text(), 10), log.read_text()
        return p

    proc = start()
    caller = sipp("uac_call", port, keys={"codecs": "8 101", "rtp_port": 4000}, extra=["-d", "20000"])
    try:
        def queued():
            lines = [json.loads(x) for x in journal.read_text().splitlines()] if journal.exists() else []
            return any(ev["ev"] == "set" and ev["set"].get("queued_at") for ev in lines)
        assert wait_until(queued, 10)
        proc.send_signal(signal.SIGKILL)
        proc.wait(5)
        proc = start()  # the restart closes what the dead process left open
        events = [json.loads(x) for x in journal.read_text().splitlines()]
        ends = [ev["set"] for ev in events if ev["ev"] == "set" and "outcome" in ev["set"]]
        assert [e["outcome"] for e in ends] == ["interrupted"]
        assert ends[0]["wait_seconds"] > 0
    finally:
        caller.kill()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_queue_timeout_offers_voicemail(bridge, sipp):
    b, ports = bridge(max_queue_seconds=1.0)
    run = sipp("uac_talk", b.port, keys={"codecs": "8 101", "rtp_port": 4000}, extra=["-d", "4000"])
    assert run.wait(20) == 0, run.errors()
    rec = _ended(ports)
    assert rec["outcome"] == "voicemail" and rec["ticket_id"] == 1001
    assert rec["recording_path"] == ports.tickets.voicemails[0]["wav_path"]
    with wave.open(rec["recording_path"]) as w:
        assert rms(w.readframes(w.getnframes())) > 300


def test_dtmf_by_sip_info(bridge, sipp):
    b, ports = bridge(flow="menu")
    run = sipp("uac_info_dtmf", b.port, keys={"codecs": "8 101", "rtp_port": 4000})
    assert run.wait(20) == 0, run.errors()
    rec = _ended(ports)
    assert rec["outcome"] == "voicemail"
