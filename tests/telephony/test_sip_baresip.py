"""baresip as a real softphone: it dials the bridge, sends RFC 2833 digits and an 800 Hz tone as
its voice; the bridge's voicemail recording must hold that tone."""
from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import wave
from pathlib import Path

import pytest

from telephony.media import save_wav, tone

from .helpers import dominant_freq, free_sip_port, free_tcp_port, rms, wait_until

BARESIP = shutil.which("baresip")
MODULES = Path("/usr/lib/baresip/modules")
pytestmark = [pytest.mark.sip, pytest.mark.skipif(
    BARESIP is None or not (MODULES / "aufile.so").exists(),
    reason="baresip (with its aufile/ctrl_tcp modules) not installed (apt-get install baresip)")]


class Baresip:
    def __init__(self, workdir: Path, voice_wav: Path, user: str = "citizen", sip: int | None = None,
                 account_params: str = "", extra: str = ""):
        workdir.mkdir(parents=True, exist_ok=True)
        self.dir = workdir
        self.ctrl = free_tcp_port()  # ctrl_tcp listens on TCP (a port free on UDP may not be)
        self.sip = sip = sip or free_sip_port()
        (workdir / "config").write_text(f"""poll_method epoll
sip_listen 127.0.0.1:{sip}
audio_player aufile,{workdir / 'heard.wav'}
audio_source aufile,{voice_wav}
audio_alert aufile,{voice_wav}
ausrc_srate 8000
auplay_srate 8000
ausrc_channels 1
auplay_channels 1
module_path {MODULES}
module g711.so
module aufile.so
module_app account.so
module_app menu.so
module_app ctrl_tcp.so
ctrl_tcp_listen 127.0.0.1:{self.ctrl}
{extra}""")
        (workdir / "accounts").write_text(
            f"<sip:{user}@127.0.0.1:{sip}>;regint=0;audio_codecs=PCMA{account_params}\n")
        self.log = open(workdir / "baresip.log", "w")
        self.proc = subprocess.Popen([BARESIP, "-f", str(workdir)], stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        assert wait_until(self._ctrl_up, 10), self.output()

    def _ctrl_up(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.ctrl), 0.2).close()
            return True
        except OSError:
            return False

    def command(self, cmd: str, params: str = "") -> dict:
        data = json.dumps({"command": cmd, "params": params, "token": "t"}).encode()
        with socket.create_connection(("127.0.0.1", self.ctrl), 2) as s:
            s.sendall(str(len(data)).encode() + b":" + data + b",")
            s.settimeout(3)
            buf = b""
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:
                while b":" in buf:  # netstrings: <len>:<json>,
                    n, rest = buf.split(b":", 1)
                    if len(rest) < int(n) + 1:
                        break
                    msg, buf = json.loads(rest[: int(n)]), rest[int(n) + 1:]
                    if msg.get("response"):
                        return msg
                chunk = s.recv(4096)
                if not chunk:
                    break
                buf += chunk
        raise AssertionError(f"no response from baresip to {cmd}")

    def output(self) -> str:
        self.log.flush()
        return (self.dir / "baresip.log").read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self.command("quit")
                self.proc.wait(3)
            except Exception:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@pytest.fixture
def baresip(tmp_path):
    voice = tmp_path / "voice.wav"
    save_wav(voice, tone(800, 20, 6000))
    phone = Baresip(tmp_path, voice)
    yield phone
    phone.stop()


