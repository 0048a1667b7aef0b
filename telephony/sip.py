"""The SIP user agent of the bridge: transport, transactions, dialogs, registration.

This module takes over what ``pyVoIP.VoIP.VoIPPhone`` / ``pyVoIP.SIP.SIPClient`` 1.6.8 would do,
because their defects sit in the message loop itself and cannot be fixed from outside without
monkeypatching (which the team rules out):

* **trunk mode / response routing** – ``SIPClient`` always REGISTERs at start and sends every
  response to its configured ``server:port``. Here responses follow RFC 3261 §18.2.2 / RFC 3581:
  to the top Via's ``received``/source address, at the source port when ``rport`` was asked for,
  else at the Via sent-by port. ``mode=trunk`` never registers; out-of-dialog requests go to the one
  upstream peer (or straight to the Request-URI when none is set). ``mode=register`` registers with
  digest auth and refreshes.
* **INVITE retransmission** – pyVoIP treats a retransmitted INVITE as a new call and starts a second
  pair of RTP threads. Here the INVITE server transaction (keyed by top-Via branch) absorbs it and
  re-sends the last response; a second INVITE with an already known Call-ID is also absorbed.
* **CANCEL while ringing** – pyVoIP answers 200 to the CANCEL but never 487 to the INVITE and then
  answers the call anyway. Here CANCEL → 200, INVITE → 487 (retransmitted until ACK), the leg ends
  and the application's ring timer sees it.
* **OPTIONS** – answered 200 (with Allow/Accept/Supported), in or out of a dialog.
* **empty header** – see :mod:`telephony.sipmsg` (our parser accepts ``Supported:``).
* **outgoing calls** – pyVoIP's ACK copies the To tag from the wrong message and has no timers for
  busy/no-answer (a 486 with no provisional before it leaves the phone waiting for ever). Here the
  ACK for a 2xx is a new transaction built from *that* 2xx (its To tag, Contact and Record-Route);
  the ACK for a non-2xx final reuses the INVITE branch with the response's To; Timer B ends a
  silent call, a CANCEL that gets no final response still ends the call after 4 s, so every
  outbound attempt finishes as answered/busy/no_answer/failed.
* **garbage datagrams** are parsed in a ``try`` and dropped (counted in ``stats['garbage']``).
"""
from __future__ import annotations

import heapq
import itertools
import logging
import socket
import threading
import time
from typing import Callable

from . import sdp as sdpmod
from .config import SipConfig, new_tag
from .media import MediaEngine, RtpSession
from .privacy import mask_number, mask_text
from .sipmsg import (ALLOW, NameAddr, ParseError, SipMessage, Uri, Via, digest_authorization,
                     new_branch, new_call_id, reason_phrase)

log = logging.getLogger(__name__)

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
    def __init__(self, ua: "SipUA", req: SipMessage, src: tuple[str, int]):
        self.ua, self.req, self.src = ua, req, src
        self.method = req.method
        self.dest = ua.response_destination(req, src)
        self.last: bytes | None = None
        self.final = 0
        self.acked = threading.Event()
        self.to_tag: str | None = None

    def respond(self, code: int, to_tag: str | None = None, headers: list[tuple[str, str]] = (),
                body: bytes = b"", content_type: str | None = None, reason: str | None = None) -> None:
        if to_tag:
            self.to_tag = to_tag
        resp = self.ua.build_response(self.req, code, self.src, self.to_tag if code > 100 else None,
                                      headers, body, content_type, reason)
        data = resp.encode()
        self.last = data
        self.ua.send(data, self.dest)
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
            self.ua.send(self.last, self.dest)
            self._retransmit(min(interval * 2, T2), deadline)
        self.ua.timers.call_later(interval, fire)


class ClientTx:
    """A client transaction (retransmits over UDP until a response, Timer E/A; gives up at B/F)."""

    def __init__(self, ua: "SipUA", msg: SipMessage, dest: tuple[str, int],
                 on_response: Callable[[SipMessage], None], on_timeout: Callable[[], None],
                 timeout: float = TIMER_64T1):
        self.ua, self.msg, self.dest = ua, msg, dest
        self.branch = msg.top_via.branch
        self.method = msg.method
        self.on_response, self.on_timeout = on_response, on_timeout
        self.data = msg.encode()
        self.got_provisional = False
        self.final: SipMessage | None = None
        self.done = False
        self.deadline = time.monotonic() + timeout
        ua._client_tx[(self.branch, self.method)] = self
        ua.send(self.data, dest)
        self._schedule(T1)
        ua.timers.call_later(timeout, self._timeout)

    def _schedule(self, interval: float) -> None:
        def fire() -> None:
            if self.done or self.final or self.ua.stopped:
                return
            if self.method == "INVITE" and self.got_provisional:
                return
            self.ua.send(self.data, self.dest)
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


