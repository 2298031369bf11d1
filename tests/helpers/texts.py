"""Real text for the tests: a slice of Tiny Shakespeare when ../shared is beside the repository
(the developers' machines), else the corpus bundled with charlm (a user's clone)."""

from __future__ import annotations

from pathlib import Path
from tests.helpers.paths import SHARED_CORPORA

SHAKESPEARE = SHARED_CORPORA / "tinyshakespeare" / "input.txt"
PTB_TRAIN = SHARED_CORPORA / "ptb" / "ptb.train.txt"


def english_text(n_chars: int) -> str:
    """The first n_chars characters of real English text."""
    if SHAKESPEARE.exists():
        return SHAKESPEARE.read_text(encoding="utf-8")[:n_chars]
    from charlm.text.bundled import bundled_corpus_path

    return bundled_corpus_path().read_text(encoding="utf-8")[:n_chars]


def write_text(folder: Path, n_chars: int, name: str = "corpus.txt") -> Path:
    path = folder / name
    path.write_text(english_text(n_chars), encoding="utf-8")
    return path
