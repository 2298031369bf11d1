"""Accuracy, per-class precision/recall/F1, macro-F1 and the confusion matrix of predictions."""

from __future__ import annotations

import numpy as np


def confusion_matrix(truth: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    """(C, C) int64 counts: rows are true classes, columns predicted ones."""
    matrix = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(matrix, (truth, predicted), 1)
    return matrix


def report(truth: np.ndarray, predicted: np.ndarray, labels: list[str]) -> dict:
    """Everything ``classify eval`` shows, as plain JSON-able values. A class never predicted and
    never present has F1 0 (it counts in the macro average only if it is present or predicted)."""
    C = len(labels)
    matrix = confusion_matrix(truth, predicted, C)
    hits = np.diag(matrix)
    support = matrix.sum(axis=1)
    predicted_count = matrix.sum(axis=0)
    per_class = {}
    f1s = []
    for c, label in enumerate(labels):
        precision = hits[c] / predicted_count[c] if predicted_count[c] else 0.0
        recall = hits[c] / support[c] if support[c] else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[label] = {"precision": float(precision), "recall": float(recall), "f1": float(f1), "support": int(support[c])}
        if support[c] or predicted_count[c]:
            f1s.append(f1)
    return {
        "examples": int(truth.size),
        "accuracy": float(hits.sum() / max(truth.size, 1)),
        "macro_f1": float(np.mean(f1s)) if f1s else 0.0,
        "labels": list(labels),
        "confusion": matrix.tolist(),
        "per_class": per_class,
    }
