"""SIP over TCP on the bridge's port (RFC 3261 §18): SIPp and baresip as TCP phones, stream framing
by Content-Length, connection reuse, and a hostile TCP client that must not exhaust anything."""
from __future__ import annotations

import socket
import time

import pytest

from .helpers import free_tcp_port, needs_sipp, wait_until
from .sipclient import RawSip
from .test_sip_baresip import BARESIP, MODULES, Baresip

pytestmark = [pytest.mark.sip, needs_sipp]


def test_sipp_calls_over_tcp_with_a_large_invite(bridge, sipp, rtp_sink):
    b, ports = bridge()
    sink = rtp_sink()
    run = sipp("uac_call_big", b.port, port=free_tcp_port(), extra=["-t", "t1", "-d", "800"],
               keys={"codecs": "8 101", "rtp_port": sink.port})
    assert run.wait(20) == 0, run.errors()
    rec = ports.calls.wait_for(lambda r: r["ended_at"] is not None, 5)
    assert rec["outcome"] == "abandoned" and rec["caller"] == "13812345678"
    assert sink.packets, "no RTP for the TCP call"


def test_tcp_stream_framing_and_connection_reuse(bridge):
    """An INVITE in three pieces, ACK and OPTIONS in one segment, a CRLF keep-alive; the bridge's
    own BYE (the RTP timeout) comes back on the same connection: the phone's Contact port is closed."""
    b, ports = bridge(rtp_timeout=1.0)
    cli = RawSip(b.port, transport="tcp")
    try:
        inv = cli.invite(4000)
        for i in range(0, len(inv), len(inv) // 3 + 1):
            cli.send(inv[i: i + len(inv) // 3 + 1])
            time.sleep(0.05)
        ok = cli.final(5)
        assert ok.status == 200 and ok.get("Contact").endswith(";transport=tcp>")
        cli.send(cli.ack_for(ok) + cli.request("OPTIONS", call_id="opt@x", from_tag="o1"))
        opt = cli.final(2)
        assert opt.status == 200 and opt.call_id == "opt@x"
        cli.send(b"\r\n\r\n")  # RFC 5626 keep-alive: the answer is a CRLF
        cli.sock.settimeout(2)
        assert cli.sock.recv(16) == b"\r\n"
        bye = wait_until(lambda: cli.recv(0.5), 5)
        assert bye is not None and bye.method == "BYE" and bye.call_id == cli.call_id
        resp = (f"SIP/2.0 200 OK\r\nVia: {bye.get('Via')}\r\nFrom: {bye.get('From')}\r\n"
                f"To: {bye.get('To')}\r\nCall-ID: {bye.call_id}\r\nCSeq: {bye.get('CSeq')}\r\n"
                "Content-Length: 0\r\n\r\n").encode()
        cli.send(resp)
    finally:
        cli.close()
    rec = ports.calls.wait_for(lambda r: r["ended_at"] is not None, 5)
    assert rec["outcome"] == "failed"


def test_outbound_call_over_tcp_reuses_the_connection(bridge, sipp):
    """A survey call to a ;transport=tcp URI: INVITE, ACK, the keyed digit and the bridge's BYE
    all on one connection (SIPp in t1 mode)."""
    port = free_tcp_port()
    callee = sipp("uas_answer_dtmf", port=port, extra=["-t", "t1"])
    time.sleep(0.3)
    b, ports = bridge()
    result = b.survey_call(f"sip:13900001111@127.0.0.1:{port};transport=tcp", ring_timeout=5,
                           digit_timeout=3)
    assert (result.outcome, result.digits) == ("answered", "1")
    assert callee.wait(10) == 0, callee.errors()  # ACK To tag checked, BYE answered
    assert b.ua.transport.connection_count <= 1


def _closed(sock: socket.socket, timeout: float) -> bool:
    sock.settimeout(timeout)
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return True
    except (socket.timeout, TimeoutError):
        return False
    except OSError:
        return True


def test_hostile_tcp_client_cannot_exhaust_the_bridge(bridge):
    b, _ = bridge(tcp_max_connections=4, tcp_idle_seconds=1.0)
    addr = ("127.0.0.1", b.port)
    # a header that never ends
    s = socket.create_connection(addr)
    try:
        for _ in range(20):
            s.sendall(b"INVITE sip:x SIP/2.0\r\nX-Pad: " + b"a" * 8000)
    except OSError:
        pass  # closed under our feet: that is the point
    assert _closed(s, 3)
    s.close()
    # a body that would never fit
    s = socket.create_connection(addr)
    cli = RawSip(b.port)
    s.sendall(cli.request("OPTIONS").replace(b"Content-Length: 0", b"Content-Length: 99999999"))
    assert _closed(s, 3)
    s.close()
    cli.close()
    # more connections than allowed: the extra ones are closed at once
    held = [socket.create_connection(addr) for _ in range(4)]
    extra = socket.create_connection(addr)
    assert _closed(extra, 2)
    extra.close()
    # idle connections are closed after tcp_idle_seconds
    assert all(_closed(h, 3) for h in held)
    for h in held:
        h.close()
    # and the bridge still answers, over TCP and UDP
    for transport in ("tcp", "udp"):
        cli = RawSip(b.port, transport=transport)
        try:
            cli.send(cli.request("OPTIONS"))
            resp = cli.final(3)
            assert resp is not None and resp.status == 200
        finally:
            cli.close()


@pytest.mark.skipif(BARESIP is None or not (MODULES / "aufile.so").exists(), reason="baresip not installed")
def test_baresip_calls_over_tcp(bridge, tmp_path):
    from telephony.media import save_wav, tone
    voice = tmp_path / "voice.wav"
    save_wav(voice, tone(800, 20, 6000))
    phone = Baresip(tmp_path / "phone", voice)
    try:
        b, ports = bridge()
        assert phone.command("dial", f"sip:12345@127.0.0.1:{b.port};transport=tcp")["ok"]
        rec = ports.calls.wait_for(lambda r: r["queued_at"] is not None, 8)
        assert rec is not None, phone.output()
        assert b.ua.stats.get("tcp_connections", 0) >= 1
        time.sleep(0.5)
        phone.command("hangup")
        rec = ports.calls.wait_for(lambda r: r["ended_at"] is not None, 5)
        assert rec is not None and rec["outcome"] == "abandoned", phone.output()
    finally:
        phone.stop()
