"""``python run.py classifier ...`` (or ``python -m classifier ...``).

    classifier train    --csv FILE --out MODEL [--folds 5] [--grouped] [--user-words FILE] [--json]
    classifier evaluate --model MODEL --csv FILE [--json]
    classifier suggest  --model MODEL [--top-k 3] [--label-map FILE] [--json] "文本"
    classifier cv       --csv FILE [--folds 5] [--no-grouped] [--json]
    classifier info     --model MODEL

Bad arguments or files: a message on stderr and a non-zero exit code, no traceback.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import unicodedata

from . import training
from .model import ModelLoadError, TextClassifier

REASONS_ZH = {
    "empty text": "文本为空",
    "low confidence": "置信度低",
    "no known words": "没有模型认识的词",
    "no words to classify (only punctuation, digits or symbols)": "只有标点、数字或符号",
}
SUMMARY_KEYS = ("n", "accuracy", "macro_f1", "top3_accuracy", "ece", "cv_folds", "cv_scheme", "seconds")


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise _UsageError(f"{self.prog}: {message}\n{self.format_usage().strip()}")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="classifier", description="Hotline ticket classifier: train, evaluate, suggest.")
    sub = p.add_subparsers(dest="command", metavar="{train,evaluate,suggest,cv,info}", parser_class=_Parser)
    sub.required = True

    t = sub.add_parser("train", help="train on a CSV with columns text,label and save the model")
    t.add_argument("--csv", required=True, help="UTF-8 CSV with a header and columns text,label")
    t.add_argument("--out", required=True, help="model file to write (a .report.json is written beside it)")
    t.add_argument("--folds", type=int, default=5, help="cross-validation folds for the report and calibration (default 5)")
    t.add_argument("--grouped", action="store_true", help="keep near-duplicate texts in one CV fold")
    t.add_argument("--user-words", help="file of extra dictionary words (place/unit names), one per line")
    t.add_argument("--threshold", type=float, default=0.5, help="confidence below which a suggestion is 'unsure'")
    t.add_argument("--json", action="store_true", help="print the whole report as JSON")

    e = sub.add_parser("evaluate", help="figures of a saved model on a labelled CSV")
    e.add_argument("--model", required=True)
    e.add_argument("--csv", required=True)
    e.add_argument("--json", action="store_true", help="print one JSON object")

    s = sub.add_parser("suggest", help="suggest labels for a text")
    s.add_argument("--model", required=True)
    s.add_argument("--top-k", type=int, default=3)
    s.add_argument("--label-map", help="JSON file label -> unit code, applied to the suggestion")
    s.add_argument("--json", action="store_true")
    s.add_argument("text", help="the ticket text")

    c = sub.add_parser("cv", help="k-fold cross-validated figures on a CSV (stratified and near-duplicate grouped)")
    c.add_argument("--csv", required=True)
    c.add_argument("--folds", type=int, default=5)
    c.add_argument("--no-grouped", action="store_true", help="skip the near-duplicate grouped figures")
    c.add_argument("--json", action="store_true")

    i = sub.add_parser("info", help="metadata of a saved model")
    i.add_argument("--model", required=True)
    return p


def _summary(report: dict) -> str:
    return "  ".join(f"{k}={report[k]}" for k in SUMMARY_KEYS if k in report)


def _pad(text: str, width: int) -> str:
    """Left-justify to a terminal width (CJK characters take two columns)."""
    shown = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return text + " " * max(0, width - shown)


def _per_class_table(report: dict) -> str:
    lines = [f"  {_pad('label', 16)} {'precision':>9} {'recall':>7} {'f1':>7} {'n':>6}"]
    for label, r in report.get("per_class", {}).items():
        lines.append(f"  {_pad(label, 16)} {r['precision']:>9.3f} {r['recall']:>7.3f} {r['f1']:>7.3f} {r['support']:>6}")
    return "\n".join(lines)


def _cmd_train(a) -> int:
    from .tokenize import read_word_list

    if a.folds < 0 or a.folds == 1:
        raise _UsageError("classifier train: --folds must be 0 (no cross-validation) or >= 2")
    words = read_word_list(a.user_words) if a.user_words else ()
    report = training.train_from_csv(a.csv, a.out, folds=a.folds, user_words=words,
                                     unsure_threshold=a.threshold, grouped=a.grouped)
    if a.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        print(f"model saved: {report['model_path']} ({report['model_bytes'] / 1e6:.1f} MB), "
              f"report: {report['report_path']}")
        print(_summary(report))
        if "per_class" in report:
            print(_per_class_table(report))
    return 0


def _cmd_evaluate(a) -> int:
    model = TextClassifier.load(a.model)
    pairs = training.read_csv_pairs(a.csv)
    t0 = time.perf_counter()
    report = model.evaluate([t for t, _ in pairs], [lab for _, lab in pairs])
    report["seconds"] = round(time.perf_counter() - t0, 2)
    report["model_version"] = model.metadata.get("version")
    if a.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        print(_summary(report))
        print(_per_class_table(report))
    return 0


def _cmd_suggest(a) -> int:
    from .history import LabelMap

    if a.top_k < 1:
        raise _UsageError("classifier suggest: --top-k must be >= 1")
    model = TextClassifier.load(a.model)
    sug = model.suggest(a.text, top_k=a.top_k)
    if a.label_map:
        sug = LabelMap.load(a.label_map).apply(sug)
    if a.json:
        d = sug.to_dict()
        d["model_version"] = model.metadata.get("version")
        print(json.dumps(d, ensure_ascii=False))
        return 0
    print(f"建议（模型 {model.metadata.get('version')}，置信度阈值 {model.unsure_threshold:.2f}）：")
    if not sug.labels:
        print("  （无建议）")
    for i, (label, p) in enumerate(sug.labels, 1):
        print(f"  {i}. {label}  {p * 100:.1f}%")
    if sug.keywords:
        print("关键词：" + "、".join(f"{w}({x:.2f})" for w, x in sug.keywords))
    if sug.unsure:
        why = REASONS_ZH.get(sug.reason or "", sug.reason or "")
        print(f"不确定：请话务员选择单位（{why}）")
    return 0


def _cmd_cv(a) -> int:
    if a.folds < 2:
        raise _UsageError("classifier cv: --folds must be >= 2")
    pairs = training.read_csv_pairs(a.csv)
    t0 = time.perf_counter()
    model = TextClassifier(cv_folds=a.folds)
    reports = model.cross_validation_reports([t for t, _ in pairs], [lab for _, lab in pairs],
                                             folds=a.folds, grouped=not a.no_grouped)
    out = dict(reports["stratified"])
    if "near_duplicates_grouped" in reports:
        g = reports["near_duplicates_grouped"]
        out["near_duplicates_grouped"] = {k: g[k] for k in ("n", "groups", "accuracy", "macro_f1", "top3_accuracy",
                                                            "ece", "cv_folds", "cv_scheme") if k in g}
        out["near_duplicates_grouped"]["per_class"] = g["per_class"]
    out["seconds"] = round(time.perf_counter() - t0, 2)
    out["csv"] = a.csv
    if a.json:
        print(json.dumps(out, ensure_ascii=False))
    else:
        print("stratified:  " + _summary(out))
        if "near_duplicates_grouped" in out:
            print("grouped:     " + _summary(out["near_duplicates_grouped"]))
        print(_per_class_table(out))
    return 0


def _cmd_info(a) -> int:
    header = TextClassifier.read_header(a.model)
    print(json.dumps(header.get("metadata"), ensure_ascii=False, indent=2))
    return 0


COMMANDS = {"train": _cmd_train, "evaluate": _cmd_evaluate, "suggest": _cmd_suggest, "cv": _cmd_cv, "info": _cmd_info}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        import jieba

        jieba.setLogLevel(logging.WARNING)  # no "Building prefix dict" chatter in CLI output
        args = _parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except _UsageError as e:
        print(str(e), file=sys.stderr)
        return 2
    except SystemExit as e:  # --help
        return e.code if isinstance(e.code, int) else 0
    except (ModelLoadError, ValueError, OSError) as e:
        print(f"classifier: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
