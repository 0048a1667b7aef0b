"""``run.py`` plug-in: the all-in-one process (``python run.py``) starts the scheduler service in
background threads. It only *acts* while it holds the lease, so starting it in several processes
is safe: one leads, the others stand by."""
from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


def start(hl: Any, args: Any = None) -> Any:
    from scheduler.config import SchedulerConfig
    from scheduler.service import SchedulerService

    svc = SchedulerService(hl, SchedulerConfig.from_env()).start()
    log.info("scheduler service started (%s); it acts while it holds the lease", svc.lease.holder)
    return svc
