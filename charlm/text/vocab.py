"""Vocabularies: text to token ids and back.

Two levels:

- **char**: one token per Unicode code point (an emoji with a skin tone is two code points, so
  two tokens; a newline is a token). Ids follow code point order, so the vocabulary of several
  files is the union of their code points and can be built chunk by chunk without ever holding
  the text (see ``data.py``).
- **word**: whitespace tokens (``str.split``) and an ``<eos>`` token for each newline (the PTB
  convention). ``<unk>`` = 0 and ``<eos>`` = 1, then the words by falling frequency, ties in
  string order. Words rarer than ``min_freq``, or beyond ``max_size``, become ``<unk>``; a
  corpus's own literal ``<unk>`` (PTB has 45k of them) is that same token. A literal ``<eos>`` in
  the text is the end-of-line token too, and decodes as a newline.

A classifier's vocabulary (``charlm classify``) is the same class built by :meth:`Vocab.build_counted`:
``<unk>`` = 0 at both levels (a classifier must answer for a sentence with a word or a character
it never saw), then the tokens by falling frequency, cut by ``min_freq`` and ``max_size`` in the
same way; no ``<eos>`` (a text is one line).

Token arrays use the smallest unsigned dtype that holds every id (uint8 up to 256 tokens,
uint16 up to 65,536, else uint32): a 100 MB character corpus is a 100 MB array.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import NamedTuple

import numpy as np

from ..errors import DataError
from .codepoints import MAX_CODEPOINT, add_counts, codepoints
from .encoders import CharEncoder, WordEncoder

UNK = "<unk>"
EOS = "<eos>"
REPLACEMENT = 0xFFFD  # what a character vocabulary's <unk> decodes as
LEVELS = ("char", "word")


def token_dtype(n_tokens: int) -> np.dtype:
    """The smallest unsigned integer dtype that holds ids 0 .. n_tokens - 1."""
    for dtype in (np.uint8, np.uint16, np.uint32):
        if n_tokens <= int(np.iinfo(dtype).max) + 1:
            return np.dtype(dtype)
    raise ValueError(f"{n_tokens} tokens do not fit in 32-bit ids")


class Encoded(NamedTuple):
    tokens: np.ndarray  # 1-D ids, dtype ``vocab.dtype``
    unknown: int  # tokens the vocabulary lacks, mapped to <unk> (a text's own "<unk>" not counted)


class Vocab:
    """An ordered list of tokens: ``tokens[id]`` is the string of token ``id``."""

    def __init__(self, tokens: Iterable[str], level: str):
        tokens = tuple(tokens)
        _check_tokens(tokens, level)
        self.level = level
        self.tokens = tokens
        self._index = {token: i for i, token in enumerate(tokens)}
        self.dtype = token_dtype(len(tokens))
        self.unk_id = self._index.get(UNK)
        self.eos_id = self._index.get(EOS) if level == "word" else None
        if level == "char":
            # id -> code point, and code point -> id (-1: not in the vocabulary). The table ends
            # one past the largest code point, so clipping any code point to its last entry maps
            # everything beyond to -1. A classifier's <unk> decodes as U+FFFD and is not looked up.
            points = [REPLACEMENT if t == UNK else ord(t) for t in tokens]
            self._codepoints = np.array(points, np.uint32)
            ids = np.arange(len(tokens), dtype=np.int32)
            real = np.array([t != UNK for t in tokens])
            self._table = np.full(int(self._codepoints.max()) + 2, -1, np.int32)
            self._table[self._codepoints[real]] = ids[real]

    # ----------------------------------------------------------------- building
    @classmethod
    def build_char(cls, texts: str | Iterable[str]) -> "Vocab":
        """Every code point of the texts, in code point order."""
        if isinstance(texts, str):
            texts = [texts]
        seen = np.zeros(0, np.int64)
        for text in texts:
            counts = np.bincount(codepoints(text))
            seen = add_counts(seen, counts)
        return cls.from_codepoints(np.flatnonzero(seen))

    @classmethod
    def from_codepoints(cls, points: Iterable[int] | np.ndarray) -> "Vocab":
        """A character vocabulary from code points (any order, repeats allowed)."""
        points = np.unique(np.asarray(points, dtype=np.int64).ravel())
        if points.size == 0:
            raise DataError("no characters to build a vocabulary from")
        if points[0] < 0 or points[-1] > MAX_CODEPOINT:
            raise ValueError(f"code points must be in 0..0x10FFFF, got {points[0]}..{points[-1]}")
        return cls([chr(p) for p in points.tolist()], "char")

    @classmethod
    def build_word(cls, texts: str | Iterable[str], *, min_freq: int = 1, max_size: int | None = None) -> "Vocab":
        """Whitespace tokens of the texts; see :meth:`from_word_counts` for the cut."""
        if isinstance(texts, str):
            texts = [texts]
        counts: Counter[str] = Counter()
        for text in texts:
            counts.update(text.split())
        return cls.from_word_counts(counts, min_freq=min_freq, max_size=max_size)

    @classmethod
    def from_word_counts(cls, counts: Mapping[str, int], *, min_freq: int = 1, max_size: int | None = None) -> "Vocab":
        """``<unk>``, ``<eos>``, then the words seen at least ``min_freq`` times, most frequent
        first (ties in string order), at most ``max_size`` tokens in all (the two specials
        included, so ``max_size=10000`` gives PTB's 10k vocabulary)."""
        _check_cut(min_freq, max_size, 2, "<unk> and <eos>")
        kept = [(w, c) for w, c in counts.items() if c >= min_freq and w not in (UNK, EOS)]
        kept.sort(key=lambda wc: (-wc[1], wc[0]))
        if max_size is not None:
            kept = kept[: max_size - 2]
        return cls([UNK, EOS] + [w for w, _ in kept], "word")

    @classmethod
    def build_counted(cls, texts: Iterable[str], level: str, *, min_freq: int = 1, max_size: int | None = None) -> "Vocab":
        """A classifier's vocabulary: ``<unk>``, then the tokens (words, or characters with the
        spaces) seen at least ``min_freq`` times, most frequent first (ties in string order), at
        most ``max_size`` tokens in all, ``<unk>`` included (the same count as
        :meth:`from_word_counts`)."""
        if level not in LEVELS:
            raise DataError(f"vocabulary: level must be 'char' or 'word', got {level!r}")
        _check_cut(min_freq, max_size, 2, "<unk> and one token")
        counts: Counter[str] = Counter()
        for text in texts:
            counts.update(text.split() if level == "word" else text)
        kept = sorted(((t, c) for t, c in counts.items() if c >= min_freq and t != UNK), key=lambda tc: (-tc[1], tc[0]))
        if max_size is not None:
            kept = kept[: max_size - 1]
        if not kept:
            raise DataError(f"no {level} is seen at least {min_freq} times in the training texts: lower --min-freq")
        return cls([UNK] + [t for t, _ in kept], level)

    # ----------------------------------------------------------------- lookups
    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: str) -> bool:
        return token in self._index

    def __eq__(self, other) -> bool:
        return isinstance(other, Vocab) and self.level == other.level and self.tokens == other.tokens

    __hash__ = None  # mutable-looking; compare with ==

    def __repr__(self) -> str:
        return f"Vocab(level={self.level!r}, size={len(self)})"

    def id_of(self, token: str) -> int:
        try:
            return self._index[token]
        except KeyError:
            raise KeyError(f"{token!r} is not in the {self.level} vocabulary") from None

    def lookup_codepoints(self, points: np.ndarray) -> np.ndarray:
        """Char level: (M,) code points (any unsigned dtype) -> (M,) int32 ids, -1 where unknown."""
        table = self._table
        if points.size and int(points.max()) >= table.size:
            points = np.minimum(points, table.size - 1)
        return np.take(table, points)

    # ----------------------------------------------------------------- encoding
    def encoder(self, unknown: str = "error", source: str | None = None) -> "CharEncoder | WordEncoder":
        """A stateful encoder for a text given in pieces (see :class:`CharEncoder`,
        :class:`WordEncoder`); ``source`` (a path) prefixes its error message."""
        if unknown not in ("error", "unk"):
            raise ValueError(f"unknown must be 'error' or 'unk', got {unknown!r}")
        if self.level == "char":
            if unknown == "unk":
                raise ValueError("a character vocabulary has no <unk>; unknown characters are an error")
            return CharEncoder(self.lookup_codepoints, source)
        return WordEncoder(self._index, self.eos_id, self.unk_id, unknown == "unk", source)

    def encode_counting(self, text: str, unknown: str = "error") -> Encoded:
        """Like :meth:`encode`, also counting the tokens mapped to ``<unk>`` (for an
        out-of-vocabulary rate)."""
        encoder = self.encoder(unknown)
        ids = encoder.encode(text)
        encoder.finish()
        return Encoded(ids.astype(self.dtype), encoder.unknown)

    def encode(self, text: str, unknown: str = "error") -> np.ndarray:
        """Text -> 1-D ids (dtype ``self.dtype``). Char: one id per code point. Word: one id per
        whitespace token and ``<eos>`` for each newline (none is added after an unterminated
        last line: that is for files, see ``data.encode_file``). ``unknown="error"`` raises
        DataError naming the unknown tokens and where they are; ``"unk"`` (word level only)
        maps them to ``<unk>``."""
        return self.encode_counting(text, unknown).tokens

    def decode(self, ids) -> str:
        """Ids -> text. Char: exact inverse of :meth:`encode`. Word: tokens joined by spaces,
        ``<eos>`` as a newline."""
        ids = np.asarray(ids)
        if ids.size == 0:
            return ""
        if ids.dtype.kind not in "iu":
            raise ValueError(f"token ids must be integers, got {ids.dtype}")
        ids = ids.ravel()
        low, high = int(ids.min()), int(ids.max())
        if low < 0 or high >= len(self):
            raise ValueError(f"token id {low if low < 0 else high} is out of range for a vocabulary of {len(self)}")
        if self.level == "char":
            return self._codepoints[ids].astype("<u4").tobytes().decode("utf-32-le", "surrogatepass")
        tokens, eos = self.tokens, self.eos_id
        parts: list[str] = []
        line_start = True
        for i in ids.tolist():
            if i == eos:
                parts.append("\n")
                line_start = True
            else:
                if not line_start:
                    parts.append(" ")
                parts.append(tokens[i])
                line_start = False
        return "".join(parts)

    # ----------------------------------------------------------------- JSON form
    def to_dict(self) -> dict:
        return {"level": self.level, "tokens": list(self.tokens)}

    @classmethod
    def from_dict(cls, data) -> "Vocab":
        """Inverse of :meth:`to_dict`; DataError if ``data`` is not a valid vocabulary."""
        if not isinstance(data, Mapping):
            raise DataError(f"vocabulary: expected an object with 'level' and 'tokens', got {type(data).__name__}")
        missing = [key for key in ("level", "tokens") if key not in data]
        if missing:
            raise DataError(f"vocabulary: missing {', '.join(repr(k) for k in missing)}")
        if not isinstance(data["tokens"], list):
            raise DataError(f"vocabulary: 'tokens' must be a list, got {type(data['tokens']).__name__}")
        return cls(data["tokens"], data["level"])


