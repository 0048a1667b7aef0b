"""Issue 9 (SIP): nobody outside a call can steer it, the queue cannot be filled for ever, and the
answers a proxy and a phone rely on. The citizen is a real SIPp; the attacker a raw UDP socket on
another port of 127.0.0.1 (made-up tags) or on 127.0.0.2 (a foreign host that sniffed the tags)."""
from __future__ import annotations

import logging
import time

import pytest

from .helpers import needs_sipp, wait_until
from .sipclient import RawSip, sdp

pytestmark = [pytest.mark.sip, needs_sipp]

FOREIGN = "127.0.0.2"  # loopback, but not the citizen's (nor the trusted proxy's) address


def _live_call(b, ports, sipp, sink, scenario="uac_call", hold_ms=3000):
    run = sipp(scenario, b.port, keys={"codecs": "8 101", "rtp_port": sink.port},
               extra=["-d", str(hold_ms)])
    leg = wait_until(lambda: next((lg for lg in list(b.ua._dialogs.values())
                                   if lg.state == "confirmed"), None), 5)
    assert leg is not None, run.errors()
    return run, leg


def _attack(b, leg, method, forged: bool, body: bytes = b"", host: str = "127.0.0.1", cseq=50):
    """One in-dialog request for the live call; returns the final response code (0: none)."""
    cli = RawSip(b.port, host=host)
    try:
        if forged:  # knows the Call-ID only: the tags are made up
            data = cli.request(method, call_id=leg.call_id, from_tag="f0rged", to_tag="m4deup",
                               cseq=cseq, body=body)
        else:  # sniffed everything: the citizen's From tag and the bridge's To tag
            data = cli.request(method, call_id=leg.call_id, from_tag=leg.remote_tag,
                               to_tag=leg.local_tag, cseq=cseq, body=body)
        cli.send(data)
        resp = cli.final(3)
        return resp.status if resp is not None else 0, resp
    finally:
        cli.close()


def test_reinvite_from_outside_the_dialog_cannot_move_the_audio(bridge, sipp, rtp_sink):
    b, ports = bridge()
    citizen, attacker = rtp_sink(), rtp_sink()
    run, leg = _live_call(b, ports, sipp, citizen)
    assert wait_until(lambda: len(citizen.packets) > 5, 3)
    code, _ = _attack(b, leg, "INVITE", forged=True, body=sdp(attacker.port))
    assert code == 481
    code, resp = _attack(b, leg, "INVITE", forged=False, body=sdp(attacker.port, FOREIGN),
                         host=FOREIGN, cseq=51)
    assert code == 403 and resp.to.tag
    t = time.monotonic()
    time.sleep(0.6)
    assert not attacker.packets, "the attacker's re-INVITE moved the citizen's audio"
    assert sum(1 for p in citizen.packets if p[0] > t) > 10, "the citizen lost the audio"
    assert run.wait(20) == 0, run.errors()


def test_info_from_outside_the_dialog_cannot_press_a_key(bridge, sipp, rtp_sink):
    b, ports = bridge(flow="menu")
    run, leg = _live_call(b, ports, sipp, rtp_sink(), hold_ms=2500)
    key3 = b"Signal=3\r\nDuration=160\r\n"  # 3 = leave a message
    assert _attack(b, leg, "INFO", forged=True, body=key3)[0] == 481
    assert _attack(b, leg, "INFO", forged=False, body=key3, host=FOREIGN)[0] == 403
    assert run.wait(20) == 0, run.errors()
    rec = ports.calls.wait_for(lambda r: r["ended_at"] is not None, 5)
    assert rec["outcome"] == "abandoned" and not ports.tickets.voicemails, "an injected key counted"


def test_bye_from_outside_the_dialog_cannot_hang_up_the_citizen(bridge, sipp, rtp_sink):
    """With a trusted proxy set, the rule holds for in-dialog requests too."""
    b, ports = bridge(trusted=frozenset({"127.0.0.1"}))
    run, leg = _live_call(b, ports, sipp, rtp_sink(), hold_ms=2000)
    assert _attack(b, leg, "BYE", forged=True)[0] == 481
    assert _attack(b, leg, "BYE", forged=False, host=FOREIGN)[0] == 403
    assert b.ua.stats["untrusted"] == 1
    assert leg.state == "confirmed"
    assert run.wait(20) == 0, run.errors()  # the citizen's own BYE still finds the call
    assert ports.calls.wait_for(lambda r: r["ended_at"] is not None, 5)["outcome"] == "abandoned"


