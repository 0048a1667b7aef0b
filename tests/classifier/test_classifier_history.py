import json

import pytest

from classifier.history import LabelMap, final_unit, label_map, training_pairs
from classifier.model import Suggestion, TextClassifier
from classifier.training import retrain_if_better, report_path_for, train_from_pairs


def test_returned_and_redispatched_ticket_teaches_the_corrected_unit():
    records = [
        # dispatched to the water company, returned (退单), re-dispatched to the gas company
        {"content": "楼道里有燃气味", "unit": "GAS",
         "history": [{"unit": "WATER", "returned": True}, {"unit": "GAS", "returned": False}]},
        # the same without an explicit final unit: the last dispatch that was not returned
        {"content": "楼道里燃气味很重", "history": [{"unit": "WATER", "returned": True}, {"unit": "GAS"}]},
        ("工地拖欠工资", "LABOUR", ["CITY", "LABOUR"]),
        ("公交车不停站", None, [("BUS", False), ("TRANSPORT", "退单")]),
        {"text": "路灯坏了", "dispatches": [{"unit_code": "LIGHT", "status": "returned"}, {"unit_code": "ROADS", "status": "handled"}]},
        {"content": "", "unit": "X"},            # no text: skipped
        {"content": "有内容没有单位", "history": [{"unit": "X", "returned": True}]},  # never handled: skipped
    ]
    pairs = training_pairs(records)
    assert pairs == [("楼道里有燃气味", "GAS"), ("楼道里燃气味很重", "GAS"), ("工地拖欠工资", "LABOUR"),
                     ("公交车不停站", "BUS"), ("路灯坏了", "ROADS")]
    assert final_unit({"history": ["A", "B"]}) == "B"


def test_training_from_history_learns_the_corrected_unit(tmp_path):
    records = []
    for i in range(6):
        records.append({"content": f"小区{i}号楼燃气管道漏气有异味", "unit": "GAS",
                        "history": [{"unit": "WATER", "returned": True}, {"unit": "GAS"}]})
        records.append({"content": f"小区{i}号楼停水水压低", "unit": "WATER", "history": [{"unit": "WATER"}]})
    report = train_from_pairs(training_pairs(records), tmp_path / "m.pkl", folds=3)
    assert report["n"] == 12
    model = TextClassifier.load(tmp_path / "m.pkl")
    assert model.suggest("燃气管道漏气").top == "GAS"


def test_label_map_turns_labels_into_units_and_merges(tmp_path):
    path = tmp_path / "label_map.json"
    path.write_text(json.dumps({"城乡建设": "U01", "交通运输": "U01", "_comment": "admin notes"}, ensure_ascii=False),
                    encoding="utf-8")
    lm = label_map(path)
    s = Suggestion([("城乡建设", 0.5), ("教育文体", 0.3), ("交通运输", 0.2)], False, [("路灯", 0.3)])
    out = lm.apply(s)
    assert out.labels == [("U01", 0.7), ("教育文体", 0.3)] and out.keywords == s.keywords
    assert lm.apply(None) is None
    assert LabelMap.load(tmp_path / "missing.json").apply(s) == s
    lm.save(tmp_path / "copy.json")
    assert LabelMap.load(tmp_path / "copy.json").mapping == {"城乡建设": "U01", "交通运输": "U01"}
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="bad.json"):
        LabelMap.load(tmp_path / "bad.json")
    (tmp_path / "list.json").write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ValueError):
        LabelMap.load(tmp_path / "list.json")


def test_retrain_if_better_keeps_a_better_current_model(demo_pairs, tmp_path):
    path = tmp_path / "current.pkl"
    train_from_pairs(demo_pairs, path, folds=3)
    version = TextClassifier.read_header(path)["metadata"]["version"]
    # worse data: labels shuffled among half the rows
    noisy = [(t, demo_pairs[(i * 7) % len(demo_pairs)][1] if i % 2 else lab) for i, (t, lab) in enumerate(demo_pairs)]
    out = retrain_if_better(noisy, path, folds=3)
    assert not out["replaced"] and "kept" in out["reason"]
    assert TextClassifier.read_header(path)["metadata"]["version"] == version

    out = retrain_if_better(demo_pairs, path, folds=3)  # as good: installed
    assert out["replaced"]
    assert TextClassifier.read_header(path)["metadata"]["version"] != version
    assert json.loads(report_path_for(path).read_text(encoding="utf-8"))["n"] == len(demo_pairs)


def test_retrain_if_better_installs_when_current_is_missing_or_corrupt(demo_pairs, tmp_path):
    path = tmp_path / "m.pkl"
    out = retrain_if_better(demo_pairs, path, folds=3)
    assert out["replaced"] and "not found" in out["reason"]
    path.write_bytes(b"junk")
    assert retrain_if_better(demo_pairs, path, folds=3)["replaced"]
    assert TextClassifier.load(path).fitted
