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
from .transactions import ClientTx, ServerTx, Timers

__all__ = ["SipUA", "InboundCall", "OutboundCall", "Leg", "ClientTx", "ServerTx", "Timers"]

log = logging.getLogger(__name__)


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
