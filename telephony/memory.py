"""Database-free implementations of :mod:`telephony.ports` for tests, the benchmark and demos.

:class:`MemoryCallLog` can journal to a JSON-lines file: every step of a call is appended and
flushed as it happens (a SIGKILL loses nothing the kernel already has), and a new instance
replays the journal, so ``close_interrupted`` after a restart finds the calls the dead process
left open.
"""
from __future__ import annotations

import dataclasses
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from .ports import OutboundJob, OutboundResult, Ports


def _now() -> float:
    return time.time()


class MemoryCallLog:
    def __init__(self, journal: str | os.PathLike | None = None):
        self.records: dict[int, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._next = 1
        self._journal_path = Path(journal) if journal else None
        self._fh = None
        if self._journal_path:
            if self._journal_path.exists():
                self._replay()
            self._journal_path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self._journal_path, "a", encoding="utf-8")

    # -- journal ------------------------------------------------------------------------------
    def _replay(self) -> None:
        with open(self._journal_path, encoding="utf-8") as fh:
            for line in fh:
                try:
                    ev = json.loads(line)
                except ValueError:
                    continue  # a line cut by the kill: everything before it is intact
                self._apply(ev)

    def _apply(self, ev: dict[str, Any]) -> None:
        cid = ev["id"]
        if ev["ev"] == "new":
            self.records[cid] = dict(ev["rec"])
            self._next = max(self._next, cid + 1)
        elif cid in self.records:
            self.records[cid].update(ev["set"])

    def _write(self, ev: dict[str, Any]) -> None:
        self._apply(ev)
        if self._fh:
            self._fh.write(json.dumps(ev, ensure_ascii=False) + "\n")
            self._fh.flush()  # in the kernel now: survives SIGKILL of this process

    def _set(self, call_id: int, **fields: Any) -> None:
        with self._lock:
            self._write({"ev": "set", "id": call_id, "set": fields})

    # -- CallLog ------------------------------------------------------------------------------
    def offered(self, caller: str, line: str, bridge_id: str, sip_call_id: str) -> int:
        with self._lock:
            cid = self._next
            self._next += 1
            self._write({"ev": "new", "id": cid, "rec": {
                "id": cid, "direction": "in", "caller": caller, "line": line,
                "bridge_id": bridge_id, "sip_call_id": sip_call_id, "offered_at": _now(),
                "queued_at": None, "answered_at": None, "ended_at": None, "outcome": None,
                "operator_id": None, "ticket_id": None, "wait_seconds": None, "rang": []}})
            return cid

    def outbound(self, number: str, purpose: str, bridge_id: str, sip_call_id: str,
                 operator_id: int | None = None, line: str = "12345") -> int:
        with self._lock:
            cid = self._next
            self._next += 1
            self._write({"ev": "new", "id": cid, "rec": {
                "id": cid, "direction": "out", "caller": number, "line": line,
                "purpose": purpose, "bridge_id": bridge_id, "sip_call_id": sip_call_id,
                "offered_at": _now(), "queued_at": None, "answered_at": None, "ended_at": None,
                "outcome": None, "operator_id": operator_id, "ticket_id": None,
                "wait_seconds": None, "rang": []}})
            return cid

    def queued(self, call_id: int) -> None:
        self._set(call_id, queued_at=_now())

    def ringing(self, call_id: int, operator_id: int) -> None:
        with self._lock:
            rang = list(self.records.get(call_id, {}).get("rang", [])) + [operator_id]
            self._write({"ev": "set", "id": call_id, "set": {"rang": rang}})

    def unassigned(self, call_id: int, operator_id: int) -> None:
        with self._lock:
            skipped = list(self.records.get(call_id, {}).get("skipped", [])) + [operator_id]
            self._write({"ev": "set", "id": call_id, "set": {"skipped": skipped}})

    def expert_joined(self, call_id: int, expert_id: int) -> None:
        self._set(call_id, expert_id=expert_id)

    def answered(self, call_id: int, operator_id: int) -> None:
        rec = self.records.get(call_id, {})
        now = _now()
        start = rec.get("queued_at") or rec.get("offered_at") or now
        self._set(call_id, answered_at=now, operator_id=operator_id,
                  wait_seconds=round(now - start, 3))

    def ended(self, call_id: int, outcome: str, ticket_id: int | None = None,
              recording_path: str | None = None) -> None:
        rec = self.records.get(call_id, {})
        if rec.get("ended_at") is not None:
            return  # idempotent, like the core
        now = _now()
        fields: dict[str, Any] = {"ended_at": now, "outcome": outcome}
        if ticket_id is not None:
            fields["ticket_id"] = ticket_id
        if recording_path is not None:
            fields["recording_path"] = recording_path
        if rec.get("wait_seconds") is None:  # never answered: waited until the end, like the core
            start = rec.get("queued_at") or rec.get("offered_at") or now
            fields["wait_seconds"] = round(now - start, 3)
        self._set(call_id, **fields)

    def close_interrupted(self, bridge_id: str) -> int:
        open_ids = [cid for cid, r in self.records.items()
                    if r["bridge_id"] == bridge_id and r["ended_at"] is None]
        for cid in open_ids:
            self.ended(cid, "interrupted")
        return len(open_ids)

    # -- queries for tests and the missed-call list -------------------------------------------
    def by_sip_call_id(self, sip_call_id: str) -> dict[str, Any] | None:
        return next((r for r in self.records.values() if r["sip_call_id"] == sip_call_id), None)

    def missed_calls(self) -> list[dict[str, Any]]:
        """Abandoned inbound calls not yet called back (漏接回拨 list), oldest first."""
        return [r for r in self.records.values()
                if r["direction"] == "in" and r["outcome"] == "abandoned"]

    def wait_for(self, pred, timeout: float = 10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for r in list(self.records.values()):
                if pred(r):
                    return r
            time.sleep(0.05)
        return None

    def close(self) -> None:
        if self._fh:
            self._fh.close()
            self._fh = None


class MemoryOperatorDirectory:
    def __init__(self, operators: dict[int, str] | None = None,
                 experts: dict[str, str] | None = None):
        self._lock = threading.Lock()
        self.ops: dict[int, dict[str, Any]] = {}
        self.experts = dict(experts or {})
        for i, (oid, uri) in enumerate((operators or {}).items()):
            self.ops[oid] = {"uri": uri, "state": "available", "idle_since": time.monotonic() - 1000 + i}

    def add(self, operator_id: int, uri: str, available: bool = True) -> None:
        with self._lock:
            self.ops[operator_id] = {"uri": uri, "state": "available" if available else "offline",
                                     "idle_since": time.monotonic()}

    def next_available(self, exclude: frozenset[int] = frozenset()) -> tuple[int, str] | None:
        with self._lock:
            free = [(o["idle_since"], oid) for oid, o in self.ops.items()
                    if o["state"] == "available" and oid not in exclude]
            if not free:
                return None
            _, oid = min(free)
            return oid, self.ops[oid]["uri"]

    def mark_busy(self, operator_id: int) -> bool:
        with self._lock:
            if operator_id not in self.ops:
                return True
            if self.ops[operator_id]["state"] == "busy":
                return False
            self.ops[operator_id]["state"] = "busy"
            return True

    def mark_available(self, operator_id: int) -> None:
        with self._lock:
            if operator_id in self.ops:
                self.ops[operator_id]["state"] = "available"
                self.ops[operator_id]["idle_since"] = time.monotonic()

    def sip_uri(self, operator_id: int) -> str | None:
        o = self.ops.get(operator_id)
        return o["uri"] if o else None

    def expert_for(self, desk: str | int) -> tuple[int, str] | None:
        desk = str(desk)
        if desk not in self.experts:
            return None
        return 9000 + sorted(self.experts).index(desk), self.experts[desk]


class MemoryTicketDesk:
    def __init__(self, statuses: dict[str, str] | None = None):
        self.statuses = dict(statuses or {})
        self.voicemails: list[dict[str, Any]] = []
        self.lookups: list[str] = []
        self._lock = threading.Lock()

    def status_by_number(self, number: str) -> str | None:
        self.lookups.append(number)
        return self.statuses.get(number)

    def open_voicemail_ticket(self, call_id: int, caller: str, wav_path: str) -> int:
        with self._lock:
            tid = 1000 + len(self.voicemails) + 1
            self.voicemails.append({"ticket_id": tid, "call_id": call_id, "caller": caller,
                                    "wav_path": wav_path})
            return tid


class MemoryOutboundJobs:
    def __init__(self, jobs: list[OutboundJob] | None = None):
        self._lock = threading.Lock()
        self.pending: list[OutboundJob] = list(jobs or [])
        self.claimed: dict[int, str] = {}
        self.results: dict[int, OutboundResult] = {}
        self.reported = threading.Condition(self._lock)

    def add(self, job: OutboundJob) -> None:
        with self._lock:
            self.pending.append(job)

    def claim(self, bridge_id: str, limit: int) -> list[OutboundJob]:
        with self._lock:
            taken, self.pending = self.pending[:limit], self.pending[limit:]
            for j in taken:
                self.claimed[j.job_id] = bridge_id
            return taken

    def report(self, job_id: int, result: OutboundResult) -> None:
        with self._lock:
            self.results[job_id] = dataclasses.replace(result)
            self.reported.notify_all()

    def wait_results(self, n: int, timeout: float) -> dict[int, OutboundResult]:
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self.results) < n and time.monotonic() < deadline:
                self.reported.wait(deadline - time.monotonic())
            return dict(self.results)


def memory_ports(operators: dict[int, str] | None = None, journal: str | None = None,
                 tickets: dict[str, str] | None = None, experts: dict[str, str] | None = None,
                 jobs: list[OutboundJob] | None = None) -> Ports:
    return Ports(MemoryCallLog(journal), MemoryOperatorDirectory(operators, experts),
                 MemoryTicketDesk(tickets), MemoryOutboundJobs(jobs))