class Leg:
    """One dialog (a call leg) with its media session."""

    direction = "?"

    def __init__(self, ua: "SipUA", call_id: str):
        self.ua = ua
        self.call_id = call_id
        self.local_tag = new_tag()
        self.remote_tag: str | None = None
        self.local_uri = ""  # our name-addr as used in From (UAC) / To (UAS)
        self.remote_uri = ""
        self.remote_target: Uri | None = None
        self.route_set: list[str] = []
        self.local_cseq = 1
        self.state = "init"  # init, early, confirmed, ended
        self.ended = threading.Event()
        self.end_reason = ""
        self.media: RtpSession = ua.media.open()
        self.negotiated: sdpmod.Negotiated | None = None
        self.remote_offer: sdpmod.MediaOffer | None = None
        self.on_end: list[Callable[["Leg"], None]] = []
        self.sdp_version = 1
        self.session_id = int(time.time() * 1000) & 0xFFFFFFF
        self.on_hold = False
        self.created = time.monotonic()
        self.answered_at: float | None = None

    @property
    def dtmf(self):
        return self.media.dtmf

    def local_sdp(self, direction: str = "sendrecv") -> bytes:
        pts = [self.negotiated.pt] if self.negotiated else [8, 0]
        dtmf_pt = (self.negotiated.dtmf_pt if self.negotiated and self.negotiated.dtmf_pt is not None
                   else 101)
        return sdpmod.build(self.ua.cfg.media_host, self.media.local_port, pts, dtmf_pt, direction,
                            self.session_id, self.sdp_version)

    def apply_offer_or_answer(self, offer: sdpmod.MediaOffer, neg: sdpmod.Negotiated) -> None:
        self.remote_offer, self.negotiated = offer, neg
        self.on_hold = offer.hold
        remote = None if offer.hold else (offer.host, offer.port)
        if remote is not None:
            self.media.configure(remote, neg.pt, neg.dtmf_pt)
        else:
            self.media.configure(self.media.remote, neg.pt, neg.dtmf_pt)
        self.media.sending = self.state == "confirmed" or self.answered_at is not None
        if offer.hold:
            self.media.sending = False

    # -- in-dialog requests -------------------------------------------------------------------
    def new_request(self, method: str, body: bytes = b"", content_type: str | None = None,
                    cseq: int | None = None) -> tuple[SipMessage, tuple[str, int]]:
        if cseq is None:
            self.local_cseq += 1
            cseq = self.local_cseq
        target = self.remote_target or Uri.parse(NameAddr.parse(self.remote_uri).raw_uri)
        m = SipMessage()
        m.method = method
        m.uri = str(target)
        m.add("Via", self.ua.via())
        m.add("Max-Forwards", "70")
        for r in self.route_set:
            m.add("Route", r)
        m.add("From", f"{self.local_uri};tag={self.local_tag}")
        m.add("To", self.remote_uri + (f";tag={self.remote_tag}" if self.remote_tag else ""))
        m.add("Call-ID", self.call_id)
        m.add("CSeq", f"{cseq} {method}")
        m.add("User-Agent", self.ua.cfg.user_agent)
        if content_type:
            m.add("Content-Type", content_type)
        m.body = body
        if self.route_set:
            first = NameAddr.parse(self.route_set[0]).uri
            dest = self.ua.resolve(first.host, first.port or 5060)
        else:
            dest = self.ua.resolve(target.host, target.port or 5060)
        return m, dest

    def send_bye(self) -> None:
        m, dest = self.new_request("BYE")
        ClientTx(self.ua, m, dest, lambda r: None, lambda: None, timeout=8.0)

    def hangup(self, reason: str = "local_bye") -> None:
        """End the leg whatever its state: BYE, CANCEL or an error response."""
        raise NotImplementedError

    def finish(self, reason: str) -> None:
        with self.ua.lock:
            if self.state == "ended":
                return
            self.state = "ended"
            self.end_reason = reason
            self.ua._dialogs.pop(self.call_id, None)
        self.ended.set()  # before closing media: waiters on playback must see the hang-up
        self.media.close()
        log.info("leg %s %s ended: %s", self.direction, self.call_id[:12], reason)
        for cb in list(self.on_end):
            try:
                cb(self)
            except Exception:
                log.exception("on_end callback failed")

    # -- requests from the remote side (called by the UA) -------------------------------------
    def on_bye(self, tx: ServerTx) -> None:
        tx.respond(200)
        self.finish("remote_bye")

    def on_reinvite(self, tx: ServerTx) -> None:
        offer = sdpmod.parse(tx.req.body) if tx.req.body else None
        if offer is not None:
            neg = sdpmod.negotiate(offer)
            if neg is None:
                tx.respond(488)
                return
            self.apply_offer_or_answer(offer, neg)
            direction = sdpmod.answer_direction(offer)
        else:
            direction = "sendrecv"
        self.sdp_version += 1
        tx.respond(200, self.local_tag if self.direction == "in" else None,
                   [("Contact", self.ua.contact())], self.local_sdp(direction), "application/sdp")
        log.info("leg %s re-INVITE: %s", self.call_id[:12], "hold" if self.on_hold else "resume")

    def on_info(self, tx: ServerTx) -> None:
        body = tx.req.body.decode("utf-8", "replace")
        if "dtmf" in tx.req.content_type:
            for line in body.splitlines():
                k, _, v = line.partition("=")
                if k.strip().lower() == "signal" and v.strip():
                    self.media.dtmf.put(v.strip()[0].upper())
        tx.respond(200)


