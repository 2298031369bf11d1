"""``charlm classify``: train, use and measure text classifiers. A thin Typer layer: it parses
options, calls the family of the model (``supervised/families.py``: ``classify/session.py`` or
``trees/session.py``) and draws with rich; a CharlmError becomes one line on stderr and a
non-zero exit code (through ``errors.user_errors``)."""

import json
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..classify.config import MODELS, ClassifierConfig
from ..classify.options import ClassifyOptions
from ..supervised.config import ClassifyDataConfig, FitConfig
from ..trees.config import TREE_DEFAULT_CLASSES, TREE_DEFAULT_L2, tree_defaults_text
from ..lm.config import TrainConfig
from ..settings import help_text
from ..store.checkpoint import computing_with
from ..store.runfolder import discarded_on_failure

from .config_options import ConfigOption, options_from, with_config_options
from .errors import user_errors
from .streams import CommandConsole

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
out = CommandConsole(highlight=False)
THREADS_HELP = help_text(TrainConfig, "threads")  # the same rule as charlm train's
# The panels of `charlm classify train --help`.
MODEL, TREES, DATA, OPTIMISATION, RUN = "Model", "Tree models (--model treernn|rntn|treelstm)", "Data", "Optimisation", "Run"


class ModelName(str, Enum):
    textrnn = "textrnn"
    rcnn = "rcnn"
    treernn = "treernn"
    rntn = "rntn"
    treelstm = "treelstm"


class Recipe(str, Enum):
    charlm = "charlm"
    corenlp = "corenlp"


# ====================================================================== train
@app.command(help="Train a classifier on DATA; print dev (and test) accuracy of the epoch with the best dev "
                  "accuracy. The defaults shown are the sequence classifiers'; " + tree_defaults_text() + ".")
