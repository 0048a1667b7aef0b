"""The nightly retraining hook: calls the classifier's training if it is there, else skips."""
from __future__ import annotations

import sys
import types

from scheduler.retrain import history_records, retrain


def test_retrain_feeds_the_history_to_the_classifier(city, clock, monkeypatch):
    city.closed(content="自来水管爆裂，水流满街")
    seen = {}
    history = types.ModuleType("classifier.history")
    training = types.ModuleType("classifier.training")

    def training_pairs(records):
        seen["records"] = list(records)
        return [(r["content"], r["final_unit"]) for r in seen["records"]]

    def retrain_if_better(pairs, current_model_path):
        seen["pairs"], seen["path"] = pairs, current_model_path
        return {"replaced": False, "reason": "new model scores worse"}

    history.training_pairs, training.retrain_if_better = training_pairs, retrain_if_better
    monkeypatch.setitem(sys.modules, "classifier.history", history)
    monkeypatch.setitem(sys.modules, "classifier.training", training)
    assert retrain(city.hl) == {"replaced": False, "reason": "new model scores worse"}
    assert seen["pairs"] == [("自来水管爆裂，水流满街", "T01")]
    assert seen["path"] == city.hl.settings.model_path


def test_retrain_skips_without_the_classifier(city, monkeypatch, caplog):
    city.closed()
    monkeypatch.setitem(sys.modules, "classifier.training", None)  # import fails
    caplog.set_level("INFO")
    assert retrain(city.hl) is None
    assert "skipped" in caplog.text
    assert len(list(history_records(city.hl))) == 1
