"""``charlm train``: the options, and Ctrl-C / SIGTERM handling around the training run."""

from __future__ import annotations

import signal
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from .choices import CellName, DType, Level, OptimizerName
from .errors import err, user_errors


class Bptt(str, Enum):
    truncated = "truncated"
    full = "full"


def train(
    corpus: Annotated[Optional[Path], typer.Argument(help="Text file, or a folder with train/valid/test splits. Default: the bundled corpus.", show_default=False)] = None,
    out_dir: Annotated[Optional[Path], typer.Option("--out", help="Run folder. Default: runs/<corpus name>.")] = None,
    level: Annotated[Optional[Level], typer.Option(help="Tokens: characters or whitespace-separated words. \\[default: char]")] = None,
    cell: Annotated[Optional[CellName], typer.Option(help="Recurrent cell. \\[default: lstm]")] = None,
    hidden_size: Annotated[Optional[int], typer.Option(help="Units per layer. \\[default: 256]")] = None,
    layers: Annotated[Optional[int], typer.Option(help="Recurrent layers. \\[default: 2]")] = None,
    embed_size: Annotated[Optional[int], typer.Option(help="Embedding size. \\[default: the hidden size]")] = None,
    dropout: Annotated[Optional[float], typer.Option(help="Dropout between layers (non-recurrent connections). \\[default: 0]")] = None,
    tie_weights: Annotated[Optional[bool], typer.Option("--tie-weights/--no-tie-weights", help="Share the embedding with the output layer. \\[default: no]")] = None,
    init_scale: Annotated[Optional[float], typer.Option(help="Initialise every weight uniform in +-S (Zaremba et al.). \\[default: PyTorch's initialisation]")] = None,
    forget_bias: Annotated[Optional[float], typer.Option(help="Initial forget-gate bias of LSTMs. \\[default: 1 for LSTMs]")] = None,
    seq_len: Annotated[Optional[int], typer.Option(help="Window length T: backpropagation through at most this many steps. \\[default: 100]")] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="Parallel streams N. \\[default: 50]")] = None,
    epochs: Annotated[Optional[int], typer.Option(help="Passes over the training text. \\[default: 7]")] = None,
    max_steps: Annotated[Optional[int], typer.Option(help="Stop after this many windows.")] = None,
    max_time: Annotated[Optional[str], typer.Option(help="Stop after this much training time, e.g. 90s, 30m, 2h (validation included).")] = None,
    optimizer: Annotated[Optional[OptimizerName], typer.Option(help="\\[default: adam]")] = None,
    lr: Annotated[Optional[float], typer.Option(help="Learning rate. \\[default: 0.002]")] = None,
    lr_decay: Annotated[Optional[float], typer.Option(help="Multiply the learning rate by this when validation stops improving (or each epoch from --decay-start). \\[default: 0.5]")] = None,
    decay_start: Annotated[Optional[int], typer.Option(help="Decay the learning rate every epoch from this one on, instead of on plateaus.")] = None,
    clip_norm: Annotated[Optional[float], typer.Option(help="Clip the gradient's global L2 norm to this; 0 turns it off. \\[default: 5]")] = None,
    clip_value: Annotated[Optional[float], typer.Option(help="Clip every gradient entry to +-this.")] = None,
    val: Annotated[Optional[Path], typer.Option(help="Validation text file.")] = None,
    val_frac: Annotated[Optional[float], typer.Option(help="Hold out this tail fraction of the training text for validation; 0: no validation at all (not even a folder's valid split). \\[default: 0.05 without --val]")] = None,
    test: Annotated[Optional[Path], typer.Option(help="Test text file, evaluated at the end.")] = None,
    eval_every: Annotated[Optional[int], typer.Option(help="Validate every this many steps; 0: at the end of each epoch. \\[default: 0]")] = None,
    patience: Annotated[Optional[int], typer.Option(help="Stop after this many validations without improvement.")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Random seed (initialisation, dropout). \\[default: 0]")] = None,
    threads: Annotated[Optional[int], typer.Option(help="CPU threads. \\[default: all cores]")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run in --out from its last.npz.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Start over in a run folder that already holds a run.")] = False,
    min_freq: Annotated[Optional[int], typer.Option(help="Word level: words seen fewer times become <unk>. \\[default: 1]")] = None,
    max_vocab: Annotated[Optional[int], typer.Option(help="Word level: keep at most this many words.")] = None,
    bptt: Annotated[Optional[Bptt], typer.Option(help="truncated: carry the hidden state across windows; full: reset it every window. \\[default: truncated]")] = None,
    encoding: Annotated[str, typer.Option(help="Text encoding of the corpus files.")] = "utf-8",
    dtype: Annotated[Optional[DType], typer.Option(help="Floating-point precision. \\[default: float32]")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors and the final summary.")] = False,
):
    """Train a language model on CORPUS (default: the bundled corpus)."""
    from ..lm import training_run

    options = {k: v.value if isinstance(v, Enum) else v for k, v in locals().items() if k != "training_run"}
    with user_errors():
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
