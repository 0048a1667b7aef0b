"""Each pyVoIP 1.6.8 defect from issue 5, exercised against the bridge with a real SIPp peer."""
from __future__ import annotations

import audioop
import socket
import time

import pytest

from .helpers import dominant_freq, needs_sipp, rms, wait_until

pytestmark = [pytest.mark.sip, needs_sipp]


def test_options_answered(bridge, sipp):
    b, _ = bridge()
    run = sipp("uac_options", b.port)
    assert run.wait(15) == 0, run.errors()
    assert b.ua.stats["options"] == 1


def test_invite_with_empty_header_is_answered_and_logged(bridge, sipp, rtp_sink):
    b, ports = bridge()
    sink = rtp_sink()
    run = sipp("uac_call", b.port, keys={"codecs": "0 8 101", "rtp_port": sink.port}, extra=["-d", "800"])
    assert run.wait(20) == 0, run.errors()
    rec = wait_until(lambda: ports.calls.wait_for(lambda r: r["ended_at"] is not None, 3))
    assert rec["caller"] == "13812345678" and rec["line"] == "12345"
    assert rec["outcome"] == "abandoned"  # hung up in the queue: no operator configured
    assert sink.packets, "no RTP reached the caller"


def test_cancel_while_ringing_gets_487_and_is_never_answered(bridge, sipp, rtp_sink):
    b, ports = bridge(ring_seconds=1.5)
    sink = rtp_sink()
    run = sipp("uac_cancel", b.port, keys={"codecs": "8 0 101", "rtp_port": sink.port})
    assert run.wait(20) == 0, run.errors()  # 200 to CANCEL, then 487, then our ACK
    rec = ports.calls.wait_for(lambda r: r["ended_at"] is not None, 5)
    assert rec["outcome"] == "abandoned" and rec["answered_at"] is None
    time.sleep(1.6)  # past the ring time: pyVoIP would answer the call now
    assert not sink.packets, "the cancelled call was answered anyway"
    assert b.ua.active_calls == 0 and b.media.session_count == 0


def test_invite_retransmission_starts_one_call_and_one_rtp_stream(bridge, sipp, rtp_sink):
    b, ports = bridge(ring_seconds=1.0)
    sink = rtp_sink()
    run = sipp("uac_retrans", b.port, keys={"codecs": "0 101", "rtp_port": sink.port}, extra=["-d", "2500"])
    assert run.wait(20) == 0, run.errors()
    assert b.ua.stats["retransmissions"] >= 2
    assert len(ports.calls.records) == 1
    ssrcs = {p[1] for p in sink.packets}
    assert len(ssrcs) == 1, f"{len(ssrcs)} RTP streams for one call"
    t0 = sink.packets[0][0]
    window = [p for p in sink.packets if t0 + 0.5 <= p[0] < t0 + 1.5]
    assert 45 <= len(window) <= 55, f"{len(window)} packets/s instead of 50 (duplicate stream?)"


def test_offer_without_supported_codec_gets_488(bridge, sipp):
    b, ports = bridge()
    run = sipp("uac_nocodec", b.port, keys={"codecs": "3 18", "rtp_port": 4000})
    assert run.wait(15) == 0, run.errors()
    rec = ports.calls.wait_for(lambda r: r["ended_at"] is not None, 3)
    assert rec["outcome"] == "refused"


