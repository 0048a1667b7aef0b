"""Two bridges behind Kamailio's dispatcher on loopback: OPTIONS probing, round robin, failover."""
from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from .helpers import free_udp_port, needs_sipp, wait_until

KAMAILIO = shutil.which("kamailio") or ("/usr/sbin/kamailio" if Path("/usr/sbin/kamailio").exists() else None)
CFG = Path(__file__).resolve().parents[2] / "telephony" / "kamailio" / "kamailio.cfg"
pytestmark = [pytest.mark.sip, needs_sipp,
              pytest.mark.skipif(KAMAILIO is None, reason="kamailio not installed (apt-get install kamailio)")]


@pytest.fixture
def kamailio(tmp_path):
    procs = []

    def start(bridge_ports: list[int]) -> int:
        port = free_udp_port()
        ds = tmp_path / "dispatcher.list"
        ds.write_text("".join(f"1 sip:127.0.0.1:{p} 0 0\n" for p in bridge_ports))
        log = open(tmp_path / "kamailio.log", "w")
        proc = subprocess.Popen(
            [KAMAILIO, "-f", str(CFG), "-A", f"LISTEN=udp:127.0.0.1:{port}", "-A", f'DSLIST="{ds}"',
             "-A", "PING_INTERVAL=1", "-DD", "-E", "-Y", str(tmp_path), "-w", str(tmp_path),
             "-m", "32", "-M", "8"], stdout=log, stderr=subprocess.STDOUT)
        procs.append(proc)
        time.sleep(0.5)
        assert proc.poll() is None, (tmp_path / "kamailio.log").read_text()
        return port

    yield start
    for p in procs:
        p.terminate()
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()


def test_dispatcher_probes_spreads_and_fails_over(bridge, sipp, kamailio):
    (a, pa), (b, pb) = bridge(), bridge()
    proxy = kamailio([a.port, b.port])
    assert wait_until(lambda: a.ua.stats["options"] > 0 and b.ua.stats["options"] > 0, 5), \
        "kamailio's dispatcher did not probe both bridges with OPTIONS"
    run = sipp("uac_call", proxy, keys={"codecs": "8 101", "rtp_port": 4000}, calls=4,
               extra=["-d", "300", "-r", "4", "-l", "4"])
    assert run.wait(30) == 0, run.errors()
    assert len(pa.calls.records) == 2 and len(pb.calls.records) == 2  # round robin
    assert all(r["outcome"] for r in list(pa.calls.records.values()) + list(pb.calls.records.values()))

    a.stop()  # bridge A dies; the next OPTIONS round marks it inactive
    time.sleep(2.5)
    run = sipp("uac_call", proxy, keys={"codecs": "8 101", "rtp_port": 4000}, calls=4,
               extra=["-d", "300", "-r", "4", "-l", "4"])
    assert run.wait(30) == 0, run.errors()
    assert len(pb.calls.records) == 6 and len(pa.calls.records) == 2

    # calling out through the proxy (trunk mode, peer = Kamailio): relayed, not dispatched back
    callee = sipp("uas_answer_dtmf")
    time.sleep(0.3)
    b.cfg.peer = ("127.0.0.1", proxy)
    result = b.survey_call(f"sip:13900001111@127.0.0.1:{callee.port}", ring_timeout=5, digit_timeout=3)
    assert (result.outcome, result.digits) == ("answered", "1")
    assert callee.wait(10) == 0, callee.errors()