class InboundCall(Leg):
    direction = "in"

    def __init__(self, ua: "SipUA", tx: ServerTx):
        super().__init__(ua, tx.req.call_id)
        self.tx = tx
        req = tx.req
        self.remote_tag = req.from_.tag
        self.remote_uri = req.get("From").split(";tag=")[0] if ";tag=" in req.get("From") else req.get("From")
        self.local_uri = req.get("To")
        contact = req.contact
        self.remote_target = contact.uri if contact else req.from_.uri
        self.route_set = req.get_all("Record-Route")
        self.remote_cseq = req.cseq[0]
        frm = req.from_
        pai = req.get("P-Asserted-Identity")
        ident = NameAddr.parse(pai) if pai else frm
        self.caller = ident.uri.user or frm.display or "anonymous"
        try:
            self.dialled = Uri.parse(req.uri).user or req.to.uri.user or ua.cfg.line
        except ParseError:
            self.dialled = ua.cfg.line
        self.offer = sdpmod.parse(req.body) if req.body else None
        self.negotiated = sdpmod.negotiate(self.offer) if self.offer else None
        self.cancelled = threading.Event()
        self.state = "early"

    @property
    def offer_ok(self) -> bool:
        """False when the INVITE offered no codec we speak (→ 488)."""
        return self.offer is None or self.negotiated is not None

    def ring(self) -> None:
        if self.state == "early":
            self.tx.respond(180, self.local_tag, [("Contact", self.ua.contact())])

    def answer(self) -> bool:
        with self.ua.lock:
            if self.state != "early":
                return False
            self.answered_at = time.monotonic()
            if self.offer is not None and self.negotiated is not None:
                self.apply_offer_or_answer(self.offer, self.negotiated)
                direction = sdpmod.answer_direction(self.offer)
            else:  # offerless INVITE: we offer in the 200, the answer comes in the ACK
                direction = "sendrecv"
            self.state = "confirmed"
            self.media.sending = not self.on_hold
        self.tx.respond(200, self.local_tag,
                        [("Contact", self.ua.contact()), ("Allow", ALLOW), ("Supported", "")],
                        self.local_sdp(direction), "application/sdp")
        return True

    def reject(self, code: int, reason: str | None = None) -> None:
        with self.ua.lock:
            if self.state != "early":
                return
        self.tx.respond(code, self.local_tag, reason=reason)
        self.finish(f"rejected_{code}")

    def on_cancel(self) -> None:
        with self.ua.lock:
            if self.state != "early":
                return
        self.cancelled.set()
        self.tx.respond(487, self.local_tag)
        self.finish("cancelled")

    def on_ack(self, req: SipMessage) -> None:
        if self.offer is None and req.body:
            offer = sdpmod.parse(req.body)
            neg = sdpmod.negotiate(offer) if offer else None
            if offer and neg:
                self.apply_offer_or_answer(offer, neg)
        self.tx.acked.set()

    def hangup(self, reason: str = "local_bye") -> None:
        if self.state == "early":
            self.reject(480)
        elif self.state == "confirmed":
            self.send_bye()
            self.finish(reason)


