"""``charlm classify`` for the recursive networks over trees (``--model treernn|rntn|treelstm``):
check the options, read the treebank, train, and evaluate or predict with a saved tree model.
The sequence classifiers' counterpart is ``classify/session.py``; ``supervised/families.py`` sends
the tree models here (``family.py``: this family's entry)."""

from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..core.threads import set_threads
from ..errors import ConfigError, DataError
from ..settings import GivenOptions, option_fields
from ..store.checkpoint import refuse_non_finite
from ..store.runfolder import RunFolder
from ..supervised.config import ClassifyDataConfig, FitConfig
from ..supervised.data import hold_out_index, looks_like_trees, refuse_dev_frac_with_a_dev_set
from ..supervised.layers import softmax
from ..supervised.metrics import report
from ..supervised.runs import check_run_folder, unlocks_run_folder
from ..supervised.saved_model import ClassifierSnapshot, save_classifier
from ..text.files import TextNote, require_file
from ..text.vocab import UNK, Vocab
from . import recipe as recipes
from .config import TREE_DEFAULT_CLASSES, TREE_DEFAULT_L2, TREE_DEFAULT_LR, TREE_FIT_DEFAULTS, TreeModelConfig
from .models import build_tree_model
from .train import EVAL_TREES, EncodedTrees, TreeTrainer, node_predictions
from .treebank import Tree, fallback_tree, parse_tree, read_trees, with_classes

LABELS = {5: ["0", "1", "2", "3", "4"], 2: ["negative", "positive"]}


@dataclass
class TreePlan:
    options: GivenOptions  # the command's ClassifyOptions
    config: dict  # TreeModelConfig values but the vocabulary size
    fit: FitConfig
    l2: float
    recipe: str
    classes: int
    splits: dict  # split -> list[Tree]
    dev_source: str
    run: RunFolder | None

    @property
    def title(self) -> str:
        kind = "fine-grained" if self.classes == 5 else "binary"
        recipe = ", CoreNLP's recipe" if self.recipe == "corenlp" else ""
        return f"{self.options.model} ({kind}, every node supervised{recipe})"


def _fit_config(options: GivenOptions, recipe: str) -> FitConfig:
    defaults = {**TREE_FIT_DEFAULTS, "lr": TREE_DEFAULT_LR[options.model]}
    if recipe == "corenlp":
        defaults.update({k: v for k, v in recipes.CORENLP_DEFAULTS.items() if k in FitConfig.__dataclass_fields__})
    values = {**defaults, **options.given(option_fields(FitConfig))}
    fit = FitConfig(**values)
    fit.validate()
    return fit


def prepare(options: GivenOptions) -> TreePlan:
    """Validate every option, then read the treebank. Raises CharlmError; writes nothing.
    ``options``: the command's ClassifyOptions, read by name (the sequence classifiers' own options
    are refused before, by ``supervised.families.prepare``)."""
    run = check_run_folder(options.out_dir, options.force) if options.out_dir else None
    classes = options.classes if options.classes is not None else TREE_DEFAULT_CLASSES
    if classes not in LABELS:
        raise ConfigError(f"--classes must be 5 (fine-grained) or 2 (binary), got {classes}")
    recipe = options.recipe if options.recipe is not None else recipes.DEFAULT_RECIPE
    recipes.check_recipe(recipe, options.model, {"l2": options.l2, "optimizer": options.optimizer})
    l2 = options.l2 if options.l2 is not None else TREE_DEFAULT_L2
    if not l2 >= 0:
        raise ConfigError(f"--l2 must be 0 or more, got {l2}")
    config = {"model": options.model, "hidden_size": options.hidden_size, "embed_size": options.embed_size,
              "dropout": options.dropout, "leaf_tanh": recipe == "corenlp"}
    if recipe == "corenlp" and options.hidden_size is None:
        config["hidden_size"] = recipes.CORENLP_DEFAULTS["hidden_size"]
    TreeModelConfig(vocab_size=1, num_classes=classes, **config)  # validates the model options
    fit = _fit_config(options, recipe)
    settings = ClassifyDataConfig(**options.given(("min_freq", "max_vocab", "dev_frac", "encoding", "dtype")))
    refuse_dev_frac_with_a_dev_set(options.data, options.dev, options.dev_frac)
    running = set_threads(options.threads)
    if options.threads is not None:
        options = replace(options, threads=running)  # the run saves the count that runs
    splits, dev_source = _read_splits(options, settings, classes, fit.seed)
    return TreePlan(options, config, fit, l2, recipe, classes, splits, dev_source, run)