def _check_cut(min_freq, max_size, least: int, what: str) -> None:
    if isinstance(min_freq, bool) or not isinstance(min_freq, int) or min_freq < 1:
        raise DataError(f"--min-freq must be a positive integer, got {min_freq!r}")
    if max_size is not None and (isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < least):
        raise DataError(f"--max-vocab must be at least {least} ({what}), got {max_size!r}")


def _check_tokens(tokens: tuple, level) -> None:
    if level not in LEVELS:
        raise DataError(f"vocabulary: level must be 'char' or 'word', got {level!r}")
    if not tokens:
        raise DataError("vocabulary: no tokens")
    for i, token in enumerate(tokens):
        if not isinstance(token, str):
            raise DataError(f"vocabulary: token {i} is a {type(token).__name__}, not a string")
        if level == "char" and len(token) != 1 and not (token == UNK and i == 0):
            raise DataError(f"vocabulary: character token {i} is {token!r}, not one code point")
        if level == "word" and (not token or token.split() != [token]):
            raise DataError(f"vocabulary: word token {i} is {token!r}, empty or with whitespace")
    if len(set(tokens)) != len(tokens):
        seen = set()
        duplicate = next(t for t in tokens if t in seen or seen.add(t))
        raise DataError(f"vocabulary: token {duplicate!r} appears twice")
    if level == "word" and UNK not in tokens:
        raise DataError(f"vocabulary: a word vocabulary needs {UNK}")
