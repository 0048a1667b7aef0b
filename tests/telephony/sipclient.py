"""A raw SIP peer for the tests: a UDP or TCP socket on any loopback address (127.0.0.2 plays a
foreign host), requests written by hand, responses parsed with the bridge's own parser.

It is what an attacker (or a sloppy phone) has: nothing it sends is checked before it leaves.
"""
from __future__ import annotations

import socket
import time
import uuid

from telephony.sipmsg import ParseError, SipMessage


def sdp(port: int, host: str = "127.0.0.1", direction: str = "sendrecv") -> bytes:
    return (f"v=0\r\no=raw 1 1 IN IP4 {host}\r\ns=-\r\nc=IN IP4 {host}\r\nt=0 0\r\n"
            f"m=audio {port} RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\n"
            f"a=rtpmap:101 telephone-event/8000\r\na={direction}\r\n").encode()


class RawSip:
    def __init__(self, target_port: int, host: str = "127.0.0.1", transport: str = "udp",
                 target_host: str = "127.0.0.1"):
        self.transport = transport
        self.target = (target_host, target_port)
        kind = socket.SOCK_DGRAM if transport == "udp" else socket.SOCK_STREAM
        self.sock = socket.socket(socket.AF_INET, kind)
        self.sock.bind((host, 0))
        if transport == "tcp":
            self.sock.connect(self.target)
        self.host, self.port = self.sock.getsockname()
        self.buf = b""
        self.call_id = f"{uuid.uuid4().hex}@{host}"
        self.from_tag = uuid.uuid4().hex[:8]

    # -- building -----------------------------------------------------------------------------
    def request(self, method: str, *, call_id: str | None = None, from_tag: str | None = None,
                to_tag: str | None = None, cseq: int = 1, body: bytes = b"",
                headers: list[str] = (), branch: str | None = None, max_forwards: int | None = 70,
                uri: str | None = None, user: str = "13812345678") -> bytes:
        t = "UDP" if self.transport == "udp" else "TCP"
        lines = [f"{method} {uri or f'sip:12345@{self.target[0]}:{self.target[1]}'} SIP/2.0",
                 f"Via: SIP/2.0/{t} {self.host}:{self.port};branch={branch or 'z9hG4bK' + uuid.uuid4().hex[:16]};rport",
                 f'From: "Citizen" <sip:{user}@{self.host}:{self.port}>;tag={from_tag or self.from_tag}',
                 f"To: <sip:12345@{self.target[0]}:{self.target[1]}>" + (f";tag={to_tag}" if to_tag else ""),
                 f"Call-ID: {call_id or self.call_id}",
                 f"CSeq: {cseq} {method}",
                 f"Contact: <sip:{user}@{self.host}:{self.port}" + (";transport=tcp>" if t == "TCP" else ">")]
        if max_forwards is not None:
            lines.append(f"Max-Forwards: {max_forwards}")
        lines += list(headers)
        if body:
            lines.append("Content-Type: application/sdp" if body.startswith(b"v=0")
                         else "Content-Type: application/dtmf-relay")
        lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    def invite(self, rtp_port: int, **kw) -> bytes:
        return self.request("INVITE", body=sdp(rtp_port, self.host), **kw)

    def ack_for(self, resp: SipMessage, cseq: int = 1, call_id: str | None = None) -> bytes:
        return self.request("ACK", to_tag=resp.to.tag, cseq=cseq, call_id=call_id)

    # -- wire ---------------------------------------------------------------------------------
    def send(self, data: bytes) -> None:
        if self.transport == "udp":
            self.sock.sendto(data, self.target)
        else:
            self.sock.sendall(data)

    def _frame(self) -> bytes | None:
        """One message out of the TCP stream (framed by Content-Length), or None."""
        while self.buf.startswith(b"\r\n"):
            self.buf = self.buf[2:]
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return None
        head = self.buf[:end].decode(errors="replace")
        length = 0
        for line in head.split("\r\n")[1:]:
            k, _, v = line.partition(":")
            if k.strip().lower() in ("content-length", "l"):
                length = int(v.strip())
        if len(self.buf) < end + 4 + length:
            return None
        msg, self.buf = self.buf[: end + 4 + length], self.buf[end + 4 + length:]
        return msg

    def recv(self, timeout: float = 2.0) -> SipMessage | None:
        """The next SIP message (a response or a request from the bridge), or None."""
        deadline = time.monotonic() + timeout
        while True:
            if self.transport == "tcp":
                framed = self._frame()
                if framed is not None:
                    return SipMessage.parse(framed)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(65535)
            except (socket.timeout, TimeoutError):
                return None
            if self.transport == "udp":
                try:
                    return SipMessage.parse(data)
                except ParseError:
                    continue
            if not data:
                raise ConnectionError("the bridge closed the connection")
            self.buf += data

    def final(self, timeout: float = 3.0) -> SipMessage | None:
        """Skip provisional responses; the first final response (or None)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = self.recv(deadline - time.monotonic())
            if m is None:
                return None
            if not m.is_request and m.status >= 200:
                return m
        return None

    def call(self, rtp_port: int, **kw) -> tuple[bytes, SipMessage]:
        """INVITE -> 200 -> ACK. Returns the INVITE as sent and the 200."""
        inv = self.invite(rtp_port, **kw)
        self.send(inv)
        ok = self.final(5)
        assert ok is not None and ok.status == 200, ok and ok.status
        self.send(self.ack_for(ok))
        return inv, ok

    def close(self) -> None:
        self.sock.close()