@pytest.mark.parametrize("codecs,pt", [("8 101", 8), ("0 101", 0)])
def test_audio_is_encoded_with_the_negotiated_law(bridge, sipp, rtp_sink, codecs, pt):
    """PCMA must be A-law (pyVoIP sent μ-law under PT 8: noise). The greeting is a 1 kHz tone."""
    b, _ = bridge()
    sink = rtp_sink()
    run = sipp("uac_call", b.port, keys={"codecs": codecs, "rtp_port": sink.port}, extra=["-d", "900"])
    assert run.wait(20) == 0, run.errors()
    assert {p[2] for p in sink.packets} == {pt}
    payload = b"".join(p[4] for p in sink.packets[2:27])  # inside the 0.6 s greeting tone
    decode, wrong = (audioop.alaw2lin, audioop.ulaw2lin) if pt == 8 else (audioop.ulaw2lin, audioop.alaw2lin)
    good = decode(payload, 2)
    assert abs(dominant_freq(good) - 1000) < 30
    assert 0.85 * 5657 < rms(good) < 1.15 * 5657  # amplitude 8000 sine
    assert not (0.85 * 5657 < rms(wrong(payload, 2)) < 1.15 * 5657)


def test_garbage_datagrams_are_ignored(bridge, sipp):
    b, _ = bridge()
    junk = [b"\x00" * 40, b"\r\n\r\n", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", bytes(range(256)),
            b"INVITE sip:12345@127.0.0.1 SIP/2.0\r\nVia: broken\r\n\r\n",
            b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bKnone\r\n"
            b"From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: nobody\r\nCSeq: 1 INVITE\r\n\r\n",
            "BYE sip:x SIP/2.0\r\nCall-ID: 中文\r\n\r\n".encode("gbk")]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for j in junk * 3:
            s.sendto(j, ("127.0.0.1", b.port))
    time.sleep(0.3)
    assert b.ua.stats["garbage"] >= 15
    run = sipp("uac_options", b.port)
    assert run.wait(15) == 0, run.errors()
    run = sipp("uac_call", b.port, keys={"codecs": "8 101", "rtp_port": 4000}, extra=["-d", "300"])
    assert run.wait(15) == 0, run.errors()


def test_hold_and_resume_by_reinvite(bridge, sipp, rtp_sink):
    b, _ = bridge()
    sink = rtp_sink()
    run = sipp("uac_hold", b.port, keys={"codecs": "8 101", "rtp_port": sink.port}, extra=["-d", "400"])
    assert run.wait(20) == 0, run.errors()
    # while held (0.5 s) the bridge stops sending: a visible gap in the stream
    gaps = [b2[0] - a[0] for a, b2 in zip(sink.packets, sink.packets[1:])]
    assert max(gaps) > 0.3
    invites = [t for t in b.ua._server_tx.values() if t.method == "INVITE"]
    assert len(invites) == 3 and all(t.acked.is_set() for t in invites)  # no 200 resent after ACK


def test_trunk_mode_answers_the_source_and_dials_via_the_one_peer(bridge, sipp):
    """Trunk mode: no REGISTER; responses go to the request's source/Via (not to the configured
    peer, as pyVoIP does); out-of-dialog requests (an outbound call) go to the one peer."""
    peer = sipp("uas_answer_dtmf", keys={"rtp_port": 4000})  # its first message must be INVITE
    time.sleep(0.3)
    b, _ = bridge(peer=("127.0.0.1", peer.port))
    caller = sipp("uac_call", b.port, keys={"codecs": "8 101", "rtp_port": 4000}, extra=["-d", "300"])
    assert caller.wait(15) == 0, caller.errors()
    result = b.survey_call("13800138000", ring_timeout=5, digit_timeout=3)
    assert result.outcome == "answered" and result.digits == "1"
    assert peer.wait(10) == 0, peer.errors()


def test_register_mode_with_digest_and_unregister(bridge, sipp):
    registrar = sipp("uas_registrar")
    time.sleep(0.3)
    b, _ = bridge(mode="register", registrar=("127.0.0.1", registrar.port), username="12345",
                  password="s3cret", domain="127.0.0.1")
    assert b.ua.registered.wait(5), registrar.errors()
    caller = sipp("uac_call", b.port, keys={"codecs": "8 101", "rtp_port": 4000}, extra=["-d", "300"])
    assert caller.wait(15) == 0, caller.errors()  # responses to the caller, not the registrar
    b.stop()  # un-REGISTER with Expires: 0
    assert registrar.wait(10) == 0, registrar.errors()


