"""What ``charlm classify`` shows: training progress (a live bar on a terminal, one line per epoch
either way), the summary of a run or of cross-validation, and the evaluation tables."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from .train_display import format_duration
from ..supervised.trainer import ClassifierObserver


def pct(value) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"


class ClassifierDisplay(ClassifierObserver):
    def __init__(self, console: Console, title: str, quiet: bool = False):
        self.console, self.title, self.quiet = console, title, quiet
        self.live = console.is_terminal and not quiet
        self._progress: Progress | None = None
        self._task = None
        self._epochs = 0

    def _print(self, text: str) -> None:
        (self._progress.console if self._progress else self.console).print(text, markup=False, highlight=False, soft_wrap=True)

    def started(self, info: dict) -> None:
        self._epochs = info["epochs"]
        if self.quiet:
            return
        self.console.print(
            f"{self.title}: {info['parameters']:,} parameters, {info['train']:,} training and {info['dev']:,} dev "
            f"examples, {info['batches']:,} batches per epoch", markup=False, highlight=False, soft_wrap=True)
        if self.live:
            self._progress = Progress(TextColumn("epoch {task.fields[epoch]}"), BarColumn(), MofNCompleteColumn(),
                                      TextColumn("loss {task.fields[loss]}"), TimeElapsedColumn(),
                                      console=self.console, transient=True)
            self._progress.start()
            self._task = self._progress.add_task("train", total=info["batches"], epoch=f"1/{self._epochs}", loss="-")

    def batch(self, done: int, total: int, loss: float) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=done, total=total, loss=f"{loss:.3f}")

    def epoch(self, record: dict) -> None:
        if self.quiet:
            return
        mark = " (best)" if record["improved"] else ""
        rate = record.get("examples_per_s")
        self._print(f"epoch {record['epoch']}/{self._epochs}: loss {record['train_loss']:.4f}, train acc "
                    f"{pct(record['train_acc'])}, dev acc {pct(record['dev_acc'])}{mark}, "
                    f"{rate or 0:,.0f} examples/s")
        if self._progress is not None:
            self._progress.update(self._task, completed=0, epoch=f"{record['epoch'] + 1}/{self._epochs}", loss="-")

    def finished(self, summary: dict | None = None) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def summary_line(summary: dict) -> str:
    parts = [f"dev accuracy {pct(summary['dev_acc'])} (epoch {summary['best_epoch']})"]
    if "test_acc" in summary:
        parts.append(f"test accuracy {pct(summary['test_acc'])}")
    early = " (early stop)" if summary["stopped_by"] != "epochs" else ""
    parts.append(f"{summary['epochs']} epochs{early} in {format_duration(summary['elapsed_s'])}")
    if summary.get("checkpoint"):
        parts.append(f"model {summary['checkpoint']}")
    return "; ".join(parts)


def summary_table(summary: dict) -> Table:
    table = Table(title="classifier training", show_header=False)
    table.add_column(justify="left")
    table.add_column(justify="right")
    table.add_row("dev accuracy (best epoch)", f"{pct(summary['dev_acc'])} (epoch {summary['best_epoch']})")
    if "test_acc" in summary:
        table.add_row("test accuracy", f"{pct(summary['test_acc'])} ({summary['test_examples']:,} examples)")
    if "test_all_nodes_acc" in summary:
        table.add_row("test all-node accuracy", pct(summary["test_all_nodes_acc"]))
    table.add_row("dev set", f"{summary['dev_examples']:,} examples: {summary['dev_source']}")
    table.add_row("training examples", f"{summary['train_examples']:,}")
    table.add_row("classes", Text(", ".join(summary["labels"])))
    table.add_row("vocabulary", f"{summary['vocab_size']:,} (dev out-of-vocabulary {pct(summary['oov_rate']['dev'])})")
    stopped = "ran all" if summary["stopped_by"] == "epochs" else "early stop (patience) after"
    table.add_row("stopped", f"{stopped} {summary['epochs']} epochs")
    table.add_row("time", format_duration(summary["elapsed_s"]))
    if summary.get("examples_per_s"):
        table.add_row("training examples/s", f"{summary['examples_per_s']:,.0f}")
    if summary.get("skipped_steps"):
        table.add_row("skipped steps (non-finite)", str(summary["skipped_steps"]))
    table.add_row("model", summary.get("checkpoint") or "- (no --out)")
    return table


def cv_table(cv: dict) -> Table:
    table = Table(title=f"{cv['folds']}-fold cross-validation on {cv['examples']:,} examples")
    for name in ("fold", "test examples", "test acc", "dev acc", "best epoch", "examples/s"):
        table.add_column(name, justify="right")
    for r in cv["per_fold"]:
        table.add_row(str(r["fold"]), f"{r['test_examples']:,}", pct(r["test_acc"]), pct(r["dev_acc"]),
                      str(r["best_epoch"]), f"{r['examples_per_s'] or 0:,.0f}")
    table.add_row("mean ± std", "", f"{100 * cv['mean_acc']:.2f} ± {100 * cv['std_acc']:.2f}", "", "", "", end_section=True)
    return table


def eval_tables(result: dict) -> list[Table]:
    scores = Table(title=Text(f"{result['file']} under {result['model']}"), show_header=False)
    scores.add_column(justify="left")
    scores.add_column(justify="right")
    scores.add_row("examples", f"{result['examples']:,}")
    scores.add_row("accuracy" if "all_nodes" not in result else "root accuracy", pct(result["accuracy"]))
    if "all_nodes" in result:
        nodes = result["all_nodes"]
        scores.add_row("all-node accuracy", f"{pct(nodes['accuracy'])} ({nodes['nodes']:,} nodes)")
    scores.add_row("macro-F1", f"{100 * result['macro_f1']:.2f}")
    scores.add_row("out-of-vocabulary rate", pct(result["oov_rate"]))

    per_class = Table(title="per class")
    for name in ("class", "precision", "recall", "F1", "support"):
        per_class.add_column(name, justify="right" if name != "class" else "left")
    for label, s in result["per_class"].items():
        per_class.add_row(Text(label), pct(s["precision"]), pct(s["recall"]), f"{100 * s['f1']:.2f}", f"{s['support']:,}")

    at = " at the roots" if "all_nodes" in result else ""
    confusion = Table(title=f"confusion matrix{at} (rows: true class, columns: predicted)")
    confusion.add_column("true \\ predicted", justify="left")
    for label in result["labels"]:
        confusion.add_column(Text(label), justify="right")
    for label, row in zip(result["labels"], result["confusion"]):
        confusion.add_row(Text(label), *(f"{count:,}" for count in row))
    return [scores, per_class, confusion]
