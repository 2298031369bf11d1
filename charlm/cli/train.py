"""``charlm train``: the options, and Ctrl-C / SIGTERM handling around the training run."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Annotated, List, Optional

import typer
from rich.console import Console

from ..lm.config import BPTT_MODES, DECAY_REFERENCES, MODELS, POSITIONS, SOFTMAXES, DataConfig, ModelConfig, TrainConfig, help_text
from ..lm.options import TrainOptions
from .choices import CellName, DType, Level, OptimizerName, choice_enum, value_of
from .errors import err, user_errors


Network = choice_enum("Network", MODELS)
Softmax = choice_enum("Softmax", SOFTMAXES)
Bptt = choice_enum("Bptt", BPTT_MODES)
DecayAgainst = choice_enum("DecayAgainst", DECAY_REFERENCES)
Positions = choice_enum("Positions", POSITIONS)


def train(
    corpus: Annotated[Optional[List[Path]], typer.Argument(help="Text file; a folder with train/valid/test splits; or a corpus of files: any other folder (every file in it, recursively) or several files. Default: the bundled corpus.", show_default=False)] = None,
    out_dir: Annotated[Optional[Path], typer.Option("--out", help="Run folder. Default: runs/<corpus name>.")] = None,
    level: Annotated[Optional[Level], typer.Option(help=help_text(DataConfig, "level"))] = None,
    model: Annotated[Optional[Network], typer.Option(help=help_text(ModelConfig, "model"))] = None,
    memory: Annotated[Optional[int], typer.Option(help=help_text(ModelConfig, "memory"))] = None,
    hops: Annotated[Optional[int], typer.Option(help=help_text(ModelConfig, "hops"))] = None,
    linear_units: Annotated[Optional[int], typer.Option(help=help_text(ModelConfig, "linear_units"))] = None,
    cell: Annotated[Optional[CellName], typer.Option(help=help_text(ModelConfig, "cell"))] = None,
    hidden_size: Annotated[Optional[int], typer.Option(help=help_text(ModelConfig, "hidden_size"))] = None,
    layers: Annotated[Optional[int], typer.Option(help=help_text(ModelConfig, "layers"))] = None,
    embed_size: Annotated[Optional[int], typer.Option(help=help_text(ModelConfig, "embed_size"))] = None,
    dropout: Annotated[Optional[float], typer.Option(help=help_text(ModelConfig, "dropout"))] = None,
    tie_weights: Annotated[Optional[bool], typer.Option("--tie-weights/--no-tie-weights", help=help_text(ModelConfig, "tie_weights"))] = None,
    init_scale: Annotated[Optional[float], typer.Option(help=help_text(ModelConfig, "init_scale"))] = None,
    forget_bias: Annotated[Optional[float], typer.Option(help=help_text(ModelConfig, "forget_bias"))] = None,
    softmax: Annotated[Optional[Softmax], typer.Option(help=help_text(ModelConfig, "softmax"))] = None,
    cutoffs: Annotated[Optional[str], typer.Option(help=help_text(ModelConfig, "cutoffs"))] = None,
    tail_div: Annotated[Optional[float], typer.Option(help=help_text(ModelConfig, "tail_div"))] = None,
    seq_len: Annotated[Optional[int], typer.Option(help=help_text(TrainConfig, "seq_len"))] = None,
    batch_size: Annotated[Optional[int], typer.Option(help=help_text(TrainConfig, "batch_size"))] = None,
    epochs: Annotated[Optional[int], typer.Option(help=help_text(TrainConfig, "epochs"))] = None,
    max_steps: Annotated[Optional[int], typer.Option(help=help_text(TrainConfig, "max_steps"))] = None,
    max_time: Annotated[Optional[str], typer.Option(help=help_text(TrainConfig, "max_time"))] = None,
    optimizer: Annotated[Optional[OptimizerName], typer.Option(help=help_text(TrainConfig, "optimizer"))] = None,
    lr: Annotated[Optional[float], typer.Option(help=help_text(TrainConfig, "lr"))] = None,
    lr_decay: Annotated[Optional[float], typer.Option(help=help_text(TrainConfig, "lr_decay"))] = None,
    decay_start: Annotated[Optional[int], typer.Option(help=help_text(TrainConfig, "decay_start"))] = None,
    decay_patience: Annotated[Optional[int], typer.Option(help=help_text(TrainConfig, "decay_patience"))] = None,
    min_lr: Annotated[Optional[float], typer.Option(help=help_text(TrainConfig, "min_lr"))] = None,
    stop_lr: Annotated[Optional[float], typer.Option(help=help_text(TrainConfig, "stop_lr"))] = None,
    decay_threshold: Annotated[Optional[float], typer.Option(help=help_text(TrainConfig, "decay_threshold"))] = None,
    decay_against: Annotated[Optional[DecayAgainst], typer.Option(help=help_text(TrainConfig, "decay_against"))] = None,
    clip_norm: Annotated[Optional[float], typer.Option(help=help_text(TrainConfig, "clip_norm"))] = None,
    clip_value: Annotated[Optional[float], typer.Option(help=help_text(TrainConfig, "clip_value"))] = None,
    val: Annotated[Optional[Path], typer.Option(help="Validation text file.")] = None,
    val_frac: Annotated[Optional[float], typer.Option(help=help_text(DataConfig, "val_frac"))] = None,
    test: Annotated[Optional[Path], typer.Option(help="Test text file, evaluated at the end.")] = None,
    eval_every: Annotated[Optional[int], typer.Option(help=help_text(TrainConfig, "eval_every"))] = None,
    patience: Annotated[Optional[int], typer.Option(help=help_text(TrainConfig, "patience"))] = None,
    seed: Annotated[Optional[int], typer.Option(help=help_text(TrainConfig, "seed"))] = None,
    threads: Annotated[Optional[int], typer.Option(help=help_text(TrainConfig, "threads"))] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run in --out from its last.npz.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Start over in a run folder that already holds a run.")] = False,
    init_from: Annotated[Optional[Path], typer.Option("--init-from", help="Fine-tune: start a new run from the weights of this run folder (its best.npz, else last.npz) or checkpoint; its shape, cell, level and vocabulary are kept, the optimizer starts fresh.", show_default=False)] = None,
    grow_vocab: Annotated[bool, typer.Option("--grow-vocab", help="With --init-from, character level: add the characters the old model never saw (new rows; every old one unchanged).")] = False,
    min_freq: Annotated[Optional[int], typer.Option(help=help_text(DataConfig, "min_freq"))] = None,
    max_vocab: Annotated[Optional[int], typer.Option(help=help_text(DataConfig, "max_vocab"))] = None,
    bptt: Annotated[Optional[Bptt], typer.Option(help=help_text(TrainConfig, "bptt"))] = None,
    positions: Annotated[Optional[Positions], typer.Option(help=help_text(TrainConfig, "positions"))] = None,
    freeze_embedding: Annotated[Optional[bool], typer.Option("--freeze-embedding/--train-embedding", help=help_text(TrainConfig, "freeze_embedding"), show_default=False)] = None,
    encoding: Annotated[Optional[str], typer.Option(help=help_text(DataConfig, "encoding"))] = None,
    glob: Annotated[Optional[str], typer.Option("--glob", help=help_text(DataConfig, "glob"), show_default=False)] = None,
    skip_bad: Annotated[bool, typer.Option("--skip-bad", help=help_text(DataConfig, "skip_bad"))] = False,
    dtype: Annotated[Optional[DType], typer.Option(help=help_text(DataConfig, "dtype"))] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors and the final summary.")] = False,
):
    """Train a language model on CORPUS (default: the bundled corpus)."""
    options = TrainOptions(
        corpus=(corpus[0] if len(corpus) == 1 else list(corpus)) if corpus else None, out_dir=out_dir, resume=resume, force=force, init_from=init_from, grow_vocab=grow_vocab, quiet=quiet,
        model=value_of(model), memory=memory, hops=hops, linear_units=linear_units,
        cell=value_of(cell), hidden_size=hidden_size, layers=layers, embed_size=embed_size, dropout=dropout,
        tie_weights=tie_weights, init_scale=init_scale, forget_bias=forget_bias,
        softmax=value_of(softmax), tail_div=tail_div,
        seq_len=seq_len, batch_size=batch_size, epochs=epochs, max_steps=max_steps, max_time=max_time,
        optimizer=value_of(optimizer), lr=lr, lr_decay=lr_decay, decay_start=decay_start,
        decay_patience=decay_patience, min_lr=min_lr, stop_lr=stop_lr, decay_threshold=decay_threshold,
        decay_against=value_of(decay_against), clip_norm=clip_norm,
        clip_value=clip_value, eval_every=eval_every, patience=patience, seed=seed, threads=threads, bptt=value_of(bptt), positions=value_of(positions), freeze_embedding=freeze_embedding,
        level=value_of(level), val=val, val_frac=val_frac, test=test, min_freq=min_freq, max_vocab=max_vocab,
        encoding=encoding, dtype=value_of(dtype), glob=glob, skip_bad=skip_bad or None,
    )  # fmt: skip
    with user_errors():
        from ..lm import training_run  # here: `charlm train --help` must not load Numba
        from ..core.adaptive_softmax import parse_cutoffs

        options.cutoffs = parse_cutoffs(cutoffs) if cutoffs is not None else None

        session = training_run.prepare(options)
        _train_with_signals(session, quiet)


def _train_with_signals(session, quiet: bool) -> None:
    """Ctrl-C or SIGTERM: finish the window, save, exit 130 (SIGINT) / 143 (SIGTERM) saying where the
    checkpoint is. A second Ctrl-C exits at once without touching the last checkpoint."""
    received = []

    def on_signal(signum, frame):
        received.append(signum)
        session.trainer.request_stop()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    from .progress import TrainingDisplay

    console = Console(highlight=False)
    talk = session.trainer.group.is_root and not quiet  # with MPI, rank 0 alone draws
    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        summary = session.run(TrainingDisplay(console, session.level, quiet), say=console.print if talk else (lambda text: None))
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if summary["stopped_by"] == "interrupted":
        if session.trainer.group.is_root:
            err.print(f"interrupted: checkpoint saved to {summary['last']}; continue with --resume", markup=False)
        raise typer.Exit(130 if signal.SIGINT in received else 143)