def test_outbound_answered_ack_to_tag_and_dtmf(bridge, sipp):
    b, _ = bridge()
    callee = sipp("uas_answer_dtmf")
    time.sleep(0.3)
    t = time.monotonic()
    result = b.survey_call(f"sip:13900001111@127.0.0.1:{callee.port}", ring_timeout=5, digit_timeout=3)
    assert (result.outcome, result.digits) == ("answered", "1")
    assert callee.wait(10) == 0, callee.errors()  # includes the ACK To-tag check
    assert time.monotonic() - t < 8


def test_outbound_busy_without_provisional_ends_and_nothing_freezes(bridge, sipp):
    b, ports = bridge()
    busy = sipp("uas_busy")
    time.sleep(0.3)
    t = time.monotonic()
    result = b.survey_call(f"sip:13900001111@127.0.0.1:{busy.port}", ring_timeout=10)
    assert result.outcome == "busy" and time.monotonic() - t < 2
    assert busy.wait(10) == 0, busy.errors()  # ACK with the 486's To tag
    callee = sipp("uas_answer_dtmf")
    time.sleep(0.3)
    assert b.survey_call(f"sip:13900002222@127.0.0.1:{callee.port}", ring_timeout=5,
                         digit_timeout=3).outcome == "answered"
    assert [r["outcome"] for r in ports.calls.records.values()] == ["busy", "answered"]


def test_outbound_no_answer_is_cancelled(bridge, sipp):
    b, _ = bridge()
    callee = sipp("uas_noanswer")
    time.sleep(0.3)
    t = time.monotonic()
    result = b.survey_call(f"sip:13900001111@127.0.0.1:{callee.port}", ring_timeout=1.5)
    assert result.outcome == "no_answer" and time.monotonic() - t < 4
    assert callee.wait(10) == 0, callee.errors()


def test_outbound_to_a_dead_address_fails_in_time(bridge):
    b, _ = bridge(invite_timeout_seconds=2.0)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))  # bound and silent: no ICMP, no answer
        port = s.getsockname()[1]
        t = time.monotonic()
        result = b.survey_call(f"sip:13900001111@127.0.0.1:{port}", ring_timeout=10)
    assert result.outcome == "failed" and time.monotonic() - t < 4


def test_overload_gets_503_and_is_logged_refused(bridge, sipp):
    b, ports = bridge(max_calls=0)
    run = sipp("uac_refused", b.port, keys={"codecs": "8 101", "rtp_port": 4000})
    assert run.wait(15) == 0, run.errors()
    assert ports.calls.wait_for(lambda r: r["outcome"] == "refused", 3)


def test_untrusted_source_gets_403_and_no_call_record(bridge, sipp):
    b, ports = bridge(trusted=frozenset({"127.0.0.2"}))
    run = sipp("uac_refused", b.port, keys={"codecs": "8 101", "rtp_port": 4000})
    assert run.wait(15) == 0, run.errors()
    assert b.ua.stats["untrusted"] == 1 and not ports.calls.records


def test_offerless_invite_is_answered_with_an_offer(bridge, sipp, rtp_sink):
    b, ports = bridge()
    sink = rtp_sink()
    run = sipp("uac_offerless", b.port, keys={"rtp_port": sink.port}, extra=["-d", "800"])
    assert run.wait(15) == 0, run.errors()
    assert sink.packets and {p[2] for p in sink.packets} == {0}  # the answer in the ACK chose PCMU


def test_outbound_digest_challenge_is_answered(bridge, sipp):
    b, _ = bridge(username="12345", password="s3cret")
    pbx = sipp("uas_auth_answer", keys={"rtp_port": 4000})
    time.sleep(0.3)
    result = b.survey_call(f"sip:13900001111@127.0.0.1:{pbx.port}", ring_timeout=5, digit_timeout=0.5)
    assert result.outcome == "answered"
    assert pbx.wait(10) == 0, pbx.errors()
