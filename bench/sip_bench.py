#!/usr/bin/env python3
"""SIP bridge benchmark with SIPp: concurrent calls, call rate, RTP timing.

    python bench/sip_bench.py                      # 100 concurrent calls at 20 calls/s
    python bench/sip_bench.py --calls 200 --rate 20 --hold 15
    python bench/sip_bench.py --transport both     # UDP, then the same load over TCP; ratio TCP/UDP

What runs (all on 127.0.0.1, three processes on this machine):
* the bridge: ``python -m telephony`` (queue flow, no operators: every caller hears the greeting
  and then hold music, so the bridge streams RTP to every call for the whole hold time);
* SIPp places ``--calls`` calls at ``--rate`` calls/s, each held ``--hold`` s
  (``tests/telephony/scenarios/uac_call.xml``); setup time = INVITE -> 200 OK (``-trace_rtt``);
  over UDP, or over TCP (``--transport tcp``: one connection per call, SIPp ``-t tn``); ``both``
  runs UDP first as this machine's reference and states the TCP/UDP ratios;
* this script's RTP sink: every call's SDP points at one UDP socket here. Arrival times are the
  kernel's receive timestamps (SO_TIMESTAMPNS), so the sink's own scheduling does not blur the
  figures. Each packet is echoed back to the bridge (so the bridge also receives and decodes
  50 packets/s per call, as in a real call).

Reported: calls ok/failed, setup time p50/p99, RTP inter-arrival p50/p99/max per stream, and how far
streams fell behind real time (packets received vs. expected for the stream's lifetime).
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "tests" / "telephony" / "scenarios" / "uac_call.xml"
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sink(threading.Thread):
    def __init__(self, echo: bool = True):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.5)
        self.port = self.sock.getsockname()[1]
        self.echo = echo
        self.arrivals: dict[int, list[float]] = defaultdict(list)  # ssrc -> kernel timestamps
        self.running = True

    def run(self) -> None:
        while self.running:
            try:
                data, anc, _flags, addr = self.sock.recvmsg(2048, 64)
            except (socket.timeout, OSError):
                continue
            ts = None
            for level, kind, blob in anc:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                    sec, nsec = struct.unpack("qq", blob[:16])
                    ts = sec + nsec / 1e9
            if ts is None:
                ts = time.time()
            if len(data) >= 12:
                self.arrivals[struct.unpack("!I", data[8:12])[0]].append(ts)
                if self.echo:
                    try:
                        self.sock.sendto(data, addr)
                    except OSError:
                        pass


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=100, help="calls in total (default 100)")
    ap.add_argument("--rate", type=float, default=20, help="new calls per second (default 20)")
    ap.add_argument("--hold", type=float, default=15, help="seconds each call lasts (default 15)")
    ap.add_argument("--limit", type=int, default=0, help="max concurrent calls (default: calls)")
    ap.add_argument("--no-echo", action="store_true", help="don't send RTP back to the bridge")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    ap.add_argument("--diag", action="store_true", help="bridge logs GC pauses and late RTP ticks")
    ap.add_argument("--realtime", action="store_true",
                    help="HOTLINE_RTP_REALTIME=1: the bridge's RTP thread runs SCHED_RR")
    ap.add_argument("--core", metavar="DATABASE_URL",
                    help="log calls through the hotline core on this database (default: in-memory ports)")
    ap.add_argument("--transport", choices=("udp", "tcp", "both"), default="udp",
                    help="SIP over UDP (default), TCP, or both (UDP as the reference, then TCP)")
    args = ap.parse_args()
    if args.transport != "both":
        res = run(args, args.transport)
        return 0 if res["good"] else 1
    udp = run(args, "udp")
    tcp = run(args, "tcp")
    ratios = {k: round(tcp[k] / udp[k], 2) if udp[k] else None
              for k in ("setup_ms_p99", "rtp_interarrival_ms_p99", "bridge_cpu_pct")}
    print(json.dumps({"reference": "the same load over UDP in this run", "tcp_over_udp": ratios}, indent=2))
    return 0 if udp["good"] and tcp["good"] else 1


def run(args, transport: str) -> dict:

    sink = Sink(echo=not args.no_echo)
    sink.start()
    sip_port = free_port()
    work = Path(tempfile.mkdtemp(prefix="sip-bench-"))
    env = dict(os.environ, HOTLINE_SIP_LISTEN=f"127.0.0.1:{sip_port}",
               HOTLINE_SIP_JOURNAL=str(work / "calls.jsonl"), HOTLINE_SIP_RING_SECONDS="0",
               HOTLINE_SIP_BRIDGE_ID="bench", HOTLINE_SIP_MAX_CALLS="1000",
               # the bench is one source: keep the per-source call cap out of the figures
               HOTLINE_SIP_MAX_CALLS_PER_SECOND=str(max(100.0, 4 * args.rate)),
               HOTLINE_SIP_TCP_MAX_CONNECTIONS="2000", HOTLINE_SIP_TCP_MAX_PER_SOURCE="2000",
               HOTLINE_LOG_LEVEL="WARNING", PYTHONPATH=str(ROOT))
    if args.diag:
        env["HOTLINE_SIP_DIAG"] = "1"
    if args.realtime:
        env["HOTLINE_RTP_REALTIME"] = "1"
    if args.core:
        env.update(HOTLINE_SIP_CORE="1", DATABASE_URL=args.core, HOTLINE_DEMO="0")
    bridge = subprocess.Popen([sys.executable, "-m", "telephony"], env=env, cwd=work,
                              stdout=open(work / "bridge.log", "w"), stderr=subprocess.STDOUT)
    try:
        for _ in range(600):
            if "ready" in (work / "bridge.log").read_text():
                break
            time.sleep(0.1)
        else:
            print((work / "bridge.log").read_text())
            raise SystemExit(2)
        cpu0, t0 = cpu_seconds(bridge.pid), time.monotonic()
        limit = args.limit or args.calls
        tcp = ["-t", "tn"] if transport == "tcp" else []
        cmd = ["sipp", "-sf", str(SCENARIO), "-i", "127.0.0.1", "-p", str(free_port()), *tcp,
               "-m", str(args.calls), "-r", str(args.rate), "-l", str(limit),
               "-d", str(int(args.hold * 1000)), "-key", "codecs", "0 8 101",
               "-key", "rtp_port", str(sink.port), "-nostdin", "-trace_rtt", "-rtt_freq", "1",
               "-trace_stat", "-fd", "1", "-timeout", f"{int(args.calls / args.rate + args.hold + 60)}s",
               "-max_socket", "2000", f"127.0.0.1:{sip_port}"]
        sipp = subprocess.run(cmd, cwd=work, capture_output=True, text=True)
        elapsed = time.monotonic() - t0
        cpu = cpu_seconds(bridge.pid) - cpu0
    finally:
        bridge.terminate()
        try:
            bridge.wait(10)
        except subprocess.TimeoutExpired:
            bridge.kill()
        time.sleep(0.5)
        sink.running = False

    # SIPp figures
    stat_files = sorted(work.glob("uac_call_*_.csv")) or sorted(work.glob("uac_call_*.csv"))
    ok = failed = None
    for f in stat_files:
        if f.name.endswith("_rtt.csv"):
            continue
        rows = list(csv.reader(open(f), delimiter=";"))
        if len(rows) >= 2:
            head, last = rows[0], rows[-1]
            ok = int(last[head.index("SuccessfulCall(C)")])
            failed = int(last[head.index("FailedCall(C)")])
    setup = []
    for f in work.glob("uac_call_*_rtt.csv"):
        for row in csv.reader(open(f), delimiter=";"):
            if row and row[0][:1].isdigit():
                try:
                    setup.append(float(row[1]))
                except (IndexError, ValueError):
                    pass

    # RTP figures
    gaps, behind = [], []
    for times in sink.arrivals.values():
        times.sort()
        if len(times) < 50:
            continue
        g = [(b - a) * 1000 for a, b in zip(times, times[1:])]
        gaps.extend(g)
        expected = (times[-1] - times[0]) / 0.020 + 1
        behind.append(max(0.0, 1 - len(times) / expected) * 100)
    res = {
        "transport": transport, "calls": args.calls, "rate_cps": args.rate, "hold_s": args.hold,
        "concurrent_max": min(limit, args.calls),
        "sipp_exit": sipp.returncode, "calls_ok": ok, "calls_failed": failed,
        "setup_ms_p50": round(pct(setup, 50), 1), "setup_ms_p99": round(pct(setup, 99), 1),
        "rtp_streams": len(behind), "rtp_packets": sum(len(t) for t in sink.arrivals.values()),
        "rtp_interarrival_ms_p50": round(pct(gaps, 50), 2),
        "rtp_interarrival_ms_p99": round(pct(gaps, 99), 2),
        "rtp_interarrival_ms_max": round(max(gaps), 2) if gaps else None,
        "rtp_behind_pct_mean": round(statistics.mean(behind), 2) if behind else None,
        "rtp_behind_pct_max": round(max(behind), 2) if behind else None,
        "bridge_cpu_pct": round(100 * cpu / elapsed, 1),
        "echo": not args.no_echo,
        "rtp_realtime": env.get("HOTLINE_RTP_REALTIME") == "1",
        "call_log": "hotline core " + args.core.split(":")[0] if args.core else "memory journal",
    }
    if args.core:  # every call must have a closed record
        from sqlalchemy import create_engine, text
        eng = create_engine(args.core)
        with eng.connect() as c:
            res["core_records"] = c.execute(text("SELECT count(*) FROM calls")).scalar()
            res["core_records_closed"] = c.execute(
                text("SELECT count(*) FROM calls WHERE ended_at IS NOT NULL")).scalar()
        eng.dispose()
    print(json.dumps(res, indent=2))
    if args.diag:
        print((work / "bridge.log").read_text()[-3000:])
    if args.json:
        path = (args.json if args.transport != "both"
                else args.json.with_name(f"{args.json.stem}-{transport}{args.json.suffix}"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(res, indent=2))
    if sipp.returncode != 0:
        print(sipp.stdout[-1500:], sipp.stderr[-1500:], file=sys.stderr)
    res["good"] = (sipp.returncode == 0 and failed == 0 and ok == args.calls
                   and res["rtp_interarrival_ms_p99"] < 30)
    return res


if __name__ == "__main__":
    sys.exit(main())
