"""The scheduler's settings, from the environment (the core's ``Settings`` holds the shared ones:
``DATABASE_URL``, ``HOTLINE_TZ``, ``HOTLINE_CALLBACK_HOURS``)."""
from __future__ import annotations

import dataclasses
import os


def _int(env: dict[str, str], key: str, default: int) -> int:
    return int(env[key]) if env.get(key) else default


def _float(env: dict[str, str], key: str, default: float) -> float:
    return float(env[key]) if env.get(key) else default


@dataclasses.dataclass
class SchedulerConfig:
    # The lease: renewed every ``heartbeat_s``; a holder silent for ``lease_ttl_s`` loses it.
    lease_name: str = "scheduler"
    lease_ttl_s: float = 30.0
    heartbeat_s: float = 5.0
    # Periodic scans.
    deadline_scan_s: int = 60
    callback_scan_s: int = 30
    # Escalate an overdue ticket to the supervisors after this many working days overdue.
    escalate_after_workdays: int = 2
    # Satisfaction callbacks: automatic tries per callback (then the operators' manual list), the
    # shortest gap between two tries, and whether to call on non-working days.
    callback_max_attempts: int = 3
    callback_min_gap_minutes: int = 30
    callback_batch: int = 200
    callback_on_workdays_only: bool = True
    # No new call within this many minutes of the end of calling hours; jobs no bridge took by
    # then are withdrawn (a citizen is never called at night).
    callback_end_margin_minutes: int = 5
    # Daily jobs (local time of HOTLINE_TZ).
    snapshot_at: str = "00:10"
    snapshot_catch_up_days: int = 7
    retrain_at: str = "02:30"
    retrain_enabled: bool = True

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "SchedulerConfig":
        env = dict(os.environ if env is None else env)
        c = cls()
        c.lease_ttl_s = _float(env, "HOTLINE_SCHEDULER_LEASE_TTL", c.lease_ttl_s)
        c.heartbeat_s = _float(env, "HOTLINE_SCHEDULER_HEARTBEAT", min(c.heartbeat_s, c.lease_ttl_s / 3))
        c.deadline_scan_s = _int(env, "HOTLINE_DEADLINE_SCAN_SECONDS", c.deadline_scan_s)
        c.callback_scan_s = _int(env, "HOTLINE_CALLBACK_SCAN_SECONDS", c.callback_scan_s)
        c.escalate_after_workdays = _int(env, "HOTLINE_ESCALATE_AFTER_WORKDAYS", c.escalate_after_workdays)
        c.callback_max_attempts = _int(env, "HOTLINE_CALLBACK_MAX_ATTEMPTS", c.callback_max_attempts)
        c.callback_min_gap_minutes = _int(env, "HOTLINE_CALLBACK_MIN_GAP_MINUTES", c.callback_min_gap_minutes)
        if env.get("HOTLINE_CALLBACK_ANY_DAY"):
            c.callback_on_workdays_only = env["HOTLINE_CALLBACK_ANY_DAY"] in ("0", "false", "no")
        c.snapshot_at = env.get("HOTLINE_SNAPSHOT_AT", c.snapshot_at)
        c.retrain_at = env.get("HOTLINE_RETRAIN_AT", c.retrain_at)
        c.retrain_enabled = env.get("HOTLINE_RETRAIN", "1") not in ("0", "false", "no")
        return c

    @staticmethod
    def hm(text: str) -> tuple[int, int]:
        h, m = text.split(":")
        return int(h), int(m)
