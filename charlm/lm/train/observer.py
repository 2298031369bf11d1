"""What the training loop tells whoever watches it: a :class:`TrainingObserver` receives a
:class:`TrainingStatus` (a snapshot of the figures a display shows) at each event, never the
trainer itself, so the display (``cli/train_display.py``) depends on these few figures only. The
loop never prints."""

from __future__ import annotations

from dataclasses import dataclass

from ..measure.evaluate import Evaluation


@dataclass(frozen=True)
class TrainingStatus:
    """Where a run stands, as a display shows it."""

    model: str  # the network in a few words (ModelConfig.describe)
    parameters: int
    vocab_size: int
    tokens: int  # training tokens, as laid out in streams
    windows_per_epoch: int
    batch_size: int
    seq_len: int
    epochs: int
    total_steps: int
    step: int
    epoch: int
    smooth_loss: float | None
    tokens_per_s: float | None
    eta_s: float | None  # seconds to the end at the current speed
    changes: tuple[str, ...]  # settings a resumed run took from the command line ("--lr 0.002 -> 0.5")


class TrainingObserver:
    """Receives the loop's events. The command line draws them; this base ignores them."""

    def started(self, status: TrainingStatus) -> None: ...
    def step(self, status: TrainingStatus, loss: float) -> None: ...
    def validated(self, status: TrainingStatus, result: Evaluation, improved: bool) -> None: ...
    def message(self, text: str) -> None: ...
    def finished(self, status: TrainingStatus, summary: dict) -> None: ...
