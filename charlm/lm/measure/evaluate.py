"""Loss, perplexity and bits per token of a model over a token array.

Every token after the first is predicted exactly once, with the hidden state carried across
windows (as in training). The text is cut into N contiguous streams run side by side; the few
tokens left over at the end continue the last stream on their own, from its final state::

    tokens  a b c d e f g h i j k l m n o p q r s t u v w
    N = 3   [a b c d e f g][h i j k l m n][o p q r s t u] v w
            stream 0        stream 1        stream 2       tail (continues stream 2)
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import DataError
from ...store.checkpoint import computing_with, refuse_non_finite
from ...text.files import TextNote
from ..data.batching import count_scored, document_breaks


@dataclass
class Evaluation:
    tokens: int  # tokens predicted
    loss_sum: float  # nats, summed over them

    @property
    def loss(self) -> float:
        """Mean cross-entropy in nats per token."""
        return self.loss_sum / self.tokens

    @property
    def perplexity(self) -> float:
        return math.exp(min(self.loss, 700.0))

    @property
    def bits_per_token(self) -> float:
        return self.loss / math.log(2)


def _run(model, x: np.ndarray, y: np.ndarray, state, seq_len: int, starts: np.ndarray, row_offsets: np.ndarray):
    """x, y: (N, L) streams whose rows begin at tokens ``row_offsets``. Returns the summed loss,
    the number of targets scored (those across a document boundary are not) and the final state."""
    total, scored = 0.0, 0
    for start in range(0, x.shape[1], seq_len):
        xw = np.ascontiguousarray(x[:, start : start + seq_len].T)
        yw = np.array(y[:, start : start + seq_len].T, dtype=np.int32)  # a copy: targets may be masked
        resets = document_breaks(starts, row_offsets, start, yw)
        loss, state = model.loss(xw, yw, state, resets)
        total += loss
        scored += count_scored(yw)
    return total, scored, state


def evaluate(model, tokens: np.ndarray, batch_size: int = 10, seq_len: int = 100, part: tuple[int, int] = (0, 1),
             starts: np.ndarray | None = None) -> Evaluation:
    """Forward only, no dropout. tokens: 1-D token ids (at least 2). ``starts``: where documents
    begin (token indices, sorted): the state is reset there and no document's first token is
    predicted from the one before.

    ``part = (k, K)``: score only the k-th of K shares of the streams (the last share also scores
    the tail, which continues the last stream); the K parts' sums add up to the whole. Data
    parallel validation gives each rank one part (``distributed.py``)."""
    if tokens.size < 2:
        raise DataError(f"nothing to evaluate: {tokens.size} token(s), at least 2 are needed")
    starts = np.zeros(0, np.int64) if starts is None else np.asarray(starts, np.int64)
    x, y = tokens[:-1], tokens[1:]
    n = x.size
    N = max(1, min(batch_size, n // max(1, seq_len // 4)))  # keep streams long enough to matter
    L = n // N
    main = N * L
    k, K = part
    rows = slice(k * N // K, (k + 1) * N // K)
    n_rows = rows.stop - rows.start
    total, scored = 0.0, 0
    if n_rows:
        xs, ys = x[:main].reshape(N, L)[rows], y[:main].reshape(N, L)[rows]
        offsets = np.arange(rows.start, rows.stop, dtype=np.int64) * L
        state = model.state_before(tokens, offsets, starts)
        total, scored, state = _run(model, xs, ys, state, seq_len, starts, offsets)
        if main < n and rows.stop == N:
            tail_state = [tuple(part[-1:].copy() for part in layer) for layer in state]
            tail, tail_scored, _ = _run(model, x[main:].reshape(1, -1), y[main:].reshape(1, -1), tail_state, seq_len,
                                        starts, np.array([main], np.int64))
            total, scored = total + tail, scored + tail_scored
    return Evaluation(tokens=scored, loss_sum=float(total))


# For a checkpoint that does not say how it was trained (save_model without training metadata).
EVAL_BATCH_SIZE, EVAL_SEQ_LEN = 10, 100


def open_model(model: Path | None, threads: int | None = None):
    """(checkpoint path, Snapshot) of a run folder or checkpoint, with the thread count set: how
    ``charlm eval``, ``eval --dynamic`` and ``inspect`` start."""
    from ...core.threads import set_threads
    from ...store.runfolder import resolve_checkpoint
    from ..models.saved import load_model

    set_threads(threads)
    path = resolve_checkpoint(model)
    return path, load_model(path)


def encode_for_scoring(file: Path, vocab, encoding: str = "utf-8"):
    """FILE in the model's vocabulary for scoring: characters the model never saw are named and
    refused; unknown words become <unk>, counted (``.unknown``)."""
    from ..data import corpus as data

    return data.encode_file(file, vocab, encoding=encoding, unknown="unk" if vocab.level == "word" else "error")


@dataclass
class ScoringText:
    """What ``charlm eval`` measures a model on, in its vocabulary: one file, or the files of a
    folder, each a document (the state starts afresh at each, as in training)."""

    tokens: np.ndarray
    starts: np.ndarray  # where each document after the first begins
    unknown: int  # words the vocabulary lacks, read as <unk>
    characters: int  # code points of the text(s)
    files: int


def read_for_scoring(path: Path, vocab, encoding: str = "utf-8", glob: str | None = None,
                     skip_bad: bool = False) -> ScoringText:
    """A text file, or a folder of them read as training reads a corpus of files (recursively,
    hidden ones left out, ``glob`` to choose, empty files skipped with a note, a bad one refused
    by name or left out with ``skip_bad``)."""
    from ...text.sources import SPLIT_NAMES, is_split_folder
    from ..data import corpus as data

    path = Path(path)
    if is_split_folder(path):
        names = next(n for n in SPLIT_NAMES if (path / n[0]).is_file())
        raise DataError(f"{path} is a split folder (it holds {names[0]}): name the file to measure, "
                        f"e.g. {path / names[2]}")
    if path.is_dir() or glob is not None or skip_bad:
        corpus = data.load_corpus(path, level=vocab.level, vocab=vocab, val_frac=0, encoding=encoding,
                                  glob=glob, skip_bad=skip_bad)
        for note in corpus.notes:
            warnings.warn(TextNote(note), stacklevel=2)
        return ScoringText(corpus.train, corpus.starts.get("train", np.zeros(0, np.int64)),
                           corpus.unknown.get("train", 0), sum(d.chars for d in corpus.documents),
                           len(corpus.documents))
    encoded = encode_for_scoring(path, vocab, encoding)
    characters = int(data.count_codepoints(path, encoding).sum()) if vocab.level == "word" else encoded.tokens.size
    return ScoringText(encoded.tokens, np.zeros(0, np.int64), encoded.unknown, characters, 1)


def evaluate_file(model: Path | None, file: Path, *, batch_size: int | None = None, seq_len: int | None = None,
                  encoding: str = "utf-8", threads: int | None = None, glob: str | None = None,
                  skip_bad: bool = False) -> dict:
    """``charlm eval MODEL PATH``: encode PATH (a file, or a folder of files) with the model's
    vocabulary, run forward only with the state carried across windows, and report loss,
    perplexity and bits per token and per character. By default in the streams and windows the
    model was validated with during training, so the figure is its validation loss on the same
    text. A folder's glob defaults to the one the model was trained with."""
    path, snap = open_model(model, threads)
    vocab = snap.vocab
    word_level = vocab.level == "word"
    if glob is None and Path(file).is_dir():
        glob = (snap.meta.get("corpus") or {}).get("glob")
    text = read_for_scoring(file, vocab, encoding, glob, skip_bad)
    tokens = text.tokens
    trained = snap.meta.get("train") or {}
    batch_size = batch_size or trained.get("batch_size") or EVAL_BATCH_SIZE
    seq_len = seq_len or trained.get("seq_len") or EVAL_SEQ_LEN
    with computing_with(path):
        result = evaluate(snap.model, tokens, batch_size=batch_size, seq_len=seq_len, starts=text.starts)
        refuse_non_finite(result.loss_sum)
    characters = text.characters if word_level else result.tokens
    report = {
        "model": str(path),
        "file": str(file),
        "files": text.files,
        "level": vocab.level,
        "tokens": result.tokens,
        "characters": characters,
        "loss": result.loss,
        "perplexity": result.perplexity,
        "bits_per_token": result.bits_per_token,
        # For word models: the same total information spread over the characters of the text, so
        # word and character models can be compared.
        "bits_per_character": result.loss_sum / math.log(2) / max(characters, 1),
        "batch_size": batch_size,
        "seq_len": seq_len,
    }
    if glob is not None:
        report["glob"] = glob
    if word_level:
        report["oov_rate"] = text.unknown / max(len(tokens), 1)
        report["unknown_tokens"] = text.unknown
    return report
