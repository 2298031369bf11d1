"""Corpora: the train / validation / test splits as token arrays (their layout in streams and
windows is ``batching.py``). Reading and validating the files is ``text/files.py``; ``read_text``
and ``count_codepoints`` are re-exported here for callers.

Memory: a character corpus is read a chunk of bytes at a time (``CHUNK_BYTES``) and never held
as text: each chunk becomes an array of code points, counted for the vocabulary in a first pass
and looked up into a preallocated token array in a second. Peak memory is the token arrays plus
a few chunks. Word corpora (small by nature) go through Python strings one chunk of lines at a
time.

Every problem with the input is a one-line :class:`DataError` that the CLI prints as is.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..text.files import (  # noqa: F401 (read_text is re-exported)
    CHUNK_BYTES,
    check_encoding,
    count_codepoints,
    file_size,
    read_chunks,
    read_text,
    word_lines,
)
from ..text.codepoints import add_counts
from ..text.vocab import EOS, Encoded, Vocab

# Folder layouts understood as (train, valid, test), in order of preference. PTB's character files
# (symbols separated by spaces) are used only when the word files are absent.
SPLIT_NAMES = (
    ("train.txt", "valid.txt", "test.txt"),
    ("ptb.train.txt", "ptb.valid.txt", "ptb.test.txt"),
    ("ptb.char.train.txt", "ptb.char.valid.txt", "ptb.char.test.txt"),
)


# --------------------------------------------------------------------------- encoding files
class _Growing:
    """A 1-D array filled piece by piece. Allocated once at the expected size (pages never
    written cost no memory), grown by half when exceeded, trimmed in place at the end."""

    def __init__(self, capacity: int, dtype):
        self.array = np.empty(max(int(capacity), 1), dtype)
        self.size = 0

    def append(self, ids: np.ndarray) -> None:
        end = self.size + ids.size
        if end > self.array.size:
            self.array.resize(max(end, self.array.size * 3 // 2), refcheck=False)
        self.array[self.size : end] = ids
        self.size = end

    def finish(self) -> np.ndarray:
        self.array.resize(self.size, refcheck=False)
        return self.array


def encode_file(
    path,
    vocab: Vocab,
    *,
    encoding: str = "utf-8",
    unknown: str = "error",
    chunk_bytes: int = CHUNK_BYTES,
    size_hint: int | None = None,
) -> Encoded:
    """A file's tokens with a given vocabulary (e.g. a checkpoint's), read in chunks. Char level:
    unknown characters raise DataError naming them with line and column. Word level: each line
    ends with <eos>; unknown words raise, or with ``unknown="unk"`` become <unk> (counted).
    ``size_hint``: the number of tokens if known (else the file size bounds a char count)."""
    tokens, encoder = _encode_file(path, vocab, encoding, unknown, chunk_bytes, size_hint)
    return Encoded(tokens, encoder.unknown)


def _encode_file(path, vocab: Vocab, encoding: str, unknown: str, chunk_bytes: int, size_hint: int | None):
    """(tokens, the finished encoder) for :func:`encode_file`."""
    encoder = vocab.encoder(unknown, source=str(path))
    if vocab.level == "char":
        pieces = read_chunks(path, encoding, chunk_bytes, as_codepoints=True)
        capacity = size_hint if size_hint is not None else file_size(path)
    else:
        pieces = word_lines(path, encoding, chunk_bytes)
        capacity = size_hint if size_hint is not None else file_size(path) // 4  # ~5 bytes a word
    out = _Growing(capacity, vocab.dtype)
    for piece in pieces:
        out.append(encoder.encode(piece))
    encoder.finish()  # before the array is used: unknown characters leave -1 ids
    return out.finish(), encoder


# --------------------------------------------------------------------------- corpora
@dataclass
class Corpus:
    vocab: "Vocab"
    train: np.ndarray  # (n,) ids, dtype vocab.dtype
    val: np.ndarray | None
    test: np.ndarray | None
    name: str  # the file stem or folder name: the default run folder is runs/<name>
    paths: dict[str, Path] = field(default_factory=dict)  # split -> its file (val: train's, with val_frac)
    val_frac: float | None = None
    # split -> tokens mapped to <unk> because the vocabulary lacks them (word level; a corpus's
    # own "<unk>" is not counted): unknown / len(split) is the out-of-vocabulary rate.
    unknown: dict[str, int] = field(default_factory=dict)


def _split_files(path, val, test) -> tuple[str, dict[str, Path]]:
    """(name, split -> file) from a file or a folder of splits, plus explicit val/test files
    (which take precedence over a folder's)."""
    if path is None:
        raise DataError("no corpus given: pass a text file, or a folder with train.txt, valid.txt and test.txt")
    path = Path(path)
    if not path.exists():
        raise DataError(f"no such file: {path}")
    if path.is_dir():
        names = next((n for n in SPLIT_NAMES if (path / n[0]).is_file()), None)
        if names is None:
            expected = " or ".join(n[0] for n in SPLIT_NAMES)
            raise DataError(f"{path} is a folder without a training file: expected {expected} in it")
        files = {split: path / n for split, n in zip(("train", "val", "test"), names) if (path / n).is_file()}
        name = path.resolve().name or "corpus"
    else:
        files = {"train": path}
        name = path.stem
    for split, given in (("val", val), ("test", test)):
        if given is not None:
            files[split] = Path(given)
    return name, files


def load_corpus(
    path=None,
    *,
    level: str = "char",
    val=None,
    test=None,
    val_frac: float | None = None,
    min_freq: int = 1,
    max_vocab: int | None = None,
    encoding: str = "utf-8",
    vocab: Vocab | None = None,
    chunk_bytes: int = CHUNK_BYTES,
) -> Corpus:
    """Read a corpus and build its vocabulary.

    ``path``: a text file, or a folder with ``train.txt``/``valid.txt``/``test.txt`` (or
    ``ptb.train.txt``..., or ``ptb.char.train.txt``...). ``val``/``test``: explicit files (they
    replace a folder's). Or ``val_frac`` in (0, 1): the last ``val_frac`` of the training tokens,
    contiguous, is the validation split; ``val_frac`` 0: no validation split, not even a folder's. Char level: the vocabulary is every character of every
    split, so evaluation never meets an unknown one. Word level: the vocabulary is the training
    split's (``min_freq``, ``max_vocab``); other words in val/test become ``<unk>``.

    ``vocab``: encode with this vocabulary instead of building one (resuming from a checkpoint:
    the ids must stay those the model learned). A character it lacks is then an error; a word it
    lacks becomes ``<unk>``.
    """
    if level not in ("char", "word"):
        raise DataError(f"level must be 'char' or 'word', got {level!r}")
    if level == "char" and (min_freq != 1 or max_vocab is not None):
        raise DataError("min-freq and max-vocab apply to word-level vocabularies only")
    check_encoding(encoding)
    name, files = _split_files(path, val, test)
    if val_frac is not None and not isinstance(val_frac, str) and val_frac == 0:
        # "--val-frac 0": no validation at all, a folder's own split included.
        if val is not None:
            raise DataError(f"--val {val} and --val-frac 0 (no validation) contradict each other; use one")
        files.pop("val", None)
        val_frac = None
    if val_frac is not None:
        if "val" in files:
            raise DataError(f"a validation file ({files['val']}) and --val-frac are both given; use one")
        try:
            valid = 0 < float(val_frac) < 1
        except (TypeError, ValueError):
            valid = False
        if not valid:
            raise DataError(f"--val-frac must be 0 (no validation) or between 0 and 1, got {val_frac}")
    if vocab is not None:
        if vocab.level != level:
            raise DataError(f"the vocabulary is {vocab.level}-level but a {level}-level corpus was asked for")
        splits, unknown = _load_with(vocab, files, encoding, chunk_bytes, val_frac)
    else:
        load = _load_char if level == "char" else _load_word
        vocab, splits, unknown = load(files, encoding, chunk_bytes, val_frac, min_freq, max_vocab)
    paths = dict(files)
    if val_frac is not None:
        paths["val"] = files["train"]
    for split in ("val", "test"):
        if split in splits and splits[split].size < 2:
            where = f"the last {val_frac} of {files['train']}" if split == "val" and val_frac else files[split]
            label = "validation" if split == "val" else "test"
            raise DataError(
                f"{label} split too short: {splits[split].size} token(s) from {where}; at least 2 are needed"
            )
    return Corpus(
        vocab=vocab,
        train=splits["train"],
        val=splits.get("val"),
        test=splits.get("test"),
        name=name,
        paths=paths,
        val_frac=val_frac,
        unknown=unknown,
    )


def _n_train(n_tokens: int, val_frac: float | None, path: Path) -> int:
    """Tokens kept for training when the last val_frac of them is validation."""
    if val_frac is None:
        return n_tokens
    n_train = int(n_tokens * (1 - val_frac))  # as nanoGPT: train = the first int(0.9 n) for 0.1
    if n_train == n_tokens:
        raise DataError(f"--val-frac {val_frac} leaves no validation tokens out of {n_tokens} in {path}")
    return n_train


def _load_with(vocab: Vocab, files, encoding, chunk_bytes, val_frac):
    """Every split encoded with a given vocabulary."""
    mode = "error" if vocab.level == "char" else "unk"
    splits, unknown, unknown_at = {}, {}, np.zeros(0, np.int64)
    for split, file in files.items():
        splits[split], encoder = _encode_file(file, vocab, encoding, mode, chunk_bytes, None)
        unknown[split] = encoder.unknown
        if split == "train" and encoder.unknown:
            unknown_at = np.concatenate(encoder.unknown_at)
    if val_frac is not None:
        n_train = _n_train(splits["train"].size, val_frac, files["train"])
        tokens = splits["train"]
        splits["train"], splits["val"] = tokens[:n_train], tokens[n_train:]
        unknown["val"] = int(np.count_nonzero(unknown_at >= n_train))
        unknown["train"] -= unknown["val"]
    return splits, unknown


def _load_char(files, encoding, chunk_bytes, val_frac, min_freq, max_vocab):
    """Two passes per file: count code points (vocabulary and exact array sizes), then encode."""
    total = np.zeros(0, np.int64)
    sizes = {}
    for split, file in files.items():
        counts = count_codepoints(file, encoding, chunk_bytes=chunk_bytes)
        sizes[split] = int(counts.sum())
        total = add_counts(total, counts)
    vocab = Vocab.from_codepoints(np.flatnonzero(total))
    splits = {}
    for split, file in files.items():
        encoded = encode_file(file, vocab, encoding=encoding, chunk_bytes=chunk_bytes, size_hint=sizes[split])
        splits[split] = encoded.tokens
    if val_frac is not None:
        n_train = _n_train(splits["train"].size, val_frac, files["train"])
        splits["train"], splits["val"] = splits["train"][:n_train], splits["train"][n_train:]  # views
    return vocab, splits, {split: 0 for split in splits}


def _load_word(files, encoding, chunk_bytes, val_frac, min_freq, max_vocab):
    """One pass over the training file gives provisional ids (in order of first appearance,
    <eos> = 0); the vocabulary is counted on the training part only (before any val_frac tail),
    then the provisional ids go through one lookup array."""
    index = {EOS: 0}
    add = index.setdefault
    pieces = []
    for text in word_lines(files["train"], encoding, chunk_bytes):
        ids: list[int] = []
        for line in text[:-1].split("\n"):  # text ends with a newline
            ids.extend([add(w, len(index)) for w in line.split()])
            ids.append(0)
        pieces.append(np.array(ids, np.int32))
    provisional = np.concatenate(pieces)
    del pieces
    n_train = _n_train(provisional.size, val_frac, files["train"])
    counts = np.bincount(provisional[:n_train], minlength=len(index))
    words = list(index)  # provisional id -> word
    vocab = Vocab.from_word_counts(dict(zip(words, counts.tolist())), min_freq=min_freq, max_size=max_vocab)
    known, unk = vocab._index, vocab.unk_id
    remap = np.array([known.get(w, unk) for w in words], vocab.dtype)
    # Out of the vocabulary: mapped to <unk> without being a literal "<unk>".
    oov = np.array([w not in known for w in words], bool)
    tokens = remap[provisional]
    splits = {"train": tokens[:n_train]}
    unknown = {"train": int(np.count_nonzero(oov[provisional[:n_train]]))}
    if val_frac is not None:
        splits["val"] = tokens[n_train:]
        unknown["val"] = int(np.count_nonzero(oov[provisional[n_train:]]))
    del provisional
    for split in ("val", "test"):
        if split in files:
            encoded = encode_file(files[split], vocab, encoding=encoding, unknown="unk", chunk_bytes=chunk_bytes)
            splits[split], unknown[split] = encoded.tokens, encoded.unknown
    return vocab, splits, unknown


def fingerprint(corpus: Corpus) -> dict:
    """What a resumed run checks its data against: the size and a SHA-256 of the training and
    validation token arrays (so a changed text, --val, --val-frac or --encoding is caught)."""
    def one(tokens):
        if tokens is None:
            return None
        return {"tokens": int(tokens.size), "sha256": hashlib.sha256(np.ascontiguousarray(tokens).data).hexdigest()}

    return {"train": one(corpus.train), "val": one(corpus.val)}
