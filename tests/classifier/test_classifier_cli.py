import json
import subprocess
import sys
from pathlib import Path

import pytest

from classifier.cli import main

REPO = Path(__file__).resolve().parents[2]


def write_csv(path: Path, pairs) -> Path:
    import csv

    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        w.writerows(pairs)
    return path


@pytest.fixture(scope="module")
def trained(demo_pairs, tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    csv_path = write_csv(d / "train.csv", demo_pairs)
    model = d / "model.pkl"
    assert main(["train", "--csv", str(csv_path), "--out", str(model), "--folds", "3"]) == 0
    return csv_path, model


def test_train_writes_model_and_report(trained, capsys):
    csv_path, model = trained
    assert model.is_file() and (model.parent / "model.report.json").is_file()
    rep = json.loads((model.parent / "model.report.json").read_text(encoding="utf-8"))
    for key in ("accuracy", "macro_f1", "top3_accuracy", "ece", "per_class", "confusion_matrix", "n", "cv_folds", "seconds"):
        assert key in rep


def test_evaluate_json_prints_one_object(trained, capsys):
    csv_path, model = trained
    assert main(["evaluate", "--model", str(model), "--csv", str(csv_path), "--json"]) == 0
    out = capsys.readouterr().out
    data = json.loads(out)  # exactly one JSON document
    for key in ("n", "accuracy", "macro_f1", "top3_accuracy", "ece"):
        assert key in data
    assert data["n"] == 300


def test_suggest_human_and_json(trained, capsys, tmp_path):
    _, model = trained
    assert main(["suggest", "--model", str(model), "小区门口的路灯坏了好几天"]) == 0
    out = capsys.readouterr().out
    assert "1. 市政工程处" in out and "关键词" in out
    assert main(["suggest", "--model", str(model), "--json", "小区门口的路灯坏了好几天"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["labels"][0]["label"] == "市政工程处" and len(data["labels"]) == 3
    assert main(["suggest", "--model", str(model), ""]) == 0
    assert "不确定" in capsys.readouterr().out
    lm = tmp_path / "map.json"
    lm.write_text(json.dumps({"市政工程处": "U17"}), encoding="utf-8")
    assert main(["suggest", "--model", str(model), "--label-map", str(lm), "--json", "路灯坏了"]) == 0
    assert json.loads(capsys.readouterr().out)["labels"][0]["label"] == "U17"


def test_cv_json(trained, capsys):
    csv_path, _ = trained
    assert main(["cv", "--csv", str(csv_path), "--folds", "3", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["cv_folds"] == 3 and "macro_f1" in data and "near_duplicates_grouped" in data


@pytest.mark.parametrize("argv", [
    [],
    ["bogus"],
    ["train", "--csv"],
    ["train", "--csv", "/nonexistent.csv", "--out", "/tmp/x.pkl"],
    ["evaluate", "--model", "/nonexistent.pkl", "--csv", "/nonexistent.csv", "--json"],
    ["suggest", "--model", "/nonexistent.pkl", "文本"],
    ["suggest", "文本"],
    ["cv", "--csv", "/nonexistent.csv", "--folds", "1"],
    ["train", "--csv", "x.csv", "--out", "m.pkl", "--folds", "abc"],
])
def test_bad_arguments_give_a_message_and_non_zero_exit(argv, capsys):
    assert main(argv) != 0
    err = capsys.readouterr().err
    assert err.strip() and "Traceback" not in err


def test_csv_without_the_columns_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("content,unit\n路灯,U1\n", encoding="utf-8")
    assert main(["train", "--csv", str(bad), "--out", str(tmp_path / "m.pkl")]) == 1
    assert "missing column" in capsys.readouterr().err


def test_python_dash_m_entry_point(trained):
    _, model = trained
    r = subprocess.run([sys.executable, "-m", "classifier", "suggest", "--model", str(model), "--json", "公交车不按站停车"],
                       cwd=REPO, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["labels"][0]["label"] == "交通运输局"
    r = subprocess.run([sys.executable, "-m", "classifier", "evaluate", "--model", str(model)],
                       cwd=REPO, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "Traceback" not in r.stderr and "--csv" in r.stderr
