"""Where a training run stands (:class:`Progress`, saved whole in every checkpoint) and how fast it
goes (:class:`TokenRate`)."""

from __future__ import annotations

import time
from dataclasses import dataclass

@dataclass
class Progress:
    """Where training stands. Saved in checkpoints (all of it is JSON)."""

    step: int = 0  # windows trained (skipped ones included)
    epoch: int = 1
    position: int = 0  # next window's start along the streams
    tokens: int = 0  # tokens trained on
    elapsed_s: float = 0.0
    lr: float = 0.0
    best_val_loss: float | None = None  # of every validation: what best.npz holds
    best_step: int | None = None
    # The plateau rule and --patience look only at scheduled validations (--eval-every, epoch
    # ends): the extra one when a run stops must not steer a resumed run off the course an
    # uninterrupted one would take.
    schedule_best: float | None = None  # the reference: the best loss so far or the last (decay_against)
    bad_validations: int = 0  # scheduled validations in a row without improvement
    skipped_steps: int = 0
    log_loss_sum: float = 0.0  # losses since the last metrics row
    log_steps: int = 0
    smooth_loss: float | None = None  # for display

    def judge(self, loss: float, against: str, threshold: float) -> bool:
        """Counts a scheduled validation for the plateau rule and --patience: whether ``loss``
        improved on the reference by more than ``threshold`` of it. The reference becomes the
        best loss so far or, with ``against == "previous"``, this one."""
        improved = self.schedule_best is None or loss < self.schedule_best * (1 - threshold)
        if improved or against == "previous":
            self.schedule_best = loss
        self.bad_validations = 0 if improved else self.bad_validations + 1
        return improved


class TokenRate:
    """Training tokens per second, smoothed over recent windows: the time from one window's end
    to the next one's, so what comes between (a validation: call ``pause``) is not counted."""

    def __init__(self):
        self.value: float | None = None
        self._last_end: float | None = None

    def window_done(self, tokens: int) -> None:
        now = time.monotonic()
        last, self._last_end = self._last_end, now
        if last is not None and now > last:
            rate = tokens / (now - last)
            self.value = rate if self.value is None else 0.9 * self.value + 0.1 * rate

    def pause(self) -> None:
        self._last_end = None
