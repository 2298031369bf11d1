"""How ``charlm train --model memn2n`` starts: the authors' recipe for the memory network's
language model (facebookarchive/MemNN, MemN2N-lang-model/main.lua, the code behind section 5 of
Sukhbaatar et al. 2015), and the options that cannot take effect on it. Plain data: no Numba.

Their recipe, in charlm's terms: 150 units, 6 hops over a memory of 100 words, batches of 128
targets, plain SGD at 0.01 on the loss summed over the batch with its gradient's norm clipped at
50, every weight N(0, 0.05^2), the rate divided by 1.5 whenever a validation's loss is not 0.01%
below the previous one's, and the end once it would fall below 1e-5 (or after 100 epochs).
charlm averages the loss over the batch, so the same steps are lr 0.01 x 128 = 1.28, a clip of
50 / 128 and a stop at 1e-5 x 128. A batch is 128 targets at positions drawn at random, as
theirs (--positions random, --seq-len 1), as many batches an epoch as there are targets / 128.
"""

from __future__ import annotations

from ...errors import ConfigError, DataError
from ..config import MEMORY_ONLY, RECURRENT_ONLY, option_name

AUTHORS_BATCH = 128
MODEL_DEFAULTS = {"hidden_size": 150}
TRAIN_DEFAULTS = {"seq_len": 1, "batch_size": AUTHORS_BATCH, "optimizer": "sgd", "lr": 0.01 * AUTHORS_BATCH,
                  "clip_norm": 50 / AUTHORS_BATCH, "lr_decay": 1 / 1.5, "epochs": 100,
                  "stop_lr": 1e-5 * AUTHORS_BATCH, "decay_against": "previous", "decay_threshold": 1e-4,
                  "positions": "random"}
# The defaults that only the plateau rule uses: gone when the run has no plateau rule.
PLATEAU_DEFAULTS = ("stop_lr", "decay_against", "decay_threshold")
# Training options with no effect on a memory network: its carried "state" is the last tokens,
# with no gradient through it either way, and it has no single input embedding to freeze.
NO_EFFECT = {"bptt": "its carried memory holds no gradient to truncate",
             "freeze_embedding": "it has no single input embedding (its memories have two)"}


def memory_network_settings(options) -> tuple[dict, dict]:
    """(model values, training defaults) of a new memory-network run; refuses, by name, every
    option given that a memory network cannot use."""
    given = [name for name in RECURRENT_ONLY if getattr(options, name, None) is not None]
    if given:
        names = ", ".join(option_name(name) for name in given)
        options_of = "it is an option" if len(given) == 1 else "they are options"
        raise ConfigError(f"{names} cannot take effect with --model memn2n: {options_of} of the recurrent model")
    for name, why in NO_EFFECT.items():
        if getattr(options, name) is not None:
            raise ConfigError(f"{option_name(name)} cannot take effect with --model memn2n: {why}")
    model_values = {**MODEL_DEFAULTS, "model": "memn2n"}
    model_values.update({name: getattr(options, name) for name in ("hidden_size", *MEMORY_ONLY)
                         if getattr(options, name) is not None})
    train_defaults = dict(TRAIN_DEFAULTS)
    if options.decay_start is not None or options.lr_decay == 1:  # no plateau rule
        for name in PLATEAU_DEFAULTS:
            del train_defaults[name]
    if options.optimizer not in (None, "sgd"):  # another rule starts from its own rate
        del train_defaults["lr"]
        train_defaults.pop("stop_lr", None)
    elif options.min_lr is not None:  # the user's own end to the annealing
        train_defaults.pop("stop_lr", None)
    return model_values, train_defaults


def refuse_memory_options(options) -> None:
    """A recurrent run: the memory network's own options cannot take effect."""
    given = [name for name in MEMORY_ONLY if getattr(options, name, None) is not None]
    if given:
        raise ConfigError(f"{', '.join(option_name(name) for name in given)} is for --model memn2n")


def refuse_memory_beyond_text(config, n_train_tokens: int, whose: str | None = None) -> None:
    """DataError when a memory network's memory (``config``: its ModelConfig) is longer than the
    training text: slots past its start never fill, so their time embeddings would never learn and
    the memory asked for could not take effect. ``whose`` names a memory that came from a
    checkpoint (fine-tuning) rather than from --memory. Recurrent models pass untouched."""
    memory = config.memory
    if config.model == "memn2n" and memory >= n_train_tokens:
        named, remedy = (f"--memory {memory}", "lower --memory or give more text") if whose is None else \
            (f"the memory of {whose} ({memory} tokens)", "give more text to fine-tune on")
        raise DataError(
            f"{named} is longer than the training text ({n_train_tokens} tokens): at most "
            f"{n_train_tokens - 1} tokens come before a target; {remedy}"
        )
