"""What the UA remembers to keep callers and strangers in their place (issue 9).

* :class:`CallRate` – a token bucket of new calls per source address. A source over the rate gets
  503 with Retry-After and no call record; one log line per source and 10 s says how many were
  refused (the source address only: never a caller's number).
* :class:`EndedCalls` – the INVITEs of calls that are over (Call-ID, From tag, CSeq), kept for
  ``ttl`` seconds, so a late retransmission or a proxy's retry of an ended call gets 481 instead of
  becoming a second call record.

Dialog matching and the source rule live in :meth:`telephony.sip.SipUA._on_request`.
"""
from __future__ import annotations

import collections
import logging
import threading
import time

log = logging.getLogger("telephony.sip")


class CallRate:
    LOG_EVERY = 10.0

    def __init__(self, per_second: float, max_sources: int = 10000):
        self.rate = per_second
        self.capacity = max(1.0, per_second)  # a burst of one second's worth
        self.max_sources = max_sources
        self._buckets: dict[str, list[float]] = {}  # ip -> [tokens, last refill, refused, last log]
        self._lock = threading.Lock()

    def allow(self, ip: str) -> bool:
        now = time.monotonic()
        with self._lock:
            b = self._buckets.get(ip)
            if b is None:
                if len(self._buckets) >= self.max_sources:
                    self._prune(now)
                b = self._buckets[ip] = [self.capacity, now, 0, 0.0]
            b[0] = min(self.capacity, b[0] + (now - b[1]) * self.rate)
            b[1] = now
            if b[0] >= 1.0:
                b[0] -= 1.0
                return True
            b[2] += 1
            if now - b[3] >= self.LOG_EVERY:
                log.warning("new calls from %s over %g calls per second: refused with 503 "
                            "(%d refused since the last such line)", ip, self.rate, int(b[2]))
                b[2], b[3] = 0, now
            return False

    def _prune(self, now: float) -> None:
        for ip in [ip for ip, b in self._buckets.items() if now - b[1] > 60]:
            del self._buckets[ip]
        while len(self._buckets) >= self.max_sources:  # still full: forget the stalest
            del self._buckets[min(self._buckets, key=lambda k: self._buckets[k][1])]


class EndedCalls:
    def __init__(self, ttl: float = 300.0, max_entries: int = 20000):
        self.ttl, self.max_entries = ttl, max_entries
        self._ended: collections.OrderedDict[tuple[str, str], tuple[int, float]] = collections.OrderedDict()
        self._lock = threading.Lock()

    def add(self, call_id: str, from_tag: str | None, cseq: int) -> None:
        now = time.monotonic()
        with self._lock:
            self._ended[(call_id, from_tag or "")] = (cseq, now)
            self._ended.move_to_end((call_id, from_tag or ""))
            while self._ended and (len(self._ended) > self.max_entries
                                   or now - next(iter(self._ended.values()))[1] > self.ttl):
                self._ended.popitem(last=False)

    def is_late(self, call_id: str, from_tag: str | None, cseq: int) -> bool:
        """True for an INVITE of an ended call (not a new attempt with a higher CSeq)."""
        with self._lock:
            got = self._ended.get((call_id, from_tag or ""))
        return got is not None and cseq <= got[0] and time.monotonic() - got[1] <= self.ttl