class OutboundCall(Leg):
    """A UAC leg. ``result`` ends as answered / busy / no_answer / failed / cancelled."""

    direction = "out"

    def __init__(self, ua: "SipUA", target: str, caller: str | None = None,
                 display: str | None = None):
        super().__init__(ua, new_call_id(ua.cfg.contact_host))
        self.target = Uri.parse(target if ":" in target.split("@")[0] or target.startswith(("sip:", "tel:"))
                                else self._default_uri(ua, target))
        user = caller or ua.cfg.username
        host = ua.cfg.domain or ua.cfg.contact_host
        disp = f'"{display}" ' if display else ""
        self.local_uri = f"{disp}<sip:{user}@{host}>"
        self.remote_uri = f"<{self.target}>"
        self.result: str | None = None
        self.result_code = 0
        self.answered = threading.Event()
        self.finished = threading.Event()  # set with the result, answered or not
        self.ringing = threading.Event()
        self.invite_tx: ClientTx | None = None
        self.invite_msg: SipMessage | None = None
        self.ack_for_2xx: tuple[bytes, tuple[str, int]] | None = None
        self.cancel_requested = False
        self.cancel_after_provisional = False
        self.auth_tried = False
        self.state = "init"

    @staticmethod
    def _default_uri(ua: "SipUA", number: str) -> str:
        proxy = ua.cfg.outbound_proxy
        host = ua.cfg.domain or (f"{proxy[0]}:{proxy[1]}" if proxy else ua.cfg.contact_host)
        return f"sip:{number}@{host}"

    def dial(self, auth_header: tuple[str, str] | None = None) -> "OutboundCall":
        m = SipMessage()
        m.method = "INVITE"
        m.uri = str(self.target)
        m.add("Via", self.ua.via())
        m.add("Max-Forwards", "70")
        m.add("From", f"{self.local_uri};tag={self.local_tag}")
        m.add("To", self.remote_uri)
        m.add("Call-ID", self.call_id)
        m.add("CSeq", f"{self.local_cseq} INVITE")
        m.add("Contact", self.ua.contact())
        m.add("Allow", ALLOW)
        m.add("User-Agent", self.ua.cfg.user_agent)
        if auth_header:
            m.add(*auth_header)
        m.add("Content-Type", "application/sdp")
        m.body = sdpmod.build(self.ua.cfg.media_host, self.media.local_port, [8, 0], 101,
                              session_id=self.session_id, version=self.sdp_version)
        self.invite_msg = m
        dest = self.ua.out_of_dialog_destination(self.target)
        with self.ua.lock:
            self.ua._dialogs[self.call_id] = self
            self.state = "calling"
        self.invite_tx = ClientTx(self.ua, m, dest, self._on_response, self._on_timeout,
                                  timeout=self.ua.cfg.invite_timeout_seconds)
        log.info("dialling %s (call %s)", mask_text(str(self.target)), self.call_id[:12])
        return self

    def _set_result(self, result: str, code: int = 0) -> None:
        if self.result is None:
            self.result, self.result_code = result, code
            self.finished.set()

    def _on_timeout(self) -> None:
        self._set_result("no_answer" if self.ringing.is_set() else "failed", 408)
        self.finish("timeout")

    def _ack_non2xx(self, resp: SipMessage) -> None:
        assert self.invite_msg is not None
        m = SipMessage()
        m.method = "ACK"
        m.uri = self.invite_msg.uri
        m.add("Via", self.invite_msg.get("Via"))  # same branch as the INVITE (RFC 3261 17.1.1.3)
        m.add("Max-Forwards", "70")
        m.add("From", self.invite_msg.get("From"))
        m.add("To", resp.get("To"))  # the To of the response, with its tag
        m.add("Call-ID", self.call_id)
        m.add("CSeq", f"{self.invite_msg.cseq[0]} ACK")
        self.ua.send(m.encode(), self.invite_tx.dest if self.invite_tx else
                     self.ua.out_of_dialog_destination(self.target))

    def _on_response(self, resp: SipMessage) -> None:
        code = resp.status
        if code < 200:
            if code > 100:
                self.ringing.set()
                with self.ua.lock:
                    if self.state == "calling":
                        self.state = "early"
                if self.cancel_requested and not self.cancel_after_provisional:
                    self.cancel_after_provisional = True
                    self._send_cancel()
            return
        if code < 300:
            self._on_2xx(resp)
            return
        # non-2xx final: ACK it (also every retransmission of it)
        self._ack_non2xx(resp)
        if self.result is not None or self.state == "ended":
            return
        if code in (401, 407) and not self.auth_tried and self.ua.cfg.password:
            self.auth_tried = True
            hdr = "WWW-Authenticate" if code == 401 else "Proxy-Authenticate"
            challenge = resp.get(hdr) or ""
            auth = digest_authorization(challenge, "INVITE", str(self.target), self.ua.cfg.username,
                                        self.ua.cfg.password)
            self.local_cseq += 1
            self.dial(("Authorization" if code == 401 else "Proxy-Authorization", auth))
            return
        if code in (486, 600, 603):
            result = "busy"
        elif code in (408, 480, 487):
            result = "no_answer"
        else:
            result = "failed"
        self._set_result(result, code)
        self.finish(f"final_{code}")

    def _on_2xx(self, resp: SipMessage) -> None:
        if self.ack_for_2xx is not None:  # retransmitted 2xx: re-send the same ACK
            self.ua.send(*self.ack_for_2xx)
            return
        self.remote_tag = resp.to.tag
        c = resp.contact
        self.remote_target = c.uri if c else self.target
        self.route_set = list(reversed(resp.get_all("Record-Route")))
        ack, dest = self.new_request("ACK", cseq=self.invite_msg.cseq[0])
        data = ack.encode()
        self.ack_for_2xx = (data, dest)
        self.ua.send(data, dest)
        offer = sdpmod.parse(resp.body) if resp.body else None
        neg = sdpmod.negotiate(offer) if offer else None
        if self.cancel_requested or self.state == "ended" or neg is None:
            self.send_bye()
            self._set_result("failed" if neg is None else "no_answer", resp.status)
            self.finish("answered_too_late" if neg else "no_common_codec")
            return
        with self.ua.lock:
            self.state = "confirmed"
            self.answered_at = time.monotonic()
        self.apply_offer_or_answer(offer, neg)
        self.media.sending = not self.on_hold
        self._set_result("answered", resp.status)
        self.answered.set()

    def _send_cancel(self) -> None:
        assert self.invite_msg is not None and self.invite_tx is not None
        m = SipMessage()
        m.method = "CANCEL"
        m.uri = self.invite_msg.uri
        m.add("Via", self.invite_msg.get("Via"))
        m.add("Max-Forwards", "70")
        m.add("From", self.invite_msg.get("From"))
        m.add("To", self.invite_msg.get("To"))
        m.add("Call-ID", self.call_id)
        m.add("CSeq", f"{self.invite_msg.cseq[0]} CANCEL")
        # CANCEL has the INVITE's branch and its own client transaction (key: branch, CANCEL)
        ClientTx(self.ua, m, self.invite_tx.dest, lambda r: None, lambda: None, timeout=8.0)

    def cancel(self, result: str = "no_answer") -> None:
        """Stop ringing. The call ends even if the far end never answers the CANCEL."""
        with self.ua.lock:
            if self.state in ("ended", "confirmed"):
                return
            self.cancel_requested = True
        # RFC 3261 §9.1 says to wait for a provisional response before CANCEL; one is sent again
        # when it arrives (_on_response). Sending one now too costs nothing and helps UAs that
        # never send a provisional; the fallback below ends the call whatever the far end does.
        if self.invite_tx is not None:
            self._send_cancel()

        def fallback() -> None:
            if self.state != "ended" and self.state != "confirmed":
                self._set_result(result, 487)
                self.finish("cancel_unanswered")
        self.ua.timers.call_later(4.0, fallback)

    def wait(self, timeout: float) -> str:
        """Ring for up to ``timeout`` s. Returns answered / busy / no_answer / failed."""
        if not self.finished.wait(timeout):
            self.cancel("no_answer")
            self.finished.wait(6.0)
        return self.result or "no_answer"

    def hangup(self, reason: str = "local_bye") -> None:
        if self.state == "confirmed":
            self.send_bye()
            self.finish(reason)
        elif self.state in ("calling", "early"):
            self.cancel("no_answer")
        elif self.state == "init":
            self.finish(reason)


