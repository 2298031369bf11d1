"""Turn ``charlm classify`` options for a sequence classifier (``--model textrnn|rcnn``) into work:
check everything a user can get wrong before the first byte is written, read and encode the data,
train (once, or once per fold), and predict or evaluate with a saved one. No printing: the CLI
draws what this returns. The tree models' counterpart is ``trees/session.py``; the choice between
them is ``supervised/families.py``'s."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataError
from ..settings import option_fields
from ..store.checkpoint import refuse_non_finite
from ..store.runfolder import RunFolder
from ..core.threads import set_threads
from ..supervised.config import ClassifyDataConfig, FitConfig
from ..supervised.data import refuse_dev_frac_with_a_dev_set
from ..supervised.metrics import report
from ..supervised.runs import CV_SUMMARY, check_run_folder, unlocks_run_folder
from ..supervised.saved_model import ClassifierSnapshot, save_classifier
from ..supervised.trainer import ClassifierObserver
from ..text.vocab import Vocab
from . import data
from .config import MODELS, ClassifierConfig, default_pool
from .models import build_classifier
from .options import ClassifyOptions
from .tokens import encode_all, encode_text
from .train import EncodedSet, ClassifierTrainer, accuracy, predict_probs

MODEL_OPTIONS = ("model", "cell", "embed_size", "hidden_size", "layers", "dropout", "pool", "proj_size")
FIT_OPTIONS = option_fields(FitConfig)


@dataclass
class Plan:
    """A checked training job: options valid, data read, nothing written yet."""

    options: ClassifyOptions
    data_config: ClassifyDataConfig
    model_values: dict
    fit: FitConfig
    splits: data.Splits
    run: RunFolder | None

    @property
    def title(self) -> str:
        return f"{self.model_values['model']} {self.model_values.get('cell', ClassifierConfig.cell)} ({self.data_config.level} level)"


def _model_values(options: ClassifyOptions) -> dict:
    values = options.given(MODEL_OPTIONS)
    values.setdefault("model", MODELS[0])
    values.setdefault("pool", default_pool(values["model"]))
    return values


def _fit_config(options: ClassifyOptions) -> FitConfig:
    values = options.given(FIT_OPTIONS)
    fit = FitConfig(**values)
    fit.validate()
    return fit


def new_run_settings(options: ClassifyOptions) -> tuple[dict, FitConfig, ClassifyDataConfig]:
    """The model settings (without vocabulary and class counts), training and data configuration:
    what was given, else the configuration's defaults. Validates them; reads nothing."""
    model_values = _model_values(options)
    fit = _fit_config(options)
    ClassifierConfig(vocab_size=1, num_classes=2, **model_values)  # the model options, before any reading
    settings = ClassifyDataConfig(**options.given(f.name for f in fields(ClassifyDataConfig)))
    if settings.level not in ("word", "char"):
        raise ConfigError(f"--level must be word or char, got {settings.level!r}")
    if settings.min_freq < 1:
        raise ConfigError(f"--min-freq must be a positive integer, got {settings.min_freq}")
    if settings.max_vocab is not None and settings.max_vocab < 2:
        raise ConfigError(f"--max-vocab must be at least 2 (<unk> and one token), got {settings.max_vocab}")
    if not (0.0 < settings.dev_frac < 1.0):
        raise ConfigError(f"--dev-frac must be between 0 and 1 (exclusive), got {settings.dev_frac}")
    return model_values, fit, settings