# -- the queue cannot be filled for ever ---------------------------------------------------------
def test_a_caller_sending_no_rtp_is_hung_up_after_the_rtp_timeout(bridge, sipp, rtp_sink):
    b, ports = bridge(rtp_timeout=1.0)
    silent = sipp("uac_wait_bye", b.port, keys={"codecs": "8 101", "rtp_port": rtp_sink().port})
    talking = sipp("uac_talk", b.port, keys={"codecs": "8 101", "rtp_port": rtp_sink().port},
                   extra=["-d", "3000"])
    assert silent.wait(15) == 0, silent.errors()  # the bridge's BYE came
    assert talking.wait(15) == 0, talking.errors()  # a caller who speaks is not cut off
    recs = wait_until(lambda: [r for r in ports.calls.records.values() if r["ended_at"]]
                      if len(ports.calls.records) == 2 and all(r["ended_at"] for r in ports.calls.records.values())
                      else None, 5)
    assert sorted(r["outcome"] for r in recs) == ["abandoned", "failed"]
    assert b.ua.active_calls == 0


def test_queue_wait_has_a_default_limit(bridge):
    from telephony.config import SipConfig
    assert 0 < SipConfig().max_queue_seconds <= 600
    assert SipConfig.from_env({}).rtp_timeout == 30.0
    with pytest.raises(ValueError, match="HOTLINE_SIP_MAX_QUEUE_SECONDS"):
        SipConfig.from_env({"HOTLINE_SIP_MAX_QUEUE_SECONDS": "0"})


def test_after_the_wait_limit_the_caller_can_ask_for_a_call_back(bridge, sipp):
    b, ports = bridge(max_queue_seconds=0.5)
    run = sipp("uac_queue_callback", b.port, keys={"codecs": "8 101"})
    assert run.wait(20) == 0, run.errors()  # pressed 2, heard the confirmation, got the BYE
    rec = ports.calls.wait_for(lambda r: r["ended_at"] is not None, 5)
    assert rec["outcome"] == "abandoned" and not ports.tickets.voicemails
    assert [r["id"] for r in ports.calls.missed_calls()] == [rec["id"]]  # the call-back list


def test_new_calls_per_source_are_capped_with_503_and_retry_after(bridge, caplog):
    caplog.set_level(logging.INFO, logger="telephony")
    b, ports = bridge(max_calls_per_second=2.0)
    flood = RawSip(b.port)
    other = RawSip(b.port, host=FOREIGN)
    try:
        for i in range(12):
            flood.send(flood.invite(4000, call_id=f"flood-{i}@x", from_tag=f"t{i}"))
        codes: dict[str, int] = {}
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and len(codes) < 12:
            m = flood.recv(0.5)
            if m is not None and not m.is_request and m.status in (100, 503):
                if m.status == 503:
                    assert m.get("Retry-After", "").isdigit() and m.to.tag
                codes[m.call_id] = max(codes.get(m.call_id, 0), m.status)
        refused = sum(1 for c in codes.values() if c == 503)
        # 2 at once, then 2 a second: even a bridge stalled for 3 s admits at most 8
        assert len(codes) == 12 and 4 <= refused <= 10, codes
        other.send(other.invite(4000))  # another source is not held up by the flood
        m = other.recv(2)
        assert m is not None and m.status == 100
    finally:
        flood.close()
        other.close()
    assert b.ua.stats["rate_limited"] == refused
    # no call record for a refused flood (the admitted ones are written by their own threads)
    assert wait_until(lambda: len(ports.calls.records) == 12 - refused + 1, 3), ports.calls.records
    lines = [r.getMessage() for r in caplog.records if "calls per second" in r.getMessage()]
    assert lines and "127.0.0.1" in lines[0]
    assert not any("13812345678" in r.getMessage() for r in caplog.records)


def test_every_503_carries_retry_after(bridge):
    b, ports = bridge(max_calls=0)
    cli = RawSip(b.port)
    try:
        cli.send(cli.invite(4000))
        resp = cli.final(5)
    finally:
        cli.close()
    assert resp.status == 503 and resp.get("Retry-After", "").isdigit() and resp.to.tag


