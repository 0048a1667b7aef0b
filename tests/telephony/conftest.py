"""Fixtures for the SIP bridge tests: a bridge on a free loopback port, SIPp runners, RTP sinks.

Every SIP exchange is with a real SIPp (or baresip) process on 127.0.0.1; nothing mocks SIP.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from telephony.bridge import start_bridge
from telephony.config import PROMPT_DIR, SipConfig
from telephony.media import save_wav, tone
from telephony.memory import memory_ports

from .helpers import SCENARIOS, SIPP, RtpSink, free_udp_pair, free_udp_port


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


