"""The text classifier: TF-IDF (words + character n-grams + the title) and a linear SVM,
with temperature-scaled probabilities fitted on cross-validated scores.

Features, all TF-IDF with sublinear tf, on the normalised tokens of
:class:`classifier.tokenize.HotlineTokenizer`:

* jieba words;
* character 1-3-grams of the joined tokens (robust to segmentation differences);
  terms in fewer than 2 (words) / 3 (n-grams) training texts are dropped;
* character 1-3-grams of the first ``head_chars`` characters: a ticket starts with
  its title/summary, which says most about the owning unit (+0.7 point macro-F1 on
  the teddy data).

``LinearSVC`` gives one score per label; ``softmax(score / T)`` turns them into
probabilities, with the temperature ``T`` fitted by minimising the log loss of the
out-of-fold scores (so the probabilities are calibrated and the ranking unchanged).

Model files are pickles: load only files your own training wrote (the registry's
model path is admin-controlled), never one uploaded by a user.
"""
from __future__ import annotations

import os
import pickle
import platform
import tempfile
import time
import uuid
import warnings
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Sequence

import jieba
import numpy as np
import scipy.sparse as sp
import sklearn
from scipy.optimize import minimize_scalar
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold
from sklearn.svm import LinearSVC

from . import metrics
from .duplicates import near_duplicate_groups
from .features import Block, CharNgrams, FeatureSet, Words
from .tokenize import HotlineTokenizer

FORMAT = "hotline-classifier"
FORMAT_VERSION = 1
DEFAULT_UNSURE_THRESHOLD = 0.5


class ModelLoadError(Exception):
    """The model file is missing, corrupt, or was written by an incompatible library."""


@dataclass
class Suggestion:
    """What the operator console shows for a ticket text."""

    labels: list[tuple[str, float]] = field(default_factory=list)  # top-k (label, probability)
    unsure: bool = True  # first probability below the threshold (or nothing usable)
    keywords: list[tuple[str, float]] = field(default_factory=list)  # words behind the first choice
    reason: str | None = None  # why there is no/weak suggestion, e.g. "empty text"

    @property
    def top(self) -> str | None:
        return self.labels[0][0] if self.labels else None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["labels"] = [{"label": lab, "probability": p} for lab, p in self.labels]
        d["keywords"] = [{"word": w, "weight": x} for w, x in self.keywords]
        return d


def library_versions() -> dict:
    return {
        "sklearn": sklearn.__version__,
        "jieba": getattr(jieba, "__version__", "?"),
        "numpy": np.__version__,
        "scipy": __import__("scipy").__version__,
        "python": platform.python_version(),
    }


def _minor(v: str) -> tuple:
    parts = v.split(".")
    return tuple(parts[:2])


def _fit_temperature(scores: np.ndarray, y: np.ndarray) -> float:
    """The T in [0.1, 10] minimising the log loss of softmax(scores / T) (the floor keeps
    a model trained on easily separable demo data from claiming 100% on everything)."""
    if len(y) == 0:
        return 1.0

    def nll(log_t):
        p = metrics.softmax(scores, float(np.exp(log_t)))
        return -np.log(np.clip(p[np.arange(len(y)), y], 1e-12, None)).mean()

    res = minimize_scalar(nll, bounds=(np.log(0.1), np.log(10.0)), method="bounded")
    return float(np.exp(res.x))


