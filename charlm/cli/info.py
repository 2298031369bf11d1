"""``charlm info``: what a checkpoint holds, as tables with a terminal loss curve, or JSON."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Optional

import typer

from rich.table import Table
from rich.text import Text

from ..lm.models.kinds import DEFAULT_KIND, kind_named
from ..store.runfolder import RunFolder, resolve_checkpoint
from ..store.checkpoint import CLASSIFIER_KIND
from .classify_info import classifier_renderables, classifier_report
from .errors import user_errors
from .streams import CommandConsole

out = CommandConsole(highlight=False)


def info(
    model: Annotated[Optional[Path], typer.Argument(help="Run folder or checkpoint file. Default: the latest run.", show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
):
    """What a checkpoint holds: configuration, vocabulary, parameters, progress, loss curve."""
    with user_errors():
        report = checkpoint_report(model)
        if as_json:
            out.print_json(json.dumps(report))
        else:
            draw = classifier_renderables if report.get("kind") == "classifier" else info_renderables
            for renderable in draw(report):
                out.print(renderable)


def _epoch_reached(progress: dict, train: dict) -> int | None:
    """The epoch the run is in, or ended in: a run that finished its E epochs says E, not E + 1."""
    epoch, epochs = progress.get("epoch"), train.get("epochs")
    return epoch if epoch is None or epochs is None else min(epoch, epochs)


def checkpoint_report(model: Path | None) -> dict:
    from ..lm.models.saved import load_model  # here: `charlm info --help` must not load Numba

    path = resolve_checkpoint(model)
    if _kind(path) == CLASSIFIER_KIND:
        return classifier_report(path)
    snap = load_model(path)
    meta = snap.meta
    progress = meta.get("progress", {})
    report = {
        "checkpoint": str(path),
        "model": meta["model"],
        "dtype": meta.get("dtype"),
        "level": snap.vocab.level,
        "vocab_size": len(snap.vocab),
        "parameters": snap.model.store.size,
        "steps": progress.get("step"),
        # progress.epoch is the epoch to start next: after the last one, that is one past it
        "epoch": _epoch_reached(progress, meta.get("train") or {}),
        "tokens_trained": progress.get("tokens"),
        "elapsed_s": progress.get("elapsed_s"),
        "best_val_loss": progress.get("best_val_loss"),
        "best_step": progress.get("best_step"),
        "train": meta.get("train"),
        "corpus": meta.get("corpus"),
        "init_from": meta.get("init_from"),
        "charlm_version": meta.get("charlm_version"),
        "validations": meta.get("validations", []),
    }
    rows = RunFolder(path.parent).read_metrics()
    report["train_curve"] = [(r["step"], r["train_loss"]) for r in rows if r.get("val_loss") is None and r.get("train_loss") is not None]
    return report


def _kind(path: Path) -> str | None:
    from ..store.checkpoint import load_checkpoint

    return load_checkpoint(path)[1].get("kind")


def loss_curve(train: list, val: list, width: int = 60, height: int = 10) -> Text | None:
    """A small scatter plot of loss against step: '·' training, '●' validation."""
    points = [(s, l, "·") for s, l in train if l is not None and math.isfinite(l)]
    points += [(s, l, "●") for s, l in val if l is not None and math.isfinite(l)]
    if len(points) < 2:
        return None
    steps = [p[0] for p in points]
    losses = [p[1] for p in points]
    s0, s1 = min(steps), max(steps)
    lo, hi = min(losses), max(losses)
    if hi - lo < 1e-12:
        hi = lo + 1.0
    grid = [[" "] * width for _ in range(height)]
    for step, loss, mark in points:
        x = 0 if s1 == s0 else round((step - s0) / (s1 - s0) * (width - 1))
        y = round((hi - loss) / (hi - lo) * (height - 1))
        if grid[y][x] != "●":
            grid[y][x] = mark
    text = Text()
    for row_index, row in enumerate(grid):
        label = f"{hi:7.3f} " if row_index == 0 else f"{lo:7.3f} " if row_index == height - 1 else " " * 8
        text.append(label + "│" + "".join(row) + "\n")
    text.append(" " * 8 + "└" + "─" * width + "\n")
    text.append(" " * 9 + f"step {s0:,}".ljust(width - 12) + f"{s1:,}\n")
    text.append(" " * 9 + "· training loss   ● validation loss (nats/token)")
    return text


def info_renderables(report: dict) -> list:
    model = report["model"]
    table = Table(title=report["checkpoint"], show_header=False)
    table.add_column(justify="left")
    table.add_column(justify="right")
    described = kind_named(model.get("model", DEFAULT_KIND)).info_description(model)
    table.add_row("model", described
                  + (", tied" if model.get("tie_weights") else "") + (f", dropout {model['dropout']}" if model.get("dropout") else "")
                  + (f", adaptive softmax (cutoffs {','.join(map(str, model['cutoffs']))}, tail-div {model['tail_div']:g})"
                     if model.get("softmax") == "adaptive" else ""))
    table.add_row("level / vocabulary", f"{report['level']}, {report['vocab_size']:,} tokens")
    table.add_row("parameters", f"{report['parameters']:,} ({report['dtype']})")
    if report.get("steps") is not None:
        table.add_row("trained", f"{report['steps']:,} steps, {report['tokens_trained'] or 0:,} tokens, epoch {report['epoch']}")
    if report.get("elapsed_s"):
        table.add_row("training time", f"{report['elapsed_s'] / 60:.1f} min")
    if report.get("best_val_loss") is not None:
        bpt = report["best_val_loss"] / math.log(2)
        table.add_row("best validation", f"loss {report['best_val_loss']:.4f} ({bpt:.3f} bits/token, "
                      f"perplexity {math.exp(report['best_val_loss']):,.2f}) at step {report['best_step']:,}")
    train = report.get("train") or {}
    if train:
        table.add_row("training", f"{train.get('optimizer')} lr {train.get('lr')}, T={train.get('seq_len')} "
                      f"N={train.get('batch_size')}, clip-norm {train.get('clip_norm')}")
    if report.get("corpus"):
        corpus = report["corpus"]
        files = (corpus.get("fingerprint") or {}).get("files")
        shown = str(corpus.get("path"))
        if files and not corpus.get("paths"):  # several paths' "path" already counts them
            shown += f" ({len(files):,} files" + (f", --glob {corpus['glob']!r})" if corpus.get("glob") else ")")
        table.add_row("corpus", shown)
    start = report.get("init_from")
    if start:
        step = f" (step {start['step']:,}" + (f", trained on {start['corpus']})" if start.get("corpus") else ")")
        added = start.get("added_tokens") or []
        grown = f"; {len(added)} character(s) added: {''.join(added)[:40]!r}" if added else ""
        table.add_row("fine-tuned from", f"{start['checkpoint']}{step if start.get('step') is not None else ''}{grown}")
    out = [table]
    curve = loss_curve(report["train_curve"], [(v["step"], v["val_loss"]) for v in report["validations"]])
    if curve is not None:
        out.append(curve)
    return out
