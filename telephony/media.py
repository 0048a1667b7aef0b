"""RTP media engine: one thread serves every call's RTP.

Why not ``pyVoIP.RTP.RTPClient``: it starts two threads per call that poll with ``sleep(0.01)``
(100 calls = 200 busy threads fighting for the GIL: measured here p99 inter-arrival 39 ms, 7 %
behind), it converts to 8-bit audio, and ``encode_packet`` encodes PCMA with the PCMU encoder
(defect "PCMA encoded as PCMU"). A retransmitted INVITE also made pyVoIP's phone start a second
RTPClient for the same call; here a session exists once per dialog (see ``telephony.sip``).

This engine keeps one UDP socket per call, waits on all of them with one selector, and sends every
call's next 20 ms frame on a shared absolute-time tick, so packet spacing does not drift with load.
Audio is 16-bit linear PCM at 8 kHz inside the bridge; G.711 μ-law/A-law per negotiated codec on
the wire; RFC 2833 telephone-events are decoded into digits.
"""
from __future__ import annotations

import audioop
import collections
import logging
import os
import queue
import random
import selectors
import socket
import struct
import threading
import time
import wave
from pathlib import Path

log = logging.getLogger(__name__)

FRAME_MS = 20
FRAME_SAMPLES = 160
FRAME_BYTES = FRAME_SAMPLES * 2  # 16-bit linear
SILENCE = b"\x00" * FRAME_BYTES
DTMF_KEYS = "0123456789*#ABCD"


def load_wav(path: str | os.PathLike) -> bytes:
    """Load a WAV as 8 kHz mono 16-bit linear PCM."""
    with wave.open(str(path), "rb") as w:
        data = w.readframes(w.getnframes())
        width, rate, ch = w.getsampwidth(), w.getframerate(), w.getnchannels()
    if width == 1:
        data = audioop.bias(data, 1, -128)
    if width != 2:
        data = audioop.lin2lin(data, width, 2)
    if ch == 2:
        data = audioop.tomono(data, 2, 0.5, 0.5)
    if rate != 8000:
        data, _ = audioop.ratecv(data, 2, 1, rate, 8000, None)
    return data


