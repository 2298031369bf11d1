"""Texts to token ids for classification, at word or character level.

Unlike the language model's :class:`charlm.text.vocab.Vocab`, both levels have an ``<unk>`` (id 0):
a classifier must still answer for a sentence with a word, or a Chinese character, it never saw,
and its character vocabulary can be cut by ``min_freq`` like a word vocabulary. There is no
``<eos>``: a text is one line. Word tokens are ``str.split()``; character tokens are code points
(spaces included: they mark word boundaries).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import numpy as np

from ..errors import ConfigError, DataError

UNK = "<unk>"
LEVELS = ("word", "char")


def split_tokens(text: str, level: str) -> list[str]:
    return text.split() if level == "word" else list(text)


class TokenVocab:
    """``tokens[id]``; id 0 is ``<unk>``, then tokens by falling training frequency (ties in string order)."""

    def __init__(self, tokens: Iterable[str], level: str):
        tokens = list(tokens)
        if level not in LEVELS:
            raise DataError(f"vocabulary: level must be 'word' or 'char', got {level!r}")
        if not tokens or tokens[0] != UNK or not all(isinstance(t, str) and t for t in tokens):
            raise DataError("vocabulary: expected a list of non-empty strings starting with <unk>")
        if len(set(tokens)) != len(tokens):
            raise DataError("vocabulary: a token appears twice")
        self.level = level
        self.tokens = tokens
        self._index = {t: i for i, t in enumerate(tokens)}

    @classmethod
    def build(cls, texts: Iterable[str], level: str, *, min_freq: int = 1, max_size: int | None = None) -> "TokenVocab":
        if isinstance(min_freq, bool) or not isinstance(min_freq, int) or min_freq < 1:
            raise ConfigError(f"--min-freq must be a positive integer, got {min_freq!r}")
        if max_size is not None and max_size < 2:
            raise ConfigError(f"--max-vocab must be at least 2 (<unk> and one token), got {max_size}")
        counts: Counter[str] = Counter()
        for text in texts:
            counts.update(split_tokens(text, level))
        kept = sorted(((t, c) for t, c in counts.items() if c >= min_freq and t != UNK), key=lambda tc: (-tc[1], tc[0]))
        if max_size is not None:
            kept = kept[: max_size - 1]
        if not kept:
            raise DataError(f"no {level} is seen at least {min_freq} times in the training texts: lower --min-freq")
        return cls([UNK] + [t for t, _ in kept], level)

    def __len__(self) -> int:
        return len(self.tokens)

    def __eq__(self, other) -> bool:
        return isinstance(other, TokenVocab) and (self.level, self.tokens) == (other.level, other.tokens)

    __hash__ = None

    def encode(self, text: str) -> np.ndarray:
        """(L,) int32 ids; unknown tokens are 0. A text with no token (only spaces, at word level)
        gives one ``<unk>``, so every example has a length of at least 1."""
        get = self._index.get
        ids = [get(t, 0) for t in split_tokens(text, self.level)]
        return np.array(ids or [0], np.int32)

    def encode_all(self, texts: Iterable[str]) -> tuple[list[np.ndarray], int, int]:
        """The encoded texts, the number of unknown tokens and of all tokens (for an OOV rate)."""
        encoded = [self.encode(t) for t in texts]
        total = sum(e.size for e in encoded)
        unknown = sum(int(np.count_nonzero(e == 0)) for e in encoded)
        return encoded, unknown, total

    def to_dict(self) -> dict:
        return {"level": self.level, "tokens": list(self.tokens)}

    @classmethod
    def from_dict(cls, data) -> "TokenVocab":
        if not isinstance(data, dict) or not isinstance(data.get("tokens"), list):
            raise DataError("vocabulary: expected an object with 'level' and a list of 'tokens'")
        return cls(data["tokens"], data.get("level"))
