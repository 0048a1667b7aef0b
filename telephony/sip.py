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
  re-sends the last response; a second INVITE of the same call (same Call-ID and From tag, same
  source) is also absorbed, and one for a call that has ended gets 481 (:mod:`telephony.guard`).
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

Issue 9 (security): in-dialog requests must match Call-ID and both tags (else 481) and come from the
dialog's peer or a trusted proxy (else 403); ``HOTLINE_SIP_TRUSTED`` holds for every request;
Max-Forwards 0 → 483, Require → 420, UPDATE answered, a To tag on every final response; new calls
per source are capped (503 + Retry-After) and callers without RTP are hung up. UDP and TCP are in
:mod:`telephony.transport`, transactions in :mod:`telephony.transactions`, legs in
:mod:`telephony.legs`.
"""
from __future__ import annotations

import logging
import socket
import threading
import time
from typing import Callable

from .config import SipConfig, new_tag
from .legs import InboundCall, Leg, OutboundCall
from .media import MediaEngine
from .privacy import mask_number
from .sipmsg import (ALLOW, ParseError, SipMessage, Uri, Via, digest_authorization, new_branch,
                     new_call_id, reason_phrase)
from .guard import CallRate, EndedCalls
from .transactions import ClientTx, ServerTx, Timers
from .transport import Flow, Transport

__all__ = ["SipUA", "InboundCall", "OutboundCall", "Leg", "ClientTx", "ServerTx", "Timers"]

log = logging.getLogger(__name__)

# SIP extensions (option tags) the bridge implements: none. A Require: for any of them (100rel,
# timer, replaces, ...) gets 420 Bad Extension with Unsupported: listing them (RFC 3261 §8.2.2.3).
SUPPORTED: frozenset[str] = frozenset()


class SipUA:
    def __init__(self, cfg: SipConfig, media: MediaEngine,
                 on_invite: Callable[[InboundCall], None]):
        self.cfg = cfg
        self.media = media
        self.on_invite = on_invite
        self.lock = threading.RLock()
        self.stats = {"garbage": 0, "options": 0, "invites": 0, "retransmissions": 0,
                      "untrusted": 0, "rate_limited": 0, "no_dialog": 0, "late_invites": 0}
        self.transport = Transport(cfg.listen_host, cfg.listen_port, self._on_data, self.stats,
                                   tcp=cfg.tcp, max_connections=cfg.tcp_max_connections,
                                   max_per_source=cfg.tcp_max_per_source,
                                   idle_seconds=cfg.tcp_idle_seconds,
                                   max_message_bytes=cfg.max_message_bytes)
        self.port = self.transport.port
        cfg.listen_port = self.port
        self.timers = Timers()
        self._server_tx: dict[tuple[str, str], ServerTx] = {}
        self._client_tx: dict[tuple[str, str], ClientTx] = {}
        # Legs by Call-ID; a request belongs to one only if its tags match too (find_dialog)
        self._dialogs: dict[str, Leg] = {}
        self._resolved: dict[str, str] = {}
        self.call_rate = CallRate(cfg.max_calls_per_second)
        self.ended_calls = EndedCalls()
        self.stopped = False
        self.registered = threading.Event()
        self._reg_cseq = 0
        self._reg_call_id = new_call_id(cfg.contact_host)
        self._reg_tag = new_tag()

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        self.transport.start()
        self.timers.call_later(self._rtp_watch_interval, self._rtp_watch)
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
        self.transport.stop()

    @property
    def active_calls(self) -> int:
        return len(self._dialogs)

    # -- addressing ---------------------------------------------------------------------------
    def via(self, transport: str = "udp") -> str:
        return (f"SIP/2.0/{transport.upper()} {self.cfg.contact_host}:{self.port};"
                f"branch={new_branch()};rport")

    def contact(self, user: str | None = None, transport: str = "udp") -> str:
        t = ";transport=tcp" if transport == "tcp" else ""
        return f"<sip:{user or self.cfg.username}@{self.cfg.contact_host}:{self.port}{t}>"

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
    def response_destination(req: SipMessage, src: tuple[str, int],
                             transport: str = "udp") -> tuple[str, int]:
        """RFC 3261 §18.2.2 with RFC 3581 rport. For TCP this is where a new connection goes if
        the request's own connection has closed meanwhile: received address, sent-by port."""
        via = req.top_via
        if transport == "udp" and "maddr" in via.params and via.params["maddr"]:
            return via.params["maddr"], via.port or 5060
        if transport == "udp" and "rport" in via.params:
            return src
        return src[0], via.port or 5060

    def send(self, data: bytes, dest: tuple[str, int], transport: str = "udp",
             flow: Flow | None = None, connect: bool = True) -> Flow | None:
        if self.stopped:
            return None
        return self.transport.send(data, dest, transport, flow, connect)

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
        if code == 503 and not any(k.lower() == "retry-after" for k, _ in headers):
            r.add("Retry-After", str(self.cfg.retry_after_seconds))
        if body:
            r.add("Content-Type", content_type or "application/sdp")
        r.body = body
        return r

    # -- receive ------------------------------------------------------------------------------
    def _on_data(self, data: bytes, src: tuple[str, int], flow: Flow | None) -> None:
        """One datagram or one framed TCP message (called by the transport's one thread)."""
        try:
            msg = SipMessage.parse(data)
        except (ParseError, ValueError, IndexError) as exc:
            if data.strip():
                self.stats["garbage"] += 1
                log.debug("ignored %d-byte message from %s: %s", len(data), src, exc)
            return
        try:
            if msg.is_request:
                self._on_request(msg, src, flow)
            else:
                msg.src = src  # type: ignore[attr-defined]  (the dialog's peer, for outbound legs)
                self._on_response(msg)
        except Exception:
            self.stats["garbage"] += 1
            log.exception("error handling SIP %s from %s", msg.method or msg.status, src)

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
            if isinstance(leg, OutboundCall) and resp.from_.tag == leg.local_tag:
                leg._on_2xx(resp)

    def _leg_ended(self, leg: Leg) -> None:
        """Called by a leg as it ends (with ``self.lock`` held)."""
        if self._dialogs.get(leg.call_id) is leg:
            del self._dialogs[leg.call_id]
        if isinstance(leg, InboundCall):
            self.ended_calls.add(leg.call_id, leg.remote_tag, leg.remote_cseq)

    # -- dialogs and who may speak in them ----------------------------------------------------
    def find_dialog(self, req: SipMessage) -> Leg | None:
        """The leg this in-dialog request belongs to: Call-ID, local tag (the request's To tag)
        and remote tag (its From tag) must all match (RFC 3261 §12.2.2)."""
        leg = self._dialogs.get(req.call_id)
        if leg is None or leg.state == "ended":
            return None
        if not req.to.tag or req.to.tag != leg.local_tag or req.from_.tag != leg.remote_tag:
            return None
        return leg

    def source_allowed(self, ip: str, leg: Leg | None) -> bool:
        """HOTLINE_SIP_TRUSTED for every request; in a dialog also the dialog's own peer."""
        if ip in self.cfg.trusted:
            return True
        if leg is not None:
            return ip in leg.peer_hosts
        return not self.cfg.trusted

    def _refuse_source(self, tx: ServerTx, src: tuple[str, int], why: str, leg: Leg | None = None) -> None:
        self.stats["untrusted"] += 1
        if leg is not None:  # someone who knows a live dialog's tags: worth a line
            log.warning("SIP %s for call %s from %s refused: %s", tx.method, leg.call_id[:12],
                        src[0], why)
        else:  # scanners: too many to log each
            log.debug("SIP %s from %s refused: %s", tx.method, src[0], why)
        tx.respond(403, reason="Forbidden (untrusted source)")

    def _on_ack(self, req: SipMessage, src: tuple[str, int]) -> None:
        with self.lock:
            tx = self._server_tx.get((req.branch, "INVITE"))
        if tx is not None and tx.final >= 300:
            if src[0] == tx.src[0] or src[0] in self.cfg.trusted:
                tx.acked.set()  # ACK for our non-2xx final response (same transaction)
            return
        if tx is None and not req.to.tag:
            return
        if tx is None:  # a UA that gave its non-2xx ACK a new branch (RFC 2543 style)
            with self.lock:
                stale = [t for t in self._server_tx.values() if t.method == "INVITE"
                         and t.req.call_id == req.call_id and t.final >= 300
                         and t.to_tag == req.to.tag and t.src[0] == src[0]]
            if stale:
                for t in stale:
                    t.acked.set()
                return
        # ACK for a 2xx (its own transaction): stops the 2xx retransmissions of the initial
        # INVITE or of a re-INVITE on this dialog; only from the dialog, only from its peer
        leg = self.find_dialog(req)
        if leg is None or not self.source_allowed(src[0], leg):
            return
        with self.lock:
            txs = [t for t in self._server_tx.values() if t.method == "INVITE"
                   and t.req.call_id == req.call_id and 200 <= t.final < 300]
        for t in txs:
            t.acked.set()
        if isinstance(leg, InboundCall):
            leg.on_ack(req)

    def _on_request(self, req: SipMessage, src: tuple[str, int], flow: Flow | None = None) -> None:
        method = req.method
        branch = req.branch
        if method == "ACK":
            self._on_ack(req, src)
            return
        with self.lock:
            tx = self._server_tx.get((branch, method))
            if tx is not None:  # retransmission: answer again, start nothing
                self.stats["retransmissions"] += 1
                if tx.last and tx.src[0] == src[0]:
                    tx.send(tx.last)
                return
            if method == "INVITE" and not req.to.tag:
                existing = self._dialogs.get(req.call_id)
                if (isinstance(existing, InboundCall) and existing.remote_tag == req.from_.tag
                        and existing.tx.src[0] == src[0]):
                    self.stats["retransmissions"] += 1  # same call, new branch: still a duplicate
                    if existing.tx.last:
                        existing.tx.send(existing.tx.last)
                    return
            tx = ServerTx(self, req, src, flow)
            self._server_tx[(branch, method)] = tx
        leg = self.find_dialog(req) if req.to.tag else None
        if method == "CANCEL":
            with self.lock:
                inv = self._server_tx.get((branch, "INVITE"))
            if inv is not None and inv.src[0] != src[0] and src[0] not in self.cfg.trusted:
                self._refuse_source(tx, src, "CANCEL for another source's INVITE")
                return
            if inv is None and not self.source_allowed(src[0], None):
                self._refuse_source(tx, src, "not in HOTLINE_SIP_TRUSTED")
                return
        elif not self.source_allowed(src[0], leg):
            self._refuse_source(tx, src, "not the dialog's peer" if leg is not None
                                else "not in HOTLINE_SIP_TRUSTED", leg)
            return
        if req.to.tag and leg is None and method not in ("CANCEL",):
            self.stats["no_dialog"] += 1
            tx.respond(481)  # in-dialog request for no dialog of ours (RFC 3261 §12.2.2)
            return
        if not self._headers_acceptable(tx, req):
            return
        if method == "CANCEL":
            self._on_cancel(tx, req)
            return
        if method == "OPTIONS":
            self.stats["options"] += 1
            tx.respond(200, headers=[("Allow", ALLOW), ("Accept", "application/sdp"),
                                     ("Supported", ""), ("Contact", self.contact(transport=tx.transport))])
            return
        if method == "INVITE":
            if leg is not None:
                leg.on_reinvite(tx)
            else:
                self._new_call(tx, req, src)
            return
        if method in ("BYE", "INFO", "UPDATE"):
            if leg is None:  # no To tag: these never start a dialog
                self.stats["no_dialog"] += 1
                tx.respond(481)
            elif method == "BYE":
                leg.on_bye(tx)
            elif method == "INFO":
                leg.on_info(tx)
            else:
                leg.on_update(tx)
            return
        if method == "PRACK":  # we never send reliable provisionals (RFC 3262 §3: 481)
            tx.respond(481)
            return
        if method in ("REGISTER", "SUBSCRIBE", "NOTIFY", "REFER", "MESSAGE", "PUBLISH"):
            tx.respond(405, headers=[("Allow", ALLOW)])
            return
        tx.respond(501)

    def _headers_acceptable(self, tx: ServerTx, req: SipMessage) -> bool:
        """Max-Forwards (loops: 483) and Require (extensions we lack: 420), RFC 3261 §8.2.2.3."""
        mf = req.get("Max-Forwards")
        if mf is not None:
            if not mf.strip().isdigit():
                tx.respond(400, reason="Bad Request (Max-Forwards)")
                return False
            # OPTIONS with 0 is for the element that receives it (RFC 3261 §16.3, §11)
            if int(mf) == 0 and req.method not in ("OPTIONS", "CANCEL"):
                tx.respond(483)
                return False
        if req.method != "CANCEL":
            required = [x.strip() for x in req.get_all("Require") if x.strip()]
            unsupported = [x for x in required if x.lower() not in SUPPORTED]
            if unsupported:
                tx.respond(420, headers=[("Unsupported", ", ".join(unsupported))])
                return False
        return True

    def _on_cancel(self, tx: ServerTx, req: SipMessage) -> None:
        with self.lock:
            inv = self._server_tx.get((req.branch, "INVITE"))
        if inv is None:
            tx.respond(481)
            return
        tx.respond(200)
        leg = self._dialogs.get(req.call_id)
        if isinstance(leg, InboundCall) and leg.tx is inv:
            leg.on_cancel()
        elif not inv.final:
            inv.respond(487)

    def _new_call(self, tx: ServerTx, req: SipMessage, src: tuple[str, int]) -> None:
        if self.ended_calls.is_late(req.call_id, req.from_.tag, req.cseq[0]):
            # a late retransmission (or a proxy's retry) of a call that is over: not a new call
            self.stats["late_invites"] += 1
            log.info("INVITE %s for a call that has ended: 481", req.call_id[:12])
            tx.respond(481)
            return
        if req.call_id in self._dialogs:  # a second INVITE with a live call's Call-ID
            tx.respond(482, reason="Loop Detected (Call-ID in use)")
            return
        if not self.call_rate.allow(src[0]):
            self.stats["rate_limited"] += 1
            tx.respond(503, reason="Service Unavailable (call rate)")
            return
        self.stats["invites"] += 1
        tx.respond(100)
        leg = InboundCall(self, tx)
        with self.lock:
            self._dialogs[req.call_id] = leg
        log.info("INVITE %s from %s to %s over %s", req.call_id[:12], mask_number(leg.caller),
                 mask_number(leg.dialled), tx.transport.upper())
        try:
            self.on_invite(leg)
        except Exception:
            log.exception("on_invite failed")
            leg.reject(500)

    # -- RTP inactivity (HOTLINE_SIP_RTP_TIMEOUT) ---------------------------------------------
    @property
    def _rtp_watch_interval(self) -> float:
        return max(0.1, min(1.0, self.cfg.rtp_timeout / 4))

    def _rtp_watch(self) -> None:
        """A caller who sends no RTP for rtp_timeout s is hung up (like Asterisk's rtptimeout):
        a dead phone or a flood of silent calls must not hold a place in the queue for ever.
        Not while the caller holds the call (no media is expected then)."""
        if self.stopped:
            return
        now = time.monotonic()
        for leg in list(self._dialogs.values()):
            if (not isinstance(leg, InboundCall) or leg.state != "confirmed" or leg.on_hold
                    or leg.answered_at is None):
                continue
            last = max(leg.answered_at, leg.media_since, leg.media.last_rx)
            if now - last > self.cfg.rtp_timeout:
                log.info("call %s: no RTP from the caller for %.0f s: hanging up",
                         leg.call_id[:12], now - last)
                try:
                    leg.hangup("rtp_timeout")
                except Exception:
                    log.exception("hanging up call %s failed", leg.call_id[:12])
        self.timers.call_later(self._rtp_watch_interval, self._rtp_watch)

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
