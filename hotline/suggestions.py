"""The classifier in the hotline: unit suggestions for a ticket's text, merge candidates, and the
training data the center's own history provides.

``classifier/`` is a pure library (texts and labels in, suggestions out); this module feeds it from
the database (place and unit names for the tokenizer, closed tickets for training) and maps its
labels to units (label == unit code, or through the admin's label map ``label_map.json``).
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from hotline.tickets import OPEN, Status, Ticket, TicketEvent
from hotline.units import Unit, UnitKind

if TYPE_CHECKING:
    from hotline.app import Hotline
    from hotline.users import Actor

log = logging.getLogger(__name__)

# Hotline words the tokenizer should keep whole, beside the place and unit names from the database.
HOTLINE_WORDS = ["12345", "政务服务便民热线", "不予受理", "直接办结", "绿色通道", "回访", "退单", "延期", "督办",
                 "物业", "业委会", "维修基金", "农民工工资", "预付卡", "占道经营", "违章建筑", "燃气泄漏"]  # fmt: skip


def user_words(hl: "Hotline") -> list[str]:
    """The city's own vocabulary for jieba: unit names, township areas, hotline words."""
    with hl.uow(readonly=True) as uow:
        rows = uow.session.execute(select(Unit.name, Unit.area))
        words = {w for name, area in rows for w in (name, area) if w}
    return sorted(words | set(HOTLINE_WORDS))


class UnitSuggester:
    """Callable the ticket service uses (text → (unit_id, confidence, payload)), plus the richer
    ``suggest`` the operator console asks for while the operator types."""

    def __init__(self, hl: "Hotline", unsure_threshold: float | None = None) -> None:
        from classifier.history import LabelMap
        from classifier.registry import ModelRegistry

        self.hl = hl
        self.registry = ModelRegistry(hl.settings.model_path, unsure_threshold=unsure_threshold)
        self.label_map_path = Path(hl.settings.data_dir) / "label_map.json"
        self._label_map_cls = LabelMap
        self._map, self._map_sig = LabelMap(), ()  # () never equals a file's signature: first call reads
        self._units: dict[str, tuple[int, str]] = {}
        self._units_at = 0.0
        self._lock = threading.Lock()

    def _unit_index(self) -> dict[str, tuple[int, str]]:
        # Units change rarely; re-read them every minute rather than on every keystroke.
        if time.monotonic() - self._units_at > 60:
            with self.hl.uow(readonly=True) as uow:
                rows = uow.session.execute(select(Unit.code, Unit.id, Unit.name).where(Unit.active.is_(True)))
                index = {code: (uid, name) for code, uid, name in rows}
            with self._lock:
                self._units, self._units_at = index, time.monotonic()
        return self._units

    def _label_map(self):  # noqa: ANN202
        """The admin's label map, re-read only when the file changed (suggestions run on every
        keystroke of the console, and another process may have saved a new map)."""
        try:
            st = self.label_map_path.stat()
            sig = (st.st_mtime_ns, st.st_size)
        except OSError:
            sig = None
        if sig != self._map_sig:
            try:
                mapping = self._label_map_cls.load(self.label_map_path)
            except ValueError:
                log.warning("label map %s is invalid; using labels as unit codes", self.label_map_path)
                mapping = self._label_map_cls()
            self._map, self._map_sig = mapping, sig
        return self._map

    def suggest(self, text: str) -> dict[str, Any]:
        raw = self.registry.suggest(text)
        if raw is None:
            return {"available": False, "unsure": True, "choices": [], "keywords": [], "reason": "暂无可用模型"}
        mapped = self._label_map().apply(raw)
        units = self._unit_index()
        choices = []
        for label, p in mapped.labels:
            unit = units.get(label)
            choices.append({"unit_id": unit[0] if unit else None, "unit_name": unit[1] if unit else label,
                            "label": label, "probability": round(float(p), 4)})  # fmt: skip
        return {
            "available": True,
            "unsure": bool(mapped.unsure),
            "choices": choices,
            "keywords": [[w, round(float(x), 4)] for w, x in mapped.keywords],
            "reason": mapped.reason,
        }

    def __call__(self, text: str) -> tuple[int | None, float, dict[str, Any]] | None:
        s = self.suggest(text)
        if not s["available"] or not s["choices"]:
            return None
        first = s["choices"][0]
        return first["unit_id"], first["probability"], {k: s[k] for k in ("unsure", "choices", "keywords")}


