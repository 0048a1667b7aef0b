"""Evaluation figures shared by training, the CLI and the bench (plain dicts, JSON-ready)."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support


def softmax(scores: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = np.asarray(scores, dtype=float) / max(temperature, 1e-6)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def expected_calibration_error(proba: np.ndarray, y_true: np.ndarray, n_bins: int = 15) -> float:
    """Top-label ECE: |accuracy - confidence| averaged over equal-width confidence bins."""
    if len(y_true) == 0:
        return 0.0
    conf = proba.max(axis=1)
    correct = proba.argmax(axis=1) == y_true
    bins = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        m = bins == b
        if m.any():
            ece += m.mean() * abs(correct[m].mean() - conf[m].mean())
    return float(ece)


def reliability_table(proba: np.ndarray, y_true: np.ndarray, n_bins: int = 10) -> list[dict]:
    conf = proba.max(axis=1)
    correct = proba.argmax(axis=1) == y_true
    bins = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    rows = []
    for b in range(n_bins):
        m = bins == b
        if m.any():
            rows.append({
                "confidence": f"{b / n_bins:.1f}-{(b + 1) / n_bins:.1f}",
                "n": int(m.sum()),
                "mean_confidence": round(float(conf[m].mean()), 4),
                "accuracy": round(float(correct[m].mean()), 4),
            })
    return rows


def report(y_true_idx: np.ndarray, proba: np.ndarray, classes: list[str], unsure_threshold: float | None = None) -> dict:
    """Accuracy, macro-F1, top-3, per-class P/R/F1, confusion matrix, ECE for class-index labels."""
    y = np.asarray(y_true_idx)
    pred = proba.argmax(axis=1)
    k = min(3, proba.shape[1])
    top3 = np.argsort(-proba, axis=1)[:, :k]
    labels_idx = list(range(len(classes)))
    p, r, f, s = precision_recall_fscore_support(y, pred, labels=labels_idx, zero_division=0)
    out = {
        "n": int(len(y)),
        "accuracy": round(float(accuracy_score(y, pred)), 4),
        "macro_f1": round(float(f1_score(y, pred, labels=labels_idx, average="macro", zero_division=0)), 4),
        "top3_accuracy": round(float((top3 == y[:, None]).any(axis=1).mean()), 4),
        "ece": round(expected_calibration_error(proba, y), 4),
        "per_class": {
            c: {"precision": round(float(p[i]), 4), "recall": round(float(r[i]), 4),
                "f1": round(float(f[i]), 4), "support": int(s[i])}
            for i, c in enumerate(classes)
        },
        "confusion_matrix": {"labels": list(classes),
                             "matrix": confusion_matrix(y, pred, labels=labels_idx).tolist()},
        "reliability": reliability_table(proba, y),
    }
    if unsure_threshold is not None:
        sure = proba.max(axis=1) >= unsure_threshold
        out["unsure_threshold"] = unsure_threshold
        out["unsure_rate"] = round(float(1 - sure.mean()), 4)
        out["accuracy_when_sure"] = round(float((pred[sure] == y[sure]).mean()), 4) if sure.any() else None
    return out
