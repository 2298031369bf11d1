"""``charlm classify``: train, use and measure text classifiers. A thin Typer layer: it parses
options, calls ``session.py`` and draws with rich; a CharlmError becomes one line on stderr and a
non-zero exit code (through ``errors.user_errors``)."""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from .choices import CellName, DType, Level, OptimizerName
from .errors import quiet_broken_pipe, user_errors

DATA_HELP = """Labelled data. One of:
a file of label<TAB>text lines (a dev set is held out of it, see --dev-frac);
a folder with train.txt and optionally dev.txt and test.txt, each label<TAB>text;
a folder of one file per class, one text per line, the label given by the name:
*.pos / *.neg (MR's rt-polarity.pos and .neg) or <label>.txt."""

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Train bidirectional Text-RNN and RCNN text classifiers on label<TAB>text data, then predict "
         "labels and measure accuracy.",
)
out = Console(highlight=False)


class ModelName(str, Enum):
    textrnn = "textrnn"
    rcnn = "rcnn"


class Pool(str, Enum):
    last = "last"
    mean = "mean"
    max = "max"


def _plain(options: dict) -> dict:
    return {k: v.value if isinstance(v, Enum) else v for k, v in options.items()}


# ====================================================================== train
@app.command()
def train(
    data: Annotated[Path, typer.Argument(help=DATA_HELP, show_default=False)],
    model: Annotated[ModelName, typer.Option(help="textrnn: bidirectional RNN layers, then last states or pooling; rcnn: Lai et al. 2015 (recurrent left/right contexts, tanh, max-pool).")] = ModelName.textrnn,
    cell: Annotated[CellName, typer.Option(help="Recurrent cell of both directions.")] = CellName.lstm,
    level: Annotated[Level, typer.Option(help="Tokens: whitespace-separated words or characters.")] = Level.word,
    embed_size: Annotated[Optional[int], typer.Option(help="Embedding size (learned from scratch). \\[default: 128]")] = None,
    hidden_size: Annotated[Optional[int], typer.Option(help="Units per direction. \\[default: 128]")] = None,
    layers: Annotated[Optional[int], typer.Option(help="Stacked bidirectional layers (Text-RNN; the RCNN has 1). \\[default: 1]")] = None,
    dropout: Annotated[Optional[float], typer.Option(help="Dropout on the embeddings, between layers and on the sentence vector. \\[default: 0.5]")] = None,
    pool: Annotated[Optional[Pool], typer.Option(help="Text-RNN sentence vector: last states of both directions, or mean/max over the words. \\[default: last]")] = None,
    proj_size: Annotated[Optional[int], typer.Option(help="RCNN: width of the tanh layer over (left context, word, right context). \\[default: the hidden size]")] = None,
    optimizer: Annotated[OptimizerName, typer.Option(help="Optimizer.")] = OptimizerName.adam,
    lr: Annotated[Optional[float], typer.Option(help="Learning rate. \\[default: 0.001]")] = None,
    clip_norm: Annotated[Optional[float], typer.Option(help="Clip the gradient's global L2 norm to this; 0 turns it off. \\[default: 5]")] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="Sentences per minibatch (bucketed by length). \\[default: 50]")] = None,
    epochs: Annotated[Optional[int], typer.Option(help="Passes over the training set at most. \\[default: 10]")] = None,
    patience: Annotated[Optional[int], typer.Option(help="Stop after this many epochs without a better dev accuracy; 0: never. \\[default: 3]")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Random seed (initialisation, batches, dropout, dev hold-out, folds). \\[default: 0]")] = None,
    threads: Annotated[Optional[int], typer.Option(help="CPU threads. \\[default: all cores]")] = None,
    min_freq: Annotated[Optional[int], typer.Option(help="Tokens seen fewer times in training become <unk>. \\[default: 1]")] = None,
    max_vocab: Annotated[Optional[int], typer.Option(help="Keep at most this many tokens (<unk> included).")] = None,
    dev: Annotated[Optional[Path], typer.Option(help="Dev file (label<TAB>text) that picks the epoch; replaces a folder's dev.txt.")] = None,
    test: Annotated[Optional[Path], typer.Option(help="Test file (label<TAB>text), measured once at the end; replaces a folder's test.txt.")] = None,
    dev_frac: Annotated[float, typer.Option(help="Without a dev set, hold out this fraction of train (seeded).")] = 0.1,
    folds: Annotated[Optional[int], typer.Option(help="K-fold cross-validation instead of one run, for a set with no split (MR: --folds 10): each fold is the test set once, the rest trains (with --dev-frac of it as dev); prints mean ± std accuracy. Saves cv.json and metrics.jsonl in --out, no model.")] = None,
    out_dir: Annotated[Optional[Path], typer.Option("--out", help="Run folder for best.npz and metrics.jsonl (cv.json with --folds). Default: nothing saved.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Start over in a run folder that already holds a run.")] = False,
    dtype: Annotated[DType, typer.Option(help="Floating-point precision.")] = DType.float32,
    as_json: Annotated[bool, typer.Option("--json", help="Print the final summary as JSON (progress still goes to the terminal unless --quiet).")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the final summary.")] = False,
):
    """Train a classifier on DATA; print dev (and test) accuracy of the epoch with the best dev accuracy."""
    from ..classify import session
    from .classify_display import TrainingDisplay, cv_table, summary_line, summary_table

    options = _plain({k: v for k, v in locals().items() if k not in ("session", "TrainingDisplay", "cv_table", "summary_line", "summary_table")})
    with user_errors():
        plan = session.prepare(options)
        title = f"{options['model']} {options['cell']} ({options['level']} level)"
        if folds is not None:
            def sink_for_fold(fold):
                return TrainingDisplay(out, f"fold {fold}/{folds}: {title}", quiet)
            cv = session.cross_validate(plan, sink_for_fold)
            if as_json:
                out.print_json(json.dumps(cv))
            elif quiet:
                out.print(f"{folds}-fold cross-validation accuracy {session.mean_std_text(cv)}%", markup=False)
            else:
                out.print(cv_table(cv))
            return
        summary = session.train(plan, TrainingDisplay(out, title, quiet))
        summary = {k: v for k, v in summary.items() if not k.startswith("_")}
        if as_json:
            out.print_json(json.dumps(summary))
        elif quiet:
            out.print(summary_line(summary), markup=False, soft_wrap=True)
        else:
            out.print(summary_table(summary))


# ====================================================================== predict
@app.command()
def predict(
    model: Annotated[Path, typer.Argument(help="Run folder (its best.npz) or classifier checkpoint.", show_default=False)],
    file: Annotated[Optional[Path], typer.Argument(help="Texts to classify, one per line; '-' or nothing: standard input. A line label<TAB>text is read as text (its label ignored).", show_default=False)] = None,
    probs: Annotated[bool, typer.Option("--probs", help="After each label, every class's probability as label=p, TAB-separated.")] = False,
    threads: Annotated[Optional[int], typer.Option(help="CPU threads. \\[default: all cores]")] = None,
):
    """Print the predicted label of each input line, one per line, in order."""
    from ..classify import session

    with user_errors():
        _, snap = session.load(model)
        texts, _ = session.read_texts(file, lambda: sys.stdin.buffer.read())
        probabilities = session.predict(snap, texts, threads)
        labels = snap.labels
        lines = []
        for row in probabilities:
            line = labels[int(row.argmax())]
            if probs:
                line += "\t" + "\t".join(f"{label}={p:.6f}" for label, p in zip(labels, row))
            lines.append(line)
        with quiet_broken_pipe():
            sys.stdout.write("\n".join(lines) + "\n")
            sys.stdout.flush()


# ====================================================================== eval
@app.command(name="eval")
def eval_(
    model: Annotated[Path, typer.Argument(help="Run folder (its best.npz) or classifier checkpoint.", show_default=False)],
    file: Annotated[Path, typer.Argument(help="Labelled texts, label<TAB>text per line.", show_default=False)],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    threads: Annotated[Optional[int], typer.Option(help="CPU threads. \\[default: all cores]")] = None,
):
    """Accuracy, macro-F1, per-class scores and the confusion matrix of a model on FILE."""
    from ..classify import session
    from .classify_display import eval_tables

    with user_errors():
        path, snap = session.load(model)
        result = {"model": str(path), "file": str(file), **session.evaluate(snap, file, threads)}
        if as_json:
            out.print_json(json.dumps(result))
        else:
            for table in eval_tables(result):
                out.print(table)
