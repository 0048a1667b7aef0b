"""Fixtures for the classifier tests: small synthetic models (fast) and the teddy2020c
CSV (tests that need it skip with a reason when it is absent)."""
from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest

from classifier.demo import synthetic_pairs
from classifier.model import TextClassifier
from classifier.training import default_teddy_csv


@pytest.fixture(scope="session")
def demo_pairs():
    return synthetic_pairs(per_unit=10, seed=1)


@pytest.fixture(scope="session")
def demo_model(demo_pairs) -> TextClassifier:
    return TextClassifier().fit([t for t, _ in demo_pairs], [lab for _, lab in demo_pairs], folds=3)


@pytest.fixture(scope="session")
def demo_model_file(demo_model, tmp_path_factory) -> Path:
    return demo_model.save(tmp_path_factory.mktemp("demo") / "model.pkl")


@pytest.fixture(scope="session")
def teddy_csv() -> Path:
    path = default_teddy_csv()
    if not path.is_file():
        pytest.skip(f"teddy2020c data not found at {path} (set HOTLINE_TEDDY_CSV to its train.csv)")
    return path


@pytest.fixture(scope="session")
def teddy_rows(teddy_csv):
    with open(teddy_csv, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    random.Random(0).shuffle(rows)
    return rows


@pytest.fixture(scope="session")
def teddy_model(teddy_rows) -> TextClassifier:
    """A model on 2,000 random teddy rows (a few seconds), cross-validated with 3 folds."""
    rows = teddy_rows[:2000]
    return TextClassifier().fit([r["text"] for r in rows], [r["label"] for r in rows], folds=3)