def attach(hl: "Hotline") -> UnitSuggester | None:
    """Give the hotline its suggester; without the classifier package the system runs without one."""
    try:
        hl.suggester = UnitSuggester(hl)
    except ImportError as e:  # pragma: no cover - the classifier is part of the product
        log.warning("classifier not available, no unit suggestions: %s", e)
        return None
    return hl.suggester


def ensure_first_model(hl: "Hotline") -> dict | None:
    """A model from the demo city's own text on first start (no manual step); kept when present."""
    from classifier.demo import ensure_model

    from hotline.demo import training_pairs

    return ensure_model(hl.settings.model_path, pairs=training_pairs, folds=3, user_words=user_words(hl))


def similar_open_tickets(hl: "Hotline", actor: "Actor", text: str, area: str | None = None, days: int = 7,
                         limit: int = 5, exclude_id: int | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """Open tickets like this text from the last ``days`` days: candidates for 并单."""
    from classifier.duplicates import find_similar

    from hotline.queries import visible_to

    now = hl.now()
    since = now - dt.timedelta(days=days)
    with hl.uow(readonly=True) as uow:
        q = visible_to(select(Ticket.id, Ticket.content, Ticket.area, Ticket.accepted_at, Ticket.number, Ticket.title,
                              Ticket.status), actor)  # fmt: skip
        q = q.where(Ticket.accepted_at >= since, Ticket.status.in_(OPEN), Ticket.master_id.is_(None))
        if exclude_id is not None:
            q = q.where(Ticket.id != exclude_id)
        # A large city has tens of thousands of open tickets a week: when the area is known, the
        # same area's tickets come first (a pothole's duplicates are reported from where it is).
        rows = []
        if area:
            rows = uow.session.execute(q.where(Ticket.area == area).order_by(Ticket.accepted_at.desc()).limit(1500)).all()
        if len(rows) < 1500:
            seen = {r.id for r in rows}
            more = uow.session.execute(q.order_by(Ticket.accepted_at.desc()).limit(2000 - len(rows))).all()
            rows += [r for r in more if r.id not in seen]
    # find_similar reads naive datetimes as UTC; ours are local time, so pass "now" the same way.
    cands = [(r.id, r.content, r.area, r.accepted_at.replace(tzinfo=dt.timezone.utc)) for r in rows]
    hits = find_similar(text, cands, top_k=limit, area=area, now=now.replace(tzinfo=dt.timezone.utc), window_days=days)
    by_id = {r.id: r for r in rows}
    from hotline.privacy import mask_for

    return mask_for(actor.role, [{"id": i, "number": by_id[i].number, "title": by_id[i].title, "status": by_id[i].status,
             "area": by_id[i].area, "score": score} for i, score in hits])  # fmt: skip


def history_records(hl: "Hotline", since: dt.datetime | None = None, limit: int = 200_000) -> list[dict[str, Any]]:
    """Closed, unit-handled tickets with their dispatch history, for ``classifier.history``.

    A ticket returned by one unit and re-dispatched to another teaches the unit that finally
    handled it; first-contact closures and merged children (no unit of their own) teach nothing.
    """
    with hl.uow(readonly=True) as uow:
        s = uow.session
        q = (select(Ticket.id, Ticket.content, Unit.code).join(Unit, Unit.id == Ticket.unit_id)
             .where(Ticket.status == Status.CLOSED, Ticket.close_kind == "handled", Unit.kind != UnitKind.EXPERT_DESK))  # fmt: skip
        if since is not None:
            q = q.where(Ticket.closed_at >= since)
        tickets = s.execute(q.order_by(Ticket.id.desc()).limit(limit)).all()
        codes = dict(s.execute(select(Unit.id, Unit.code)).all())
        history: dict[int, list[dict[str, Any]]] = {}
        ids = [t.id for t in tickets]
        for chunk in range(0, len(ids), 5000):
            part = ids[chunk:chunk + 5000]
            events = s.execute(
                select(TicketEvent.ticket_id, TicketEvent.action, TicketEvent.after, TicketEvent.before)
                .where(TicketEvent.ticket_id.in_(part), TicketEvent.action.in_(("dispatch", "redispatch", "return")))
                .order_by(TicketEvent.id)
            )
            for tid, action, after, before in events:
                entries = history.setdefault(tid, [])
                if action == "return" and entries:
                    entries[-1]["returned"] = True
                elif action != "return":
                    unit_id = (after or {}).get("unit_id") or (before or {}).get("unit_id")
                    entries.append({"unit": codes.get(unit_id), "returned": False})
    return [{"content": t.content, "unit": t.code, "history": history.get(t.id, [])} for t in tickets]
