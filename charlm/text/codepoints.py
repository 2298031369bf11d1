"""Text as arrays of Unicode code points, without a Python object per character: what lets a
character corpus be counted and encoded a chunk at a time."""

from __future__ import annotations

import numpy as np

MAX_CODEPOINT = 0x10FFFF


def codepoints(text: str) -> np.ndarray:
    """The code points of ``text`` as a (len(text),) uint32 array, without a Python object per
    character. Lone surrogates (from ``errors="surrogateescape"`` reads) pass through."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), "<u4")


def add_counts(total: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """total + counts for bincount arrays of different lengths."""
    if counts.size > total.size:
        total, counts = counts.astype(np.int64), total
    total[: counts.size] += counts
    return total