def _tree_file(path: Path, encoding: str, model: str) -> list[Tree]:
    if not require_file(path).is_file():  # read twice: a pipe is refused by name
        raise DataError(f"no such file: {path}")
    if not looks_like_trees(path, encoding):
        raise DataError(f"{path} is not a file of bracketed trees ('(3 (2 a) (4 b))' per line): --model {model} "
                        "reads parse trees; textrnn and rcnn read label<TAB>text")
    return read_trees(path, encoding)


def _read_splits(options, settings, classes, seed) -> tuple[dict, str]:
    path = Path(options.data)
    files = {"train": path / "train.txt", "dev": path / "dev.txt", "test": path / "test.txt"} if path.is_dir() \
        else {"train": path}
    if options.dev is not None:
        files["dev"] = Path(options.dev)
    if options.test is not None:
        files["test"] = Path(options.test)
    splits = {}
    for split, file in files.items():
        if split != "train" and not file.exists() and path.is_dir() and file.parent == path:
            continue  # a folder without its dev.txt or test.txt
        splits[split] = with_classes(_tree_file(file, settings.encoding, options.model), classes, str(file))
    if "dev" in splits:
        return splits, str(files["dev"])
    trees = splits["train"]
    train, dev = hold_out_index(len(trees), settings.dev_frac, np.random.default_rng([seed, 7]), "trees")
    splits["train"], splits["dev"] = [trees[i] for i in train], [trees[i] for i in dev]
    return splits, f"{settings.dev_frac:g} of train held out (seed {seed})"


def _word(token: str) -> str:
    """A leaf's token as a vocabulary entry: inner white space (the treebank has no-break spaces
    inside a few words) becomes '_', so the entry is one whitespace-free token."""
    return "_".join(token.split()) or "_"


def build_vocab(trees: list[Tree], min_freq: int, max_vocab: int | None) -> Vocab:
    counts = Counter(_word(w) for t in trees for w in t.leaves)
    kept = sorted(((w, c) for w, c in counts.items() if c >= min_freq and w != UNK), key=lambda wc: (-wc[1], wc[0]))
    if max_vocab is not None:
        kept = kept[: max_vocab - 1]
    if not kept:
        raise DataError(f"no word is seen at least {min_freq} times in the training trees: lower --min-freq")
    return Vocab([UNK] + [w for w, _ in kept], "word")


def encode(trees: list[Tree], vocab: Vocab) -> tuple[EncodedTrees, float]:
    """The trees with a token id per node, and the leaves' out-of-vocabulary rate."""
    get, unk = vocab._index.get, vocab.unk_id
    ids, unknown, leaves = [], 0, 0
    for tree in trees:
        row = np.array([get(_word(w), unk) if w else 0 for w in tree.words], np.int64)
        is_leaf = tree.left < 0
        unknown += int(np.count_nonzero(row[is_leaf] == unk))
        leaves += int(is_leaf.sum())
        ids.append(row)
    return EncodedTrees(trees, ids), unknown / max(leaves, 1)


