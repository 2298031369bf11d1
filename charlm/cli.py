"""The ``charlm`` command: a thin Typer layer. It parses and validates options, calls the library
and draws with rich; a CharlmError becomes one line on stderr and a non-zero exit code."""

from __future__ import annotations

import json
import math
import os
import signal
import sys
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from . import __version__
from .classify.cli import app as classify_app
from .choices import CellName, DType, Level, OptimizerName
from .errors import CharlmError, ConfigError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Train recurrent language models on a text file, sample from them and measure them.",
)
out = Console(highlight=False)
err = Console(stderr=True, highlight=False, soft_wrap=True)  # one message, one line: never wrapped


class Bptt(str, Enum):
    truncated = "truncated"
    full = "full"


def _version(value: bool):
    if value:
        out.print(f"charlm {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")] = False):
    pass


@contextmanager
def _user_errors():
    """Turn the errors a user can cause into one line on stderr and an exit code."""
    try:
        yield
    except CharlmError as exc:
        _fail(f"error: {exc}", exc.exit_code)
    except KeyboardInterrupt:
        _fail("interrupted", 130)


def _fail(message: str, code: int):
    group = _mpi_group()
    if group is None:
        err.print(message, markup=False, soft_wrap=True)
        raise typer.Exit(code) from None
    # Several processes: this one must take the whole job down, or the others would wait for it
    # forever. Most errors happen on every rank at once; rank 0 says it, and the others wait a
    # moment for its abort so the message is not printed N times.
    if not group.is_root:
        if code == 130:  # Ctrl-C reaches every rank; rank 0 has said what happened
            group.abort(code)
        import time

        time.sleep(2)
        message = f"rank {group.rank}: {message}"
    err.print(message, markup=False, soft_wrap=True)
    group.abort(code)


def _mpi_group():
    """The MPI group of a data-parallel training process, or None (never imports MPI)."""
    distributed = sys.modules.get("charlm.distributed")
    group = distributed.active_group() if distributed else None
    return group if group is not None and group.size > 1 else None


# ====================================================================== train
@app.command()
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
    from . import training_session

    options = {k: v.value if isinstance(v, Enum) else v for k, v in locals().items() if k != "training_session"}
    with _user_errors():
        session = training_session.prepare(options)
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

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        summary = session.run(quiet)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if summary["stopped_by"] == "interrupted":
        if session.trainer.group.is_root:
            err.print(f"interrupted: checkpoint saved to {summary['last']}; continue with --resume", markup=False)
        raise typer.Exit(130 if signal.SIGINT in received else 143)


# ====================================================================== sample
@app.command()
def sample(
    model: Annotated[Optional[Path], typer.Argument(help="Run folder (its best.npz, else last.npz) or checkpoint file. Default: the latest run under runs/.", show_default=False)] = None,
    length: Annotated[int, typer.Option(help="Tokens to generate per sample.")] = 500,
    prime: Annotated[Optional[str], typer.Option(help="Text to start from (the model reads it first).")] = None,
    temperature: Annotated[float, typer.Option(help="Sharpen (<1) or flatten (>1) the distribution.")] = 1.0,
    top_k: Annotated[int, typer.Option(help="Sample among the k most likely tokens; 0: all.")] = 0,
    top_p: Annotated[float, typer.Option(help="Sample among the most likely tokens holding this much probability.")] = 1.0,
    greedy: Annotated[bool, typer.Option("--greedy", help="Always take the most likely token.")] = False,
    seed: Annotated[Optional[int], typer.Option(help="Random seed: the same seed gives the same text.")] = None,
    num_samples: Annotated[int, typer.Option(help="Samples, generated together as a batch.")] = 1,
    stop: Annotated[Optional[str], typer.Option(help="Stop a sample when it produces this text.")] = None,
    threads: Annotated[Optional[int], typer.Option(help="CPU threads. \\[default: all cores]")] = None,
):
    """Generate text from a trained model; only the text goes to stdout."""
    from . import sampling_session

    with _user_errors():
        try:
            sampling_session.run(
                model, length=length, prime=prime, temperature=temperature, top_k=top_k, top_p=top_p, greedy=greedy,
                seed=seed, num_samples=num_samples, stop=stop, threads=threads, out=sys.stdout, err=err,
            )
        except BrokenPipeError:
            # The reader went away (`charlm sample | head`): that is how a pipe says "enough".
            # Point stdout at /dev/null so the interpreter's final flush does not complain.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


# ====================================================================== eval
@app.command(name="eval")
def eval_(
    model: Annotated[Path, typer.Argument(help="Run folder or checkpoint file.", show_default=False)],
    file: Annotated[Path, typer.Argument(help="Text file to measure the model on.", show_default=False)],
    batch_size: Annotated[int, typer.Option(help="Parallel streams.")] = 10,
    seq_len: Annotated[int, typer.Option(help="Window length.")] = 100,
    encoding: Annotated[str, typer.Option(help="Text encoding of FILE.")] = "utf-8",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    threads: Annotated[Optional[int], typer.Option(help="CPU threads. \\[default: all cores]")] = None,
):
    """Loss, perplexity and bits per character of a model on FILE."""
    from .evaluation_session import run

    with _user_errors():
        if batch_size < 1 or seq_len < 1:
            raise ConfigError("--batch-size and --seq-len must be positive integers")
        report = run(model, file, batch_size=batch_size, seq_len=seq_len, encoding=encoding, threads=threads)
        if as_json:
            out.print_json(json.dumps(report))
        else:
            from .reports import eval_table

            out.print(eval_table(report))


# ====================================================================== info
@app.command()
def info(
    model: Annotated[Optional[Path], typer.Argument(help="Run folder or checkpoint file. Default: the latest run.", show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
):
    """What a checkpoint holds: configuration, vocabulary, parameters, progress, loss curve."""
    from .reports import checkpoint_report, info_renderables

    with _user_errors():
        report = checkpoint_report(model)
        if as_json:
            out.print_json(json.dumps(report))
        else:
            for renderable in info_renderables(report):
                out.print(renderable)


# ====================================================================== classify
app.add_typer(classify_app, name="classify")


def main() -> None:
    """Entry point. Usage errors (unknown option, bad value) become one line plus a --help hint.
    They are click exceptions; recent Typer versions vendor click, so they are recognised by
    their interface rather than imported."""
    try:
        code = app(standalone_mode=False)  # returns the code of a typer.Exit instead of raising it
        if isinstance(code, int) and code:
            sys.exit(code)
    except (typer.Exit, typer.Abort) as exc:
        code = getattr(exc, "exit_code", 130)
        if isinstance(exc, typer.Abort) or type(exc).__name__ == "Abort":
            err.print("interrupted", markup=False)
        sys.exit(code)
    except KeyboardInterrupt:
        err.print("interrupted", markup=False)
        sys.exit(130)
    except Exception as exc:
        if type(exc).__name__ == "Abort":
            err.print("interrupted", markup=False)
            sys.exit(130)
        if type(exc).__name__ == "Exit" and hasattr(exc, "exit_code"):
            sys.exit(exc.exit_code)
        if hasattr(exc, "format_message") and hasattr(exc, "exit_code"):
            ctx = getattr(exc, "ctx", None)
            hint = f" (see: {ctx.command_path} --help)" if ctx is not None and getattr(exc, "cmd", True) else ""
            err.print(f"error: {exc.format_message()}{hint}", markup=False, soft_wrap=True)
            sys.exit(exc.exit_code)
        raise


if __name__ == "__main__":
    main()
