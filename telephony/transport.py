"""SIP transports: UDP and TCP on the same port (RFC 3261 §18 requires both of a UA).

One thread waits on the UDP socket, the TCP listener and every TCP connection with one selector,
so SIP messages are still handled one at a time, as with UDP alone. TCP is a byte stream: messages
are cut out of it by their Content-Length (§18.3); CRLF CRLF keep-alives get a CRLF (RFC 5626).

Against a hostile TCP client everything is bounded: the number of connections (in all and per
source address), the bytes one connection may buffer (one message of ``max_message_bytes``), the
time a connection may stay without a complete message (``tcp_idle_seconds``); sends never block
(a peer that does not read its socket is dropped), so no client can stall the SIP thread.

Responses go back over the connection the request came on (§18.2.2), or another open one to the
same address; the bridge does not dial back for a response whose connection has closed (that would
let anyone make it connect to an address of their choosing from the SIP thread). Requests the
bridge sends reuse an open connection to the destination, else one is opened. TLS: not yet.
"""
from __future__ import annotations

import logging
import queue
import re
import selectors
import socket
import threading
import time
from typing import Callable

log = logging.getLogger("telephony.sip")

_CL = re.compile(rb"^(?:content-length|l)[ \t]*:[ \t]*(\d+)[ \t]*$", re.I | re.M)
CONNECT_TIMEOUT = 2.0


class Flow:
    """One TCP connection (inbound or opened by the bridge)."""

    def __init__(self, transport: "Transport", sock: socket.socket, peer: tuple[str, int]):
        self.transport = transport
        self.sock = sock
        self.peer = peer
        self.buf = bytearray()
        self.last_activity = time.monotonic()
        self.closed = False
        self._lock = threading.Lock()

    def send(self, data: bytes) -> bool:
        """Never blocks: SIP messages are small next to a socket's send buffer, so a peer whose
        buffer is full does not read its socket, and is dropped (it must not stall the SIP
        thread)."""
        with self._lock:
            if self.closed:
                return False
            view = memoryview(data)
            try:
                while view:
                    n = self.sock.send(view, socket.MSG_DONTWAIT)
                    view = view[n:]
            except (BlockingIOError, InterruptedError):
                log.info("TCP peer %s:%s does not read: connection closed", *self.peer)
                self.transport._drop(self)
                return False
            except OSError as exc:
                log.info("TCP send to %s:%s failed (%s): connection closed", *self.peer, exc)
                self.transport._drop(self)
                return False
            self.last_activity = time.monotonic()
            return True

    def __repr__(self) -> str:
        return f"<Flow {self.peer[0]}:{self.peer[1]}{' closed' if self.closed else ''}>"