class TextClassifier:
    """Suggests a label (category or unit code) for a ticket text.

    ``fit`` cross-validates (``cv_folds``) to calibrate the probabilities and to
    record honest metrics in :attr:`cv_report` / :attr:`metadata`, then fits on
    all the data.
    """

    def __init__(
        self,
        unsure_threshold: float = DEFAULT_UNSURE_THRESHOLD,
        user_words: Iterable[str] = (),
        C: float = 1.0,
        head_chars: int = 25,
        min_df: tuple[int, int, int] = (2, 3, 2),
        cv_folds: int = 5,
        max_keywords: int = 8,
        random_state: int = 0,
        tokenizer: HotlineTokenizer | None = None,
    ):
        self.unsure_threshold = unsure_threshold
        self.tokenizer = tokenizer or HotlineTokenizer(user_words)
        self.C = C
        self.head_chars = head_chars
        self.min_df = tuple(min_df)  # words, character n-grams, title n-grams
        self.cv_folds = cv_folds
        self.max_keywords = max_keywords
        self.random_state = random_state
        self.classes_: list[str] = []
        self.temperature_ = 1.0
        self.cv_report: dict | None = None
        self.metadata: dict = {}
        self._features: FeatureSet | None = None
        self._coef_t: np.ndarray | None = None  # (features, labels)
        self._intercept: np.ndarray | None = None

    # ------------------------------------------------------------------ training
    def prepare(self, texts: Iterable[object]) -> list[tuple[list[str], str]]:
        """Tokenize: each text becomes ``(tokens, "".join(tokens))``."""
        docs = []
        for t in texts:
            toks = self.tokenizer.tokens(t)
            docs.append((toks, "".join(toks)))
        return docs

    def _new_features(self) -> FeatureSet:
        return FeatureSet([
            Block(Words(), min_df=self.min_df[0]),
            Block(CharNgrams(1, 3), min_df=self.min_df[1]),
            Block(CharNgrams(1, 3, self.head_chars), min_df=self.min_df[2]),
        ])

    def _fit_rows(self, counted, y: np.ndarray, rows: np.ndarray):
        """Features + SVM fitted on ``rows``; returns (features, svm)."""
        feats = self._new_features()
        X = feats.fit_rows(counted, rows)
        svm = LinearSVC(C=self.C, random_state=self.random_state)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning on odd tiny sets
            svm.fit(X, y[rows])
        return feats, svm

    @staticmethod
    def _svm_scores(svm, X) -> np.ndarray:
        s = svm.decision_function(X)
        if s.ndim == 1:  # two classes
            s = np.column_stack([-s, s]) / 2.0
        return s

    def cross_validate(self, counted, y: np.ndarray, folds: int, groups=None):
        """Out-of-fold scores; returns (scores, fold_id, n_splits).

        With ``groups`` (e.g. near-duplicate clusters) a group never straddles folds.
        """
        counts = np.bincount(y)
        folds = int(max(2, min(folds, counts.max())))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "least populated class has only 1 member"
            if groups is not None:
                cv = StratifiedGroupKFold(folds, shuffle=True, random_state=self.random_state)
                splits = list(cv.split(np.zeros(len(y)), y, groups))
            else:
                cv = StratifiedKFold(folds, shuffle=True, random_state=self.random_state)
                splits = list(cv.split(np.zeros(len(y)), y))
        scores = np.full((len(y), len(counts)), -10.0)  # classes absent from a fold: never chosen
        fold_id = np.zeros(len(y), dtype=int)
        for k, (tr, te) in enumerate(splits):
            fold_id[te] = k
            present = np.unique(y[tr])
            if len(present) < 2:
                continue
            feats, svm = self._fit_rows(counted, y, tr)
            s = self._svm_scores(svm, feats.transform_rows(counted, te))
            scores[np.ix_(te, present)] = s
        return scores, fold_id, len(splits)

    def _setup(self, texts, labels):
        """Labels -> class indices (sets ``classes_``), tokenized docs, per-block counts."""
        texts = list(texts)
        labels = [str(lab) for lab in labels]
        if len(texts) != len(labels):
            raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
        self.classes_ = sorted(set(labels))
        if len(self.classes_) < 2:
            raise ValueError("training needs at least two different labels")
        index = {c: i for i, c in enumerate(self.classes_)}
        y = np.array([index[lab] for lab in labels])
        docs = self.prepare(texts)
        return y, docs, self._new_features().count_all(docs)

    def cross_validation_reports(self, texts, labels, folds: int = 5, grouped: bool = True) -> dict:
        """Cross-validated figures without the final fit: ``{"stratified": report}`` and,
        if ``grouped``, ``"near_duplicates_grouped"`` (near-duplicate texts kept in one
        fold, so no message is judged by a model that saw its twin)."""
        y, docs, counted = self._setup(texts, labels)
        out = {"stratified": self._cv_report(counted, y, folds)[0]}
        if grouped:
            groups = near_duplicate_groups([d[1] for d in docs])
            out["near_duplicates_grouped"] = self._cv_report(counted, y, folds, groups)[0]
        return out

    def _cv_report(self, counted, y: np.ndarray, folds: int, groups=None) -> tuple[dict, float]:
        """Cross-validated report and the temperature fitted on all out-of-fold scores."""
        scores, fold_id, n_splits = self.cross_validate(counted, y, folds, groups)
        temperature = _fit_temperature(scores, y)
        # Probabilities for the report use a temperature fitted on the *other*
        # folds, so the reported ECE is not fitted on the very scores it judges.
        proba = np.zeros_like(scores)
        for k in range(n_splits):
            m = fold_id == k
            t_k = _fit_temperature(scores[~m], y[~m]) if (~m).any() else temperature
            proba[m] = metrics.softmax(scores[m], t_k)
        report = metrics.report(y, proba, self.classes_, self.unsure_threshold)
        report["cv_folds"] = n_splits
        report["cv_scheme"] = "stratified" if groups is None else "stratified, near-duplicates kept in one fold"
        if groups is not None:
            report["groups"] = int(len(set(np.asarray(groups).tolist())))
        report["temperature"] = round(temperature, 4)
        return report, temperature

    def fit(self, texts: Iterable[object], labels: Iterable[object], folds: int | None = None,
            groups=None) -> "TextClassifier":
        """Cross-validate (``folds``, default ``cv_folds``; 0 = skip) for calibration and
        metrics, then fit on everything. ``groups``: optional group id per text kept
        within one fold, or ``"near-duplicates"`` to group texts whose character
        3-gram cosine is >= 0.7 (a de-duplicated, leak-free CV figure)."""
        t0 = time.perf_counter()
        y, docs, counted = self._setup(texts, labels)
        folds = self.cv_folds if folds is None else folds

        self.cv_report = None
        self.temperature_ = 0.3  # a typical fitted value, used when there is too little data to calibrate
        if folds and folds >= 2 and len(y) >= 2 * len(self.classes_):
            if isinstance(groups, str) and groups == "near-duplicates":
                groups = near_duplicate_groups([d[1] for d in docs])
            self.cv_report, self.temperature_ = self._cv_report(counted, y, folds, groups)

        feats, svm = self._fit_rows(counted, y, np.arange(len(y)))
        feats.forget_training_state()
        self._features = feats
        coef = svm.coef_.astype(np.float32)
        intercept = svm.intercept_.astype(np.float32)
        if coef.shape[0] == 1:  # two classes: LinearSVC keeps one row
            coef = np.vstack([-coef, coef]) / 2.0
            intercept = np.array([-intercept[0], intercept[0]], dtype=np.float32) / 2.0
        self._coef_t = np.ascontiguousarray(coef.T)  # (features, labels): fast row gathers
        self._intercept = intercept

        seconds = time.perf_counter() - t0
        self.metadata = {
            "format_version": FORMAT_VERSION,
            "version": datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6],
            "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "n": len(y),
            "labels": list(self.classes_),
            "n_features": int(self._coef_t.shape[0]),
            "cv_metrics": None if self.cv_report is None else {
                k: self.cv_report[k] for k in ("n", "accuracy", "macro_f1", "top3_accuracy", "ece", "cv_folds", "cv_scheme")
            },
            "unsure_threshold": self.unsure_threshold,
            "temperature": round(self.temperature_, 4),
            "tokenizer": {"user_words": len(self.tokenizer.user_words), "fingerprint": self.tokenizer.fingerprint()},
            "train_seconds": round(seconds, 2),
            "libraries": library_versions(),
        }
        return self

    # ---------------------------------------------------------------- prediction
    @property
    def fitted(self) -> bool:
        return self._coef_t is not None

    def _scores(self, X: sp.csr_matrix) -> np.ndarray:
        return np.asarray(X @ self._coef_t) + self._intercept

    def predict_proba(self, texts: Iterable[object]) -> np.ndarray:
        self._check_fitted()
        return metrics.softmax(self._scores(self._features.matrix(self.prepare(texts))), self.temperature_)

    def suggest(self, text: object, top_k: int = 3, threshold: float | None = None) -> Suggestion:
        """Top-k labels with calibrated probabilities; never raises on odd input."""
        self._check_fitted()
        threshold = self.unsure_threshold if threshold is None else threshold
        toks = self.tokenizer.tokens(text)
        if not toks:
            raw = "" if text is None else str(text)
            reason = "empty text" if not raw.strip() else "no words to classify (only punctuation, digits or symbols)"
            return Suggestion([], True, [], reason)
        idx, val = self._features.vector((toks, "".join(toks)))
        if len(idx) == 0:
            return Suggestion([], True, [], "no known words")
        scores = val @ self._coef_t[idx] + self._intercept
        proba = metrics.softmax(scores[None, :], self.temperature_)[0]
        top_k = max(1, min(int(top_k), len(self.classes_)))
        order = np.argsort(-proba)[:top_k]
        labels = [(self.classes_[i], round(float(proba[i]), 4)) for i in order]
        unsure = labels[0][1] < threshold
        reason = None
        words = self._features.blocks[0].vocabulary
        if not any(t in words for t in toks):
            unsure, reason = True, "no known words"
        elif unsure:
            reason = "low confidence"
        return Suggestion(labels, unsure, self._keywords(idx, val, toks, int(order[0])), reason)

    def _keywords(self, idx: np.ndarray, val: np.ndarray, toks: list[str], k: int) -> list[tuple[str, float]]:
        """Words of the text weighing most for label ``k``: the word's own feature plus the
        character n-grams (length >= 2) inside it, each as tf-idf value x coefficient."""
        coef = self._coef_t[:, k]
        xv = dict(zip(idx.tolist(), val.tolist()))
        blocks, offsets = self._features.blocks, self._features.offsets
        wvoc, cvoc, off_c = blocks[0].vocabulary, blocks[1].vocabulary, offsets[1]
        weights = {}
        for t in set(toks):
            w = 0.0
            j = wvoc.get(t)
            if j is not None:
                w += xv.get(j, 0.0) * coef[j]
            for n in (2, 3):
                for i in range(len(t) - n + 1):
                    j = cvoc.get(t[i: i + n])
                    if j is not None:
                        w += xv.get(off_c + j, 0.0) * coef[off_c + j]
            if w > 0:
                weights[t] = w
        ranked = sorted(weights.items(), key=lambda kv: -kv[1])
        # single characters (不, 里, 月 ...) say little to an operator: they only fill the list
        # when there are fewer than three longer words
        longer = [kv for kv in ranked if len(kv[0]) > 1]
        best = longer if len(longer) >= 3 else longer + [kv for kv in ranked if len(kv[0]) == 1]
        best = sorted(best[: self.max_keywords], key=lambda kv: -kv[1])
        return [(w, round(float(v), 4)) for w, v in best]

    def evaluate(self, texts: Sequence[object], labels: Sequence[object]) -> dict:
        """Figures on a labelled set (labels the model never saw count as errors)."""
        self._check_fitted()
        labels = [str(lab) for lab in labels]
        classes = list(self.classes_) + sorted(set(labels) - set(self.classes_))
        proba = self.predict_proba(texts)
        if len(classes) > len(self.classes_):
            proba = np.hstack([proba, np.zeros((len(proba), len(classes) - len(self.classes_)))])
        index = {c: i for i, c in enumerate(classes)}
        return metrics.report(np.array([index[lab] for lab in labels]), proba, classes, self.unsure_threshold)

    def _check_fitted(self):
        if not self.fitted:
            raise RuntimeError("TextClassifier is not fitted: call fit() or TextClassifier.load()")

    # --------------------------------------------------------------- persistence
    def save(self, path: str | os.PathLike) -> Path:
        """Write atomically (temp file in the same folder + os.replace): readers in other
        processes see the old file or the new one, never a half-written one."""
        self._check_fitted()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        header = {"format": FORMAT, "format_version": FORMAT_VERSION, "metadata": self.metadata}
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                pickle.dump(header, f, protocol=pickle.HIGHEST_PROTOCOL)
                pickle.dump(self, f, protocol=pickle.HIGHEST_PROTOCOL)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        return path

    @staticmethod
    def read_header(path: str | os.PathLike) -> dict:
        """The metadata header of a model file, without loading the model."""
        path = Path(path)
        try:
            with open(path, "rb") as f:
                header = pickle.load(f)
        except FileNotFoundError:
            raise ModelLoadError(f"model file not found: {path}") from None
        except Exception as e:
            raise ModelLoadError(f"model file is corrupt or not a classifier model: {path} ({type(e).__name__}: {e})") from None
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise ModelLoadError(f"not a hotline classifier model: {path}")
        return header

    @classmethod
    def load(cls, path: str | os.PathLike) -> "TextClassifier":
        """Load a saved model; raises :class:`ModelLoadError` with a clear message."""
        path = Path(path)
        header = cls.read_header(path)
        if header.get("format_version") != FORMAT_VERSION:
            raise ModelLoadError(
                f"model file {path} has format version {header.get('format_version')}, "
                f"this code reads version {FORMAT_VERSION}; retrain the model")
        libs = (header.get("metadata") or {}).get("libraries") or {}
        trained_sk = str(libs.get("sklearn", "?"))
        if _minor(trained_sk) != _minor(sklearn.__version__):
            raise ModelLoadError(
                f"model {path} was trained with scikit-learn {trained_sk}, this system runs "
                f"{sklearn.__version__}; retrain it (python run.py classifier train ...)")
        trained_np = str(libs.get("numpy", "?"))
        if trained_np.split(".")[0] != np.__version__.split(".")[0]:
            raise ModelLoadError(
                f"model {path} was trained with numpy {trained_np}, this system runs {np.__version__}; retrain it")
        try:
            with open(path, "rb") as f:
                pickle.load(f)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    model = pickle.load(f)
        except Exception as e:
            raise ModelLoadError(f"model file is corrupt: {path} ({type(e).__name__}: {e})") from None
        if not isinstance(model, cls) or not model.fitted:
            raise ModelLoadError(f"model file {path} does not hold a fitted TextClassifier")
        model.metadata = header.get("metadata") or model.metadata
        return model