def prepare(options: ClassifyOptions) -> Plan:
    """Validate every option, then read the data. Raises CharlmError; writes nothing. (The tree
    models' options are refused before, by ``supervised.families.prepare``.)"""
    model_values, fit, settings = new_run_settings(options)
    refuse_dev_frac_with_a_dev_set(options.data, options.dev, options.dev_frac)
    folds = options.folds
    if folds is not None:
        if folds < 2:
            raise ConfigError(f"--folds must be at least 2, got {folds}")
        if options.dev is not None or options.test is not None:
            raise ConfigError("--folds makes its own test folds and dev sets: leave out --dev and --test")
    run = check_run_folder(options.out_dir, options.force) if options.out_dir else None
    running = set_threads(options.threads)
    if options.threads is not None:
        options = replace(options, threads=running)  # the run saves the count that runs
    data.refuse_tree_data(options.data, settings.encoding)

    # With --folds, nothing is held out here: each fold holds out its own dev set.
    splits = data.load_splits(options.data, dev=options.dev, test=options.test,
                              dev_frac=None if folds is not None else settings.dev_frac, seed=fit.seed,
                              encoding=settings.encoding)
    if folds is not None:
        if splits.dev is not None or splits.test is not None:
            raise ConfigError(f"{options.data} has its own dev or test split: --folds is for a set without one (such as MR)")
        if folds > len(splits.train):
            raise ConfigError(f"--folds {folds} is more than the {len(splits.train)} examples")
    return Plan(options, settings, model_values, fit, splits, run)


# ------------------------------------------------------------------------------------ training
def _vocab_and_labels(train: data.Labelled, settings: ClassifyDataConfig) -> tuple[Vocab, list[str]]:
    vocab = Vocab.build_counted(train.texts, settings.level, min_freq=settings.min_freq, max_size=settings.max_vocab)
    labels = data.label_order(train.labels)
    if len(labels) < 2:
        raise DataError(f"the training data has a single label ({labels[0]!r}): a classifier needs at least two")
    return vocab, labels


def _encode(part: data.Labelled, vocab: Vocab, labels: list[str], role: str) -> tuple[EncodedSet, float]:
    """The encoded split and its out-of-vocabulary rate."""
    ids = data.label_ids(part, labels, role)
    sequences, unknown, total = encode_all(vocab, part.texts)
    return EncodedSet(sequences, ids), unknown / max(total, 1)


def _model(plan: Plan, vocab: Vocab, labels: list[str]):
    config = ClassifierConfig(vocab_size=len(vocab), num_classes=len(labels), **plan.model_values)
    dtype = np.dtype(plan.data_config.dtype)
    return build_classifier(config, dtype, seed=plan.fit.seed)


def _train_meta(plan: Plan) -> dict:
    o, d = plan.options, plan.data_config
    return {
        "train": {**plan.fit.to_dict(), "level": d.level, "min_freq": d.min_freq,
                  "max_vocab": d.max_vocab, "dev_frac": d.dev_frac, "threads": o.threads},
        "data": {"path": str(Path(o.data).resolve()), "dev": plan.splits.dev_source,
                 "test": str(Path(o.test).resolve()) if o.test else None},
    }


@unlocks_run_folder
def train(plan: Plan, sink: ClassifierObserver | None = None) -> dict:
    """One training run; returns the summary (dev, and test if given, accuracy of the best model)."""
    splits = plan.splits
    vocab, labels = _vocab_and_labels(splits.train, plan.data_config)
    train_set, train_oov = _encode(splits.train, vocab, labels, "train")
    dev_set, dev_oov = _encode(splits.dev, vocab, labels, "dev")
    test_set = _encode(splits.test, vocab, labels, "test")[0] if splits.test is not None else None
    model = _model(plan, vocab, labels)
    run = plan.run
    if run is not None:
        run.create(resume=False, force=plan.options.force)
        (run.path / CV_SUMMARY).unlink(missing_ok=True)
    meta = _train_meta(plan)

    def on_best(trainer: ClassifierTrainer) -> None:
        progress = {"epoch": trainer.epoch, "best_dev_acc": trainer.best_dev_acc, "best_epoch": trainer.best_epoch,
                    "history": trainer.history}
        save_classifier(run.best, trainer.model, vocab, labels, {**meta, **progress})

    trainer = ClassifierTrainer(model, plan.fit, train_set, dev_set, sink, on_best=on_best if run else None,
                      log=run.append_metrics if run else None)
    summary = trainer.fit()
    summary.update({
        "model": model.config.to_dict(), "vocab_size": len(vocab), "labels": labels, "train_examples": len(train_set),
        "dev_examples": len(dev_set), "dev_source": splits.dev_source, "oov_rate": {"train": train_oov, "dev": dev_oov},
        "dev_acc": summary["best_dev_acc"], "checkpoint": str(run.best) if run else None,
    })
    if test_set is not None:
        summary["test_acc"] = accuracy(model, test_set)
        summary["test_examples"] = len(test_set)
    if run is not None:
        run.append_metrics({"summary": {k: v for k, v in summary.items() if k != "model"}})
    summary["_model"], summary["_vocab"] = model, vocab  # for callers in-process (tests); never saved
    return summary


