"""``charlm train``: the options, and Ctrl-C / SIGTERM handling around the training run."""

import signal
from pathlib import Path
from typing import Annotated, List, Optional

import typer

from ..lm.config import DataConfig, ModelConfig, TrainConfig
from ..lm.options import TrainOptions
from .config_options import ConfigOption, options_from, with_config_options
from .errors import err, user_errors
from .streams import CommandConsole

# The panels of `charlm train --help`.
MODEL, MEMORY, DATA, OPTIMISATION, SCHEDULE, REGULARISATION, STOPPING, RUN = (
    "Model", "Memory network (--model memn2n)", "Data", "Optimisation", "Learning-rate schedule", "Regularisation",
    "Stopping", "Run")


@with_config_options
def train(
    ctx: typer.Context,
    corpus: Annotated[Optional[List[Path]], typer.Argument(help="Text file; a folder with train/valid/test splits; or a corpus of files: any other folder (every file in it, recursively) or several files. Default: the bundled corpus.", show_default=False)] = None,
    # the network
    model=ConfigOption(ModelConfig, "model", panel=MODEL),
    cell=ConfigOption(ModelConfig, "cell", panel=MODEL),
    hidden_size=ConfigOption(ModelConfig, "hidden_size", panel=MODEL),
    layers=ConfigOption(ModelConfig, "layers", panel=MODEL),
    embed_size=ConfigOption(ModelConfig, "embed_size", panel=MODEL),
    tie_weights=ConfigOption(ModelConfig, "tie_weights", "--tie-weights/--no-tie-weights", panel=MODEL),
    init_scale=ConfigOption(ModelConfig, "init_scale", panel=MODEL),
    forget_bias=ConfigOption(ModelConfig, "forget_bias", panel=MODEL),
    softmax=ConfigOption(ModelConfig, "softmax", panel=MODEL),
    cutoffs=ConfigOption(ModelConfig, "cutoffs", panel=MODEL, type=str),
    tail_div=ConfigOption(ModelConfig, "tail_div", panel=MODEL),
    memory=ConfigOption(ModelConfig, "memory", panel=MEMORY),
    hops=ConfigOption(ModelConfig, "hops", panel=MEMORY),
    linear_units=ConfigOption(ModelConfig, "linear_units", panel=MEMORY),
    positions=ConfigOption(TrainConfig, "positions", panel=MEMORY),
    # the text
    level=ConfigOption(DataConfig, "level", panel=DATA),
    val: Annotated[Optional[Path], typer.Option(help="Validation text file.", rich_help_panel=DATA)] = None,
    val_frac=ConfigOption(DataConfig, "val_frac", panel=DATA),
    test: Annotated[Optional[Path], typer.Option(help="Test text file, evaluated at the end.", rich_help_panel=DATA)] = None,
    min_freq=ConfigOption(DataConfig, "min_freq", panel=DATA),
    max_vocab=ConfigOption(DataConfig, "max_vocab", panel=DATA),
    encoding=ConfigOption(DataConfig, "encoding", panel=DATA),
    glob=ConfigOption(DataConfig, "glob", "--glob", panel=DATA, show_default=False),
    skip_bad=ConfigOption(DataConfig, "skip_bad", "--skip-bad", panel=DATA),
    # how it learns
    optimizer=ConfigOption(TrainConfig, "optimizer", panel=OPTIMISATION),
    lr=ConfigOption(TrainConfig, "lr", panel=OPTIMISATION),
    seq_len=ConfigOption(TrainConfig, "seq_len", panel=OPTIMISATION),
    batch_size=ConfigOption(TrainConfig, "batch_size", panel=OPTIMISATION),
    bptt=ConfigOption(TrainConfig, "bptt", panel=OPTIMISATION),
    clip_norm=ConfigOption(TrainConfig, "clip_norm", panel=OPTIMISATION),
    clip_value=ConfigOption(TrainConfig, "clip_value", panel=OPTIMISATION),
    lr_decay=ConfigOption(TrainConfig, "lr_decay", panel=SCHEDULE),
    decay_start=ConfigOption(TrainConfig, "decay_start", panel=SCHEDULE),
    decay_patience=ConfigOption(TrainConfig, "decay_patience", panel=SCHEDULE),
    min_lr=ConfigOption(TrainConfig, "min_lr", panel=SCHEDULE),
    stop_lr=ConfigOption(TrainConfig, "stop_lr", panel=SCHEDULE),
    decay_threshold=ConfigOption(TrainConfig, "decay_threshold", panel=SCHEDULE),
    decay_against=ConfigOption(TrainConfig, "decay_against", panel=SCHEDULE),
    dropout=ConfigOption(ModelConfig, "dropout", panel=REGULARISATION),
    freeze_embedding=ConfigOption(TrainConfig, "freeze_embedding", "--freeze-embedding/--train-embedding", panel=REGULARISATION, show_default=False),
    # when it ends
    epochs=ConfigOption(TrainConfig, "epochs", panel=STOPPING),
    max_steps=ConfigOption(TrainConfig, "max_steps", panel=STOPPING),
    max_time=ConfigOption(TrainConfig, "max_time", panel=STOPPING, type=str),
    eval_every=ConfigOption(TrainConfig, "eval_every", panel=STOPPING),
    patience=ConfigOption(TrainConfig, "patience", panel=STOPPING),
    # the run
    out_dir: Annotated[Optional[Path], typer.Option("--out", help="Run folder. Default: runs/<corpus name>.", rich_help_panel=RUN)] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run in --out from its last.npz.", rich_help_panel=RUN)] = False,
    force: Annotated[bool, typer.Option("--force", help="Start over in a run folder that already holds a run.", rich_help_panel=RUN)] = False,
    init_from: Annotated[Optional[Path], typer.Option("--init-from", help="Fine-tune: start a new run from the weights of this run folder (its best.npz, else last.npz) or checkpoint; its shape, cell, level and vocabulary are kept, the optimizer starts fresh.", show_default=False, rich_help_panel=RUN)] = None,
    grow_vocab: Annotated[bool, typer.Option("--grow-vocab", help="With --init-from, character level: add the characters the old model never saw (new rows; every old one unchanged).", rich_help_panel=RUN)] = False,
    seed=ConfigOption(TrainConfig, "seed", panel=RUN),
    threads=ConfigOption(TrainConfig, "threads", panel=RUN),
    dtype=ConfigOption(DataConfig, "dtype", panel=RUN),
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors and the final summary.", rich_help_panel=RUN)] = False,
):
    """Train a language model on CORPUS (default: the bundled corpus)."""
    with user_errors():
        from ..lm.train import session as training  # here: `charlm train --help` must not load Numba
        from ..core.adaptive_softmax import parse_cutoffs

        options = options_from(
            TrainOptions, ctx.params,
            corpus=(corpus[0] if len(corpus) == 1 else list(corpus)) if corpus else None,
            cutoffs=parse_cutoffs(cutoffs) if cutoffs is not None else None,
        )
        session = training.prepare(options)
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

    from .train_display import TrainingDisplay

    console = CommandConsole(highlight=False)
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
