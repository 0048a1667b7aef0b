"""Learning from the center's own history, and turning predicted labels into units.

``training_pairs`` turns closed tickets into ``(text, label)`` pairs labelled with
the unit that *finally* handled the ticket: a ticket dispatched to the wrong unit,
returned (退单) and re-dispatched (改派) teaches the corrected unit, never the one
that returned it.

``LabelMap`` is the per-deployment mapping label -> unit code, kept in a JSON file
an admin edits (``{"城乡建设": "U-ZJJ", "_comment": "keys starting with _ are ignored"}``).
It is applied after prediction, so a model trained on categories (the teddy data)
can still suggest units, and several labels may map to one unit.
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterable, Mapping

from .model import Suggestion

_RETURN_WORDS = {"returned", "return", "rejected", "withdrawn", "退单", "退回", "已退单"}


def _get(rec: Any, i: int, *names: str):
    if isinstance(rec, Mapping):
        for n in names:
            if rec.get(n) not in (None, ""):
                return rec[n]
        return None
    if isinstance(rec, (tuple, list)):
        return rec[i] if len(rec) > i else None
    for n in names:
        v = getattr(rec, n, None)
        if v not in (None, ""):
            return v
    return None


def _dispatch(entry: Any) -> tuple[str | None, bool]:
    """(unit code, was returned) of one dispatch-history entry.

    Entries may be a unit code string, a ``(unit, returned)`` pair, or a dict with
    ``unit``/``unit_code``/``to_unit`` and ``returned`` (bool) or ``status``/``action``.
    """
    if entry is None:
        return None, False
    if isinstance(entry, str):
        return entry.strip() or None, False
    if isinstance(entry, (tuple, list)):
        unit = entry[0] if entry else None
        returned = bool(entry[1]) if len(entry) > 1 and not isinstance(entry[1], str) else (
            len(entry) > 1 and str(entry[1]).strip().lower() in _RETURN_WORDS)
        return (str(unit).strip() or None) if unit is not None else None, returned
    unit = _get(entry, 0, "unit_code", "unit", "to_unit", "unit_id")
    returned = _get(entry, 1, "returned")
    if returned is None:
        status = _get(entry, 1, "status", "action", "outcome")
        returned = status is not None and str(status).strip().lower() in _RETURN_WORDS
    return (str(unit).strip() or None) if unit is not None else None, bool(returned)


def final_unit(record: Any) -> str | None:
    """The unit that finally handled a closed ticket.

    The explicit final unit wins; otherwise the last dispatch in the history that
    was not returned.
    """
    unit = _get(record, 1, "final_unit", "unit_code", "final_unit_code", "unit")
    if unit is not None and str(unit).strip():
        return str(unit).strip()
    history = _get(record, 2, "dispatches", "history", "dispatch_history") or []
    for entry in reversed(list(history)):
        code, returned = _dispatch(entry)
        if code and not returned:
            return code
    return None


def training_pairs(records: Iterable[Any]) -> list[tuple[str, str]]:
    """``(content, unit)`` pairs from closed tickets; tickets with no text or no final
    unit are skipped. Records: ``(content, final_unit_code, dispatch_history)`` tuples
    or dicts/objects with ``content`` (or ``text``), ``final_unit`` (or ``unit_code``)
    and ``dispatches`` (or ``history``)."""
    pairs = []
    for rec in records:
        text = _get(rec, 0, "content", "text")
        if text is None or not str(text).strip():
            continue
        unit = final_unit(rec)
        if unit:
            pairs.append((str(text), unit))
    return pairs


class LabelMap:
    """label -> unit code, applied after prediction; unmapped labels pass through."""

    def __init__(self, mapping: Mapping[str, str] | None = None):
        self.mapping = {str(k): str(v) for k, v in (mapping or {}).items() if not str(k).startswith("_")}

    @classmethod
    def load(cls, path: str | os.PathLike) -> "LabelMap":
        """A missing file is an empty map; invalid JSON raises ValueError naming the file."""
        path = Path(path)
        if not path.exists():
            return cls()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise ValueError(f"label map {path} is not valid JSON: {e}") from None
        if not isinstance(data, dict) or not all(isinstance(v, (str, int)) for k, v in data.items() if not str(k).startswith("_")):
            raise ValueError(f"label map {path} must be a JSON object of label -> unit code")
        return cls(data)

    def save(self, path: str | os.PathLike) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(self.mapping, f, ensure_ascii=False, indent=2, sort_keys=True)
        os.replace(tmp, path)

    def unit_for(self, label: str) -> str:
        return self.mapping.get(label, label)

    def apply(self, suggestion: Suggestion | None) -> Suggestion | None:
        """The suggestion with labels turned into units (probabilities of labels that map
        to the same unit are added up, order by probability)."""
        if suggestion is None or not self.mapping:
            return suggestion
        merged: dict[str, float] = {}
        for label, p in suggestion.labels:
            unit = self.unit_for(label)
            merged[unit] = merged.get(unit, 0.0) + p
        labels = sorted(((u, round(p, 4)) for u, p in merged.items()), key=lambda r: -r[1])
        return replace(suggestion, labels=labels)


def label_map(path: str | os.PathLike | None = None, mapping: Mapping[str, str] | None = None) -> LabelMap:
    """The deployment's label map: from a JSON file (missing = empty) or a dict."""
    return LabelMap.load(path) if path is not None else LabelMap(mapping)