@unlocks_run_folder
def cross_validate(plan: Plan, sink_for_fold=None) -> dict:
    """K-fold cross-validation: for each fold, train on the others (a seeded ``--dev-frac`` of them
    held out as the dev set that picks the epoch), then measure accuracy on the fold. The vocabulary
    is built from each fold's training part only. Returns per-fold accuracies, mean and std."""
    k = plan.options.folds
    everything = plan.splits.train
    parts = data.folds(len(everything), k, np.random.default_rng([plan.fit.seed, 11]))
    run = plan.run
    if run is not None:
        run.create(resume=False, force=plan.options.force)
        (run.path / CV_SUMMARY).unlink(missing_ok=True)
    results, config = [], None
    for fold, test_index in enumerate(parts, 1):
        rest = np.setdiff1d(np.arange(len(everything)), test_index)
        train_part, dev_part = data.hold_out(everything.subset(rest), plan.data_config.dev_frac,
                                             np.random.default_rng([plan.fit.seed, 13, fold]))
        vocab, labels = _vocab_and_labels(train_part, plan.data_config)
        try:
            test_set = _encode(everything.subset(test_index), vocab, labels, "test")[0]
        except DataError as exc:
            raise DataError(f"fold {fold}: {exc} (a label this rare cannot be cross-validated)") from None
        model = _model(plan, vocab, labels)
        config = model.config
        trainer = ClassifierTrainer(model, plan.fit, _encode(train_part, vocab, labels, "train")[0],
                          _encode(dev_part, vocab, labels, "dev")[0], sink_for_fold(fold) if sink_for_fold else None,
                          log=(lambda record, fold=fold: run.append_metrics({"fold": fold, **record})) if run else None)
        summary = trainer.fit()
        results.append({"fold": fold, "test_acc": accuracy(model, test_set), "test_examples": int(test_index.size),
                        "dev_acc": summary["best_dev_acc"], "best_epoch": summary["best_epoch"],
                        "epochs": summary["epochs"], "train_s": summary["train_s"],
                        "examples_per_s": summary["examples_per_s"]})
    accs = np.array([r["test_acc"] for r in results])
    cv = {"folds": k, "examples": len(everything), "mean_acc": float(accs.mean()),
          "std_acc": float(accs.std(ddof=1)) if k > 1 else 0.0, "per_fold": results,
          "model": config.to_dict(), **_train_meta(plan)}  # the last fold's (folds differ only in vocabulary size)
    if run is not None:
        run.write_json(CV_SUMMARY, cv)
    return cv


# ------------------------------------------------------------------------------------ using a model
def predict(snap: ClassifierSnapshot, texts: list[str], threads: int | None = None) -> np.ndarray:
    """Class probabilities (n, C) of each text; UnusableWeights where they are not finite."""
    set_threads(threads)
    probs = predict_probs(snap.model, [encode_text(snap.vocab, t) for t in texts])
    refuse_non_finite(probs)
    return probs


def evaluate(snap: ClassifierSnapshot, file: Path, threads: int | None = None) -> dict:
    """Accuracy, macro-F1, per-class scores and the confusion matrix of a ``label<TAB>text`` file."""
    data.refuse_tree_data(file, "utf-8", snap.model.config.model)
    set_threads(threads)
    part = data.read_labelled(file)
    truth = data.label_ids(part, snap.labels, "eval")
    sequences, unknown, total = encode_all(snap.vocab, part.texts)
    probs = predict_probs(snap.model, sequences)
    refuse_non_finite(probs)  # an argmax over NaN would score as if it were a prediction
    predicted = probs.argmax(axis=1)
    result = report(truth, predicted, snap.labels)
    result["oov_rate"] = unknown / max(total, 1)
    return result


def mean_std_text(cv: dict) -> str:
    return f"{100 * cv['mean_acc']:.2f} ± {100 * cv['std_acc']:.2f}"

