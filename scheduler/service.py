"""The scheduler process: a lease elects one leader per deployment; the leader runs APScheduler
with its jobs stored in the application database (table ``apscheduler_jobs``).

Life of a ``SchedulerService``:

- a heartbeat thread tries to acquire the lease every ``heartbeat_s``; a follower waits;
- on winning it *promotes*: starts APScheduler (``SQLAlchemyJobStore`` on the hotline's engine),
  adds each of the jobs below only if the store does not already have it (so a restart keeps its
  next run time: a job due while every scheduler was down runs once on start — coalesced, within its
  misfire grace time), and runs the catch-up (missing daily snapshots);
- while leading it renews the lease every heartbeat; if a renewal fails (the database was away
  longer than the TTL and somebody else took over) it *demotes*: shuts APScheduler down at once;
- ``stop()`` shuts down and releases the lease, so a follower takes over within one heartbeat;
  a leader that dies without ``stop()`` is replaced after ``lease_ttl_s``.

Every job calls :func:`run_job`, which checks this process still holds the lease before it acts,
and every task is idempotent against the database (conditional updates, unique keys), so even a
job that fires twice around a takeover or a restart has its effect once.

Jobs (ids in the job store): ``deadline_watch`` (every ``deadline_scan_s``), ``callbacks`` (every
``callback_scan_s``), ``daily_snapshot`` (cron ``snapshot_at``, default 00:10: snapshot of the day
before, plus any of the last ``snapshot_catch_up_days`` days missing), ``retrain`` (cron
``retrain_at``, default 02:30).
"""
from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any, Callable

from scheduler.callbacks import CallbackDialer
from scheduler.config import SchedulerConfig
from scheduler.deadlines import DeadlineWatch
from scheduler.lease import Lease

if TYPE_CHECKING:
    from hotline.app import Hotline

log = logging.getLogger(__name__)

# The running service of this process, found by the job function (APScheduler stores a textual
# reference to ``run_job`` and the job's name, never the service object).
_ACTIVE: dict[str, "SchedulerService"] = {}
_ACTIVE_LOCK = threading.Lock()


def run_job(name: str, service_key: str = "default") -> Any:
    with _ACTIVE_LOCK:
        svc = _ACTIVE.get(service_key)
    if svc is None:
        log.warning("job %s fired with no scheduler service running here", name)
        return None
    return svc.run_task(name, guarded=True)


class Tasks:
    """What the jobs do, callable directly (tests, ``run.py scheduler --once``)."""

    def __init__(self, hl: "Hotline", cfg: SchedulerConfig) -> None:
        self.hl = hl
        self.cfg = cfg
        self.deadlines = DeadlineWatch(hl, cfg)
        self.callbacks = CallbackDialer(hl, cfg)

    def deadline_watch(self) -> Any:
        return self.deadlines.run()

    def callbacks_scan(self) -> Any:
        return self.callbacks.run()

    def daily_snapshot(self) -> Any:
        from scheduler import rates

        return [d.isoformat() for d in rates.snapshot_missing(self.hl, self.cfg.snapshot_catch_up_days)]

    def retrain(self) -> Any:
        from scheduler.retrain import retrain

        return retrain(self.hl) if self.cfg.retrain_enabled else None

    def by_name(self, name: str) -> Callable[[], Any]:
        return {"deadline_watch": self.deadline_watch, "callbacks": self.callbacks_scan,
                "daily_snapshot": self.daily_snapshot, "retrain": self.retrain}[name]  # fmt: skip

    def run_all(self) -> dict[str, Any]:
        return {n: self.by_name(n)() for n in ("callbacks", "deadline_watch", "daily_snapshot")}


