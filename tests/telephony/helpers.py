"""Helpers shared by the telephony tests (SIPp locations, free ports, RTP sinks, audio checks)."""
from __future__ import annotations

import audioop
import shutil
import socket
import struct
import threading
import time
from pathlib import Path

import pytest

SCENARIOS = Path(__file__).parent / "scenarios"
SIPP = shutil.which("sipp")
PCAP_DIR = Path("/usr/share/sip-tester")

needs_sipp = pytest.mark.skipif(SIPP is None, reason="sipp not installed (apt-get install sip-tester)")


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_sip_port() -> int:
    """A port for baresip's sip_listen: it binds UDP and TCP on it and TLS on the next one."""
    for _ in range(50):
        p = free_udp_port()
        socks = []
        try:
            for q, kind in ((p, socket.SOCK_DGRAM), (p, socket.SOCK_STREAM), (p + 1, socket.SOCK_STREAM)):
                s = socket.socket(socket.AF_INET, kind)
                socks.append(s)
                s.bind(("127.0.0.1", q))
            return p
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free SIP port")


def free_udp_pair() -> int:
    """An even port whose odd neighbour is free too (SIPp uses mp and mp+2 for its media)."""
    for _ in range(50):
        p = free_udp_port() & ~1
        socks = []
        try:
            for q in (p, p + 1, p + 2, p + 3):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind(("127.0.0.1", q))
            return p
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free port pair")


class RtpSink:
    """A UDP port collecting RTP packets (arrival time, SSRC, PT, seq, payload)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", free_udp_pair()))
        self.port = self.sock.getsockname()[1]
        self.sock.settimeout(0.2)
        self.packets: list[tuple[float, int, int, int, bytes]] = []
        self.sources: set[tuple[str, int]] = set()
        self._run = True
        self._t = threading.Thread(target=self._loop, daemon=True)
        self._t.start()

    def _loop(self) -> None:
        while self._run:
            try:
                data, addr = self.sock.recvfrom(2048)
            except OSError:
                continue
            if len(data) >= 12:
                pt = data[1] & 0x7F
                seq, ts, ssrc = struct.unpack("!HII", data[2:12])
                self.packets.append((time.monotonic(), ssrc, pt, seq, data[12:]))
                self.sources.add(addr)

    def close(self) -> None:
        self._run = False
        self._t.join(1)
        self.sock.close()


def dominant_freq(pcm: bytes) -> float:
    """Zero-crossing frequency estimate of 8 kHz 16-bit PCM."""
    n = len(pcm) // 2
    samples = struct.unpack(f"<{n}h", pcm[: n * 2])
    crossings = sum(1 for a, b in zip(samples, samples[1:]) if (a < 0) != (b < 0))
    return crossings / 2 / (n / 8000) if n else 0.0


def rms(pcm: bytes) -> float:
    return audioop.rms(pcm, 2) if pcm else 0.0


def wait_until(pred, timeout: float = 10.0, step: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()