@unlocks_run_folder
def train(plan: TreePlan, sink=None) -> dict:
    s = plan.splits
    min_freq = plan.options.min_freq or ClassifyDataConfig.min_freq
    vocab = build_vocab(s["train"], min_freq, plan.options.max_vocab)
    (train_set, train_oov), (dev_set, dev_oov) = encode(s["train"], vocab), encode(s["dev"], vocab)
    config = TreeModelConfig(vocab_size=len(vocab), num_classes=plan.classes, **plan.config)
    dtype = np.dtype(plan.options.dtype or ClassifyDataConfig.dtype)
    model = build_tree_model(config, dtype, seed=plan.fit.seed)
    corenlp = plan.recipe == "corenlp"
    if corenlp:
        recipes.corenlp_initialize(model.params, np.random.default_rng([plan.fit.seed, 3]))
    labels, run = LABELS[plan.classes], plan.run
    if run is not None:
        run.create(resume=False, force=plan.options.force)
    meta = {"train": {**plan.fit.to_dict(), "l2": None if corenlp else plan.l2, "recipe": plan.recipe, "classes": plan.classes, "min_freq": min_freq,
                      "max_vocab": plan.options.max_vocab, "threads": plan.options.threads},
            "data": {"path": str(Path(plan.options.data).resolve()), "dev": plan.dev_source}}

    def on_best(trainer):
        progress = {"epoch": trainer.epoch, "best_dev_acc": trainer.best_dev_acc, "best_epoch": trainer.best_epoch,
                    "history": trainer.history}
        save_classifier(run.best, trainer.model, vocab, labels, {**meta, **progress})

    trainer = TreeTrainer(model, plan.fit, train_set, dev_set, recipes.l2_weights(plan.recipe, model.params, plan.l2),
                          sink, on_best=on_best if run else None, log=run.append_metrics if run else None,
                          adagrad_eps=recipes.CORENLP_ADAGRAD_EPS if corenlp else None, reset_adagrad=corenlp)
    summary = trainer.fit()
    summary.update({"model": config.to_dict(), "vocab_size": len(vocab), "labels": labels,
                    "train_examples": len(train_set), "dev_examples": len(dev_set), "dev_source": plan.dev_source,
                    "oov_rate": {"train": train_oov, "dev": dev_oov}, "dev_acc": summary["best_dev_acc"],
                    "checkpoint": str(run.best) if run else None, "trees_per_s": summary["examples_per_s"]})
    if "test" in s:
        test_set, _ = encode(s["test"], vocab)
        scores = _scores(model, test_set, labels)
        summary.update({"test_acc": scores["accuracy"], "test_all_nodes_acc": scores["all_nodes"]["accuracy"],
                        "test_examples": len(test_set)})
    if run is not None:
        run.append_metrics({"summary": {k: v for k, v in summary.items() if k != "model"}})
    summary["_model"], summary["_vocab"] = model, vocab
    return summary


def _scores(model, data_set: EncodedTrees, labels: list[str]) -> dict:
    """Root accuracy (with the report of the sequence classifiers) and all-node accuracy, both with
    their confusion matrices; unscored nodes (binary: neutral phrases) are left out."""
    predicted, truth, is_root = node_predictions(model, data_set)
    result = report(truth[is_root], predicted[is_root], labels)
    scored = truth >= 0
    nodes = report(truth[scored], predicted[scored], labels)
    result["all_nodes"] = {"accuracy": nodes["accuracy"], "nodes": nodes["examples"], "confusion": nodes["confusion"]}
    return result


# ------------------------------------------------------------------------------------ a saved model
def evaluate(snap: ClassifierSnapshot, file: Path, threads: int | None = None) -> dict:
    set_threads(threads)
    classes = len(snap.labels)
    trees = with_classes(_tree_file(Path(file), "utf-8", snap.model.config.model), classes, str(file))
    data_set, oov = encode(trees, snap.vocab)
    result = _scores(snap.model, data_set, snap.labels)
    result["oov_rate"] = oov
    return result


def predict(snap: ClassifierSnapshot, texts: list[str], threads: int | None = None) -> np.ndarray:
    """Root class probabilities of each input: a bracketed tree, or a plain sentence, for which a
    balanced binary tree is built (a note on stderr says how many)."""
    set_threads(threads)
    trees, built = [], 0
    for number, text in enumerate(texts, 1):
        if text.lstrip().startswith("("):
            trees.append(parse_tree(text, f"input line {number}"))
        else:
            trees.append(fallback_tree(text.split()))
            built += 1
    if built:
        warnings.warn(TextNote(f"{built} of {len(texts)} input(s) are plain sentences, not trees: each was given a "
                               "balanced binary tree (its words split in halves, recursively)"), stacklevel=2)
    data_set, _ = encode(trees, snap.vocab)
    probs = []
    for start in range(0, len(trees), EVAL_TREES):
        batch = data_set.batch(range(start, min(start + EVAL_TREES, len(trees))))
        probs.append(softmax(snap.model.node_logits(batch)[batch.roots].astype(np.float64)))
    probs = np.concatenate(probs)
    refuse_non_finite(probs)
    return probs
