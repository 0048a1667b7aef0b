"""Run a stand-alone bridge with the in-memory ports: ``python -m telephony``.

For demos and the SIGKILL test; the real system starts the bridge from ``run.py`` with the core's
adapter (:mod:`telephony.hotline_adapter`). Extra environment besides :class:`SipConfig`'s:

* ``HOTLINE_SIP_JOURNAL`` – JSON-lines call journal (kept across restarts), default var/sip-calls.jsonl
* ``HOTLINE_SIP_OPERATORS`` – ``1=sip:op1@127.0.0.1:5071,2=sip:op2@127.0.0.1:5072``
* ``HOTLINE_SIP_EXPERTS`` – ``legal=sip:law@127.0.0.1:5081,...``
* ``HOTLINE_SIP_CORE=1`` – use the hotline core instead (``DATABASE_URL``; schema upgraded first);
  for the benchmark's ``--core`` runs. ``python run.py sip`` is the production way to do this.
"""
from __future__ import annotations

import logging
import os
import signal
import threading

from .bridge import start_bridge
from .config import SipConfig
from .memory import memory_ports


def _pairs(value: str) -> dict[str, str]:
    out = {}
    for part in filter(None, (p.strip() for p in value.split(","))):
        k, _, v = part.partition("=")
        out[k.strip()] = v.strip()
    return out


def main() -> None:
    logging.basicConfig(level=os.environ.get("HOTLINE_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cfg = SipConfig.from_env()
    hl = None
    if os.environ.get("HOTLINE_SIP_CORE"):
        from hotline.app import Hotline
        from hotline.config import Settings
        from hotline.schema import upgrade

        from .hotline_adapter import hotline_ports
        settings = Settings.from_env()
        upgrade(settings.database_url)
        hl = Hotline(settings)
        ports = hotline_ports(hl)
    else:
        ops = {int(k): v for k, v in _pairs(os.environ.get("HOTLINE_SIP_OPERATORS", "")).items()}
        ports = memory_ports(ops, os.environ.get("HOTLINE_SIP_JOURNAL", "var/sip-calls.jsonl"),
                             experts=_pairs(os.environ.get("HOTLINE_SIP_EXPERTS", "")))
    bridge = start_bridge(cfg, ports)
    print(f"bridge {cfg.bridge_id} ready on {cfg.listen_host}:{bridge.port}", flush=True)
    print(cfg.baresip_hint(), flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    if os.environ.get("HOTLINE_SIP_DIAG"):
        import gc
        import time
        starts: dict[str, float] = {}

        def gc_cb(phase: str, info: dict) -> None:
            if phase == "start":
                starts["t"] = time.perf_counter()
            else:
                ms = (time.perf_counter() - starts.get("t", time.perf_counter())) * 1000
                if ms > 5:
                    print(f"gc gen{info['generation']} {ms:.1f} ms at {time.time():.3f}", flush=True)
        gc.callbacks.append(gc_cb)
    done.wait()
    print(f"late RTP ticks (>10 ms): {bridge.media.late_ticks} {list(bridge.media.lateness)[-20:]}",
          flush=True)
    bridge.stop()
    if hl is not None:
        hl.dispose()


if __name__ == "__main__":
    main()
