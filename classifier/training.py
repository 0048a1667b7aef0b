"""Training entry points: from a CSV, from (text, label) pairs, nightly retraining.

Every trained model is saved (atomically) with its metadata, and a JSON report
is written beside it: ``model.pkl`` -> ``model.report.json``.
"""
from __future__ import annotations

import csv
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterable

from .model import DEFAULT_UNSURE_THRESHOLD, ModelLoadError, TextClassifier

REPO_ROOT = Path(__file__).resolve().parent.parent
TEDDY_ENV = "HOTLINE_TEDDY_CSV"


def default_teddy_csv() -> Path:
    """``$HOTLINE_TEDDY_CSV`` or ``../shared/data/teddy2020c/train.csv`` beside the repo."""
    env = os.environ.get(TEDDY_ENV)
    if env:
        return Path(env)
    return (REPO_ROOT / ".." / "shared" / "data" / "teddy2020c" / "train.csv").resolve()


def read_csv_pairs(path: str | os.PathLike, text_column: str = "text", label_column: str = "label") -> list[tuple[str, str]]:
    """(text, label) rows of a UTF-8 CSV with a header; rows with an empty label are skipped.
    Raises ValueError with a clear message for a missing file or missing columns."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"CSV file not found: {path}")
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        cols = reader.fieldnames or []
        missing = [c for c in (text_column, label_column) if c not in cols]
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(missing)} (found: {', '.join(cols) or 'none'})")
        pairs = [(row[text_column] or "", row[label_column].strip()) for row in reader
                 if row.get(label_column) and row[label_column].strip()]
    if not pairs:
        raise ValueError(f"{path}: no labelled rows")
    return pairs


def report_path_for(model_path: str | os.PathLike) -> Path:
    p = Path(model_path)
    return p.with_name(p.stem + ".report.json")


def _write_json_atomic(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False, indent=2)
    os.replace(tmp, path)


def _fit(pairs, folds, user_words, unsure_threshold, grouped) -> tuple[TextClassifier, dict]:
    t0 = time.perf_counter()
    pairs = [(str(t), str(lab)) for t, lab in pairs]
    model = TextClassifier(unsure_threshold=unsure_threshold, user_words=user_words, cv_folds=folds)
    model.fit([t for t, _ in pairs], [lab for _, lab in pairs],
              groups="near-duplicates" if grouped else None)
    report = dict(model.cv_report or {"n": len(pairs), "note": "too little data to cross-validate"})
    report["n"] = len(pairs)
    report["cv_folds"] = report.get("cv_folds", 0)
    report["seconds"] = round(time.perf_counter() - t0, 2)
    report["model"] = {k: model.metadata[k] for k in ("version", "trained_at", "n", "labels", "n_features",
                                                     "temperature", "libraries")}
    return model, report


def _save(model: TextClassifier, report: dict, out_path, **extra) -> dict:
    out_path = Path(out_path)
    report.update(extra)
    model.save(out_path)
    report["model_path"] = str(out_path)
    report["model_bytes"] = out_path.stat().st_size
    report["report_path"] = str(report_path_for(out_path))
    _write_json_atomic(report_path_for(out_path), report)
    return report


def train_from_pairs(pairs: Iterable[tuple[str, str]], out_path: str | os.PathLike, folds: int = 5,
                     user_words: Iterable[str] = (), unsure_threshold: float = DEFAULT_UNSURE_THRESHOLD,
                     grouped: bool = False, _extra: dict | None = None) -> dict:
    """Train on ``(text, label)`` pairs, save the model to ``out_path`` and the report
    beside it; returns the report (accuracy, macro_f1, top3_accuracy, per_class,
    confusion_matrix, ece, n, cv_folds, seconds, ...). ``grouped``: keep
    near-duplicate texts in one CV fold (leak-free figures, ~1-2 s more)."""
    model, report = _fit(list(pairs), folds, user_words, unsure_threshold, grouped)
    return _save(model, report, out_path, **(_extra or {}))


def train_from_csv(csv_path: str | os.PathLike, out_path: str | os.PathLike, folds: int = 5,
                   user_words: Iterable[str] = (), unsure_threshold: float = DEFAULT_UNSURE_THRESHOLD,
                   grouped: bool = False, text_column: str = "text", label_column: str = "label") -> dict:
    """Like :func:`train_from_pairs`, from a CSV with ``text,label`` columns."""
    return train_from_pairs(read_csv_pairs(csv_path, text_column, label_column), out_path, folds,
                            user_words, unsure_threshold, grouped, _extra={"csv": str(csv_path)})


def retrain_if_better(pairs: Iterable[tuple[str, str]], current_model_path: str | os.PathLike,
                      metric: str = "macro_f1", min_gain: float = 0.0, folds: int = 5,
                      user_words: Iterable[str] = (), unsure_threshold: float = DEFAULT_UNSURE_THRESHOLD) -> dict:
    """Nightly retraining: train a candidate on ``pairs`` and install it at
    ``current_model_path`` only if its cross-validated ``metric`` is at least the
    current model's recorded cross-validated figure + ``min_gain`` (or if there is
    no usable current model). Both figures are cross-validated estimates of how the
    model does on tickets it has not seen. Returns ``{"replaced", "reason",
    "old", "new", "report"}``; the running servers pick a replaced model up through
    ``ModelRegistry`` without a restart.
    """
    current_model_path = Path(current_model_path)
    old_score = None
    old_version = None
    try:
        header = TextClassifier.read_header(current_model_path)
        TextClassifier.load(current_model_path)  # must also be loadable by this system
        cvm = (header.get("metadata") or {}).get("cv_metrics") or {}
        old_score = cvm.get(metric)
        old_version = header["metadata"].get("version")
        old_problem = None if old_score is not None else "current model has no cross-validated figures"
    except ModelLoadError as e:
        old_problem = str(e)

    model, report = _fit(list(pairs), folds, user_words, unsure_threshold, grouped=False)
    new_score = report.get(metric)
    out = {"metric": metric, "old": {"version": old_version, metric: old_score},
           "new": {"version": model.metadata["version"], metric: new_score}}
    if new_score is None:
        out.update(replaced=False, reason="the new model could not be cross-validated (too little data)")
    elif old_problem:
        _save(model, report, current_model_path)
        out.update(replaced=True, reason=f"installed: {old_problem}")
    elif new_score >= old_score + min_gain:
        _save(model, report, current_model_path)
        out.update(replaced=True, reason=f"new {metric} {new_score} >= old {old_score} + {min_gain}")
    else:
        out.update(replaced=False, reason=f"kept the current model: new {metric} {new_score} < old {old_score} + {min_gain}")
    out["report"] = report
    return out
