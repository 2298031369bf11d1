"""The memory network's entry in the table of kinds (``kinds.py``): how it is built, described and
warmed up, and how ``charlm train --model memn2n`` starts: the authors' recipe for its
language model (facebookarchive/MemNN, MemN2N-lang-model/main.lua, the code behind section 5 of
Sukhbaatar et al. 2015), and the options that cannot take effect on it. Plain data: the model and its graphs are
imported when asked for.

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
from .protocol import ModelKind

AUTHORS_BATCH = 128
MODEL_DEFAULTS = {"hidden_size": 150}
TRAIN_DEFAULTS = {"seq_len": 1, "batch_size": AUTHORS_BATCH, "optimizer": "sgd", "lr": 0.01 * AUTHORS_BATCH,
                  "clip_norm": 50 / AUTHORS_BATCH, "lr_decay": 1 / 1.5, "epochs": 100,
                  "stop_lr": 1e-5 * AUTHORS_BATCH, "decay_against": "previous", "decay_threshold": 1e-4,
                  "positions": "random"}
# The defaults that only the plateau rule uses: gone when the run has no plateau rule.
PLATEAU_DEFAULTS = ("stop_lr", "decay_against", "decay_threshold")


class MemoryKind(ModelKind):
    called = "the memory network"
    a_model = "a memory network"
    options = ("memory", "hops", "linear_units")
    # Its carried "state" is the last tokens, with no gradient through it either way, and it has
    # no single input embedding to freeze.
    no_effect = {"bptt": "its carried memory holds no gradient to truncate",
                 "freeze_embedding": "it has no single input embedding (its memories have two)"}
    # It carries nothing along a stream, so its rows can be drawn anywhere, as its authors do.
    positions = ("streams", "random")
    attends = True

    def build(self, config, dtype, seed: int = 0):
        from .memory import MemoryLanguageModel

        return MemoryLanguageModel(config, dtype, seed=seed)

    def describe(self, config) -> str:
        return f"{self.name} {config.hidden_size}, {config.hops} hops over {config.memory} tokens"

    def info_description(self, config: dict) -> str:
        return (f"{self.name} {config['hidden_size']}, {config['hops']} hops over {config['memory']} tokens, "
                f"{config['linear_units']} linear units")

    def tiny_values(self, family: str, vocab_size: int, dropout: float) -> dict:
        return {"vocab_size": vocab_size, "model": self.name, "hidden_size": 4, "memory": 3, "hops": 2}

    def new_run_values(self, options, values: dict) -> tuple[dict, dict]:
        """The authors' recipe where the user said nothing: their size, and their training
        defaults, less those another choice of the user's makes meaningless."""
        self.refuse_training_options(options)
        values = {**values, **{name: value for name, value in MODEL_DEFAULTS.items() if getattr(options, name) is None}}
        train_defaults = dict(TRAIN_DEFAULTS)
        if options.decay_start is not None or options.lr_decay == 1:  # no plateau rule
            for name in PLATEAU_DEFAULTS:
                del train_defaults[name]
        if options.optimizer not in (None, "sgd"):  # another rule starts from its own rate
            del train_defaults["lr"]
            train_defaults.pop("stop_lr", None)
        elif options.min_lr is not None:  # the user's own end to the annealing
            train_defaults.pop("stop_lr", None)
        return values, train_defaults

    def check_text(self, config, n_train_tokens: int, whose: str | None = None) -> None:
        """A memory longer than the training text: slots past its start never fill, so their time
        embeddings would never learn and the memory asked for could not take effect. ``whose``
        names a memory that came from a checkpoint (fine-tuning) rather than from --memory."""
        memory = config.memory
        if memory >= n_train_tokens:
            named, remedy = (f"--memory {memory}", "lower --memory or give more text") if whose is None else \
                (f"the memory of {whose} ({memory} tokens)", "give more text to fine-tune on")
            raise DataError(
                f"{named} is longer than the training text ({n_train_tokens} tokens): at most "
                f"{n_train_tokens - 1} tokens come before a target; {remedy}"
            )

    def refuse_with_init_from(self, options, path) -> None:
        if options.dropout is not None:
            raise ConfigError(f"--dropout cannot take effect with --init-from {path}: a {self.name} model has no dropout")

    def inspect_values(self, model) -> tuple[int, list[str]]:
        """Its "layers" are the hops, each with its query u_k."""
        return model.config.hops, ["h"]

    def onnx_graph(self, model, step: bool):
        from ..export.memory_onnx import build_memory_graph

        return build_memory_graph(model, step=step)