@with_config_options
def train(
    ctx: typer.Context,
    data: Annotated[Path, typer.Argument(help=DATA_HELP, show_default=False)],
    model: Annotated[Optional[ModelName], typer.Option(help="textrnn: bidirectional RNN layers, then last states or pooling; rcnn: Lai et al. 2015 (recurrent left/right contexts, tanh, max-pool); over parse trees: treernn (recursive NN), rntn (Socher et al. 2013), treelstm (binary Tree-LSTM, Tai et al. 2015). \\[default: " + MODELS[0] + "]", rich_help_panel=MODEL)] = None,
    cell=ConfigOption(ClassifierConfig, "cell", panel=MODEL),
    embed_size=ConfigOption(ClassifierConfig, "embed_size", panel=MODEL),
    hidden_size=ConfigOption(ClassifierConfig, "hidden_size", panel=MODEL),
    layers=ConfigOption(ClassifierConfig, "layers", panel=MODEL),
    dropout=ConfigOption(ClassifierConfig, "dropout", panel=MODEL),
    pool=ConfigOption(ClassifierConfig, "pool", panel=MODEL),
    proj_size=ConfigOption(ClassifierConfig, "proj_size", panel=MODEL),
    classes: Annotated[Optional[int], typer.Option(help="Tree models: 5 (fine-grained, labels 0-4) or 2 (binary: 0-1 negative, 3-4 positive, neutral roots dropped, neutral phrases unscored). \\[default: " + str(TREE_DEFAULT_CLASSES) + "]", rich_help_panel=TREES)] = None,
    l2: Annotated[Optional[float], typer.Option(help="Tree models: L2 penalty on the weights and word vectors (not biases), per tree. \\[default: " + f"{TREE_DEFAULT_L2:g}" + "]", rich_help_panel=TREES)] = None,
    recipe: Annotated[Optional[Recipe], typer.Option(help="Tree models: corenlp trains treernn and rntn as Stanford CoreNLP does (identity start, tanh leaves, L2 by group, AdaGrad eps 1e-3; d 25, batches of 27, lr 0.01). \\[default: charlm]", rich_help_panel=TREES)] = None,
    level=ConfigOption(ClassifyDataConfig, "level", panel=DATA),
    min_freq=ConfigOption(ClassifyDataConfig, "min_freq", panel=DATA),
    max_vocab=ConfigOption(ClassifyDataConfig, "max_vocab", panel=DATA),
    dev: Annotated[Optional[Path], typer.Option(help="Dev file (label<TAB>text) that picks the epoch; replaces a folder's dev.txt.", rich_help_panel=DATA)] = None,
    test: Annotated[Optional[Path], typer.Option(help="Test file (label<TAB>text), measured once at the end; replaces a folder's test.txt.", rich_help_panel=DATA)] = None,
    dev_frac=ConfigOption(ClassifyDataConfig, "dev_frac", panel=DATA),
    folds: Annotated[Optional[int], typer.Option(help="K-fold cross-validation instead of one run, for a set with no split (MR: --folds 10): each fold is the test set once, the rest trains (with --dev-frac of it as dev); prints mean ± std accuracy. Saves cv.json and metrics.jsonl in --out, no model.", rich_help_panel=DATA)] = None,
    optimizer=ConfigOption(FitConfig, "optimizer", panel=OPTIMISATION),
    lr=ConfigOption(FitConfig, "lr", panel=OPTIMISATION),
    clip_norm=ConfigOption(FitConfig, "clip_norm", panel=OPTIMISATION),
    batch_size=ConfigOption(FitConfig, "batch_size", panel=OPTIMISATION),
    epochs=ConfigOption(FitConfig, "epochs", panel=OPTIMISATION),
    patience=ConfigOption(FitConfig, "patience", panel=OPTIMISATION),
    seed=ConfigOption(FitConfig, "seed", panel=RUN),
    threads=ConfigOption(TrainConfig, "threads", panel=RUN),  # the same rule as charlm train's
    out_dir: Annotated[Optional[Path], typer.Option("--out", help="Run folder for best.npz and metrics.jsonl (cv.json with --folds). Default: nothing saved.", rich_help_panel=RUN)] = None,
    force: Annotated[bool, typer.Option("--force", help="Start over in a run folder that already holds a run.", rich_help_panel=RUN)] = False,
    dtype=ConfigOption(ClassifyDataConfig, "dtype", panel=RUN),
    as_json: Annotated[bool, typer.Option("--json", help="Print the final summary as JSON (progress still goes to the terminal unless --quiet).", rich_help_panel=RUN)] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the final summary.", rich_help_panel=RUN)] = False,
):
    """Train a classifier on DATA (the help text is in the decorator: it states the tree models' defaults)."""
    options = options_from(ClassifyOptions, ctx.params)
    with user_errors():
        # here: `charlm classify train --help` must not load Numba
        from ..classify import session as sequence  # cross-validation: the sequence classifiers' only
        from ..supervised import families
        from .classify_display import ClassifierDisplay, cv_table, summary_line, summary_table

        plan = families.prepare(options)
        title = plan.title
        if folds is not None:
            def sink_for_fold(fold):
                return ClassifierDisplay(out, f"fold {fold}/{folds}: {title}", quiet)
            with discarded_on_failure(plan.run):  # a run that fails before it saves anything leaves no folder
                cv = sequence.cross_validate(plan, sink_for_fold)
            if as_json:
                out.print_json(json.dumps(cv))
            elif quiet:
                out.print(f"{folds}-fold cross-validation accuracy {sequence.mean_std_text(cv)}%", markup=False)
            else:
                out.print(cv_table(cv))
            return
        with discarded_on_failure(plan.run):
            summary = families.train(plan, ClassifierDisplay(out, title, quiet))
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
    from ..supervised import families
    from ..supervised.data import read_texts
    from ..supervised.saved_model import load

    with user_errors():
        path, snap = load(model)
        texts, _ = read_texts(file, sys.stdin.buffer)
        with computing_with(path):
            probabilities = families.predict(snap, texts, threads)
        labels = snap.labels
        lines = []
        for row in probabilities:
            line = labels[int(row.argmax())]
            if probs:
                line += "\t" + "\t".join(f"{label}={p:.6f}" for label, p in zip(labels, row))
            lines.append(line)
        sys.stdout.write("\n".join(lines) + "\n")


# ====================================================================== eval
@app.command(name="eval")
def eval_(
    model: Annotated[Path, typer.Argument(help="Run folder (its best.npz) or classifier checkpoint.", show_default=False)],
    file: Annotated[Path, typer.Argument(help="Labelled texts, label<TAB>text per line (a tree model: parse trees).", show_default=False)],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    threads: Annotated[Optional[int], typer.Option(help=THREADS_HELP)] = None,
):
    """Accuracy, macro-F1, per-class scores and the confusion matrix of a model on FILE."""
    from ..supervised import families
    from ..supervised.saved_model import load
    from .classify_display import eval_tables

    with user_errors():
        path, snap = load(model)
        with computing_with(path):
            result = {"model": str(path), "file": str(file), **families.evaluate(snap, file, threads)}
        if as_json:
            out.print_json(json.dumps(result))
        else:
            for table in eval_tables(result):
                out.print(table)
