"""Corpora: the train / validation / test splits as token arrays (their layout in streams and
windows is ``batching.py``). Which files a corpus is made of is ``text/sources.py``; reading and
validating them ``text/files.py``; a split of several files (documents) ``documents.py``.
``read_text`` and ``count_codepoints`` are re-exported here for callers.

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

from ...errors import DataError
from ...text.files import (  # noqa: F401 (read_text, count_codepoints: re-exported)
    CHUNK_BYTES,
    check_encoding,
    count_codepoints,
    file_size,
    read_chunks,
    read_text,
    word_lines,
)
from ...text.sources import Sources, find_sources
from ...text.vocab import EOS, LEVELS, Encoded, Vocab
from .documents import NO_STARTS, Document, crlf_note, cut, hold_out, same_file_notes, starts_of, survey


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


def _encode_file(path, vocab: Vocab, encoding: str, unknown: str, chunk_bytes: int, size_hint: int | None,
                 out: _Growing | None = None, source: str | None = None):
    """(tokens, the finished encoder) for :func:`encode_file`; with ``out``, the tokens are
    appended to it (one array for many files) and None is returned for them."""
    encoder = vocab.encoder(unknown, source=source or str(path))
    if vocab.level == "char":
        pieces = read_chunks(path, encoding, chunk_bytes, as_codepoints=True)
        capacity = size_hint if size_hint is not None else file_size(path)
    else:
        pieces = word_lines(path, encoding, chunk_bytes)
        capacity = size_hint if size_hint is not None else file_size(path) // 4  # ~5 bytes a word
    shared = out is not None
    out = out if shared else _Growing(capacity, vocab.dtype)
    for piece in pieces:
        out.append(encoder.encode(piece))
    encoder.finish()  # before the array is used: unknown characters leave -1 ids
    return (None if shared else out.finish()), encoder


# --------------------------------------------------------------------------- corpora
@dataclass
class Corpus:
    vocab: "Vocab"
    train: np.ndarray  # (n,) ids, dtype vocab.dtype
    val: np.ndarray | None
    test: np.ndarray | None
    name: str  # the file stem or folder name: the default run folder is runs/<name>
    source: str = ""  # what the training text is, for messages: a path, or "DIR (N files)"
    paths: dict[str, Path] = field(default_factory=dict)  # split -> its file (val: train's, with val_frac); one-file splits
    val_frac: float | None = None
    # split -> tokens mapped to <unk> because the vocabulary lacks them (word level; a corpus's
    # own "<unk>" is not counted): unknown / len(split) is the out-of-vocabulary rate.
    unknown: dict[str, int] = field(default_factory=dict)
    # A corpus of files. split -> where its documents begin (token indices, the first's 0 left
    # out): the carried state resets there. And the files read, in order (train's include those
    # held out for validation), for the fingerprint and what the run says.
    starts: dict[str, np.ndarray] = field(default_factory=dict)
    documents: list[Document] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the reading left out or decided, to be said


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
    glob: str | None = None,
    skip_bad: bool = False,
) -> Corpus:
    """Read a corpus and build its vocabulary.

    ``path``: a text file, a folder with ``train.txt``/``valid.txt``/``test.txt`` (or
    ``ptb.train.txt``..., or ``ptb.char.train.txt``...), or a corpus of files: any other folder
    (every file in it, recursively, matching ``glob``) or a list of paths; ``skip_bad`` leaves
    out its unreadable files instead of refusing them (see ``text/sources.py``, ``documents.py``).
    ``val``/``test``: explicit files (they replace a folder's). Or ``val_frac`` in (0, 1): the
    last files of a corpus of files, or the last ``val_frac`` of the training tokens, contiguous,
    are the validation split; ``val_frac`` 0: no validation split, not even a folder's. Char
    level: the vocabulary is every character of every split, so evaluation never meets an unknown
    one. Word level: the vocabulary is the training split's (``min_freq``, ``max_vocab``); other
    words in val/test become ``<unk>``.

    ``vocab``: encode with this vocabulary instead of building one (resuming from a checkpoint:
    the ids must stay those the model learned). A character it lacks is then an error; a word it
    lacks becomes ``<unk>``.
    """
    if level not in LEVELS:
        raise DataError(f"level must be one of {', '.join(LEVELS)}, got {level!r}")
    if level == "char" and (min_freq != 1 or max_vocab is not None):
        raise DataError("min-freq and max-vocab apply to word-level vocabularies only")
    check_encoding(encoding)
    sources = find_sources(path, glob, val, test)
    files = sources.splits
    if skip_bad and not sources.many:
        raise DataError("--skip-bad leaves bad files out of a corpus of many files; "
                        f"{files['train'][0]} is {'a file' if sources.kind == 'file' else 'a split folder'} on its own")
    if val_frac is not None and not isinstance(val_frac, str) and val_frac == 0:
        # "--val-frac 0": no validation at all, a folder's own split included.
        if val is not None:
            raise DataError(f"--val {val} and --val-frac 0 (no validation) contradict each other; use one")
        files.pop("val", None)
        val_frac = None
    if val_frac is not None:
        if "val" in files:
            raise DataError(f"a validation file ({files['val'][0]}) and --val-frac are both given; use one")
        try:
            valid = 0 < float(val_frac) < 1
        except (TypeError, ValueError):
            valid = False
        if not valid:
            raise DataError(f"--val-frac must be 0 (no validation) or between 0 and 1, got {val_frac}")
    notes: list[str] = list(sources.notes)
    counts = np.zeros(0, np.int64)
    docs = {}
    for split in files:
        docs[split], counts = survey(sources, split, encoding, chunk_bytes, skip_bad, counts, notes)
    source = _describe(sources, docs["train"])
    notes += same_file_notes(docs) + ([note] if level == "char" and (note := crlf_note(docs)) else [])
    if vocab is not None:
        if vocab.level != level:
            raise DataError(f"the vocabulary is {vocab.level}-level but a {level}-level corpus was asked for")
        mode = "error" if level == "char" else "unk"
        splits = {split: _encode_docs(docs[split], vocab, encoding, mode, chunk_bytes) for split in docs}
    elif level == "char":
        vocab = Vocab.from_codepoints(np.flatnonzero(counts))
        splits = {split: _encode_docs(docs[split], vocab, encoding, "error", chunk_bytes) for split in docs}
    else:
        vocab, splits = _load_word(docs, encoding, chunk_bytes, val_frac, min_freq, max_vocab, source, notes)
    if val_frac is not None and "val" not in splits:
        splits["train"], splits["val"] = _hold_out(splits["train"], docs["train"], val_frac, source, notes)
    for split in ("val", "test"):
        if split in splits and splits[split].tokens.size < 2:
            where = f"the last {val_frac} of {source}" if split == "val" and val_frac else docs[split][0].path
            label = "validation" if split == "val" else "test"
            raise DataError(
                f"{label} split too short: {splits[split].tokens.size} token(s) from {where}; at least 2 are needed"
            )
    return Corpus(
        vocab=vocab,
        train=splits["train"].tokens,
        val=splits["val"].tokens if "val" in splits else None,
        test=splits["test"].tokens if "test" in splits else None,
        name=sources.name,
        source=source,
        paths=_paths(sources, val_frac),
        val_frac=val_frac,
        unknown={split: part.unknown for split, part in splits.items()},
        starts={split: part.starts for split, part in splits.items() if part.starts.size},
        documents=docs["train"] if sources.many else [],
        notes=notes,
    )


@dataclass
class _Split:
    tokens: np.ndarray
    starts: np.ndarray  # where its documents begin
    sizes: list[int]  # tokens per document
    unknown: int = 0  # tokens mapped to <unk> by a given vocabulary (word level)
    unknown_at: np.ndarray = field(default_factory=lambda: NO_STARTS)  # where (token indices)


def _paths(sources: Sources, val_frac) -> dict[str, Path]:
    paths = {split: files[0] for split, files in sources.splits.items() if not sources.many or split != "train"}
    if val_frac is not None and "train" in paths:
        paths["val"] = paths["train"]
    return paths


def _describe(sources: Sources, docs: list[Document]) -> str:
    if not sources.many:
        return str(docs[0].path)
    given = sources.splits["train"]
    where = str(given[0].parent) if len(given) > 1 else str(given[0])
    return f"{where} ({len(docs):,} file{'s' if len(docs) != 1 else ''})"


def _encode_docs(docs: list[Document], vocab: Vocab, encoding: str, mode: str, chunk_bytes: int) -> _Split:
    """The documents' tokens in one array (allocated once: a character count is exact)."""
    hint = sum(d.chars for d in docs) if vocab.level == "char" else sum(d.bytes for d in docs) // 4
    out = _Growing(hint, vocab.dtype)
    sizes, unknown, unknown_at = [], 0, []
    for doc in docs:
        begin = out.size
        _, encoder = _encode_file(doc.path, vocab, encoding, mode, chunk_bytes, None, out=out, source=doc.name)
        sizes.append(out.size - begin)
        unknown += encoder.unknown
        unknown_at.extend(at + begin for at in getattr(encoder, "unknown_at", ()))
    at = np.concatenate(unknown_at) if unknown_at else NO_STARTS
    return _Split(out.finish(), starts_of(sizes), sizes, unknown, at)


def _hold_out(train: _Split, docs: list[Document], val_frac: float, source: str, notes: list[str]):
    """(train, validation) from the training split: its last whole files when there are enough,
    else its last ``val_frac`` of tokens."""
    k = hold_out(train.sizes, val_frac)
    if k is not None:
        at = sum(train.sizes[:-k])
        names = [d.name for d in docs[-k:]]
        shown = ", ".join(names[:3]) + (f" ... {names[-1]}" if k > 3 else "")
        notes.append(f"validation: the last {k} of the {len(docs):,} files ({shown}), "
                     f"{1 - at / train.tokens.size:.1%} of the tokens")
    else:
        at = _n_train(train.tokens.size, val_frac, source)
        if len(docs) > 1:
            inside = docs[int(np.searchsorted(np.cumsum(train.sizes), at, side="right"))].name
            notes.append(f"validation: the last {val_frac:g} of the tokens, from inside {inside} (too few files "
                         "to hold out whole ones)")
    (tokens, starts), (val_tokens, val_starts) = cut(train.tokens, train.starts, at)
    val_unknown = int(np.count_nonzero(train.unknown_at >= at))
    return (_Split(tokens, starts, [], train.unknown - val_unknown),
            _Split(val_tokens, val_starts, [], val_unknown))


def _n_train(n_tokens: int, val_frac: float | None, where) -> int:
    """Tokens kept for training when the last val_frac of them is validation."""
    if val_frac is None:
        return n_tokens
    n_train = int(n_tokens * (1 - val_frac))  # as nanoGPT: train = the first int(0.9 n) for 0.1
    if n_train == n_tokens:
        raise DataError(f"--val-frac {val_frac} leaves no validation tokens out of {n_tokens} in {where}")
    return n_train


def _load_word(docs, encoding, chunk_bytes, val_frac, min_freq, max_vocab, source, notes):
    """One pass over the training files gives provisional ids (in order of first appearance,
    <eos> = 0); the vocabulary is counted on the training part only (before any held-out
    validation), then the provisional ids go through one lookup array."""
    index = {EOS: 0}
    add = index.setdefault
    pieces, sizes = [], []
    for doc in docs["train"]:
        size = 0
        for text in word_lines(doc.path, encoding, chunk_bytes):
            ids: list[int] = []
            for line in text[:-1].split("\n"):  # text ends with a newline
                ids.extend([add(w, len(index)) for w in line.split()])
                ids.append(0)
            pieces.append(np.array(ids, np.int32))
            size += len(ids)
        sizes.append(size)
    provisional = np.concatenate(pieces)
    del pieces
    train = _Split(provisional, starts_of(sizes), sizes)
    held = None
    if val_frac is not None and "val" not in docs:
        train, held = _hold_out(train, docs["train"], val_frac, source, notes)
    counts = np.bincount(train.tokens, minlength=len(index))
    words = list(index)  # provisional id -> word
    vocab = Vocab.from_word_counts(dict(zip(words, counts.tolist())), min_freq=min_freq, max_size=max_vocab)
    known, unk = vocab._index, vocab.unk_id
    remap = np.array([known.get(w, unk) for w in words], vocab.dtype)
    # Out of the vocabulary: mapped to <unk> without being a literal "<unk>".
    oov = np.array([w not in known for w in words], bool)
    splits = {}
    for split, part in (("train", train), ("val", held)):
        if part is not None:
            splits[split] = _Split(remap[part.tokens], part.starts, part.sizes, int(np.count_nonzero(oov[part.tokens])))
    del provisional, train, held
    for split in ("val", "test"):
        if split in docs:
            splits[split] = _encode_docs(docs[split], vocab, encoding, "unk", chunk_bytes)
    return vocab, splits


def fingerprint(corpus: Corpus) -> dict:
    """What a resumed run checks its data against: the size and a SHA-256 of the training and
    validation token arrays (so a changed text, --val, --val-frac or --encoding is caught) and,
    for a corpus of files, each file's name, size and SHA-256 (so the message can say which)."""
    def one(tokens):
        if tokens is None:
            return None
        return {"tokens": int(tokens.size), "sha256": hashlib.sha256(np.ascontiguousarray(tokens).data).hexdigest()}

    found = {"train": one(corpus.train), "val": one(corpus.val)}
    if corpus.documents:
        found["files"] = [[d.name, d.bytes, d.sha256] for d in corpus.documents]
    return found