class SchedulerService:
    def __init__(
        self, hl: "Hotline", cfg: SchedulerConfig | None = None, *, lease: Lease | None = None,
        service_key: str = "default", start_apscheduler: bool = True,
    ) -> None:  # fmt: skip
        self.hl = hl
        self.cfg = cfg or SchedulerConfig.from_env()
        self.lease = lease or Lease(hl.engine, self.cfg.lease_name, self.cfg.lease_ttl_s)
        self.tasks = Tasks(hl, self.cfg)
        self.service_key = service_key
        self.start_apscheduler = start_apscheduler
        self.aps: Any = None
        self.leading = False
        self.runs: list[str] = []  # names of tasks this service ran (for tests and the status line)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._task_lock = threading.Lock()

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "SchedulerService":
        with _ACTIVE_LOCK:
            _ACTIVE[self.service_key] = self
        self._thread = threading.Thread(target=self._loop, name="scheduler-lease", daemon=True)
        self._thread.start()
        return self

    def stop(self, release: bool = True) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._demote()
        if release:
            try:
                self.lease.release()
            except Exception:  # noqa: BLE001 - the database may be gone at shutdown
                log.exception("releasing the scheduler lease failed")
        with _ACTIVE_LOCK:
            if _ACTIVE.get(self.service_key) is self:
                del _ACTIVE[self.service_key]

    def kill(self) -> None:
        """Stop as if the process died: no release, the lease runs out by itself (tests)."""
        self.stop(release=False)

    def heartbeat(self) -> bool:
        """One step of the lease loop. Returns whether this process leads afterwards."""
        try:
            if self.leading:
                if not self.lease.renew():
                    log.warning("scheduler lease lost to another process: stepping down")
                    self._demote()
            elif self.lease.acquire():
                log.info("scheduler lease acquired by %s (epoch %s)", self.lease.holder, self.lease.epoch)
                self._promote()
        except Exception:  # the database is away: a leader stops acting once its lease runs out
            log.exception("scheduler heartbeat failed")
            if self.leading and not self.lease.held:
                self._demote()
        return self.leading

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.heartbeat()
            self._stop.wait(self.cfg.heartbeat_s)

    def _promote(self) -> None:
        self.leading = True
        if self.start_apscheduler:
            self.aps = self._build_apscheduler()
            self.aps.start()
            self._ensure_jobs()
        try:  # catch up what was missed while no scheduler ran
            self.run_task("daily_snapshot", guarded=True)
        except Exception:  # noqa: BLE001
            log.exception("snapshot catch-up failed")

    def _demote(self) -> None:
        was = self.leading
        self.leading = False
        if self.aps is not None:
            try:
                self.aps.shutdown(wait=False)
            except Exception:  # noqa: BLE001
                log.exception("APScheduler shutdown failed")
            self.aps = None
        if was:
            log.info("scheduler %s stepped down", self.lease.holder)

    # ------------------------------------------------------------------ APScheduler
    def _build_apscheduler(self) -> Any:
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
        from apscheduler.schedulers.background import BackgroundScheduler

        # A line per run of a 30-second scan would drown the log; the tasks log what they did.
        logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)

        return BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=self.hl.engine, tablename="apscheduler_jobs")},
            executors={"default": ThreadPoolExecutor(4)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
            timezone=self.hl.settings.timezone,
        )

    def job_specs(self) -> list[dict[str, Any]]:
        from apscheduler.triggers.cron import CronTrigger
        from apscheduler.triggers.interval import IntervalTrigger

        tz = self.hl.settings.timezone
        sh, sm = self.cfg.hm(self.cfg.snapshot_at)
        rh, rm = self.cfg.hm(self.cfg.retrain_at)
        return [
            {"id": "deadline_watch", "trigger": IntervalTrigger(seconds=self.cfg.deadline_scan_s, timezone=tz)},
            {"id": "callbacks", "trigger": IntervalTrigger(seconds=self.cfg.callback_scan_s, timezone=tz)},
            {"id": "daily_snapshot", "trigger": CronTrigger(hour=sh, minute=sm, timezone=tz), "misfire_grace_time": 6 * 3600},
            {"id": "retrain", "trigger": CronTrigger(hour=rh, minute=rm, timezone=tz), "misfire_grace_time": 3 * 3600},
        ]

    def _ensure_jobs(self) -> None:
        """Add the jobs the store lacks; keep the stored ones (and their next run times) unless
        their trigger changed in the configuration."""
        for spec in self.job_specs():
            job = self.aps.get_job(spec["id"])
            kw = {k: v for k, v in spec.items() if k not in ("id", "trigger")}
            if job is None:
                self.aps.add_job("scheduler.service:run_job", spec["trigger"], id=spec["id"], name=spec["id"],
                                 args=[spec["id"], self.service_key], replace_existing=True, **kw)  # fmt: skip
            elif str(job.trigger) != str(spec["trigger"]) or list(job.args) != [spec["id"], self.service_key]:
                self.aps.modify_job(spec["id"], args=[spec["id"], self.service_key], **kw)
                self.aps.reschedule_job(spec["id"], trigger=spec["trigger"])

    # ------------------------------------------------------------------ running a task
    def run_task(self, name: str, guarded: bool = True) -> Any:
        if guarded and not (self.leading and self.lease.held):
            log.info("task %s skipped: this process does not hold the scheduler lease", name)
            return None
        with self._task_lock if name != "retrain" else _NullLock():
            result = self.tasks.by_name(name)()
        self.runs.append(name)
        if result and (not isinstance(result, dict) or any(result.values())):
            log.info("task %s: %s", name, result)
        return result

    def status(self) -> dict[str, Any]:
        jobs = []
        if self.aps is not None:
            jobs = [{"id": j.id, "next_run_time": j.next_run_time.isoformat() if j.next_run_time else None}
                    for j in self.aps.get_jobs()]  # fmt: skip
        return {"holder": self.lease.holder, "leading": self.leading, "epoch": self.lease.epoch, "jobs": jobs}


class _NullLock:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *a: Any) -> None:
        return None
