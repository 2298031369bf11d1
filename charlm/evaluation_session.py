"""``charlm eval MODEL FILE``: encode FILE with the model's vocabulary, run forward only with the
state carried across windows, and report loss, perplexity and bits per token and per character."""

from __future__ import annotations

import math
from pathlib import Path

from . import data
from .evaluate import evaluate
from .runfolder import resolve_checkpoint
from .snapshot import load_model
from .threads import set_threads


def run(model: Path | None, file: Path, *, batch_size: int, seq_len: int, encoding: str, threads: int | None) -> dict:
    set_threads(threads)
    path = resolve_checkpoint(model)
    snap = load_model(path)
    vocab = snap.vocab
    word_level = vocab.level == "word"
    # Characters the model never saw are named and refused; unknown words become <unk>, counted.
    encoded = data.encode_file(file, vocab, encoding=encoding, unknown="unk" if word_level else "error")
    tokens = encoded.tokens
    result = evaluate(snap.model, tokens, batch_size=batch_size, seq_len=seq_len)
    characters = int(data.count_codepoints(file, encoding).sum()) if word_level else result.tokens
    report = {
        "model": str(path),
        "file": str(file),
        "level": vocab.level,
        "tokens": result.tokens,
        "characters": characters,
        "loss": result.loss,
        "perplexity": result.perplexity,
        "bits_per_token": result.bits_per_token,
        # For word models: the same total information spread over the characters of the text, so
        # word and character models can be compared.
        "bits_per_character": result.loss_sum / math.log(2) / max(characters, 1),
    }
    if word_level:
        report["oov_rate"] = encoded.unknown / max(len(tokens), 1)
        report["unknown_tokens"] = encoded.unknown
    return report
