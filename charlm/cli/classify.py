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

from ..classify.config import MODELS, TREE_DEFAULT_CLASSES, TREE_DEFAULT_L2, ClassifierConfig, tree_defaults_text, ClassifyDataConfig, FitConfig
from ..classify.options import ClassifyOptions
from ..lm.config import TrainConfig, help_text
from .choices import CellName, DType, Level, OptimizerName, value_of
from .errors import quiet_broken_pipe, user_errors

DATA_HELP = """Labelled data. One of:
a file of label<TAB>text lines (a dev set is held out of it, see --dev-frac);
a folder with train.txt and optionally dev.txt and test.txt, each label<TAB>text;
a folder of one file per class, one text per line, the label given by the name:
*.pos / *.neg (MR's rt-polarity.pos and .neg) or <label>.txt.
Tree models read bracketed parse trees instead, one per line, a label on every node (the Sentiment
Treebank's train.txt, dev.txt, test.txt), a folder of them or one file."""

app = typer.Typer(
    no_args_is_help=True,
    help="Train bidirectional Text-RNN and RCNN text classifiers on label<TAB>text data, or recursive networks "
         "(recursive NN, RNTN, Tree-LSTM) on parse trees, then predict labels and measure accuracy.",
)
out = Console(highlight=False)
THREADS_HELP = help_text(TrainConfig, "threads")  # the same rule as charlm train's


class ModelName(str, Enum):
    textrnn = "textrnn"
    rcnn = "rcnn"
    treernn = "treernn"
    rntn = "rntn"
    treelstm = "treelstm"


class Recipe(str, Enum):
    charlm = "charlm"
    corenlp = "corenlp"


class Pool(str, Enum):
    last = "last"
    mean = "mean"
    max = "max"


# ====================================================================== train
@app.command(help="Train a classifier on DATA; print dev (and test) accuracy of the epoch with the best dev "
                  "accuracy. The defaults shown are the sequence classifiers'; " + tree_defaults_text() + ".")
