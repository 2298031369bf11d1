"""``charlm eval MODEL FILE``: a model's loss, perplexity and bits on a text, as a table or JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from ..errors import ConfigError
from ..lm.config import TrainConfig, help_text
from .errors import user_errors

out = Console(highlight=False)


def eval_command(
    model: Annotated[Path, typer.Argument(help="Run folder or checkpoint file.", show_default=False)],
    file: Annotated[Path, typer.Argument(help="Text file to measure the model on.", show_default=False)],
    batch_size: Annotated[Optional[int], typer.Option(help="Parallel streams. \\[default: the model's training batch size, so the figure equals its validation loss on the same text]")] = None,
    seq_len: Annotated[Optional[int], typer.Option(help="Window length. \\[default: the model's training window]")] = None,
    encoding: Annotated[str, typer.Option(help="Text encoding of FILE.")] = "utf-8",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    threads: Annotated[Optional[int], typer.Option(help=help_text(TrainConfig, "threads"))] = None,
):
    """Loss, perplexity and bits per character of a model on FILE."""
    from ..lm.evaluate import evaluate_file

    with user_errors():
        if (batch_size is not None and batch_size < 1) or (seq_len is not None and seq_len < 1):
            raise ConfigError("--batch-size and --seq-len must be positive integers")
        report = evaluate_file(model, file, batch_size=batch_size, seq_len=seq_len, encoding=encoding, threads=threads)
        if as_json:
            out.print_json(json.dumps(report))
        else:
            out.print(eval_table(report))


def eval_table(report: dict) -> Table:
    table = Table(title=f"{report['file']} under {report['model']}", show_header=False)
    table.add_column(justify="left")
    table.add_column(justify="right")
    table.add_row("tokens predicted", f"{report['tokens']:,}")
    table.add_row("loss (nats/token)", f"{report['loss']:.4f}")
    table.add_row("perplexity", f"{report['perplexity']:,.3f}")
    table.add_row("bits per token", f"{report['bits_per_token']:.4f}")
    table.add_row("bits per character", f"{report['bits_per_character']:.4f}")
    if report.get("oov_rate") is not None:
        table.add_row("out-of-vocabulary rate", f"{100 * report['oov_rate']:.2f}%")
    return table
