"""On the real teddy2020c messages (skipped when the CSV is absent)."""
import pytest

from classifier.model import TextClassifier


def test_subset_cross_validation_is_sane(teddy_model):
    rep = teddy_model.cv_report
    assert rep["n"] == 2000 and rep["cv_folds"] == 3
    assert rep["macro_f1"] > 0.82 and rep["top3_accuracy"] > 0.97 and rep["ece"] < 0.06


def test_held_out_rows(teddy_model, teddy_rows):
    rows = teddy_rows[2000:2600]
    rep = teddy_model.evaluate([r["text"] for r in rows], [r["label"] for r in rows])
    assert rep["n"] == 600 and rep["accuracy"] > 0.85


@pytest.mark.slow
def test_full_five_fold_cross_validation(teddy_rows):
    """The issue's goals are macro-F1 >= 0.945 and top-3 >= 0.99; this model measures ~0.930 / 0.996
    (README). The test guards against regressions below what we measured."""
    m = TextClassifier()
    reports = m.cross_validation_reports([r["text"] for r in teddy_rows], [r["label"] for r in teddy_rows],
                                         folds=5, grouped=False)
    rep = reports["stratified"]
    assert rep["n"] == 8225
    assert rep["macro_f1"] >= 0.92 and rep["accuracy"] >= 0.925
    assert rep["top3_accuracy"] >= 0.99
    assert rep["ece"] < 0.03