class SipUA:
    def __init__(self, cfg: SipConfig, media: MediaEngine,
                 on_invite: Callable[[InboundCall], None]):
        self.cfg = cfg
        self.media = media
        self.on_invite = on_invite
        self.lock = threading.RLock()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.sock.bind((cfg.listen_host, cfg.listen_port))
        self.port = self.sock.getsockname()[1]
        cfg.listen_port = self.port
        self.timers = Timers()
        self._server_tx: dict[tuple[str, str], ServerTx] = {}
        self._client_tx: dict[tuple[str, str], ClientTx] = {}
        self._dialogs: dict[str, Leg] = {}
        self._resolved: dict[str, str] = {}
        self.stats = {"garbage": 0, "options": 0, "invites": 0, "retransmissions": 0}
        self.stopped = False
        self.registered = threading.Event()
        self._reg_cseq = 0
        self._reg_call_id = new_call_id(cfg.contact_host)
        self._reg_tag = new_tag()
        self._thread = threading.Thread(target=self._recv_loop, name="sip-recv", daemon=True)

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()
        if self.cfg.mode == "register":
            self.register()

    def stop(self) -> None:
        for leg in list(self._dialogs.values()):
            try:
                leg.hangup("shutdown")
            except Exception:
                pass
        if self.cfg.mode == "register" and self.registered.is_set():
            self.register(expires=0)
            time.sleep(0.2)
        self.stopped = True
        self.timers.stop()
        try:
            self.sock.close()
        except OSError:
            pass

    @property
    def active_calls(self) -> int:
        return len(self._dialogs)

    # -- addressing ---------------------------------------------------------------------------
    def via(self) -> str:
        return f"SIP/2.0/UDP {self.cfg.contact_host}:{self.port};branch={new_branch()};rport"

    def contact(self, user: str | None = None) -> str:
        return f"<sip:{user or self.cfg.username}@{self.cfg.contact_host}:{self.port}>"

    def resolve(self, host: str, port: int) -> tuple[str, int]:
        if host not in self._resolved:
            try:
                self._resolved[host] = socket.gethostbyname(host)
            except OSError:
                self._resolved[host] = host
        return self._resolved[host], port

    def out_of_dialog_destination(self, uri: Uri) -> tuple[str, int]:
        proxy = self.cfg.outbound_proxy
        if proxy:
            return self.resolve(*proxy)
        return self.resolve(uri.host, uri.port or 5060)

    @staticmethod
    def response_destination(req: SipMessage, src: tuple[str, int]) -> tuple[str, int]:
        """RFC 3261 §18.2.2 with RFC 3581 rport, for UDP."""
        via = req.top_via
        if "maddr" in via.params and via.params["maddr"]:
            return via.params["maddr"], via.port or 5060
        if "rport" in via.params:
            return src
        return src[0], via.port or 5060

    def send(self, data: bytes, dest: tuple[str, int]) -> None:
        if self.stopped:
            return
        try:
            self.sock.sendto(data, dest)
        except OSError as exc:
            log.warning("SIP send to %s failed: %s", dest, exc)

    # -- building -----------------------------------------------------------------------------
    def build_response(self, req: SipMessage, code: int, src: tuple[str, int],
                       to_tag: str | None, headers=(), body: bytes = b"",
                       content_type: str | None = None, reason: str | None = None) -> SipMessage:
        r = SipMessage()
        r.status, r.reason = code, reason or reason_phrase(code)
        first = True
        for v in req.get_all("Via"):
            if first:
                via = Via.parse(v)
                if via.host != src[0]:
                    via.params["received"] = src[0]
                if "rport" in via.params:
                    via.params["rport"] = str(src[1])
                    via.params["received"] = src[0]
                v, first = str(via), False
            r.add("Via", v)
        if req.method == "INVITE" and code > 100:
            for rr in req.get_all("Record-Route", split=False):
                r.add("Record-Route", rr)
        r.add("From", req.get("From"))
        to = req.get("To")
        if to_tag and ";tag=" not in to:
            to += f";tag={to_tag}"
        r.add("To", to)
        r.add("Call-ID", req.call_id)
        r.add("CSeq", req.get("CSeq"))
        r.add("Server", self.cfg.user_agent)
        for k, v in headers:
            r.add(k, v)
        if body:
            r.add("Content-Type", content_type or "application/sdp")
        r.body = body
        return r

    # -- receive ------------------------------------------------------------------------------
    def _recv_loop(self) -> None:
        while not self.stopped:
            try:
                data, src = self.sock.recvfrom(65535)
            except OSError:
                if self.stopped:
                    return
                continue
            try:
                msg = SipMessage.parse(data)
            except (ParseError, ValueError, IndexError) as exc:
                if data.strip():
                    self.stats["garbage"] += 1
                    log.debug("ignored %d-byte datagram from %s: %s", len(data), src, exc)
                continue
            try:
                if msg.is_request:
                    self._on_request(msg, src)
                else:
                    self._on_response(msg)
            except Exception:
                self.stats["garbage"] += 1
                log.exception("error handling SIP %s from %s",
                              msg.method or msg.status, src)

    def _forget_server_tx(self, tx: ServerTx) -> None:
        with self.lock:
            key = (tx.req.branch, tx.method)
            if self._server_tx.get(key) is tx:
                del self._server_tx[key]

    def _on_ack_timeout(self, tx: ServerTx) -> None:
        leg = self._dialogs.get(tx.req.call_id)
        if tx.final < 300 and isinstance(leg, InboundCall) and leg.tx is tx:
            log.warning("no ACK for 200 OK of call %s: hanging up", tx.req.call_id[:12])
            leg.send_bye()
            leg.finish("no_ack")

    def _on_response(self, resp: SipMessage) -> None:
        branch = resp.top_via.branch
        if branch.endswith("-reg") or resp.cseq[1] == "REGISTER":
            self._on_register_response(resp)
            return
        tx = self._client_tx.get((branch, resp.cseq[1]))
        if tx is not None:
            tx.receive(resp)
            return
        if resp.cseq[1] == "INVITE" and 200 <= resp.status < 300:
            leg = self._dialogs.get(resp.call_id)  # 2xx retransmission after the tx is gone
            if isinstance(leg, OutboundCall):
                leg._on_2xx(resp)

    def _on_request(self, req: SipMessage, src: tuple[str, int]) -> None:
        method = req.method
        branch = req.branch
        if method == "ACK":
            with self.lock:
                tx = self._server_tx.get((branch, "INVITE"))
            if tx is not None and tx.final >= 300:
                tx.acked.set()  # ACK for our non-2xx final response
                return
            if tx is None:  # a UA that gave its non-2xx ACK a new branch (RFC 2543 style)
                with self.lock:
                    stale = [t for t in self._server_tx.values() if t.method == "INVITE"
                             and t.req.call_id == req.call_id and t.final >= 300]
                if stale:
                    for t in stale:
                        t.acked.set()
                    return
            # ACK for a 2xx (its own transaction): stops the 2xx retransmissions of the initial
            # INVITE or of a re-INVITE on this dialog
            with self.lock:
                txs = [t for t in self._server_tx.values() if t.method == "INVITE"
                       and t.req.call_id == req.call_id and 200 <= t.final < 300]
            for t in txs:
                t.acked.set()
            leg = self._dialogs.get(req.call_id)
            if isinstance(leg, InboundCall):
                leg.on_ack(req)
            return
        with self.lock:
            tx = self._server_tx.get((branch, method))
            if tx is not None:  # retransmission: answer again, start nothing
                self.stats["retransmissions"] += 1
                if tx.last:
                    self.send(tx.last, tx.dest)
                return
            if method == "INVITE" and not req.to.tag:
                existing = self._dialogs.get(req.call_id)
                if existing is not None:  # same call, new branch: still a duplicate
                    self.stats["retransmissions"] += 1
                    if isinstance(existing, InboundCall) and existing.tx.last:
                        self.send(existing.tx.last, existing.tx.dest)
                    return
            tx = ServerTx(self, req, src)
            self._server_tx[(branch, method)] = tx
        if self.cfg.trusted and src[0] not in self.cfg.trusted and not req.to.tag:
            self.stats["untrusted"] = self.stats.get("untrusted", 0) + 1
            if method != "CANCEL":
                tx.respond(403, new_tag(), reason="Forbidden (untrusted source)")
            return
        if method == "CANCEL":
            with self.lock:
                inv = self._server_tx.get((branch, "INVITE"))
            if inv is None:
                tx.respond(481)
                return
            tx.respond(200)
            leg = self._dialogs.get(req.call_id)
            if isinstance(leg, InboundCall):
                leg.on_cancel()
            elif not inv.final:
                inv.respond(487)
            return
        if method == "OPTIONS":
            self.stats["options"] += 1
            tx.respond(200, new_tag() if not req.to.tag else None,
                       [("Allow", ALLOW), ("Accept", "application/sdp"), ("Supported", ""),
                        ("Contact", self.contact())])
            return
        if method == "INVITE":
            if req.to.tag:
                leg = self._dialogs.get(req.call_id)
                if leg is None or leg.state == "ended":
                    tx.respond(481)
                else:
                    leg.on_reinvite(tx)
                return
            self.stats["invites"] += 1
            tx.respond(100)
            leg = InboundCall(self, tx)
            with self.lock:
                self._dialogs[req.call_id] = leg
            log.info("INVITE %s from %s to %s", req.call_id[:12], mask_number(leg.caller),
                     mask_number(leg.dialled))
            try:
                self.on_invite(leg)
            except Exception:
                log.exception("on_invite failed")
                leg.reject(500)
            return
        leg = self._dialogs.get(req.call_id)
        if method == "BYE":
            if leg is None:
                tx.respond(481)
            else:
                leg.on_bye(tx)
            return
        if method == "INFO":
            if leg is None:
                tx.respond(481)
            else:
                leg.on_info(tx)
            return
        if method in ("UPDATE", "PRACK"):
            tx.respond(200 if leg is not None else 481)
            return
        if method in ("REGISTER", "SUBSCRIBE", "NOTIFY", "REFER", "MESSAGE", "PUBLISH"):
            tx.respond(405, headers=[("Allow", ALLOW)])
            return
        tx.respond(501)

    # -- registration (register mode) ---------------------------------------------------------
    def register(self, expires: int | None = None, auth: tuple[str, str] | None = None) -> None:
        cfg = self.cfg
        assert cfg.registrar is not None
        exp = cfg.register_expires if expires is None else expires
        domain = cfg.domain or cfg.registrar[0]
        self._reg_cseq += 1
        m = SipMessage()
        m.method = "REGISTER"
        m.uri = f"sip:{domain}"
        m.add("Via", f"SIP/2.0/UDP {cfg.contact_host}:{self.port};branch={new_branch()}-reg;rport")
        m.add("Max-Forwards", "70")
        m.add("From", f"<sip:{cfg.username}@{domain}>;tag={self._reg_tag}")
        m.add("To", f"<sip:{cfg.username}@{domain}>")
        m.add("Call-ID", self._reg_call_id)
        m.add("CSeq", f"{self._reg_cseq} REGISTER")
        m.add("Contact", self.contact())
        m.add("Expires", str(exp))
        m.add("User-Agent", cfg.user_agent)
        if auth:
            m.add(*auth)
        self._reg_expires_asked = exp
        self._reg_auth_sent = auth is not None
        self.send(m.encode(), self.resolve(*cfg.registrar))
        if exp:
            # retry if nothing comes back
            seq = self._reg_cseq
            self.timers.call_later(5.0, lambda: (not self.stopped and self._reg_cseq == seq
                                                 and not self.registered.is_set()
                                                 and self.register()))

    def _on_register_response(self, resp: SipMessage) -> None:
        if resp.status < 200:
            return
        cfg = self.cfg
        if resp.status in (401, 407) and not getattr(self, "_reg_auth_sent", False):
            hdr = "WWW-Authenticate" if resp.status == 401 else "Proxy-Authenticate"
            domain = cfg.domain or cfg.registrar[0]
            auth = digest_authorization(resp.get(hdr) or "", "REGISTER", f"sip:{domain}",
                                        cfg.username, cfg.password)
            self.register(self._reg_expires_asked,
                          ("Authorization" if resp.status == 401 else "Proxy-Authorization", auth))
            return
        if 200 <= resp.status < 300:
            if self._reg_expires_asked == 0:
                self.registered.clear()
                return
            expires = self._reg_expires_asked
            c = resp.contact
            if c and c.params.get("expires", "").isdigit():
                expires = int(c.params["expires"])
            elif (resp.get("Expires") or "").isdigit():
                expires = int(resp.get("Expires"))
            self.registered.set()
            log.info("registered at %s:%s for %ss", *cfg.registrar, expires)
            self.timers.call_later(max(5.0, expires * 0.8),
                                   lambda: not self.stopped and self.register())
        else:
            log.warning("REGISTER failed: %s %s", resp.status, resp.reason)
            self.registered.clear()
            self.timers.call_later(30.0, lambda: not self.stopped and self.register())

    def dial(self, target: str, caller: str | None = None, display: str | None = None) -> OutboundCall:
        return OutboundCall(self, target, caller, display).dial()
