"""Encoders for a text given in pieces (chunks of a file): ids out, and on unknown tokens one
error that names the first few and where they are in the whole text. They are handed the
vocabulary's lookups (``Vocab.encoder`` builds them), not the vocabulary itself."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from ..errors import DataError
from .codepoints import codepoints

MAX_LISTED = 5  # unknown characters or words named in an error message


def _listing(found: list[tuple[str, str]], distinct: int, occurrences: int, what: str) -> str:
    """'unknown characters 'é' (line 3, col 7), '€' (line 9, col 1) and 2 more (9 in all)'."""
    noun = what if distinct == 1 else what + "s"
    listed = ", ".join(f"{token!r} ({where})" for token, where in found)
    more = f" and {distinct - len(found)} more" if distinct > len(found) else ""
    total = f" ({occurrences} in all)" if occurrences > len(found) else ""
    return f"unknown {noun} {listed}{more}{total}"


class CharEncoder:
    """Encodes a text given as successive pieces (str, or arrays of code points), keeping the
    line and column across pieces so that an unknown character is reported where it is in the
    whole text. ``encode`` returns int32 ids with -1 where unknown; ``finish`` raises DataError
    if any were met. ``lookup``: code points (n,) -> ids (n,), -1 where unknown."""

    def __init__(self, lookup: Callable[[np.ndarray], np.ndarray], source: str | None = None):
        self.lookup = lookup
        self.source = source
        self.line = 1  # line of the next code point
        self.col = 0  # code points already on that line
        self.unknown = 0  # always 0 after a successful finish(); kept for the WordEncoder interface
        self._occurrences = 0
        self._distinct: set[int] = set()
        self._found: list[tuple[str, str]] = []  # first places of the first few unknown characters

    def encode(self, piece: str | np.ndarray) -> np.ndarray:
        points = codepoints(piece) if isinstance(piece, str) else np.asarray(piece)
        ids = self.lookup(points)
        newlines = np.flatnonzero(points == 10)
        bad = np.flatnonzero(ids < 0)
        if bad.size:
            self._record(points, bad, newlines)
        if newlines.size:
            self.line += newlines.size
            self.col = points.size - 1 - int(newlines[-1])
        else:
            self.col += points.size
        return ids

    def _record(self, points: np.ndarray, bad: np.ndarray, newlines: np.ndarray) -> None:
        self._occurrences += bad.size
        values, first = np.unique(points[bad], return_index=True)
        for k in np.argsort(first, kind="stable"):
            value = int(values[k])
            if value in self._distinct:
                continue
            self._distinct.add(value)
            if len(self._found) < MAX_LISTED:
                i = int(bad[first[k]])
                before = int(np.searchsorted(newlines, i))  # newlines before position i
                col = i - int(newlines[before - 1]) if before else self.col + i + 1
                self._found.append((chr(value), f"line {self.line + before}, col {col}"))

    def finish(self) -> None:
        if self._occurrences:
            message = _listing(self._found, len(self._distinct), self._occurrences, "character")
            prefix = f"{self.source}: " if self.source else ""
            raise DataError(f"{prefix}{message}: the model was trained without them")


class WordEncoder:
    """Encodes a text given as successive pieces of whole lines: one id per whitespace token,
    ``<eos>`` for each newline. Unknown words become ``<unk>`` (counted in ``unknown``) or, with
    ``to_unk=False``, make ``finish`` raise DataError naming them and where they are.
    ``index``: word -> id; ``eos_id``, ``unk_id``: the ids of ``<eos>`` and ``<unk>``."""

    def __init__(self, index: Mapping[str, int], eos_id: int, unk_id: int, to_unk: bool, source: str | None = None):
        self.index, self.eos_id, self.unk_id = index, eos_id, unk_id
        self.to_unk = to_unk
        self.source = source
        self.line = 1  # line of the next piece's first line
        self.unknown = 0
        self.emitted = 0  # ids returned so far
        self.unknown_at: list[np.ndarray] = []  # positions (in the whole output) of the unknown words
        self._distinct: set[str] = set()
        self._found: list[tuple[str, str]] = []

    def encode(self, piece: str) -> np.ndarray:
        get, eos = self.index.get, self.eos_id
        ids: list[int] = []
        lines = piece.split("\n")
        for k, line in enumerate(lines):
            if k:
                ids.append(eos)
            ids.extend([get(w, -1) for w in line.split()])
        out = np.array(ids, np.int32) if ids else np.empty(0, np.int32)
        bad = out < 0
        n_bad = int(np.count_nonzero(bad))
        if n_bad:
            self.unknown += n_bad
            self.unknown_at.append(np.flatnonzero(bad) + self.emitted)
            out[bad] = self.unk_id
            if not self.to_unk:
                self._record(lines)
        self.line += len(lines) - 1
        self.emitted += out.size
        return out

    def _record(self, lines: list[str]) -> None:
        index = self.index
        for k, line in enumerate(lines):
            for n, word in enumerate(line.split(), 1):
                if word not in index and word not in self._distinct:
                    self._distinct.add(word)
                    if len(self._found) < MAX_LISTED:
                        self._found.append((word, f"line {self.line + k}, word {n}"))

    def finish(self) -> None:
        if self.unknown and not self.to_unk:
            message = _listing(self._found, len(self._distinct), self.unknown, "word")
            prefix = f"{self.source}: " if self.source else ""
            raise DataError(f"{prefix}{message}: not in the model's vocabulary")
