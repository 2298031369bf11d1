"""``charlm eval MODEL FILE --dynamic``: static and dynamic evaluation of a model on a text, side
by side, in one stream so that the only difference between the two figures is the adaptation.

Optionally the RMS rule's gradient statistics from training text (``--stats FILE``), and a small
grid search of the rate and decay on validation text (``--tune VALID``), never on FILE itself.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...store.checkpoint import computing_with, refuse_non_finite
from .dynamic import GradientStatistics, check_settings, dynamic_evaluate, gradient_statistics
from .evaluate import Evaluation, encode_for_scoring, evaluate, open_model

# Window lengths as in Krause et al. (segments of 5 words, 20 characters); rates and decays tuned
# on Penn Treebank validation text for the models of docs/results.md. Keyed by (level, rule).
DEFAULTS = {
    ("word", "sgd"): dict(seq_len=5, lr=0.3, decay=0.002),
    ("word", "rms"): dict(seq_len=5, lr=5e-5, decay=0.001),
    ("char", "sgd"): dict(seq_len=20, lr=0.03, decay=0.002),
    ("char", "rms"): dict(seq_len=20, lr=2e-5, decay=0.001),
}
# The --tune grids: each rate with each decay.
GRIDS = {
    "sgd": dict(lr=(0.003, 0.01, 0.03, 0.1, 0.3, 1.0), decay=(0.0, 0.002, 0.01)),
    "rms": dict(lr=(1e-5, 2e-5, 3e-5, 5e-5, 1e-4), decay=(0.001, 0.003, 0.01, 0.03)),
}
STATS_WINDOWS = 300  # training windows of 100 streams for the RMS statistics, by default
STATS_STREAMS = 100


@dataclass
class DynamicSettings:
    seq_len: int
    lr: float
    decay: float
    rule: str  # "sgd" or "rms"


def settings_for(level: str, rule: str, seq_len: int | None, lr: float | None, decay: float | None) -> DynamicSettings:
    base = DEFAULTS[("word" if level == "word" else "char", rule)]
    chosen = DynamicSettings(seq_len or base["seq_len"], base["lr"] if lr is None else lr,
                             base["decay"] if decay is None else decay, rule)
    check_settings(chosen.lr, chosen.decay, chosen.seq_len)
    return chosen


def timed(run) -> tuple[Evaluation, float]:
    begin = time.perf_counter()
    result = run()
    return result, time.perf_counter() - begin


def figures(result: Evaluation, seconds: float, characters: int) -> dict:
    return {
        "tokens": result.tokens,
        "loss": result.loss,
        "perplexity": result.perplexity,
        "bits_per_token": result.bits_per_token,
        "bits_per_character": result.loss_sum / math.log(2) / max(characters, 1),
        "seconds": seconds,
        "tokens_per_second": result.tokens / max(seconds, 1e-9),
    }


def tune(model, tokens: np.ndarray, settings: DynamicSettings, stats: GradientStatistics | None,
         lr_fixed: bool, decay_fixed: bool, progress=None) -> tuple[DynamicSettings, list[dict]]:
    """Every (lr, decay) of the rule's grid (a value the user gave stays fixed) on validation
    tokens; returns the settings with the lowest loss and the grid's results. ``progress(k, n,
    trial)`` is called after each trial."""
    grid = GRIDS[settings.rule]
    rates = (settings.lr,) if lr_fixed else grid["lr"]
    decays = (settings.decay,) if decay_fixed else grid["decay"]
    trials = []
    for lr in rates:
        for decay in decays:
            result = dynamic_evaluate(model, tokens, seq_len=settings.seq_len, lr=lr, decay=decay, stats=stats)
            loss = result.loss if math.isfinite(result.loss) else math.inf
            trials.append({"lr": lr, "decay": decay, "loss": loss})
            if progress is not None:
                progress(len(trials), len(rates) * len(decays), trials[-1])
    best = min(trials, key=lambda trial: trial["loss"])
    return DynamicSettings(settings.seq_len, best["lr"], best["decay"], settings.rule), trials


def dynamic_evaluate_file(model: Path | None, file: Path, *, seq_len: int | None = None, lr: float | None = None,
                          decay: float | None = None, stats_file: Path | None = None,
                          stats_windows: int = STATS_WINDOWS, tune_file: Path | None = None,
                          encoding: str = "utf-8", threads: int | None = None, progress=None) -> dict:
    from ...errors import ConfigError
    from ..data import corpus as data

    if stats_windows < 1:
        raise ConfigError(f"--stats-windows must be a positive integer, got {stats_windows}")
    path, snap = open_model(model, threads)
    vocab, net = snap.vocab, snap.model

    def encode(text_file: Path) -> np.ndarray:
        return encode_for_scoring(text_file, vocab, encoding).tokens

    # The settings are checked and every file is read before the long work starts.
    settings = settings_for(vocab.level, "rms" if stats_file is not None else "sgd", seq_len, lr, decay)
    tokens = encode(file)
    valid = encode(tune_file) if tune_file is not None else None
    train_tokens = encode(stats_file) if stats_file is not None else None

    with computing_with(path):  # weights that compute nothing finite are refused, naming the checkpoint
        # The model as trained, first: before the statistics, the tuning and the timed runs.
        refuse_non_finite(evaluate(net, tokens[:2 * settings.seq_len + 1], batch_size=1, seq_len=settings.seq_len).loss_sum)
        stats = None
        if train_tokens is not None:
            stats = gradient_statistics(net, train_tokens, seq_len=settings.seq_len, batch_size=STATS_STREAMS,
                                        max_windows=stats_windows)
        trials = None
        if valid is not None:
            settings, trials = tune(net, valid, settings, stats, lr_fixed=lr is not None, decay_fixed=decay is not None,
                                   progress=progress)

        # A short run of each first, so neither timing below includes compiling or loading kernels.
        dynamic_evaluate(net, tokens[:2 * settings.seq_len + 1], seq_len=settings.seq_len, lr=settings.lr,
                         decay=settings.decay, stats=stats)
        static, static_s = timed(lambda: evaluate(net, tokens, batch_size=1, seq_len=settings.seq_len))
        dynamic, dynamic_s = timed(lambda: dynamic_evaluate(net, tokens, seq_len=settings.seq_len, lr=settings.lr,
                                                            decay=settings.decay, stats=stats))
        refuse_non_finite(static.loss_sum)
    if not math.isfinite(dynamic.loss_sum):  # the weights compute a finite loss: the adaptation diverged
        raise ConfigError(f"dynamic evaluation diverged with --lr {settings.lr:g} --decay {settings.decay:g}: its "
                          "loss is not finite; a lower --lr keeps it finite")
    characters = int(data.count_codepoints(file, encoding).sum()) if vocab.level == "word" else static.tokens
    report = {
        "model": str(path),
        "file": str(file),
        "level": vocab.level,
        "rule": settings.rule,
        "seq_len": settings.seq_len,
        "lr": settings.lr,
        "decay": settings.decay,
        "static": figures(static, static_s, characters),
        "dynamic": figures(dynamic, dynamic_s, characters),
    }
    if stats is not None:
        report["stats"] = {"file": str(stats_file), "windows": stats.windows, "streams": STATS_STREAMS}
    if trials is not None:
        report["tuning"] = {"file": str(tune_file), "trials": trials}
    return report
