"""Classifier benchmark on the teddy2020c messages; prints one JSON object.

    python bench/classifier_bench.py [--csv FILE] [--folds 5] [--quick]

Measures: 5-fold cross-validated figures (stratified, and with near-duplicate
messages kept in one fold), the time to train the production model (its own
5-fold CV for calibration + the final fit), prediction latency p50/p99 of
``suggest()`` (in-process, one text at a time, over every message), the model
file size and the memory a loaded model takes (RSS growth of a fresh process,
jieba's dictionary counted separately, and tracemalloc). ``--quick`` uses 2,000 rows (a smoke run, figures not comparable).
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from classifier.model import TextClassifier  # noqa: E402
from classifier.training import default_teddy_csv, read_csv_pairs  # noqa: E402

_MEMORY_PROBE = r"""
import gc, json, sys, tracemalloc
sys.path.insert(0, sys.argv[2])
def rss():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
from classifier.model import TextClassifier
from classifier.tokenize import HotlineTokenizer
import jieba, sklearn, numpy, scipy  # imports are not the model
if sys.argv[3] == "rss":
    gc.collect(); r0 = rss()
    HotlineTokenizer().tokens("预热")  # jieba's prefix dictionary (shared by models with the same words)
    gc.collect(); r1 = rss()
    m = TextClassifier.load(sys.argv[1]); m.suggest("预热")
    gc.collect(); r2 = rss()
    print(json.dumps({"rss_total_mb": round((r2 - r0) / 1e6, 1), "rss_jieba_dictionary_mb": round((r1 - r0) / 1e6, 1),
                      "rss_model_mb": round((r2 - r1) / 1e6, 1)}))
else:
    tracemalloc.start()
    m = TextClassifier.load(sys.argv[1]); m.suggest("预热")
    current, peak = tracemalloc.get_traced_memory()
    print(json.dumps({"tracemalloc_current_mb": round(current / 1e6, 1), "tracemalloc_peak_mb": round(peak / 1e6, 1)}))
"""


def _summary(rep: dict) -> dict:
    keys = ("n", "groups", "accuracy", "macro_f1", "top3_accuracy", "ece", "unsure_rate", "accuracy_when_sure", "cv_folds")
    out = {k: rep[k] for k in keys if k in rep}
    out["per_class_f1"] = {c: r["f1"] for c, r in rep["per_class"].items()}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--csv", default=str(default_teddy_csv()))
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="2,000 rows only (smoke run)")
    args = ap.parse_args(argv)
    if not Path(args.csv).is_file():
        print(f"classifier_bench: CSV not found: {args.csv} (set HOTLINE_TEDDY_CSV)", file=sys.stderr)
        return 2

    import jieba
    import logging

    jieba.setLogLevel(logging.WARNING)
    pairs = read_csv_pairs(args.csv)
    if args.quick:
        random.Random(0).shuffle(pairs)
        pairs = pairs[:2000]
    texts, labels = [t for t, _ in pairs], [lab for _, lab in pairs]
    with open(args.csv, encoding="utf-8") as f:
        kinds = [r.get("text_kind", "raw") for r in csv.DictReader(f)]
    result = {
        "data": {"csv": args.csv, "n": len(pairs), "labels": len(set(labels)),
                 "segmented_rows": None if args.quick else sum(k != "raw" for k in kinds)},
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "load_average_at_start": [round(x, 2) for x in os.getloadavg()]},
    }

    # 1. cross-validated figures (stratified + near-duplicate grouped)
    t0 = time.perf_counter()
    reports = TextClassifier().cross_validation_reports(texts, labels, folds=args.folds, grouped=True)
    result["cv_seconds"] = round(time.perf_counter() - t0, 1)
    result["cv_stratified"] = _summary(reports["stratified"])
    result["cv_near_duplicates_grouped"] = _summary(reports["near_duplicates_grouped"])
    result["reliability_stratified"] = reports["stratified"]["reliability"]

    # 2. training the production model (its own CV for calibration + final fit)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.pkl"
        t0 = time.perf_counter()
        model = TextClassifier(cv_folds=args.folds).fit(texts, labels)
        train_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        TextClassifier().fit(texts, labels, folds=0)
        fit_only_s = time.perf_counter() - t0
        model.save(path)
        result["train"] = {"seconds_with_cv": round(train_s, 1), "seconds_fit_only": round(fit_only_s, 1),
                           "model_file_mb": round(path.stat().st_size / 1e6, 1),
                           "n_features": model.metadata["n_features"]}

        # 3. memory of a loaded model, in a fresh process
        result["memory"] = {}
        for mode in ("rss", "tracemalloc"):
            probe = subprocess.run([sys.executable, "-c", _MEMORY_PROBE, str(path), str(ROOT), mode],
                                   capture_output=True, text=True, timeout=300)
            result["memory"].update(json.loads(probe.stdout) if probe.returncode == 0 else {"error": probe.stderr[-500:]})

        # 4. prediction latency, loaded model, one text at a time
        loaded = TextClassifier.load(path)
        t0 = time.perf_counter()
        loaded.suggest("预热")
        result["first_suggest_ms"] = round((time.perf_counter() - t0) * 1e3, 1)
        times = []
        for t in texts:
            t0 = time.perf_counter()
            loaded.suggest(t)
            times.append(time.perf_counter() - t0)
        ms = np.array(times) * 1e3
        long_text = "小区门口路灯坏了，晚上很黑，" * 7000  # ~100,000 characters
        t0 = time.perf_counter()
        loaded.suggest(long_text)
        result["predict_ms"] = {"n": len(ms), "p50": round(float(np.percentile(ms, 50)), 2),
                                "p90": round(float(np.percentile(ms, 90)), 2),
                                "p99": round(float(np.percentile(ms, 99)), 2), "max": round(float(ms.max()), 2),
                                "text_100k_chars": round((time.perf_counter() - t0) * 1e3, 2)}
    result["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    result["goals"] = {
        "macro_f1>=0.945": result["cv_stratified"]["macro_f1"] >= 0.945,
        "top3>=0.99": result["cv_stratified"]["top3_accuracy"] >= 0.99,
        "p50<2ms": result["predict_ms"]["p50"] < 2,
        "p99<10ms": result["predict_ms"]["p99"] < 10,
        "train<60s": result["train"]["seconds_with_cv"] < 60,
        "model<200MB": result["memory"].get("rss_total_mb", 1e9) < 200,
    }
    print(json.dumps(result, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
