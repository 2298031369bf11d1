"""``charlm info`` of a classifier checkpoint (a sequence classifier or a tree model): its model,
labels, vocabulary and the dev accuracy it was chosen for, as a table or JSON."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table
from rich.text import Text

from ..trees.config import TREE_MODELS


def classifier_report(path: Path) -> dict:
    from ..supervised.saved_model import load_classifier  # here: `charlm info --help` must not load Numba

    snap = load_classifier(path)
    meta = snap.meta
    return {
        "checkpoint": str(path),
        "kind": "classifier",
        "model": meta["model"],
        "dtype": meta.get("dtype"),
        "labels": snap.labels,
        "level": snap.vocab.level,
        "vocab_size": len(snap.vocab),
        "parameters": snap.model.store.size,
        "epoch": meta.get("epoch"),
        "best_epoch": meta.get("best_epoch"),
        "best_dev_acc": meta.get("best_dev_acc"),
        "train": meta.get("train"),
        "data": meta.get("data"),
        "charlm_version": meta.get("charlm_version"),
    }


def _model_line(model: dict) -> str:
    if model["model"] in TREE_MODELS:
        size = f"d={model['hidden_size']}" + (f", words {model['embed_size']}" if model["embed_size"] != model["hidden_size"] else "")
        return f"{model['model']} ({size}{', dropout ' + format(model['dropout'], 'g') if model.get('dropout') else ''})"
    return (f"{model['model']} {model['cell']} {model['hidden_size']}x{model['layers']} per direction, "
            f"embedding {model['embed_size']}")


def classifier_renderables(report: dict) -> list:
    table = Table(title=report["checkpoint"], show_header=False)
    table.add_column(justify="left")
    table.add_column(justify="right")
    table.add_row("classifier", _model_line(report["model"]))
    table.add_row("classes", Text(", ".join(report["labels"])))
    table.add_row("level / vocabulary", f"{report['level']}, {report['vocab_size']:,} tokens")
    table.add_row("parameters", f"{report['parameters']:,} ({report['dtype']})")
    if report.get("best_dev_acc") is not None:
        table.add_row("best dev accuracy", f"{100 * report['best_dev_acc']:.2f}% (epoch {report['best_epoch']}, "
                      "when this checkpoint was saved)")
    train = report.get("train") or {}
    if train:
        extra = f", L2 {train['l2']:g}" if train.get("l2") is not None else ""
        if train.get("recipe") == "corenlp":
            extra += ", CoreNLP's recipe"
        table.add_row("training", f"{train.get('optimizer')} lr {train.get('lr')}, batch {train.get('batch_size')}{extra}")
    if report.get("data"):
        table.add_row("data", Text(str(report["data"].get("path"))))
    return [table]
