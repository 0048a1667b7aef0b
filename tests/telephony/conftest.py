"""Fixtures for the SIP bridge tests: a bridge on a free loopback port, SIPp runners, RTP sinks.

Every SIP exchange is with a real SIPp (or baresip) process on 127.0.0.1; nothing mocks SIP.
"""
from __future__ import annotations

import audioop
import math
import os
import shutil
import socket
import struct
import subprocess
import threading
import time
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root, for `telephony`

from telephony.bridge import start_bridge
from telephony.config import PROMPT_DIR, SipConfig
from telephony.media import save_wav, tone
from telephony.memory import memory_ports

SCENARIOS = Path(__file__).parent / "scenarios"
SIPP = shutil.which("sipp")
PCAP_DIR = Path("/usr/share/sip-tester")

needs_sipp = pytest.mark.skipif(SIPP is None, reason="sipp not installed (apt-get install sip-tester)")


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


@pytest.fixture(scope="session")
def short_prompts(tmp_path_factory) -> Path:
    """Short synthetic prompts so the SIPp tests don't wait through long speech.

    The greeting is a 1 kHz tone (the PCMA test checks it arrives undistorted)."""
    d = tmp_path_factory.mktemp("prompts")
    for wav in PROMPT_DIR.glob("*.wav"):
        save_wav(d / wav.name, tone(600, 0.2, 3000))
    save_wav(d / "greeting.wav", tone(1000, 0.6, 8000))
    return d


class SippRun:
    def __init__(self, proc: subprocess.Popen, logdir: Path, name: str):
        self.proc, self.logdir, self.name = proc, logdir, name

    def wait(self, timeout: float = 30) -> int:
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return self.proc.returncode

    def errors(self) -> str:
        out = []
        for f in self.logdir.glob("*errors.log"):
            out.append(f.read_text(errors="replace")[-3000:])
        for f in self.logdir.glob("*messages.log"):
            out.append(f.read_text(errors="replace")[-6000:])
        try:
            so, se = self.proc.communicate(timeout=1)
            out.append((so or b"").decode(errors="replace")[-2000:])
            out.append((se or b"").decode(errors="replace")[-2000:])
        except Exception:
            pass
        return "\n".join(out)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def sipp(tmp_path):
    """Start SIPp: ``sipp(scenario, target_port=None, port=None, keys={}, extra=[])``."""
    runs: list[SippRun] = []

    def start(scenario: str, target_port: int | None = None, port: int | None = None,
              keys: dict | None = None, extra: list[str] | None = None, calls: int = 1,
              timeout: int = 40) -> SippRun:
        logdir = tmp_path / f"sipp-{scenario}-{len(runs)}"
        logdir.mkdir()
        port = port or free_udp_port()
        cmd = [SIPP, "-sf", str(SCENARIOS / f"{scenario}.xml"), "-i", "127.0.0.1",
               "-p", str(port), "-m", str(calls), "-nostdin", "-trace_err", "-trace_msg",
               "-timeout", f"{timeout}s", "-timeout_error", "-mp", str(free_udp_pair())]
        for k, v in (keys or {}).items():
            cmd += ["-key", k, str(v)]
        cmd += extra or []
        if target_port:
            cmd.append(f"127.0.0.1:{target_port}")
        proc = subprocess.Popen(cmd, cwd=logdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        run = SippRun(proc, logdir, scenario)
        run.port = port  # type: ignore[attr-defined]
        runs.append(run)
        return run

    yield start
    for r in runs:
        r.kill()


@pytest.fixture
def bridge(short_prompts, tmp_path):
    """Start a bridge: ``bridge(operators={1: uri}, **SipConfig fields)`` -> (bridge, ports)."""
    started = []

    def start(operators=None, tickets=None, experts=None, journal=None, prompts=None, **kw):
        cfg = SipConfig(listen_port=0, bridge_id="test-bridge", ring_seconds=0.2,
                        prompt_dir=prompts or short_prompts, voicemail_dir=tmp_path / "vm",
                        outbound_poll_seconds=0.2)
        for k, v in kw.items():
            setattr(cfg, k, v)
        ports = memory_ports(operators, journal, tickets, experts)
        b = start_bridge(cfg, ports)
        started.append(b)
        return b, ports

    yield start
    for b in started:
        b.stop()


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


@pytest.fixture
def rtp_sink():
    sinks = []

    def make() -> RtpSink:
        s = RtpSink()
        sinks.append(s)
        return s

    yield make
    for s in sinks:
        s.close()


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
