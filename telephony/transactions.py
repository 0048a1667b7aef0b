"""SIP transactions (RFC 3261 §17) and the timer thread that drives their retransmissions."""
from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from typing import TYPE_CHECKING, Callable

from .config import new_tag
from .sipmsg import SipMessage

if TYPE_CHECKING:
    from .sip import SipUA
    from .transport import Flow

log = logging.getLogger("telephony.sip")

T1, T2 = 0.5, 4.0
TIMER_64T1 = 32.0


class Timers:
    """One thread running every SIP timer (retransmissions, timeouts)."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._cv = threading.Condition()
        self._seq = itertools.count()
        self._running = True
        self._thread = threading.Thread(target=self._run, name="sip-timers", daemon=True)
        self._thread.start()

    def call_later(self, delay: float, fn: Callable[[], None]) -> None:
        with self._cv:
            heapq.heappush(self._heap, (time.monotonic() + delay, next(self._seq), fn))
            self._cv.notify()

    def stop(self) -> None:
        with self._cv:
            self._running = False
            self._cv.notify()

    def _run(self) -> None:
        while True:
            with self._cv:
                while self._running and (not self._heap or self._heap[0][0] > time.monotonic()):
                    self._cv.wait(None if not self._heap else self._heap[0][0] - time.monotonic())
                if not self._running:
                    return
                _, _, fn = heapq.heappop(self._heap)
            try:
                fn()
            except Exception:
                log.exception("SIP timer failed")


class ServerTx:
    def __init__(self, ua: "SipUA", req: SipMessage, src: tuple[str, int], flow: "Flow | None" = None):
        self.ua, self.req, self.src = ua, req, src
        self.method = req.method
        self.flow = flow  # the TCP connection the request came on (responses go back on it)
        self.transport = "tcp" if flow is not None else "udp"
        self.dest = ua.response_destination(req, src, self.transport)
        self.last: bytes | None = None
        self.final = 0
        self.acked = threading.Event()
        self.to_tag: str | None = None

    def respond(self, code: int, to_tag: str | None = None, headers: list[tuple[str, str]] = (),
                body: bytes = b"", content_type: str | None = None, reason: str | None = None) -> None:
        if to_tag:
            self.to_tag = to_tag
        elif code > 100 and self.to_tag is None and not self.req.to.tag:
            self.to_tag = new_tag()  # every response but 100 carries a To tag (RFC 3261 §8.2.6.2)
        resp = self.ua.build_response(self.req, code, self.src, self.to_tag if code > 100 else None,
                                      headers, body, content_type, reason)
        data = resp.encode()
        self.last = data
        self.send(data)
        if code >= 200 and not self.final:
            self.final = code
            if self.method == "INVITE":
                self._retransmit(T1, time.monotonic() + TIMER_64T1)
            else:  # absorb retransmitted non-INVITE requests for 64*T1
                self.ua.timers.call_later(TIMER_64T1, lambda: self.ua._forget_server_tx(self))
                return

    def _retransmit(self, interval: float, deadline: float) -> None:
        def fire() -> None:
            if self.acked.is_set() or self.ua.stopped:
                self.ua.timers.call_later(TIMER_64T1 / 4, lambda: self.ua._forget_server_tx(self))
                return
            if time.monotonic() >= deadline:
                self.ua._forget_server_tx(self)
                self.ua._on_ack_timeout(self)
                return
            if self.transport == "udp":  # TCP is reliable: only wait for the ACK (Timer H)
                self.send(self.last)
            self._retransmit(min(interval * 2, T2), deadline)
        self.ua.timers.call_later(interval, fire)

    def send(self, data: bytes) -> None:
        # over TCP: the request's connection (or another open one to its source), no dial-back
        self.flow = self.ua.send(data, self.dest, self.transport, self.flow, connect=False) or self.flow


class ClientTx:
    """A client transaction (retransmits over UDP until a response, Timer E/A; gives up at B/F)."""

    def __init__(self, ua: "SipUA", msg: SipMessage, dest: tuple[str, int],
                 on_response: Callable[[SipMessage], None], on_timeout: Callable[[], None],
                 timeout: float = TIMER_64T1, transport: str = "udp", flow: "Flow | None" = None):
        self.ua, self.msg, self.dest = ua, msg, dest
        self.transport = transport
        self.branch = msg.top_via.branch
        self.method = msg.method
        self.on_response, self.on_timeout = on_response, on_timeout
        self.data = msg.encode()
        self.got_provisional = False
        self.final: SipMessage | None = None
        self.done = False
        self.deadline = time.monotonic() + timeout
        ua._client_tx[(self.branch, self.method)] = self
        self.flow = ua.send(self.data, dest, transport, flow)
        if transport == "udp":  # Timer A/E: retransmit over UDP only
            self._schedule(T1)
        ua.timers.call_later(timeout, self._timeout)

    def _schedule(self, interval: float) -> None:
        def fire() -> None:
            if self.done or self.final or self.ua.stopped:
                return
            if self.method == "INVITE" and self.got_provisional:
                return
            self.ua.send(self.data, self.dest, self.transport, self.flow)
            self._schedule(min(interval * 2, T2) if self.method != "INVITE" else interval * 2)
        self.ua.timers.call_later(interval, fire)

    def _timeout(self) -> None:
        if not self.final and not self.done:
            self.done = True
            self.ua._client_tx.pop((self.branch, self.method), None)
            self.on_timeout()

    def receive(self, resp: SipMessage) -> None:
        if resp.status < 200:
            self.got_provisional = True
        elif self.final is None:
            self.final = resp
            self.ua.timers.call_later(TIMER_64T1 / 2,
                                      lambda: self.ua._client_tx.pop((self.branch, self.method), None))
        self.on_response(resp)  # a retransmitted final too: the leg re-sends its ACK
