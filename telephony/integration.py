"""``run.py`` plug-in: the all-in-one process (``python run.py``) starts a SIP bridge on the core.

Set ``HOTLINE_SIP=off`` to run without it. A bind error (the port taken) is raised, and ``run.py``
logs it and goes on without telephony.
"""
from __future__ import annotations

import logging
import os
from typing import Any

log = logging.getLogger(__name__)


def start(hl: Any, args: Any = None) -> Any:
    if os.environ.get("HOTLINE_SIP", "on").strip().lower() in ("0", "off", "false", "no"):
        log.info("HOTLINE_SIP=off: no SIP bridge in this process")
        return None
    from .bridge import start_bridge
    from .config import SipConfig
    from .hotline_adapter import hotline_ports

    cfg = SipConfig.from_env()
    data_dir = getattr(getattr(hl, "settings", None), "data_dir", None)
    if data_dir and not os.environ.get("HOTLINE_SIP_VOICEMAIL_DIR"):
        from pathlib import Path
        cfg.voicemail_dir = Path(data_dir) / "voicemail"
    handle = start_bridge(cfg, hotline_ports(hl))
    print(f"  SIP 桥接已启动：{cfg.listen_host}:{handle.port}（{cfg.mode} 模式，{cfg.flow} 流程）", flush=True)
    print("  " + cfg.baresip_hint(), flush=True)
    return handle