def save_wav(path: str | os.PathLike, pcm: bytes) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    tmp = str(path) + ".part"
    with wave.open(tmp, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(pcm)
    os.replace(tmp, path)


def tone(freq: float, seconds: float, amp: int = 8000) -> bytes:
    import math
    n = int(8000 * seconds)
    return b"".join(struct.pack("<h", int(amp * math.sin(2 * math.pi * freq * i / 8000)))
                    for i in range(n))


class _Playback:
    __slots__ = ("pcm", "pos", "loop", "done")

    def __init__(self, pcm: bytes, loop: bool):
        self.pcm, self.pos, self.loop, self.done = pcm, 0, loop, threading.Event()


class RtpSession:
    """One call leg's RTP: a local socket, the remote address and codec, playback, DTMF, taps."""

    def __init__(self, engine: "MediaEngine", sock: socket.socket, host: str):
        self.engine = engine
        self.sock = sock
        self.local_host = host
        self.local_port = sock.getsockname()[1]
        self.remote: tuple[str, int] | None = None
        self.pt = 0
        self.dtmf_pt: int | None = None
        self.sending = False  # starts at answer / on 200 OK; off while on hold
        self.ssrc = random.getrandbits(32)
        self.seq = random.getrandbits(16)
        self.ts = random.getrandbits(32)
        self._marker = True
        self._plays: collections.deque[_Playback] = collections.deque()
        self._lock = threading.Lock()
        self.inbound = bytearray()  # received audio waiting for the mixer (any ptime)
        self.mix_out: bytes | None = None  # set by a Mixer each tick
        self.mixer: "Mixer | None" = None
        self.recording: list[bytes] | None = None
        self.dtmf: "queue.Queue[str]" = queue.Queue()
        self._dtmf_seen: dict[tuple[int, int, int], float] = {}
        self.rx_packets = 0
        self.tx_packets = 0
        self.last_rx = 0.0
        self.closed = False

    # -- control (any thread) -----------------------------------------------------------------
    def configure(self, remote: tuple[str, int] | None, pt: int, dtmf_pt: int | None) -> None:
        self.remote, self.pt, self.dtmf_pt = remote, pt, dtmf_pt

    def start(self) -> None:
        self.sending = True

    def play(self, pcm: bytes, loop: bool = False) -> threading.Event:
        pb = _Playback(pcm, loop)
        with self._lock:
            self._plays.append(pb)
        return pb.done

    def stop_playback(self) -> None:
        with self._lock:
            for pb in self._plays:
                pb.done.set()
            self._plays.clear()

    @property
    def playing(self) -> bool:
        return bool(self._plays)

    def start_recording(self) -> None:
        self.recording = []

    def stop_recording(self) -> bytes:
        rec, self.recording = self.recording or [], None
        return b"".join(rec)

    def flush_dtmf(self) -> None:
        while not self.dtmf.empty():
            try:
                self.dtmf.get_nowait()
            except queue.Empty:
                break

    def close(self) -> None:
        self.sending = False
        self.stop_playback()
        if self.mixer:
            self.mixer.remove(self)
        self.engine._close(self)

    # -- engine thread ------------------------------------------------------------------------
    def _next_frame(self) -> bytes:
        with self._lock:
            while self._plays:
                pb = self._plays[0]
                chunk = pb.pcm[pb.pos: pb.pos + FRAME_BYTES]
                pb.pos += FRAME_BYTES
                if pb.pos >= len(pb.pcm):
                    if pb.loop and pb.pcm:
                        pb.pos = 0
                    else:
                        self._plays.popleft()
                        pb.done.set()
                if chunk:
                    if len(chunk) < FRAME_BYTES:
                        chunk += SILENCE[len(chunk):]
                    if self.mix_out is not None:  # prompt over a conference: mix both
                        chunk = audioop.add(chunk, self.mix_out, 2)
                    return chunk
        return self.mix_out if self.mix_out is not None else SILENCE

    def _send(self) -> None:
        frame = self._next_frame()
        if not self.sending or self.remote is None or self.remote[1] == 0:
            return
        payload = audioop.lin2alaw(frame, 2) if self.pt == 8 else audioop.lin2ulaw(frame, 2)
        hdr = struct.pack("!BBHII", 0x80, (0x80 if self._marker else 0) | self.pt,
                          self.seq & 0xFFFF, self.ts & 0xFFFFFFFF, self.ssrc)
        self._marker = False
        self.seq += 1
        self.ts += FRAME_SAMPLES
        try:
            self.sock.sendto(hdr + payload, self.remote)
            self.tx_packets += 1
        except OSError:
            pass

    def _receive(self, data: bytes) -> None:
        if len(data) < 12 or data[0] >> 6 != 2:
            return  # not RTP (stray datagram, STUN, RTCP on the wrong port): ignore
        cc = data[0] & 0x0F
        off = 12 + 4 * cc
        if data[0] & 0x10 and len(data) >= off + 4:  # header extension
            off += 4 + 4 * struct.unpack("!H", data[off + 2: off + 4])[0]
        pt = data[1] & 0x7F
        payload = data[off:]
        if data[0] & 0x20 and payload:  # padding
            payload = payload[: -payload[-1]]
        self.rx_packets += 1
        self.last_rx = time.monotonic()
        if self.dtmf_pt is not None and pt == self.dtmf_pt:
            if len(payload) >= 4 and payload[0] < len(DTMF_KEYS):
                # One event = one RTP timestamp, repeated in every packet of it (and 3 end
                # packets). A replayed event (same timestamp) counts again after a 0.5 s gap.
                ts, ssrc = struct.unpack("!II", data[4:12])
                key = (ssrc, ts, payload[0])
                now = self.last_rx
                last = self._dtmf_seen.get(key)
                self._dtmf_seen[key] = now
                if last is None or now - last > 0.5:
                    self.dtmf.put(DTMF_KEYS[payload[0]])
                    if len(self._dtmf_seen) > 32:
                        for k in list(self._dtmf_seen)[:16]:
                            del self._dtmf_seen[k]
            return
        if pt == 0:
            pcm = audioop.ulaw2lin(payload, 2)
        elif pt == 8:
            pcm = audioop.alaw2lin(payload, 2)
        else:
            return  # comfort noise or an unexpected codec
        if self.recording is not None:
            self.recording.append(pcm)
        if self.mixer is not None:
            self.inbound += pcm
            if len(self.inbound) > 8 * FRAME_BYTES:  # keep relay latency bounded (~60 ms)
                del self.inbound[: len(self.inbound) - 3 * FRAME_BYTES]


class Mixer:
    """Mixes call legs: each member hears the sum of the others (2 legs = a plain relay)."""

    def __init__(self, engine: "MediaEngine"):
        self.engine = engine
        self.members: list[RtpSession] = []
        self._lock = threading.Lock()

    def add(self, s: RtpSession) -> None:
        with self._lock:
            if s not in self.members:
                s.inbound.clear()
                s.mixer = self
                self.members.append(s)
        self.engine._add_mixer(self)

    def remove(self, s: RtpSession) -> None:
        with self._lock:
            if s in self.members:
                self.members.remove(s)
            s.mixer = None
            s.mix_out = None
            if not self.members:
                self.engine._remove_mixer(self)

    def _compute(self) -> None:
        with self._lock:
            members = list(self.members)
        frames = {}
        for m in members:
            chunk = bytes(m.inbound[:FRAME_BYTES])
            del m.inbound[:FRAME_BYTES]
            frames[m] = chunk + SILENCE[len(chunk):] if len(chunk) < FRAME_BYTES else chunk
        for m in members:
            others = [frames[o] for o in members if o is not m]
            if not others:
                m.mix_out = SILENCE
                continue
            out = others[0]
            for f in others[1:]:
                out = audioop.add(out, f, 2)
            m.mix_out = out


class MediaEngine:
    def __init__(self, host: str = "127.0.0.1", port_min: int = 0, port_max: int = 0):
        self.host = host
        self.port_min, self.port_max = port_min, port_max
        self._sel = selectors.DefaultSelector()
        self._sessions: set[RtpSession] = set()
        self._mixers: set[Mixer] = set()
        self._pending: "queue.Queue[tuple[str, RtpSession]]" = queue.Queue()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._sel.register(self._wake_r, selectors.EVENT_READ, None)
        self._running = False
        self._thread: threading.Thread | None = None
        self._next_port = port_min
        self._port_lock = threading.Lock()
        self.late_ticks = 0  # ticks that started more than 10 ms late
        self.lateness: collections.deque[tuple[float, float]] = collections.deque(maxlen=200)

    def start(self) -> None:
        self._running = True
        self._thread = threading.Thread(target=self._run, name="rtp-engine", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._running = False
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass
        if self._thread:
            self._thread.join(2)
        for s in list(self._sessions):
            s.sock.close()
        self._sessions.clear()

    def _bind(self, host: str) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 18)
        if not self.port_min:
            sock.bind((host, 0))
        else:
            with self._port_lock:
                span = (self.port_max - self.port_min) // 2 + 1
                for _ in range(span):
                    port = self._next_port
                    self._next_port = port + 2 if port + 2 <= self.port_max else self.port_min
                    try:
                        sock.bind((host, port))
                        break
                    except OSError:
                        continue
                else:
                    sock.close()
                    raise OSError("no free RTP port in range")
        sock.setblocking(False)
        return sock

    def open(self, host: str | None = None) -> RtpSession:
        s = RtpSession(self, self._bind(host or self.host), host or self.host)
        self._pending.put(("add", s))
        self._wake()
        return s

    def _close(self, s: RtpSession) -> None:
        if not s.closed:
            s.closed = True
            self._pending.put(("del", s))
            self._wake()

    def _add_mixer(self, m: Mixer) -> None:
        self._pending.put(("mix+", m))  # type: ignore[arg-type]

    def _remove_mixer(self, m: Mixer) -> None:
        self._pending.put(("mix-", m))  # type: ignore[arg-type]

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass

    @property
    def session_count(self) -> int:
        return len(self._sessions)

    def _apply_pending(self) -> None:
        while True:
            try:
                op, obj = self._pending.get_nowait()
            except queue.Empty:
                return
            if op == "add":
                self._sessions.add(obj)
                self._sel.register(obj.sock, selectors.EVENT_READ, obj)
            elif op == "del":
                if obj in self._sessions:
                    self._sessions.discard(obj)
                    try:
                        self._sel.unregister(obj.sock)
                    except (KeyError, ValueError):
                        pass
                obj.sock.close()
            elif op == "mix+":
                self._mixers.add(obj)  # type: ignore[arg-type]
            elif op == "mix-":
                self._mixers.discard(obj)  # type: ignore[arg-type]

    def _realtime(self) -> None:
        """HOTLINE_RTP_REALTIME=1: run this thread SCHED_RR (needs CAP_SYS_NICE), so other
        processes on a busy host do not delay the 20 ms tick. Python threads still share the GIL."""
        if os.environ.get("HOTLINE_RTP_REALTIME", "").lower() not in ("1", "true", "on", "yes"):
            return
        try:
            os.sched_setscheduler(0, os.SCHED_RR, os.sched_param(10))  # 0 = this thread
            log.info("RTP thread runs SCHED_RR")
        except (AttributeError, OSError) as exc:
            log.warning("HOTLINE_RTP_REALTIME: could not raise the RTP thread's priority: %s", exc)

    def _run(self) -> None:
        self._realtime()
        period = FRAME_MS / 1000
        next_tick = time.monotonic() + period
        while self._running:
            timeout = next_tick - time.monotonic()
            events = self._sel.select(max(0.0, timeout)) if timeout > 0 else self._sel.select(0)
            for key, _ in events:
                if key.data is None:
                    try:
                        self._wake_r.recv(4096)
                    except OSError:
                        pass
                    continue
                sess: RtpSession = key.data
                for _ in range(64):
                    try:
                        data = sess.sock.recv(2048)
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError:
                        break
                    try:
                        sess._receive(data)
                    except Exception:  # a malformed packet must never stop the engine
                        log.debug("bad RTP packet ignored", exc_info=True)
            self._apply_pending()
            now = time.monotonic()
            if now >= next_tick:
                late = now - next_tick
                if late > 0.010:
                    self.late_ticks += 1
                    self.lateness.append((time.time(), round(late * 1000, 1)))
                for m in list(self._mixers):
                    try:
                        m._compute()
                    except Exception:
                        log.exception("mixer failed")
                for s in list(self._sessions):
                    try:
                        s._send()
                    except Exception:
                        log.exception("RTP send failed")
                next_tick += period
                if now - next_tick > 0.2:  # stalled (suspended process): resynchronise
                    next_tick = now + period
