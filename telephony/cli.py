"""``run.py`` subcommand ``sip``: a SIP bridge process on its own (scale-out behind Kamailio).

    HOTLINE_SIP_LISTEN=127.0.0.1:5071 HOTLINE_SIP_PEER=127.0.0.1:5060 HOTLINE_SIP_BRIDGE_ID=sip-a \
        python run.py sip
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any


def add_cli(sub: Any) -> None:
    s = sub.add_parser("sip", help="the SIP bridge alone (calls in, queue, relays, calls out)")
    s.set_defaults(handler=cmd_sip)


def _hotline():  # noqa: ANN202
    from hotline import demo as demo_mod
    from hotline.app import Hotline
    from hotline.config import Settings
    from hotline.schema import upgrade

    settings = Settings.from_env()
    upgrade(settings.database_url)
    hl = Hotline(settings)
    if settings.demo and not demo_mod.is_loaded(hl):
        print("数据库为空：正在生成演示城市……", file=sys.stderr, flush=True)
        demo_mod.load(settings, hl.now(), progress=lambda m: print("  " + m, file=sys.stderr, flush=True))
    return hl


def _attach_live_push(hl: Any) -> None:
    """In a process of its own, screen-pops reach the browsers through the Socket.IO queue."""
    import logging

    if not getattr(hl.settings, "message_queue", None):
        logging.getLogger(__name__).info("no HOTLINE_MESSAGE_QUEUE: screen-pops stay in this process")
        return
    try:
        from web.live import attach_emitter

        attach_emitter(hl, hl.settings.message_queue)
    except Exception:  # noqa: BLE001 - calls still work without live push
        logging.getLogger(__name__).exception("live push forwarding not attached")


def cmd_sip(args: argparse.Namespace) -> int:
    from .bridge import start_bridge
    from .config import SipConfig
    from .hotline_adapter import hotline_ports

    hl = _hotline()
    _attach_live_push(hl)
    cfg = SipConfig.from_env()
    if hl.settings.data_dir and not os.environ.get("HOTLINE_SIP_VOICEMAIL_DIR"):
        cfg.voicemail_dir = Path(hl.settings.data_dir) / "voicemail"
    handle = start_bridge(cfg, hotline_ports(hl))
    print(f"SIP 桥接 {cfg.bridge_id} 已启动：{cfg.listen_host}:{handle.port}", file=sys.stderr, flush=True)
    print(cfg.baresip_hint(), file=sys.stderr, flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    try:
        while not done.wait(1.0):
            pass
    finally:
        handle.stop()
        hl.dispose()
    return 0