def train(
    data: Annotated[Path, typer.Argument(help=DATA_HELP, show_default=False)],
    model: Annotated[Optional[ModelName], typer.Option(help="textrnn: bidirectional RNN layers, then last states or pooling; rcnn: Lai et al. 2015 (recurrent left/right contexts, tanh, max-pool); over parse trees: treernn (recursive NN), rntn (Socher et al. 2013), treelstm (binary Tree-LSTM, Tai et al. 2015). \\[default: " + MODELS[0] + "]")] = None,
    classes: Annotated[Optional[int], typer.Option(help="Tree models: 5 (fine-grained, labels 0-4) or 2 (binary: 0-1 negative, 3-4 positive, neutral roots dropped, neutral phrases unscored). \\[default: " + str(TREE_DEFAULT_CLASSES) + "]")] = None,
    l2: Annotated[Optional[float], typer.Option(help="Tree models: L2 penalty on the weights and word vectors (not biases), per tree. \\[default: " + f"{TREE_DEFAULT_L2:g}" + "]")] = None,
    recipe: Annotated[Optional[Recipe], typer.Option(help="Tree models: corenlp trains treernn and rntn as Stanford CoreNLP does (identity start, tanh leaves, L2 by group, AdaGrad eps 1e-3; d 25, batches of 27, lr 0.01). \\[default: charlm]")] = None,
    cell: Annotated[Optional[CellName], typer.Option(help=help_text(ClassifierConfig, "cell"))] = None,
    level: Annotated[Optional[Level], typer.Option(help=help_text(ClassifyDataConfig, "level"))] = None,
    embed_size: Annotated[Optional[int], typer.Option(help=help_text(ClassifierConfig, "embed_size"))] = None,
    hidden_size: Annotated[Optional[int], typer.Option(help=help_text(ClassifierConfig, "hidden_size"))] = None,
    layers: Annotated[Optional[int], typer.Option(help=help_text(ClassifierConfig, "layers"))] = None,
    dropout: Annotated[Optional[float], typer.Option(help=help_text(ClassifierConfig, "dropout"))] = None,
    pool: Annotated[Optional[Pool], typer.Option(help=help_text(ClassifierConfig, "pool"))] = None,
    proj_size: Annotated[Optional[int], typer.Option(help=help_text(ClassifierConfig, "proj_size"))] = None,
    optimizer: Annotated[Optional[OptimizerName], typer.Option(help=help_text(FitConfig, "optimizer"))] = None,
    lr: Annotated[Optional[float], typer.Option(help=help_text(FitConfig, "lr"))] = None,
    clip_norm: Annotated[Optional[float], typer.Option(help=help_text(FitConfig, "clip_norm"))] = None,
    batch_size: Annotated[Optional[int], typer.Option(help=help_text(FitConfig, "batch_size"))] = None,
    epochs: Annotated[Optional[int], typer.Option(help=help_text(FitConfig, "epochs"))] = None,
    patience: Annotated[Optional[int], typer.Option(help=help_text(FitConfig, "patience"))] = None,
    seed: Annotated[Optional[int], typer.Option(help=help_text(FitConfig, "seed"))] = None,
    threads: Annotated[Optional[int], typer.Option(help=THREADS_HELP)] = None,
    min_freq: Annotated[Optional[int], typer.Option(help=help_text(ClassifyDataConfig, "min_freq"))] = None,
    max_vocab: Annotated[Optional[int], typer.Option(help=help_text(ClassifyDataConfig, "max_vocab"))] = None,
    dev: Annotated[Optional[Path], typer.Option(help="Dev file (label<TAB>text) that picks the epoch; replaces a folder's dev.txt.")] = None,
    test: Annotated[Optional[Path], typer.Option(help="Test file (label<TAB>text), measured once at the end; replaces a folder's test.txt.")] = None,
    dev_frac: Annotated[Optional[float], typer.Option(help=help_text(ClassifyDataConfig, "dev_frac"))] = None,
    folds: Annotated[Optional[int], typer.Option(help="K-fold cross-validation instead of one run, for a set with no split (MR: --folds 10): each fold is the test set once, the rest trains (with --dev-frac of it as dev); prints mean ± std accuracy. Saves cv.json and metrics.jsonl in --out, no model.")] = None,
    out_dir: Annotated[Optional[Path], typer.Option("--out", help="Run folder for best.npz and metrics.jsonl (cv.json with --folds). Default: nothing saved.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Start over in a run folder that already holds a run.")] = False,
    dtype: Annotated[Optional[DType], typer.Option(help=help_text(ClassifyDataConfig, "dtype"))] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the final summary as JSON (progress still goes to the terminal unless --quiet).")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the final summary.")] = False,
):
    """Train a classifier on DATA (the help text is in the decorator: it states the tree models' defaults)."""
    options = ClassifyOptions(
        data=data, out_dir=out_dir, force=force, folds=folds, dev=dev, test=test, threads=threads,
        model=value_of(model), classes=classes, l2=l2, recipe=value_of(recipe), cell=value_of(cell), embed_size=embed_size, hidden_size=hidden_size, layers=layers,
        dropout=dropout, pool=value_of(pool), proj_size=proj_size, optimizer=value_of(optimizer), lr=lr,
        clip_norm=clip_norm, batch_size=batch_size, epochs=epochs, patience=patience, seed=seed,
        level=value_of(level), min_freq=min_freq, max_vocab=max_vocab, dev_frac=dev_frac, dtype=value_of(dtype),
    )  # fmt: skip
    with user_errors():
        from ..classify import session  # here: `charlm classify train --help` must not load Numba
        from .classify_display import TrainingDisplay, cv_table, summary_line, summary_table

        plan = session.prepare(options)
        title = plan.title
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
    file: Annotated[Optional[Path], typer.Argument(help="Texts to classify, one per line; '-' or nothing: standard input. A line label<TAB>text is read as text (its label ignored). A tree model reads parse trees, or plain sentences (given a balanced binary tree, with a note).", show_default=False)] = None,
    probs: Annotated[bool, typer.Option("--probs", help="After each label, every class's probability as label=p, TAB-separated.")] = False,
    threads: Annotated[Optional[int], typer.Option(help=THREADS_HELP)] = None,
):
    """Print the predicted label of each input line, one per line, in order."""
    from ..classify import session

    with user_errors():
        _, snap = session.load(model)
        texts, _ = session.read_texts(file, sys.stdin.buffer)
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
    file: Annotated[Path, typer.Argument(help="Labelled texts, label<TAB>text per line (a tree model: parse trees).", show_default=False)],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    threads: Annotated[Optional[int], typer.Option(help=THREADS_HELP)] = None,
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
