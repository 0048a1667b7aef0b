"""Run a stand-alone bridge with the in-memory ports: ``python -m telephony``.

For demos and the SIGKILL test; the real system starts the bridge from ``run.py`` with the core's
adapter (:mod:`telephony.hotline_adapter`). Extra environment besides :class:`SipConfig`'s:

* ``HOTLINE_SIP_JOURNAL`` – JSON-lines call journal (kept across restarts), default var/sip-calls.jsonl
* ``HOTLINE_SIP_OPERATORS`` – ``1=sip:op1@127.0.0.1:5071,2=sip:op2@127.0.0.1:5072``
* ``HOTLINE_SIP_EXPERTS`` – ``legal=sip:law@127.0.0.1:5081,...``
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
    ops = {int(k): v for k, v in _pairs(os.environ.get("HOTLINE_SIP_OPERATORS", "")).items()}
    ports = memory_ports(ops, os.environ.get("HOTLINE_SIP_JOURNAL", "var/sip-calls.jsonl"),
                         experts=_pairs(os.environ.get("HOTLINE_SIP_EXPERTS", "")))
    bridge = start_bridge(cfg, ports)
    print(f"bridge {cfg.bridge_id} ready on {cfg.listen_host}:{bridge.port}", flush=True)
    print(cfg.baresip_hint(), flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    done.wait()
    bridge.stop()


if __name__ == "__main__":
    main()
