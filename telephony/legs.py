"""Call legs: one SIP dialog each (RFC 3261 §12), with its RTP session.

:class:`InboundCall` is the UAS side of a citizen's INVITE, :class:`OutboundCall` a call the bridge
places (operators, experts, call-backs, surveys). The UA (:mod:`telephony.sip`) routes requests to
them; they build their in-dialog requests and answers here.
"""
from __future__ import annotations

import logging
import random
import threading
import time
from typing import TYPE_CHECKING, Callable

from . import sdp as sdpmod
from .config import new_tag
from .media import RtpSession
from .privacy import mask_text
from .sipmsg import ALLOW, NameAddr, ParseError, SipMessage, Uri, digest_authorization, new_call_id
from .transactions import ClientTx, ServerTx

if TYPE_CHECKING:
    from .sip import SipUA

log = logging.getLogger("telephony.sip")


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
        self.media_since = self.created  # last change of the media (the RTP timeout counts from it)
        self.transport = "udp"  # udp | tcp: how this dialog's requests travel
        self.flow = None  # the TCP connection of the dialog, reused while it is open
        # Addresses allowed to send requests in this dialog besides HOTLINE_SIP_TRUSTED: the host
        # the INVITE came from (inbound) or went to / was answered from (outbound).
        self.peer_hosts: set[str] = set()

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
        self.media_since = time.monotonic()
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
        m.add("Via", self.ua.via(self.transport))
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

    def send_request(self, m: SipMessage, dest: tuple[str, int], on_response=lambda r: None,
                     on_timeout=lambda: None, timeout: float = 8.0) -> ClientTx:
        tx = ClientTx(self.ua, m, dest, on_response, on_timeout, timeout=timeout,
                      transport=self.transport, flow=self.flow)
        self.flow = tx.flow or self.flow
        return tx

    def send_bye(self) -> None:
        m, dest = self.new_request("BYE")
        self.send_request(m, dest)

    def hangup(self, reason: str = "local_bye") -> None:
        """End the leg whatever its state: BYE, CANCEL or an error response."""
        raise NotImplementedError

    def finish(self, reason: str) -> None:
        with self.ua.lock:
            if self.state == "ended":
                return
            self.state = "ended"
            self.end_reason = reason
            self.ua._leg_ended(self)
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

    def _refresh_target(self, req: SipMessage) -> None:
        # a target refresh (RFC 3261 §12.2.2), trusted because the UA checked tags and source
        c = req.contact
        if c is not None and c.uri.host:
            self.remote_target = c.uri

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
        self._refresh_target(tx.req)
        self.sdp_version += 1
        tx.respond(200, self.local_tag, [("Contact", self.ua.contact(transport=self.transport))],
                   self.local_sdp(direction), "application/sdp")
        log.info("leg %s re-INVITE: %s", self.call_id[:12], "hold" if self.on_hold else "resume")

    def on_update(self, tx: ServerTx) -> None:
        """RFC 3311 UPDATE: an offer gets an answer in the 200 and changes the media now."""
        contact = [("Contact", self.ua.contact(transport=self.transport))]
        offer = sdpmod.parse(tx.req.body) if tx.req.body else None
        if offer is None:  # no offer: a session refresh, or a target refresh
            self._refresh_target(tx.req)
            tx.respond(200, self.local_tag, contact)
            return
        if self.state == "early" or getattr(self, "awaiting_answer", False):
            # the INVITE's offer/answer is not complete: RFC 3311 §5.2 (we answer the INVITE's
            # offer in the 200; an offerless INVITE's answer comes in the ACK)
            if getattr(self, "awaiting_answer", False):
                tx.respond(491)
            else:
                tx.respond(500, headers=[("Retry-After", str(random.randint(1, 10)))])
            return
        neg = sdpmod.negotiate(offer)
        if neg is None:
            tx.respond(488)
            return
        self.apply_offer_or_answer(offer, neg)
        self._refresh_target(tx.req)
        self.sdp_version += 1
        tx.respond(200, self.local_tag, contact, self.local_sdp(sdpmod.answer_direction(offer)),
                   "application/sdp")
        log.info("leg %s UPDATE: media now %s", self.call_id[:12], "held" if self.on_hold else "on")

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
        self.transport, self.flow = tx.transport, tx.flow
        self.peer_hosts.add(tx.src[0])
        self.awaiting_answer = False  # offerless INVITE: our offer is in the 200, the answer in the ACK
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
            self.tx.respond(180, self.local_tag, [("Contact", self.ua.contact(transport=self.transport))])

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
                self.awaiting_answer = True
            self.state = "confirmed"
            self.media_since = self.answered_at
            self.media.sending = not self.on_hold
        self.tx.respond(200, self.local_tag,
                        [("Contact", self.ua.contact(transport=self.transport)), ("Allow", ALLOW),
                         ("Supported", "")],
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
        if self.offer is None and req.body and self.awaiting_answer:
            offer = sdpmod.parse(req.body)
            neg = sdpmod.negotiate(offer) if offer else None
            if offer and neg:
                self.apply_offer_or_answer(offer, neg)
        self.awaiting_answer = False
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
        if "transport=tcp" in self.target.params.lower():
            self.transport = "tcp"
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
        m.add("Via", self.ua.via(self.transport))
        m.add("Max-Forwards", "70")
        m.add("From", f"{self.local_uri};tag={self.local_tag}")
        m.add("To", self.remote_uri)
        m.add("Call-ID", self.call_id)
        m.add("CSeq", f"{self.local_cseq} INVITE")
        m.add("Contact", self.ua.contact(transport=self.transport))
        m.add("Allow", ALLOW)
        m.add("User-Agent", self.ua.cfg.user_agent)
        if auth_header:
            m.add(*auth_header)
        m.add("Content-Type", "application/sdp")
        m.body = sdpmod.build(self.ua.cfg.media_host, self.media.local_port, [8, 0], 101,
                              session_id=self.session_id, version=self.sdp_version)
        self.invite_msg = m
        dest = self.ua.out_of_dialog_destination(self.target)
        self.peer_hosts.add(dest[0])
        with self.ua.lock:
            self.ua._dialogs[self.call_id] = self
            self.state = "calling"
        self.invite_tx = self.send_request(m, dest, self._on_response, self._on_timeout,
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
                     self.ua.out_of_dialog_destination(self.target), self.transport, self.flow)

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
            self.ua.send(*self.ack_for_2xx, self.transport, self.flow)
            return
        self.remote_tag = resp.to.tag
        c = resp.contact
        self.remote_target = c.uri if c else self.target
        src = getattr(resp, "src", None)
        if src:
            self.peer_hosts.add(src[0])
        if c is not None and c.uri.host:
            self.peer_hosts.add(self.ua.resolve(c.uri.host, 5060)[0])
        self.route_set = list(reversed(resp.get_all("Record-Route")))
        ack, dest = self.new_request("ACK", cseq=self.invite_msg.cseq[0])
        data = ack.encode()
        self.ack_for_2xx = (data, dest)
        self.flow = self.ua.send(data, dest, self.transport, self.flow) or self.flow
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
        self.send_request(m, self.invite_tx.dest)

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