# -- protocol answers ----------------------------------------------------------------------------
@pytest.mark.parametrize("method,headers,to_tag,code,check", [
    ("INVITE", ["Max-Forwards: 0"], None, 483, None),
    ("INVITE", ["Require: 100rel"], None, 420, ("Unsupported", "100rel")),
    ("INVITE", ["Require: 100rel, timer"], None, 420, ("Unsupported", "100rel, timer")),
    ("INVITE", ["Max-Forwards: many"], None, 400, None),
    ("REGISTER", [], None, 405, ("Allow", "INVITE")),
    ("FOO", [], None, 501, None),
    ("BYE", [], None, 481, None),  # no To tag: matches no dialog
    ("UPDATE", [], None, 481, None),
    ("OPTIONS", [], "nosuchdialog", 481, None),
    ("INFO", [], "nosuchdialog", 481, None),
])
def test_protocol_answers(bridge, method, headers, to_tag, code, check):
    b, ports = bridge()
    cli = RawSip(b.port)
    try:
        mf = None if any(h.startswith("Max-Forwards") for h in headers) else 70
        body = sdp(4000) if method == "INVITE" else b""
        cli.send(cli.request(method, headers=headers, to_tag=to_tag, body=body, max_forwards=mf))
        resp = cli.final(3)
    finally:
        cli.close()
    assert resp is not None and resp.status == code
    assert resp.to.tag, "a final response without a To tag"
    if check:
        assert check[1] in (resp.get(check[0]) or ""), resp.get(check[0])
    time.sleep(0.2)
    assert not ports.calls.records


def test_options_with_max_forwards_zero_is_still_answered(bridge):
    """RFC 3261 §16.3: an OPTIONS with Max-Forwards 0 is for the element that receives it."""
    b, _ = bridge()
    cli = RawSip(b.port)
    try:
        cli.send(cli.request("OPTIONS", max_forwards=0))
        resp = cli.final(3)
    finally:
        cli.close()
    assert resp.status == 200 and resp.to.tag


def test_update_with_an_offer_gets_an_answer_and_moves_the_media(bridge, sipp, rtp_sink):
    b, ports = bridge()
    first, second = rtp_sink(), rtp_sink()
    run = sipp("uac_update", b.port, keys={"codecs": "8 101", "rtp_port": first.port,
                                            "rtp_port2": second.port}, extra=["-d", "1200"])
    assert run.wait(20) == 0, run.errors()  # the 200 to UPDATE carried an SDP answer
    assert first.packets and len(second.packets) > 20, "the media did not follow the UPDATE"
    assert max(p[0] for p in first.packets) < min(p[0] for p in second.packets) + 0.1


def _late_invite(b) -> None:
    """The INVITE arrives again after the call is over: once more with its branch (a late
    retransmission), once with a new branch (a proxy trying again)."""
    cli = RawSip(b.port)
    try:
        inv, ok = cli.call(4000)
        cli.send(cli.request("BYE", to_tag=ok.to.tag, cseq=2))
        assert cli.final(3).status == 200
        assert wait_until(lambda: b.ua.active_calls == 0, 3)
        b.ua._server_tx.clear()  # as if the transaction had timed out (Timer I / L)
        cli.send(inv)  # the same INVITE, the same branch
        late = cli.final(2)
        assert late is not None and late.status == 481 and late.to.tag
        cli.send(inv.replace(b"branch=z9hG4bK", b"branch=z9hG4bKagain"))
        again = cli.final(2)
        assert again is not None and again.status == 481 and again.to.tag
        time.sleep(0.3)
    finally:
        cli.close()


def test_late_invite_of_an_ended_call_makes_no_second_record(bridge, tmp_path):
    b, ports = bridge(journal=str(tmp_path / "calls.jsonl"))
    _late_invite(b)
    assert len(ports.calls.records) == 1
    assert (tmp_path / "calls.jsonl").read_text().count('"ev": "new"') == 1


def test_late_invite_makes_no_second_record_in_the_core(bridge, hl):
    from hotline.calls import Call
    from telephony.bridge import start_bridge
    from telephony.hotline_adapter import hotline_ports
    b0, _ = bridge()
    cfg = b0.cfg
    b0.stop()
    cfg.listen_port = 0
    b = start_bridge(cfg, hotline_ports(hl))
    try:
        _late_invite(b)
    finally:
        b.stop()
    with hl.uow(readonly=True) as uow:
        assert uow.session.query(Call).count() == 1
