"""How to generate: the one home of every sampling default and its check, used by ``charlm
sample`` (its options are these fields), the sampler and the beam search. Plain data: the
command line's ``--help`` loads it without Numba."""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, fields

from ...errors import ConfigError
from ...settings import Settings, check_seed, option_name, seed_setting, setting


def check_int(name: str, value, minimum: int) -> int:
    """``value`` as an int of at least ``minimum``; ConfigError naming ``name`` otherwise."""
    try:
        if isinstance(value, bool):
            raise TypeError
        number = operator.index(value)
    except TypeError:
        raise ConfigError(f"{name} must be an integer, got {value!r}") from None
    if number < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {number}")
    return number


# What beam search cannot use: it draws nothing (the settings of the draw, by field name).
DRAW_SETTINGS = ("temperature", "top_k", "top_p", "greedy", "seed")
# What cannot take effect with each mode (a switch or a count that is on), and why, by field name.
IDLE_WITH = {
    "beam": (DRAW_SETTINGS, "beam search draws nothing"),
    "greedy": (("temperature", "top_k", "top_p", "seed"), "it always takes the most likely token and draws nothing"),
}


@dataclass
class SamplingConfig(Settings):
    length: int = setting(500, "Tokens to generate per sample.")
    temperature: float = setting(1.0, "Sharpen (<1) or flatten (>1) the distribution.")
    top_k: int = setting(0, "Sample among the k most likely tokens; 0: all.")
    top_p: float = setting(1.0, "Sample among the most likely tokens holding this much probability.")
    greedy: bool = setting(False, "Always take the most likely token.")
    seed: int | None = seed_setting(None, "the same seed gives the same text; not given: a fresh one each time")
    num_samples: int = setting(1, "Samples, generated together as a batch.")
    stop: str | None = setting(None, "Stop a sample when it produces this text.")
    beam: int = setting(0, "Beam search over this many hypotheses instead of sampling: the most likely "
                           "continuations (0: sample).")
    # None: not given (0 with --beam; refused without it)
    length_penalty: float | None = setting(None, "With --beam: rank by log-prob / length^A instead of the total.",
                                           shown="0")

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        self.length = check_int("--length", self.length, 1)
        self.num_samples = check_int("--num-samples", self.num_samples, 1)
        try:
            self.temperature, self.top_p = float(self.temperature), float(self.top_p)
        except (TypeError, ValueError):
            raise ConfigError(f"--temperature and --top-p must be numbers, got {self.temperature!r}, {self.top_p!r}") from None
        if self.temperature == 0:
            raise ConfigError("--temperature must be above 0; for always the most likely token use --greedy")
        if not (self.temperature > 0 and math.isfinite(self.temperature)):
            raise ConfigError(f"--temperature must be a positive finite number, got {self.temperature}")
        self.top_k = check_int("--top-k", self.top_k, 0)
        if not (0 < self.top_p <= 1):
            raise ConfigError(f"--top-p must be in (0, 1] (1: no limit), got {self.top_p}")
        if self.seed is not None:
            self.seed = check_seed(self.seed)
        if self.stop == "":
            raise ConfigError("--stop is empty")
        if isinstance(self.beam, bool) or not isinstance(self.beam, int) or self.beam < 0:
            raise ConfigError(f"--beam must be a positive integer (0: sample), got {self.beam}")
        if self.length_penalty is not None and not (math.isfinite(self.length_penalty) and self.length_penalty >= 0):
            raise ConfigError(f"--length-penalty must be 0 or more, got {self.length_penalty}")
        defaults = {f.name: f.default for f in fields(self)}
        self.refuse_idle(name for name in defaults if getattr(self, name) != defaults[name])
        if self.beam:
            if self.num_samples > self.beam:
                raise ConfigError(f"--num-samples {self.num_samples} is more than the --beam {self.beam} hypotheses kept")
        elif self.length_penalty is not None:
            raise ConfigError("--length-penalty takes effect only with --beam")

    def refuse_idle(self, given) -> None:
        """Refuse, by name, the settings among ``given`` (field names: those the user set) that
        cannot take effect with the mode that is on (``IDLE_WITH``). The configuration checks the
        ones that differ from their defaults; the command line checks every one it was given."""
        given = set(given)
        for mode, (idle, why) in IDLE_WITH.items():
            if getattr(self, mode):
                named = [option_name(name) for name in idle if name in given]
                if named:
                    raise ConfigError(f"{', '.join(named)} cannot take effect with --{mode}: {why}")
