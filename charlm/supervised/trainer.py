"""A classifier's training loop, whatever the family: epochs of minibatches, dropout, optimizer,
clipping, a dev accuracy after every epoch, early stopping with patience, and the best model
kept. It never prints: it reports to a ``ClassifierObserver`` (the CLI draws it) and saves through
an ``on_best`` callback.

Randomness comes from generators derived from the one seed: the batch order and the dropout masks
each have their own (the model's initialisation a third), so one seed gives one run.
"""

from __future__ import annotations

import math
import time

import numpy as np

from ..core.optim import MAX_BAD_STEPS, clip_grad_norm, global_norm, make_optimizer
from ..core.params import StoreBacked
from ..errors import TrainingError
from .config import FitConfig


class ClassifierObserver:
    """What the loop tells its observer; the default ignores it all."""

    def started(self, info: dict) -> None: ...
    def batch(self, done: int, total: int, loss: float) -> None: ...
    def epoch(self, record: dict) -> None: ...
    def finished(self, summary: dict) -> None: ...


class SupervisedTrainer:
    """The loop; a family's trainer (``classify/train.py``, ``trees/train.py``) supplies its batches,
    its step and its dev measure (``_batches``, ``_forward_backward``, ``_dev_accuracy``)."""

    def __init__(self, model: StoreBacked, config: FitConfig, train, dev,
                 sink: ClassifierObserver | None = None, on_best=None, log=None):
        """``on_best(trainer)`` is called whenever the dev accuracy improves (to save the model),
        ``log(record)`` after every epoch (to append it to the run's metrics)."""
        config.validate()
        self.model, self.config, self.train, self.dev = model, config, train, dev
        self.sink = sink or ClassifierObserver()
        self.on_best, self.log = on_best, log
        self.optimizer = make_optimizer(config.optimizer, model.store, config.lr)
        self.batch_rng = np.random.default_rng([config.seed, 1])
        self.dropout_rng = np.random.default_rng([config.seed, 2])
        self.history: list[dict] = []
        self.best_dev_acc: float | None = None
        self.best_epoch: int | None = None
        self.epoch = 0
        self.train_seconds = 0.0
        self.examples_seen = 0
        self._best_params: np.ndarray | None = None
        self._bad_steps = 0
        self.skipped_steps = 0

    def fit(self) -> dict:
        """Train until the epochs run out or patience does; leaves the best model in place and
        returns a summary (epochs, best dev accuracy and its epoch, time, examples/s)."""
        cfg = self.config
        started = time.monotonic()
        self.sink.started({"train": len(self.train), "dev": len(self.dev), "epochs": cfg.epochs,
                           "parameters": self.model.store.size,
                           "batches": math.ceil(len(self.train) / cfg.batch_size)})
        try:
            stopped_by = self._epochs()
        finally:
            self.sink.finished(None)
        # The rest of the run (test set, predictions) uses the model chosen on dev.
        self.model.store.data[:] = self._best_params
        self.model.refresh()
        return {
            "stopped_by": stopped_by, "epochs": self.epoch, "best_epoch": self.best_epoch,
            "best_dev_acc": self.best_dev_acc, "elapsed_s": time.monotonic() - started,
            "train_s": self.train_seconds, "examples": self.examples_seen,
            "examples_per_s": self.examples_seen / self.train_seconds if self.train_seconds else None,
            "skipped_steps": self.skipped_steps,
        }

    def _epochs(self) -> str:
        """Train epoch after epoch; returns why it stopped."""
        cfg = self.config
        bad_epochs = 0
        for self.epoch in range(1, cfg.epochs + 1):
            record = self._train_epoch()
            record["dev_acc"] = self._dev_accuracy()
            improved = self.best_dev_acc is None or record["dev_acc"] > self.best_dev_acc
            record["improved"] = improved
            if improved:
                self.best_dev_acc, self.best_epoch = record["dev_acc"], self.epoch
                self._best_params = self.model.store.data.copy()
                bad_epochs = 0
            else:
                bad_epochs += 1
            self.history.append(record)
            if improved and self.on_best is not None:
                self.on_best(self)
            if self.log is not None:
                self.log(record)
            self.sink.epoch(record)
            if cfg.patience is not None and bad_epochs >= cfg.patience:
                return "early stop"
        return "epochs"

    def _dev_accuracy(self) -> float:
        """The dev set's accuracy with the current parameters (what picks the best epoch)."""
        raise NotImplementedError

    def _batches(self) -> list[np.ndarray]:
        """This epoch's batches, as index arrays into the training set."""
        raise NotImplementedError

    def _forward_backward(self, index: np.ndarray) -> tuple[float, int, int]:
        """One batch's loss and gradient (into ``store.grad``): (loss, correct predictions,
        predictions scored)."""
        raise NotImplementedError

    def _train_epoch(self) -> dict:
        cfg, model = self.config, self.model
        batches = self._batches()
        loss_sum, correct, scored, seen = 0.0, 0, 0, 0
        started = time.monotonic()
        for done, index in enumerate(batches, 1):
            loss, hits, count = self._forward_backward(index)
            grad = model.store.grad
            norm = clip_grad_norm(grad, cfg.clip_norm) if cfg.clip_norm is not None else global_norm(grad)
            if self._step_is_finite(loss, norm):
                self.optimizer.step()
                model.refresh()
                loss_sum += loss * index.size
                correct += hits
                scored += count
                seen += index.size
            self.sink.batch(done, len(batches), loss)
        seconds = time.monotonic() - started
        self.train_seconds += seconds
        self.examples_seen += seen
        return {"epoch": self.epoch, "train_loss": loss_sum / max(seen, 1), "train_acc": correct / max(scored, 1),
                "seconds": seconds, "examples_per_s": seen / seconds if seconds else None}

    def _step_is_finite(self, loss: float, grad_norm: float) -> bool:
        if math.isfinite(loss) and math.isfinite(grad_norm):
            self._bad_steps = 0
            return True
        self._bad_steps += 1
        self.skipped_steps += 1
        if self._bad_steps >= MAX_BAD_STEPS:
            raise TrainingError(f"the loss or gradient was not finite {MAX_BAD_STEPS} steps in a row: "
                                "lower --lr or set --clip-norm")
        return False
