"""``run.py`` subcommand ``sip``: a SIP bridge process on its own (scale-out behind Kamailio).

    HOTLINE_SIP_LISTEN=127.0.0.1:5071 HOTLINE_SIP_PEER=127.0.0.1:5060 HOTLINE_SIP_BRIDGE_ID=sip-a \
        python run.py sip
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from hotline.bootstrap import ready_hotline, run_until_signalled


def add_cli(sub: Any) -> None:
    s = sub.add_parser("sip", help="the SIP bridge alone (calls in, queue, relays, calls out)")
    s.set_defaults(handler=cmd_sip)


def cmd_sip(args: argparse.Namespace) -> int:
    from .bridge import start_bridge
    from .config import SipConfig
    from .hotline_adapter import hotline_ports

    hl = ready_hotline()
    from web.live import attach_from_settings

    attach_from_settings(hl)
    cfg = SipConfig.from_env()
    if hl.settings.data_dir and not os.environ.get("HOTLINE_SIP_VOICEMAIL_DIR"):
        cfg.voicemail_dir = Path(hl.settings.data_dir) / "voicemail"
    handle = start_bridge(cfg, hotline_ports(hl))
    print(f"SIP 桥接 {cfg.bridge_id} 已启动：{cfg.listen_host}:{handle.port}", file=sys.stderr, flush=True)
    print(cfg.baresip_hint(), file=sys.stderr, flush=True)
    try:
        run_until_signalled()
    finally:
        handle.stop()
        hl.dispose()
    return 0
