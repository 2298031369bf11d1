"""The learning rate a run trains at, and when it stops for want of progress.

Two rules, as ``TrainConfig`` chooses: with ``decay_start``, an epoch schedule (Zaremba et al.
2014): from that epoch on, each epoch runs at lr * lr_decay ** (epoch - decay_start + 1);
without it, a plateau rule: the rate is multiplied by ``lr_decay`` whenever ``decay_patience``
scheduled validations in a row fail to improve (never below ``min_lr``; the run stops when it
would fall below ``stop_lr``). ``patience`` stops a run after that many validations without
improvement, whichever rule sets the rate. What counts as an improvement is ``Progress.judge``.
The rate and the counts live in the run's :class:`Progress`, saved in every checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ...errors import ConfigError
from ...settings import option_name
from ..config import TrainConfig
from .progress import Progress

# The settings that act on validations, each with the value that turns it off (None: none does).
# A run without validation refuses them by name, but for that value: nothing would ever use them.
# --lr-decay is the plateau rule's only without --decay-start (the epoch schedule needs no validation).
ACT_ON_VALIDATIONS = {"eval_every": None, "patience": 0, "lr_decay": 1.0, "decay_patience": None, "min_lr": 0.0,
                      "stop_lr": 0.0, "decay_threshold": 0.0, "decay_against": None}


def refuse_without_validation(given: dict, decay_start: int | None, why: str) -> None:
    """In a run with no validation text (``why``: how it came to have none), refuse what was
    ``given`` (option field -> value) of the settings that act on validations."""
    idle = [name for name, off in ACT_ON_VALIDATIONS.items()
            if name in given and given[name] != off and not (name == "lr_decay" and decay_start is not None)]
    if idle:
        names = ", ".join(option_name(name) for name in idle)
        they = "it acts" if len(idle) == 1 else "they act"
        raise ConfigError(f"{names} cannot take effect without validation ({why}): {they} on validations")


@dataclass
class Decision:
    """What a scheduled validation decided: the notes to show and whether to stop."""

    notes: list[str] = field(default_factory=list)
    stop: bool = False


class LearningRateSchedule:
    def __init__(self, config: TrainConfig, progress: Progress):
        self.config = config
        self.progress = progress

    def epoch_started(self, epoch: int) -> None:
        """The epoch schedule sets the rate of each epoch (the plateau rule leaves it)."""
        cfg = self.config
        if cfg.decay_start is not None:
            self.progress.lr = cfg.lr * cfg.lr_decay ** max(epoch - cfg.decay_start + 1, 0)

    def validated(self, loss: float) -> Decision:
        """A scheduled validation's loss: the plateau rule and --patience."""
        p, cfg = self.progress, self.config
        if p.judge(loss, cfg.decay_against, cfg.decay_threshold):
            return Decision()
        decision = Decision()
        plateau = p.bad_validations % cfg.decay_patience == 0
        if cfg.decay_start is None and cfg.lr_decay < 1 and plateau and p.lr > cfg.min_lr:
            lowered = max(p.lr * cfg.lr_decay, cfg.min_lr)
            if lowered < cfg.stop_lr:
                return Decision([f"validation loss did not improve and the rate would fall below --stop-lr "
                                 f"{cfg.stop_lr:.3g}: stopping"], stop=True)
            p.lr = lowered
            floor = " (the --min-lr floor)" if p.lr == cfg.min_lr else ""
            decision.notes.append(f"validation loss did not improve: learning rate lowered to {p.lr:.3g}{floor}")
        if cfg.patience and p.bad_validations >= cfg.patience:
            decision.notes.append(f"no improvement in {p.bad_validations} validations: stopping early")
            decision.stop = True
        return decision
