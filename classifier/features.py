"""TF-IDF feature blocks computed from count matrices.

Training counts every document once per block (``count``) and then, for each
cross-validation fold and for the final fit, derives the vocabulary (min_df) and
idf from the training rows only (``Block.fit_counts``) — the same numbers as a
fresh ``TfidfVectorizer(sublinear_tf=True)`` per fold, without re-analysing the
texts five more times. Prediction uses ``Block.vector``: plain dict look-ups, no
per-call sklearn overhead (a ticket is scored in well under a millisecond).
"""
from __future__ import annotations

from collections import Counter

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer


class Words:
    """Analyzer: the tokens of a prepared document ``(tokens, joined)``."""

    def __call__(self, doc):
        return doc[0]


class CharNgrams:
    """Analyzer: character n-grams of the joined tokens (only the first ``head`` chars if set)."""

    def __init__(self, lo: int = 1, hi: int = 3, head: int | None = None):
        self.lo, self.hi, self.head = lo, hi, head

    def __call__(self, doc):
        s = doc[1][: self.head] if self.head else doc[1]
        return [s[i: i + n] for n in range(self.lo, self.hi + 1) for i in range(len(s) - n + 1)]


def count(docs, analyzer) -> tuple[sp.csr_matrix, np.ndarray]:
    """Raw term counts of all docs and the term of each column."""
    cv = CountVectorizer(analyzer=analyzer, dtype=np.float32)
    try:
        counts = cv.fit_transform(docs).tocsr()
    except ValueError:  # no term at all
        return sp.csr_matrix((len(docs), 0), dtype=np.float32), np.array([], dtype=object)
    terms = np.empty(len(cv.vocabulary_), dtype=object)
    for t, j in cv.vocabulary_.items():
        terms[j] = t
    return counts, terms


def _l2_rows(X: sp.csr_matrix) -> sp.csr_matrix:
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / norms) @ X, dtype=np.float32)


class Block:
    """One TF-IDF block: analyzer + vocabulary + idf (sublinear tf, l2 per block)."""

    def __init__(self, analyzer, min_df: int = 1):
        self.analyzer = analyzer
        self.min_df = min_df
        self.vocabulary: dict[str, int] = {}
        self.idf = np.zeros(0, dtype=np.float32)
        self._cols = np.zeros(0, dtype=int)  # training-time only

    def fit_counts(self, counts: sp.csr_matrix, terms: np.ndarray, rows: np.ndarray) -> sp.csr_matrix:
        """Learn vocabulary + idf from ``counts[rows]``; returns the tf-idf of those rows."""
        sub = counts[rows]
        df = np.bincount(sub.indices, minlength=counts.shape[1])
        min_df = self.min_df if len(rows) >= 1000 else 1  # small sets: every term counts
        cols = np.flatnonzero(df >= min_df)
        n = len(rows)
        self.idf = (np.log((1.0 + n) / (1.0 + df[cols])) + 1.0).astype(np.float32)
        self._cols = cols
        self.vocabulary = {terms[j]: i for i, j in enumerate(cols)}
        return self.transform_counts(sub)

    def transform_counts(self, counts_rows: sp.csr_matrix) -> sp.csr_matrix:
        X = counts_rows[:, self._cols].tocsr().astype(np.float32)
        X.data = 1.0 + np.log(X.data)
        X = X @ sp.diags(self.idf)
        return _l2_rows(sp.csr_matrix(X))

    def forget_training_state(self):
        self._cols = None

    def vector(self, doc) -> tuple[list[int], np.ndarray]:
        """(column indices, tf-idf values) of one document."""
        voc = self.vocabulary
        counts = Counter(self.analyzer(doc))
        hits = [(voc[t], c) for t, c in counts.items() if t in voc]
        if not hits:
            return [], np.zeros(0, dtype=np.float32)
        idx = [j for j, _ in hits]
        val = (1.0 + np.log(np.array([c for _, c in hits], dtype=np.float32))) * self.idf[idx]
        val /= np.sqrt(np.dot(val, val))
        return idx, val


class FeatureSet:
    """Several blocks side by side (column offsets)."""

    def __init__(self, blocks: list[Block]):
        self.blocks = blocks
        self.offsets: list[int] = []

    @property
    def n_features(self) -> int:
        return sum(len(b.vocabulary) for b in self.blocks)

    def _set_offsets(self):
        self.offsets = list(np.cumsum([0] + [len(b.vocabulary) for b in self.blocks])[:-1])

    def count_all(self, docs) -> list[tuple[sp.csr_matrix, np.ndarray]]:
        return [count(docs, b.analyzer) for b in self.blocks]

    def fit_rows(self, counted, rows: np.ndarray) -> sp.csr_matrix:
        X = sp.hstack([b.fit_counts(c, t, rows) for b, (c, t) in zip(self.blocks, counted)], format="csr")
        self._set_offsets()
        return X

    def transform_rows(self, counted, rows: np.ndarray) -> sp.csr_matrix:
        return sp.hstack([b.transform_counts(c[rows]) for b, (c, _) in zip(self.blocks, counted)], format="csr")

    def vector(self, doc) -> tuple[np.ndarray, np.ndarray]:
        idx_parts, val_parts = [], []
        for b, off in zip(self.blocks, self.offsets):
            idx, val = b.vector(doc)
            if idx:
                idx_parts.append(np.asarray(idx) + off)
                val_parts.append(val)
        if not idx_parts:
            return np.zeros(0, dtype=int), np.zeros(0, dtype=np.float32)
        return np.concatenate(idx_parts), np.concatenate(val_parts)

    def matrix(self, docs) -> sp.csr_matrix:
        indptr, indices, data = [0], [], []
        for d in docs:
            idx, val = self.vector(d)
            indices.append(idx)
            data.append(val)
            indptr.append(indptr[-1] + len(idx))
        return sp.csr_matrix(
            (np.concatenate(data) if data else np.zeros(0, np.float32),
             np.concatenate(indices) if indices else np.zeros(0, int), indptr),
            shape=(len(docs), self.n_features))

    def forget_training_state(self):
        for b in self.blocks:
            b.forget_training_state()
