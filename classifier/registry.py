"""The running server's handle on the model file: hot reload, and no suggestions
(instead of errors) when the model is missing, corrupt or incompatible.

Every ``suggest`` call looks at the file's (mtime, size, inode) — one ``os.stat``,
at most every ``check_interval`` seconds — and reloads it when that changed. Models
are written atomically (temp file + ``os.replace``, see ``TextClassifier.save``),
so several processes can share one model file: each sees either the old file or
the new one. A reload happens under a lock; other threads keep using the model
they have until the new one is ready.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

from .model import ModelLoadError, Suggestion, TextClassifier

log = logging.getLogger("classifier.registry")


class ModelRegistry:
    def __init__(self, path: str | os.PathLike, check_interval: float = 1.0,
                 unsure_threshold: float | None = None, logger: logging.Logger | None = None):
        self.path = Path(path)
        self.check_interval = check_interval
        self.unsure_threshold = unsure_threshold
        self.log = logger or log
        self._lock = threading.Lock()
        self._model: TextClassifier | None = None
        self._signature = None  # (mtime_ns, size, inode) of the file we last tried
        self._checked_at = float("-inf")
        self._error: str | None = None  # why there is no model (warned once per file state)

    # ------------------------------------------------------------------ state
    @staticmethod
    def _stat(path: Path):
        try:
            st = os.stat(path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def _refresh(self) -> TextClassifier | None:
        now = time.monotonic()
        if now - self._checked_at < self.check_interval:
            return self._model
        sig = self._stat(self.path)
        if sig == self._signature and (sig is not None or self._error is not None):
            self._checked_at = now
            return self._model
        # The file changed (or was never tried). One thread reloads; while it does, the
        # others keep answering with the model they have (or wait if there is none yet).
        if self._model is not None:
            if not self._lock.acquire(blocking=False):
                return self._model
        else:
            self._lock.acquire()
        try:
            sig = self._stat(self.path)
            if sig == self._signature and (sig is not None or self._error is not None):
                return self._model
            try:
                if sig is None:
                    raise ModelLoadError(f"model file not found: {self.path}")
                model = TextClassifier.load(self.path)
            except ModelLoadError as e:
                self._model, self._error = None, str(e)
                self.log.warning("classifier disabled, no unit suggestions: %s", e)
            except Exception as e:  # never let a bad file take the server down
                self._model, self._error = None, f"{type(e).__name__}: {e}"
                self.log.warning("classifier disabled, no unit suggestions: could not load %s (%s)",
                                 self.path, self._error)
            else:
                was_error = self._error is not None
                self._model, self._error = model, None
                self.log.info("classifier model %s loaded from %s%s", model.metadata.get("version"),
                              self.path, " (suggestions back)" if was_error else "")
            # the signature is recorded only once the attempt is over, so no thread mistakes
            # "being loaded" for "loaded"
            self._signature = sig
            return self._model
        finally:
            self._checked_at = time.monotonic()
            self._lock.release()

    @property
    def model(self) -> TextClassifier | None:
        return self._refresh()

    def status(self) -> dict:
        """For an admin page: is a model loaded, which one, or why not."""
        model = self._refresh()
        if model is None:
            return {"loaded": False, "path": str(self.path), "error": self._error}
        md = model.metadata
        return {"loaded": True, "path": str(self.path), "version": md.get("version"),
                "trained_at": md.get("trained_at"), "n": md.get("n"), "cv_metrics": md.get("cv_metrics")}

    # ------------------------------------------------------------------- use
    def suggest(self, text: object, top_k: int = 3) -> Suggestion | None:
        """The model's suggestion, or None when there is no usable model."""
        model = self._refresh()
        if model is None:
            return None
        try:
            return model.suggest(text, top_k=top_k, threshold=self.unsure_threshold)
        except Exception:  # a suggestion is a help, never a reason to fail the caller
            self.log.exception("classifier suggest failed; no suggestion for this text")
            return None

    def reload(self) -> TextClassifier | None:
        """Force a check of the file now (e.g. right after training)."""
        with self._lock:
            self._signature, self._error = None, None
            self._checked_at = float("-inf")
        return self._refresh()