class Transport:
    def __init__(self, host: str, port: int, on_message: Callable[[bytes, tuple[str, int], Flow | None], None],
                 stats: dict, tcp: bool = True, max_connections: int = 256, max_per_source: int = 64,
                 idle_seconds: float = 120.0, max_message_bytes: int = 65535):
        self.on_message = on_message
        self.stats = stats
        self.max_connections, self.max_per_source = max_connections, max_per_source
        self.idle_seconds, self.max_message_bytes = idle_seconds, max_message_bytes
        self.udp, self.listener = self._bind(host, port, tcp)
        self.port = self.udp.getsockname()[1]
        self._flows: dict[socket.socket, Flow] = {}
        self._flows_lock = threading.Lock()
        self._sel = selectors.DefaultSelector()
        self._pending: "queue.Queue[Flow]" = queue.Queue()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self.stopped = False
        self._refused_logged, self._refused_since_log = 0.0, 0
        self._thread = threading.Thread(target=self._run, name="sip-recv", daemon=True)

    @staticmethod
    def _bind(host: str, port: int, tcp: bool) -> tuple[socket.socket, socket.socket | None]:
        """UDP and TCP on one port number; with port 0 try OS-chosen UDP ports until TCP fits too."""
        for _ in range(50 if port == 0 else 1):
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            udp.bind((host, port))
            if not tcp:
                return udp, None
            lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                lst.bind((host, udp.getsockname()[1]))
            except OSError:
                lst.close()
                udp.close()
                if port:
                    raise
                continue
            lst.listen(128)
            return udp, lst
        raise OSError("no port free for both UDP and TCP")

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        self.udp.setblocking(False)
        self._sel.register(self.udp, selectors.EVENT_READ, "udp")
        self._sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        if self.listener is not None:
            self.listener.setblocking(False)
            self._sel.register(self.listener, selectors.EVENT_READ, "listen")
        self._thread.start()

    def stop(self) -> None:
        self.stopped = True
        self._wake()
        self._thread.join(2)
        for s in [self.udp, self.listener, self._wake_r, self._wake_w]:
            if s is not None:
                try:
                    s.close()
                except OSError:
                    pass
        with self._flows_lock:
            flows = list(self._flows.values())
        for f in flows:
            self._drop(f)

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass

    @property
    def connection_count(self) -> int:
        return len(self._flows)

    # -- sending ------------------------------------------------------------------------------
    def send(self, data: bytes, dest: tuple[str, int], transport: str = "udp",
             flow: Flow | None = None, connect: bool = True) -> Flow | None:
        """Send one message. TCP: over ``flow`` if still open, else an open connection to
        ``dest``, else (``connect``) a new one. Returns the connection used (None for UDP or on
        failure)."""
        if self.stopped:
            return None
        if transport != "tcp":
            try:
                self.udp.sendto(data, dest)
            except OSError as exc:
                log.warning("SIP send to %s failed: %s", dest, exc)
            return None
        if flow is None or flow.closed:
            flow = self.flow_to(dest)
        if flow is None and connect:
            flow = self._connect(dest)
        elif flow is None:
            log.debug("SIP response to %s:%s dropped: its connection has closed", *dest)
        if flow is not None and flow.send(data):
            return flow
        return None

    def flow_to(self, dest: tuple[str, int]) -> Flow | None:
        with self._flows_lock:
            for f in self._flows.values():
                if f.peer == dest and not f.closed:
                    return f
        return None

    def _connect(self, dest: tuple[str, int]) -> Flow | None:
        if self.listener is None:
            log.warning("SIP over TCP to %s:%s: TCP is switched off (HOTLINE_SIP_TCP)", *dest)
            return None
        if len(self._flows) >= self.max_connections:
            log.warning("SIP over TCP to %s:%s: %d connections open, none more", *dest, len(self._flows))
            return None
        try:
            sock = socket.create_connection(dest, timeout=CONNECT_TIMEOUT)
        except OSError as exc:
            log.warning("SIP over TCP: cannot connect to %s:%s: %s", *dest, exc)
            return None
        sock.setblocking(False)
        flow = Flow(self, sock, dest)
        with self._flows_lock:
            self._flows[sock] = flow
        self._pending.put(flow)
        self._wake()
        return flow

    def _drop(self, flow: Flow) -> None:
        with self._flows_lock:
            if flow.closed:
                return
            flow.closed = True
            self._flows.pop(flow.sock, None)
        try:
            self._sel.unregister(flow.sock)
        except (KeyError, ValueError, OSError):
            pass
        try:
            flow.sock.close()
        except OSError:
            pass

    # -- receiving ----------------------------------------------------------------------------
    def _run(self) -> None:
        sweep_every = max(0.1, min(1.0, self.idle_seconds / 4))
        next_sweep = time.monotonic() + sweep_every
        while not self.stopped:
            try:
                events = self._sel.select(max(0.0, next_sweep - time.monotonic()))
            except OSError:
                if self.stopped:
                    return
                continue
            for key, _ in events:
                if self.stopped:
                    return
                what = key.data
                if what == "udp":
                    self._read_udp()
                elif what == "listen":
                    self._accept()
                elif what == "wake":
                    try:
                        self._wake_r.recv(4096)
                    except OSError:
                        pass
                else:
                    self._read_tcp(what)
            while True:
                try:
                    f = self._pending.get_nowait()
                except queue.Empty:
                    break
                if not f.closed:
                    try:
                        self._sel.register(f.sock, selectors.EVENT_READ, f)
                    except (KeyError, ValueError, OSError):
                        pass
            now = time.monotonic()
            if now >= next_sweep:
                next_sweep = now + sweep_every
                with self._flows_lock:
                    idle = [f for f in self._flows.values() if now - f.last_activity > self.idle_seconds]
                for f in idle:
                    log.debug("TCP connection from %s:%s idle: closed", *f.peer)
                    self.stats["tcp_idle_closed"] = self.stats.get("tcp_idle_closed", 0) + 1
                    self._drop(f)

    def _read_udp(self) -> None:
        for _ in range(64):
            try:
                data, src = self.udp.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            self._deliver(data, src, None)

    def _accept(self) -> None:
        for _ in range(16):
            try:
                sock, peer = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            peer = peer[:2]
            with self._flows_lock:
                total = len(self._flows)
                same = sum(1 for f in self._flows.values() if f.peer[0] == peer[0])
            if total >= self.max_connections or same >= self.max_per_source:
                self.stats["tcp_refused"] = self.stats.get("tcp_refused", 0) + 1
                self._refused_since_log += 1
                now = time.monotonic()
                if now - self._refused_logged >= 10.0:  # one line per 10 s, not one per attempt
                    log.warning("TCP connections refused: %d in the last 10 s (latest from %s; %d "
                                "open, %d from it; limits %d in all, %d per source)",
                                self._refused_since_log, peer[0], total, same,
                                self.max_connections, self.max_per_source)
                    self._refused_logged, self._refused_since_log = now, 0
                sock.close()
                continue
            sock.setblocking(False)
            flow = Flow(self, sock, peer)
            with self._flows_lock:
                self._flows[sock] = flow
            self.stats["tcp_connections"] = self.stats.get("tcp_connections", 0) + 1
            try:
                self._sel.register(sock, selectors.EVENT_READ, flow)
            except (KeyError, ValueError, OSError):
                self._drop(flow)

    def _read_tcp(self, flow: Flow) -> None:
        try:
            data = flow.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop(flow)
            return
        flow.buf += data
        while not flow.closed:
            msg = self._frame(flow)
            if msg is None:
                break
            self._deliver(msg, flow.peer, flow)

    def _frame(self, flow: Flow) -> bytes | None:
        """Cut one message out of the connection's buffer (None: wait for more bytes)."""
        buf = flow.buf
        while buf.startswith(b"\r\n"):
            if buf.startswith(b"\r\n\r\n"):  # keep-alive ping: pong with one CRLF
                del buf[:4]
                flow.last_activity = time.monotonic()
                flow.send(b"\r\n")
            else:
                del buf[:2]  # a pong, or stray line ends between messages
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if len(buf) > self.max_message_bytes:
                self._refuse(flow, f"{len(buf)} bytes without the end of a header")
            return None
        m = _CL.search(bytes(buf[:end]))
        length = int(m.group(1)) if m else 0  # no Content-Length on TCP: take it as no body
        total = end + 4 + length
        if total > self.max_message_bytes:
            self._refuse(flow, f"a {total}-byte message")
            return None
        if len(buf) < total:
            return None
        msg = bytes(buf[:total])
        del buf[:total]
        flow.last_activity = time.monotonic()
        return msg

    def _refuse(self, flow: Flow, what: str) -> None:
        self.stats["tcp_oversize"] = self.stats.get("tcp_oversize", 0) + 1
        log.warning("TCP connection from %s closed: %s (limit %d)", flow.peer[0], what,
                    self.max_message_bytes)
        self._drop(flow)

    def _deliver(self, data: bytes, src: tuple[str, int], flow: Flow | None) -> None:
        try:
            self.on_message(data, src, flow)
        except Exception:
            log.exception("SIP message handling failed")
