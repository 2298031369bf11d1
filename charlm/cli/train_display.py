"""What a person sees in the terminal while charlm trains: a live rich view on a terminal,
plain lines (one every few seconds and one per validation) when the output is a file or pipe."""

from __future__ import annotations

import math
import time

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Table

from ..lm.measure.evaluate import Evaluation
from ..lm.train.observer import TrainingObserver, TrainingStatus

PLAIN_EVERY_S = 10.0


def format_duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "?"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def quality(loss: float | None, level: str) -> str:
    """A loss the way people read it: bits per character at char level, perplexity at word level."""
    if loss is None:
        return "-"
    if level == "char":
        return f"{loss / math.log(2):.3f} bpc"
    return f"ppl {math.exp(min(loss, 700)):.1f}"


class TrainingDisplay(TrainingObserver):
    def __init__(self, console: Console, level: str, quiet: bool = False):
        self.console = console
        self.level = level
        self.quiet = quiet
        self.live = console.is_terminal and not quiet
        self._progress: Progress | None = None
        self._task = None
        self._last_plain = 0.0
        self._last_val: float | None = None

    # -- TrainingObserver
    def started(self, status: TrainingStatus) -> None:
        self._last_plain = time.monotonic()  # the first plain line once there is a speed to show
        if self.quiet:
            return
        self.console.print(
            f"training {status.model} "
            f"({status.parameters:,} parameters, vocabulary {status.vocab_size:,}) on "
            f"{status.tokens:,} tokens: {status.windows_per_epoch:,} windows of {status.batch_size}x{status.seq_len} per epoch"
            + (f"; resuming at step {status.step:,}" if status.step else "")
            + (f" with {', '.join(status.changes)}" if status.changes else "")
        )
        if self.live:
            self._progress = Progress(
                TextColumn("epoch {task.fields[epoch]}"),
                BarColumn(),
                TaskProgressColumn(),
                TextColumn("step {task.completed:,.0f}/{task.total:,.0f}"),
                TextColumn("loss {task.fields[loss]}"),
                TextColumn("val {task.fields[val]}"),
                TextColumn("{task.fields[rate]} tok/s"),
                TimeRemainingColumn(),
                console=self.console,
                transient=False,
            )
            self._progress.start()
            self._task = self._progress.add_task(
                "train", total=status.total_steps, completed=status.step, epoch=status.epoch, loss="-", val="-", rate="-"
            )

    def step(self, status: TrainingStatus, loss: float) -> None:
        rate = status.tokens_per_s
        if self._progress is not None:
            self._progress.update(
                self._task, completed=status.step, epoch=f"{min(status.epoch, status.epochs)}/{status.epochs}",
                loss=f"{status.smooth_loss:.3f}", val=quality(self._last_val, self.level), rate=f"{rate:,.0f}" if rate else "-",
            )
        elif not self.quiet and time.monotonic() - self._last_plain >= PLAIN_EVERY_S:
            self._last_plain = time.monotonic()
            self.console.print(
                f"epoch {status.epoch}/{status.epochs} step {status.step:,}/{status.total_steps:,} "
                f"loss {status.smooth_loss:.3f} {rate or 0:,.0f} tok/s eta {format_duration(status.eta_s)}"
            )

    def validated(self, status: TrainingStatus, result: Evaluation, improved: bool) -> None:
        self._last_val = result.loss
        if self.quiet:
            return
        mark = " (best)" if improved else ""
        # At word level the quality is the perplexity already: say it once.
        perplexity = f", perplexity {result.perplexity:,.2f}" if self.level == "char" else ""
        line = f"validation at step {status.step:,}: loss {result.loss:.4f}, {quality(result.loss, self.level)}{perplexity}{mark}"
        (self._progress.console if self._progress else self.console).print(line)

    def message(self, text: str) -> None:
        """The trainer's notes (learning rate lowered, a step skipped): not under --quiet, whose
        one summary line counts the skipped steps instead."""
        if self.quiet:
            return
        (self._progress.console if self._progress else self.console).print(text)

    def _summary_line(self, summary: dict) -> str:
        """--quiet: the whole run in one line."""
        parts = [f"{summary['steps']:,} steps ({summary['stopped_by']}) in {format_duration(summary['elapsed_s'])}"]
        if summary["best_val_loss"] is not None:
            parts.append(f"best validation loss {summary['best_val_loss']:.4f}, {quality(summary['best_val_loss'], self.level)}")
        if "test" in summary:
            parts.append(f"test perplexity {summary['test']['test_perplexity']:,.2f}")
        if summary.get("skipped_steps"):
            parts.append(f"{summary['skipped_steps']:,} steps skipped (non-finite)")
        if summary.get("changed"):
            parts.append(f"resumed with {', '.join(summary['changed'])}")
        parts.append(f"checkpoint {summary['best'] or summary['last']}")
        return "; ".join(parts)

    def finished(self, status: TrainingStatus, summary: dict) -> None:
        if self._progress is not None:
            self._progress.stop()
        if self.quiet:
            self.console.print(self._summary_line(summary), soft_wrap=True)
            return
        table = Table(title="training summary", show_header=False)
        table.add_column(justify="left")
        table.add_column(justify="right")
        table.add_row("stopped", summary["stopped_by"])
        table.add_row("steps", f"{summary['steps']:,}")
        table.add_row("tokens", f"{summary['tokens']:,}")
        table.add_row("time", format_duration(summary["elapsed_s"]))
        if summary["tokens"] and summary["elapsed_s"]:
            table.add_row("tokens/s (incl. validation)", f"{summary['tokens'] / summary['elapsed_s']:,.0f}")
        if summary.get("skipped_steps"):
            table.add_row("skipped steps (non-finite)", str(summary["skipped_steps"]))
        if summary.get("changed"):
            table.add_row("changed on resume", ", ".join(summary["changed"]))
        if summary["best_val_loss"] is not None:
            table.add_row("best validation loss", f"{summary['best_val_loss']:.4f} (step {summary['best_step']:,})")
            table.add_row("best validation", quality(summary["best_val_loss"], self.level))
        if "test" in summary:
            t = summary["test"]
            table.add_row("test loss", f"{t['test_loss']:.4f}")
            table.add_row("test perplexity", f"{t['test_perplexity']:,.2f}")
            table.add_row("test bits per token", f"{t['test_bits_per_token']:.4f}")
        table.add_row("checkpoints", f"{summary['best'] or '-'}, {summary['last']}")
        self.console.print(table)
