"""``charlm eval MODEL FILE``: a model's loss, perplexity and bits on a text, as a table or JSON;
with ``--dynamic``, static and dynamic evaluation side by side."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from ..errors import ConfigError
from ..lm.config import TrainConfig
from ..settings import help_text
from .errors import err, user_errors
from .streams import CommandConsole

out = CommandConsole(highlight=False)


def eval_command(
    model: Annotated[Path, typer.Argument(help="Run folder or checkpoint file.", show_default=False)],
    file: Annotated[Path, typer.Argument(help="Text file to measure the model on, or a folder of them (each file a document, as in training).", show_default=False)],
    batch_size: Annotated[Optional[int], typer.Option(help="Parallel streams. \\[default: the model's training batch size, so the figure equals its validation loss on the same text]")] = None,
    seq_len: Annotated[Optional[int], typer.Option(help="Window length. \\[default: the model's training window; with --dynamic 5 words or 20 characters]")] = None,
    encoding: Annotated[str, typer.Option(help="Text encoding of FILE.")] = "utf-8",
    glob: Annotated[Optional[str], typer.Option("--glob", help="Only the files of the folder whose names match this pattern. \\[default: the model's own training --glob, if any]", show_default=False)] = None,
    skip_bad: Annotated[bool, typer.Option("--skip-bad", help="Leave out the folder's files that cannot be read as text (listed in a note) instead of refusing them.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    threads: Annotated[Optional[int], typer.Option(help=help_text(TrainConfig, "threads"))] = None,
    dynamic: Annotated[bool, typer.Option("--dynamic", help="Dynamic evaluation (Krause et al. 2018): after scoring each window, one gradient step on it adapts the model to the text read so far. One stream; the checkpoint is not changed.", rich_help_panel="Dynamic evaluation")] = False,
    lr: Annotated[Optional[float], typer.Option(help="Adaptation rate. \\[default: by rule and level, see docs/results.md]", rich_help_panel="Dynamic evaluation", show_default=False)] = None,
    decay: Annotated[Optional[float], typer.Option(help="Pull back towards the trained weights per window, in [0, 1).", rich_help_panel="Dynamic evaluation", show_default=False)] = None,
    stats: Annotated[Optional[Path], typer.Option(help="Training text for the RMS rule's gradient statistics (without it: the SGD rule).", rich_help_panel="Dynamic evaluation", show_default=False)] = None,
    stats_windows: Annotated[Optional[int], typer.Option(help="Windows of 100 streams read from --stats. \\[default: 300]", rich_help_panel="Dynamic evaluation", show_default=False)] = None,
    tune: Annotated[Optional[Path], typer.Option(help="Validation text: choose --lr and --decay (those not given) from a small grid by their loss on it.", rich_help_panel="Dynamic evaluation", show_default=False)] = None,
):
    """Loss, perplexity and bits per character of a model on FILE (a text file, or a folder of them)."""
    with user_errors():
        if (batch_size is not None and batch_size < 1) or (seq_len is not None and seq_len < 1):
            raise ConfigError("--batch-size and --seq-len must be positive integers")
        if dynamic:
            folder_options = [name for name, value in (("--glob", glob), ("--skip-bad", skip_bad or None)) if value is not None]
            if folder_options:
                raise ConfigError(f"{', '.join(folder_options)} cannot take effect with --dynamic: it reads one text file")
            report = run_dynamic(model, file, batch_size, seq_len, encoding, threads, lr, decay, stats, stats_windows, tune)
        else:
            given = [name for name, value in (("--lr", lr), ("--decay", decay), ("--stats", stats),
                                              ("--stats-windows", stats_windows), ("--tune", tune)) if value is not None]
            if given:
                raise ConfigError(f"{', '.join(given)} {'takes' if len(given) == 1 else 'take'} effect only with --dynamic")
            from ..lm.measure.evaluate import evaluate_file

            report = evaluate_file(model, file, batch_size=batch_size, seq_len=seq_len, encoding=encoding, threads=threads,
                                   glob=glob, skip_bad=skip_bad)
        if as_json:
            out.print_json(json.dumps(report))
        elif dynamic:
            rule = "RMS rule" if report["rule"] == "rms" else "SGD rule"
            if "tuning" in report:
                out.print(tuning_table(report))
            out.print(f"dynamic evaluation: {rule}, windows of {report['seq_len']}, lr {report['lr']:g}, "
                      f"decay {report['decay']:g}")
            out.print(dynamic_table(report))
        else:
            out.print(eval_table(report))


def run_dynamic(model, file, batch_size, seq_len, encoding, threads, lr, decay, stats, stats_windows, tune) -> dict:
    from ..lm.measure.dynamic_file import STATS_WINDOWS, dynamic_evaluate_file

    if batch_size is not None:
        raise ConfigError("--batch-size cannot take effect with --dynamic: dynamic evaluation reads the text as one stream")
    if stats_windows is not None and stats is None:
        raise ConfigError("--stats-windows needs --stats (the training text to read them from)")
    def progress(k: int, n: int, trial: dict) -> None:
        err.print(f"tuning {k}/{n}: lr {trial['lr']:g}, decay {trial['decay']:g}: loss {trial['loss']:.4f}")

    return dynamic_evaluate_file(model, file, seq_len=seq_len, lr=lr, decay=decay, stats_file=stats,
                                 stats_windows=stats_windows or STATS_WINDOWS, tune_file=tune, encoding=encoding,
                                 threads=threads, progress=progress)


def eval_table(report: dict) -> Table:
    table = Table(title=f"{report['file']} under {report['model']}", show_header=False)
    table.add_column(justify="left")
    table.add_column(justify="right")
    if report["files"] > 1:
        table.add_row("files", f"{report['files']:,}")
    table.add_row("tokens predicted", f"{report['tokens']:,}")
    table.add_row("loss (nats/token)", f"{report['loss']:.4f}")
    table.add_row("perplexity", f"{report['perplexity']:,.3f}")
    table.add_row("bits per token", f"{report['bits_per_token']:.4f}")
    table.add_row("bits per character", f"{report['bits_per_character']:.4f}")
    if report.get("oov_rate") is not None:
        table.add_row("out-of-vocabulary rate", f"{100 * report['oov_rate']:.2f}%")
    return table


def dynamic_table(report: dict) -> Table:
    table = Table(title=f"{report['file']} under {report['model']}")
    table.add_column("")
    table.add_column("static", justify="right")
    table.add_column("dynamic", justify="right")
    static, dynamic = report["static"], report["dynamic"]
    table.add_row("tokens predicted", f"{static['tokens']:,}", f"{dynamic['tokens']:,}")
    table.add_row("loss (nats/token)", f"{static['loss']:.4f}", f"{dynamic['loss']:.4f}")
    table.add_row("perplexity", f"{static['perplexity']:,.3f}", f"{dynamic['perplexity']:,.3f}")
    table.add_row("bits per token", f"{static['bits_per_token']:.4f}", f"{dynamic['bits_per_token']:.4f}")
    table.add_row("bits per character", f"{static['bits_per_character']:.4f}", f"{dynamic['bits_per_character']:.4f}")
    table.add_row("tokens per second", f"{static['tokens_per_second']:,.0f}", f"{dynamic['tokens_per_second']:,.0f}")
    return table


def tuning_table(report: dict) -> Table:
    table = Table(title=f"tuning on {report['tuning']['file']}")
    for name in ("lr", "decay", "loss (nats/token)"):
        table.add_column(name, justify="right")
    for trial in report["tuning"]["trials"]:
        chosen = trial["lr"] == report["lr"] and trial["decay"] == report["decay"]
        table.add_row(f"{trial['lr']:g}", f"{trial['decay']:g}", f"{trial['loss']:.4f}" + (" (chosen)" if chosen else ""))
    return table
