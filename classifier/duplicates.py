"""Similar open tickets for a new one, so the operator can merge (并单) instead of
opening a second ticket for the same pothole.

Text similarity is the cosine of character 1-2-gram TF-IDF vectors (no word
segmentation needed, robust to "XX路坑洼" vs "XX路有个坑"), fitted on the query plus
the candidates at hand. The final score mixes in place and time::

    score = similarity * (0.80 + 0.10 * same_area + 0.10 * recency)

``same_area`` is 1 for the query's area, 0 for another one (0.5 when the query's
area is unknown); ``recency`` falls linearly from 1 (now) to 0 (``window_days``
old), 0.5 when a date is unknown. An identical text in the same area today
scores 1.0; the same text a week old in another area 0.8.
"""
from __future__ import annotations

import re
from datetime import date, datetime, timezone
from typing import Any, Iterable

import numpy as np
from scipy.sparse.csgraph import connected_components
from sklearn.feature_extraction.text import TfidfVectorizer

from .tokenize import normalize

DEFAULT_MIN_SCORE = 0.35
_NOT_TEXT = re.compile(r"[^\u3400-\u9fff\uf900-\ufaffa-z0-9]+")


def _clean(text: object, max_chars: int = 2000) -> str:
    return _NOT_TEXT.sub("", normalize(text, max_chars))


def _field(c: Any, i: int, *names: str):
    if isinstance(c, dict):
        for n in names:
            if n in c:
                return c[n]
        return None
    if isinstance(c, (tuple, list)):
        return c[i] if len(c) > i else None
    for n in names:
        if hasattr(c, n):
            return getattr(c, n)
    return None


def _timestamp(v) -> float | None:
    if v is None:
        return None
    try:
        if isinstance(v, (int, float)):
            return float(v)
        if isinstance(v, str):
            v = datetime.fromisoformat(v.strip().replace("Z", "+00:00"))
        if isinstance(v, datetime):
            if v.tzinfo is None:
                v = v.replace(tzinfo=timezone.utc)
            return v.timestamp()
        if isinstance(v, date):
            return datetime(v.year, v.month, v.day, tzinfo=timezone.utc).timestamp()
    except (ValueError, OverflowError, OSError):
        return None
    return None


def find_similar(
    text: object,
    candidates: Iterable[Any],
    top_k: int = 5,
    min_score: float = DEFAULT_MIN_SCORE,
    area: object = None,
    now: datetime | float | str | None = None,
    window_days: float = 7.0,
) -> list[tuple[Any, float]]:
    """The candidates most similar to ``text``, best first: ``[(id, score)]``.

    ``candidates``: tuples ``(id, text, area, created_at)``, or dicts / objects with
    ``id``, ``text`` (or ``content``), ``area``, ``created_at``. Naive datetimes are
    taken as UTC; ``now`` defaults to the current time. Never raises on odd text.
    """
    query = _clean(text)
    if len(query) < 2:
        return []
    rows = []
    for c in candidates:
        cid = _field(c, 0, "id")
        ctext = _clean(_field(c, 1, "text", "content"))
        if len(ctext) >= 2:
            rows.append((cid, ctext, _field(c, 2, "area", "area_code"), _field(c, 3, "created_at")))
    if not rows:
        return []

    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 2), sublinear_tf=True)
    X = vec.fit_transform([query] + [r[1] for r in rows])
    sims = (X[1:] @ X[0].T).toarray().ravel()

    now_ts = _timestamp(now) if now is not None else datetime.now(timezone.utc).timestamp()
    window = max(window_days, 1e-6) * 86400.0
    out = []
    for (cid, _, c_area, created), sim in zip(rows, sims):
        if sim <= 0:
            continue
        same_area = 0.5 if area is None else float(c_area is not None and str(c_area) == str(area))
        ts = _timestamp(created)
        recency = 0.5 if ts is None or now_ts is None else min(1.0, max(0.0, 1.0 - (now_ts - ts) / window))
        score = float(sim) * (0.80 + 0.10 * same_area + 0.10 * recency)
        if score >= min_score:
            out.append((cid, round(score, 4)))
    out.sort(key=lambda r: -r[1])
    return out[: max(0, int(top_k))]


def near_duplicate_groups(texts: list[str], threshold: float = 0.7) -> np.ndarray:
    """A group id per text: texts linked by character 3-gram cosine >= ``threshold``
    (transitively) share one. Used for leak-free cross-validation."""
    cleaned = [_clean(t, 10_000) or f"\0{i}" for i, t in enumerate(texts)]
    X = TfidfVectorizer(analyzer="char", ngram_range=(3, 3), sublinear_tf=True).fit_transform(cleaned)
    S = (X @ X.T).tocsr()
    S.data[S.data < threshold] = 0
    S.eliminate_zeros()
    return connected_components(S, directed=False)[1]
