"""Chinese tokenization for hotline tickets.

A :class:`HotlineTokenizer` wraps its *own* ``jieba.Tokenizer`` instance (never
jieba's global default one), extended with a user dictionary: the hotline
vocabulary shipped in ``classifier/data/hotline_words.txt`` plus whatever words the
caller passes (the core passes the city's place names and unit names).

Normalisation matches how most of the training data was stored: the teddy2020c
rows with ``text_kind != raw`` were word-split with stop words removed and the
spaces taken out. So every text, raw or not, goes through the same steps:
NFKC, control characters dropped, length capped, jieba cut, then punctuation,
digits-only tokens, whitespace and stop words dropped. A raw ticket and a
pre-segmented row of the same message end up with (nearly) the same tokens, and
``"".join(tokens)`` has the form of the stored segmented rows (used for the
character n-gram features).
"""
from __future__ import annotations

import hashlib
import re
import threading
import unicodedata
from pathlib import Path
from typing import Iterable

import jieba

DATA_DIR = Path(__file__).resolve().parent / "data"
STOPWORDS_FILE = DATA_DIR / "stopwords.txt"
HOTLINE_WORDS_FILE = DATA_DIR / "hotline_words.txt"

#: Characters of a ticket looked at; the rest is ignored (a 100,000-character paste
#: must not stall the operator console). The longest teddy message is ~9,000.
MAX_CHARS = 3000

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]")
_USEFUL = re.compile(r"[\u3400-\u9fff\uf900-\ufaffA-Za-z]")  # a token must hold a Han or Latin letter


def read_word_list(path: str | Path) -> list[str]:
    """Words of a one-per-line UTF-8 file; blank lines and ``#`` comments skipped."""
    words = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            words.append(line)
    return words


def normalize(text: object, max_chars: int = MAX_CHARS) -> str:
    """NFKC, control/zero-width characters replaced by spaces, length capped.

    Accepts anything (``None`` becomes ""), never raises.
    """
    if text is None:
        return ""
    if not isinstance(text, str):
        text = str(text)
    text = text[: max_chars * 2]  # NFKC can shrink text; cap before the work
    text = unicodedata.normalize("NFKC", text)
    text = _CONTROL.sub(" ", text)
    return text[:max_chars].lower()


def _clean_word(word: str) -> str | None:
    word = normalize(word, 100).strip()
    return word if word and not any(c.isspace() for c in word) else None


_BASE_LOCK = threading.Lock()
_CACHE: dict[str, "jieba.Tokenizer"] = {}
_CACHE_MAX = 4


def _jieba_with_words(words: tuple[str, ...]) -> "jieba.Tokenizer":
    """A jieba.Tokenizer of its own holding ``words``; shared by fingerprint.

    Tokenizers are cached so reloading a model (registry hot reload) does not
    rebuild the ~0.5 s / tens-of-MB prefix dictionary when the words are the same.
    """
    key = hashlib.sha1("\n".join(words).encode("utf-8")).hexdigest()
    with _BASE_LOCK:
        tok = _CACHE.get(key)
        if tok is None:
            tok = jieba.Tokenizer()
            tok.initialize()
            for w in words:
                tok.add_word(w)  # freq=None: jieba picks a frequency that keeps it whole
            if len(_CACHE) >= _CACHE_MAX:
                _CACHE.pop(next(iter(_CACHE)))
            _CACHE[key] = tok
        return tok


class HotlineTokenizer:
    """jieba cut + normalisation + stop words, with a per-instance user dictionary.

    Picklable: only the word lists are stored; the jieba instance is rebuilt (and
    shared through a small cache) on first use after unpickling.
    """

    def __init__(
        self,
        user_words: Iterable[str] = (),
        stop_words: Iterable[str] | None = None,
        include_hotline_words: bool = True,
        hmm: bool = True,
        max_chars: int = MAX_CHARS,
    ):
        words = list(read_word_list(HOTLINE_WORDS_FILE)) if include_hotline_words else []
        words += [w for w in (_clean_word(str(u)) for u in user_words if u) if w]
        self.user_words = tuple(sorted(set(words)))
        if stop_words is None:
            stop_words = read_word_list(STOPWORDS_FILE)
        self.stop_words = frozenset(normalize(w) for w in stop_words)
        self.hmm = hmm
        self.max_chars = max_chars
        self._jieba = None

    # -- pickling: keep the word lists, not jieba's dictionary ---------------
    def __getstate__(self):
        state = self.__dict__.copy()
        state["_jieba"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._jieba = None

    @property
    def jieba(self) -> "jieba.Tokenizer":
        if self._jieba is None:
            self._jieba = _jieba_with_words(self.user_words)
        return self._jieba

    def tokens(self, text: object) -> list[str]:
        """Content words of ``text`` (never raises; may be empty)."""
        text = normalize(text, self.max_chars)
        if not _USEFUL.search(text):
            return []
        stop = self.stop_words
        return [
            w
            for w in self.jieba.cut(text, HMM=self.hmm)
            if w not in stop and _USEFUL.search(w)
        ]

    __call__ = tokens

    def fingerprint(self) -> str:
        return hashlib.sha1(
            ("\n".join(self.user_words) + "\0" + "\n".join(sorted(self.stop_words))).encode("utf-8")
        ).hexdigest()[:12]


def tokenize(text: object, user_words: Iterable[str] = ()) -> list[str]:
    """Convenience: tokens of ``text`` with the shipped vocabulary plus ``user_words``."""
    return HotlineTokenizer(user_words).tokens(text)
