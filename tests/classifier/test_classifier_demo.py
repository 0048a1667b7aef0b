import time

from classifier.demo import ensure_model, synthetic_pairs
from classifier.model import TextClassifier


def test_first_start_trains_quickly_and_then_keeps_the_model(tmp_path):
    path = tmp_path / "model" / "unit-classifier.joblib"
    calls = []

    def pairs():
        calls.append(1)
        return synthetic_pairs(per_unit=14, seed=3)  # 420 short texts, 30 units

    t0 = time.perf_counter()
    report = ensure_model(path, pairs=pairs, folds=3, user_words=["南湖街道", "幸福小区"])
    assert time.perf_counter() - t0 < 5.0
    assert report["n"] == 420 and len(report["model"]["labels"]) == 30
    assert report["macro_f1"] > 0.8 and report["top3_accuracy"] > 0.9
    model = TextClassifier.load(path)
    assert model.suggest("南湖街道幸福小区停水了").top == "市水务局"
    assert model.suggest("培训机构跑路了不退学费").top == "教育局"
    assert ensure_model(path, pairs=pairs) is None and len(calls) == 1  # kept, pairs not even built


def test_default_pairs_and_a_corrupt_file_is_replaced(tmp_path):
    path = tmp_path / "m.pkl"
    path.write_bytes(b"corrupt")
    report = ensure_model(path)
    assert report is not None and TextClassifier.load(path).fitted