def test_baresip_calls_sends_digits_and_leaves_a_message(bridge, baresip):
    b, ports = bridge(flow="menu")
    assert baresip.command("dial", f"sip:12345@127.0.0.1:{b.port}")["ok"]
    rec = ports.calls.wait_for(lambda r: True, 5)
    assert rec is not None, baresip.output()
    time.sleep(1.5)  # 0.6 s greeting + menu
    assert baresip.command("sndcode", "3")["ok"]
    assert wait_until(lambda: ports.calls.records[rec["id"]].get("ended_at") is None
                      and b.media.session_count == 1, 3)
    time.sleep(3.5)  # beep, then ~3 s of baresip's 800 Hz "voice"
    baresip.command("sndcode", "#")
    rec = ports.calls.wait_for(lambda r: r["ended_at"] is not None, 8)
    assert rec is not None and rec["outcome"] == "voicemail", baresip.output()
    assert rec["caller"] == "citizen"
    with wave.open(ports.tickets.voicemails[0]["wav_path"]) as w:
        pcm = w.readframes(w.getnframes())
    assert len(pcm) / 16000 > 2.0
    middle = pcm[8000:24000]
    assert rms(middle) > 1000 and abs(dominant_freq(middle) - 800) < 40, "recording lacks the tone"


def test_demo_citizen_reaches_an_operator_through_the_core(hl, bridge, tmp_path):
    """The issue's "done when": a citizen calls from baresip, hears the greeting, waits, is
    connected to an operator (another baresip, auto-answer) whose console popped; the two hear
    each other (800 Hz one way, 1200 Hz the other) and the call record shows it."""
    from hotline.calls import Call
    from hotline.events import CallAssigned
    from hotline.users import Actor

    from telephony.bridge import start_bridge
    from telephony.hotline_adapter import hotline_ports

    op_voice, citizen_voice = tmp_path / "op.wav", tmp_path / "citizen.wav"
    save_wav(op_voice, tone(1200, 30, 6000))
    save_wav(citizen_voice, tone(800, 30, 6000))
    dumps = tmp_path / "op-heard"
    dumps.mkdir()
    op_phone = Baresip(tmp_path / "op", op_voice, user="8001", account_params=";answermode=auto",
                       extra=f"module sndfile.so\nsnd_path {dumps}\n")
    citizen_dumps = tmp_path / "citizen-heard"
    citizen_dumps.mkdir()
    citizen = Baresip(tmp_path / "citizen", citizen_voice,
                      extra=f"module sndfile.so\nsnd_path {citizen_dumps}\n")
    sysa = Actor.system()
    op = hl.directory.create_user(sysa, username="op1", password="password123", display_name="话务员",
                                  role="operator", sip_uri=f"sip:8001@127.0.0.1:{op_phone.sip}")
    hl.calls.set_state(sysa, op.id, "available")
    pops = []
    hl.bus.subscribe(CallAssigned, pops.append)
    b0, _ = bridge()
    cfg = b0.cfg
    b0.stop()
    cfg.listen_port = 0
    b = start_bridge(cfg, hotline_ports(hl))
    try:
        assert citizen.command("dial", f"sip:12345@127.0.0.1:{b.port}")["ok"]

        def answered():
            with hl.uow(readonly=True) as uow:
                c = uow.session.query(Call).first()
                return c if c is not None and c.answered_at is not None else None
        call = wait_until(answered, 10)
        assert call is not None, citizen.output() + op_phone.output()
        assert call.operator_id == op.id and [p.operator_id for p in pops] == [op.id]
        time.sleep(2.5)  # talk
        citizen.command("hangup")

        def ended():
            with hl.uow(readonly=True) as uow:
                c = uow.session.get(Call, call.id)
                return c if c.ended_at is not None else None
        call = wait_until(ended, 8)
        assert call is not None and call.outcome == "answered"
    finally:
        b.stop()
        citizen.stop()
        op_phone.stop()
    for where, freq in ((dumps, 800), (citizen_dumps, 1200)):
        heard = list(where.glob("*dec*.wav"))
        assert heard, f"no sndfile dump in {list(where.iterdir())}"
        with wave.open(str(heard[0])) as w:
            assert w.getframerate() == 8000
            pcm = w.readframes(w.getnframes())
        chunks = [pcm[i:i + 3200] for i in range(0, len(pcm) - 3200, 3200)]
        assert any(rms(c) > 1000 and abs(dominant_freq(c) - freq) < 40 for c in chunks), \
            f"{where.name}: the {freq} Hz voice did not come through"
