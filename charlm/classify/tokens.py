"""Texts to token ids for classification, with the one vocabulary class (:class:`Vocab`, built by
:meth:`Vocab.build_counted`: ``<unk>`` = 0 at both levels, no ``<eos>``). Word tokens are
``str.split()``; character tokens are code points, spaces included (they mark word boundaries)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ..text.vocab import Vocab


def encode_text(vocab: Vocab, text: str) -> np.ndarray:
    """(L,) int32 ids; unknown tokens are ``<unk>`` (0). A text with no token (only spaces, at
    word level) gives one ``<unk>``, so every example has a length of at least 1."""
    get, unk = vocab._index.get, vocab.unk_id
    tokens = text.split() if vocab.level == "word" else text
    ids = [get(t, unk) for t in tokens]
    return np.array(ids or [unk], np.int32)


def encode_all(vocab: Vocab, texts: Iterable[str]) -> tuple[list[np.ndarray], int, int]:
    """The encoded texts, the number of unknown tokens and of all tokens (for an OOV rate)."""
    encoded = [encode_text(vocab, t) for t in texts]
    total = sum(e.size for e in encoded)
    unknown = sum(int(np.count_nonzero(e == vocab.unk_id)) for e in encoded)
    return encoded, unknown, total
