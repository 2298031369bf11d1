"""A split made of several files (documents): checking them, encoding them into one token array
with the indices where each begins, and holding out whole files for validation.

A corpus of files is read twice, like a single file: a first pass checks every file (binary, bad
bytes, unreadable, empty), counts its code points and hashes its bytes; the second encodes the
files that passed into one preallocated array. Peak memory is that array plus a few chunks,
however many files there are.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import numpy as np

from ...errors import DataError
from ...text.codepoints import add_counts
from ...text.files import EmptyText, read_chunks
from ...text.sources import Sources

NO_STARTS = np.zeros(0, np.int64)
CR, LF = 13, 10
SPLIT_NAMES = {"train": "training", "val": "validation", "test": "test"}


@dataclass
class Document:
    path: object  # Path
    name: str  # as messages and the fingerprint name it
    bytes: int
    sha256: str
    chars: int  # code points
    crlf: int = 0  # lines that end in "\r\n" (at character level the "\r" is a token of its own)


def survey(sources: Sources, split: str, encoding: str, chunk_bytes: int, skip_bad: bool,
           counts: np.ndarray, notes: list[str]) -> tuple[list[Document], np.ndarray]:
    """The split's files that can be read, each checked to its end, and ``counts`` with their
    code points added. In a corpus of files an empty one is skipped (said in ``notes``) and a bad
    one (binary, not in the encoding, unreadable) is refused by name, or skipped and listed with
    ``skip_bad``; a single file's problem is always refused."""
    total = counts
    kept, skipped_empty, skipped_bad = [], [], []
    for path in sources.splits[split]:
        digest, size = hashlib.sha256(), [0]

        def on_bytes(raw, digest=digest, size=size):
            digest.update(raw)
            size[0] += len(raw)

        file_counts = np.zeros(0, np.int64)
        crlf, last = 0, -1
        try:
            for points in read_chunks(path, encoding, chunk_bytes, as_codepoints=True, on_bytes=on_bytes):
                chunk_counts = np.bincount(points)
                file_counts = add_counts(file_counts, chunk_counts)
                crlf += int(last == CR and points[0] == LF)  # a "\r\n" split between two chunks
                if chunk_counts.size > CR and chunk_counts[CR]:  # (a text without "\r" costs nothing more)
                    crlf += int(np.count_nonzero((points[:-1] == CR) & (points[1:] == LF)))
                last = int(points[-1])
        except EmptyText:
            if not sources.many:
                raise
            skipped_empty.append(sources.label(path))
            continue
        except DataError as error:
            if not sources.many:
                raise
            if not skip_bad:
                raise DataError(f"{error} (--skip-bad leaves such files out of the corpus)") from None
            skipped_bad.append(f"{sources.label(path)} ({_reason(error, path)})")
            continue
        total = add_counts(total, file_counts)
        kept.append(Document(path, sources.label(path), size[0], digest.hexdigest(), int(file_counts.sum()), crlf))
    if skipped_empty:
        notes.append(f"{len(skipped_empty)} empty file(s) left out: {_listing(skipped_empty)}")
    if skipped_bad:
        notes.append(f"--skip-bad: {len(skipped_bad)} file(s) left out: {_listing(skipped_bad)}")
    if not kept:
        raise DataError(f"no file of the corpus has text to learn from ({len(sources.splits[split])} tried)")
    return kept, total


def crlf_note(docs: dict[str, list[Document]]) -> str | None:
    """At character level: how many lines of the splits' files end in CRLF, where each "\\r" is a
    token the model learns and writes (the text is read as it is, never changed)."""
    counts = {split: sum(doc.crlf for doc in split_docs) for split, split_docs in docs.items()}
    lines = sum(counts.values())
    if not lines:
        return None
    where = ", ".join(f"{SPLIT_NAMES[split]} {n:,}" for split, n in counts.items() if n)
    return (f"{lines:,} line{'s' if lines != 1 else ''} of the text end in CRLF ({where}): at character level each "
            "\\r is a token of its own, which the model learns and writes; the text is read as it is")


def same_file_notes(docs: dict[str, list[Document]]) -> list[str]:
    """A validation or test file that is one of the training files (by any path or link to it):
    the figure measured on it is a training figure, not a measure of generalisation."""
    def key(path):
        stat = os.stat(path)
        return stat.st_dev, stat.st_ino

    train = {key(doc.path): doc.path for doc in docs["train"]}
    notes = []
    for split in ("val", "test"):
        label = SPLIT_NAMES[split]
        for doc in docs.get(split, []):
            same = train.get(key(doc.path))
            if same is not None:
                path = "" if os.path.abspath(same) == os.path.abspath(doc.path) else f" (by another path: {same})"
                notes.append(f"the {label} file {doc.path} is a training file{path}: its {label} figure is a "
                             "training figure, which cannot show over-fitting")
    return notes


def _reason(error: DataError, path) -> str:
    """What was wrong, without the file name the listing already gives."""
    text = str(error)
    return text[len(str(path)):].lstrip(" :") if text.startswith(str(path)) else text


def _listing(names: list[str], most: int = 10) -> str:
    shown = ", ".join(names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def starts_of(sizes) -> np.ndarray:
    """Where each document after the first begins, from the documents' token counts (empty ones,
    which begin where the next does, counted once)."""
    ends = np.cumsum(np.asarray(sizes, np.int64))[:-1]
    return np.unique(ends[ends > 0]) if ends.size else NO_STARTS


def hold_out(sizes: list[int], val_frac: float) -> int | None:
    """How many whole files, from the end, make the validation split: the fewest whose tokens
    reach ``val_frac`` of the whole, if that leaves at least one file for training and does not
    take more than twice the fraction asked (a last file that is most of the text would).
    None: too few files; the tail fraction of the text is held out instead."""
    total = sum(sizes)
    if len(sizes) < 2 or total == 0:
        return None
    taken = 0
    for k, size in enumerate(reversed(sizes), start=1):
        taken += size
        if taken >= val_frac * total:
            fits = k < len(sizes) and taken <= 2 * val_frac * total
            return k if fits else None
    return None


def cut(tokens: np.ndarray, starts: np.ndarray, at: int) -> tuple[tuple, tuple]:
    """(tokens, starts) before and after token ``at``: each part's starts relative to itself."""
    before, after = starts[starts < at], starts[starts > at] - at
    return (tokens[:at], before), (tokens[at:], after)
