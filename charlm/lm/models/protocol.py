"""What every language model answers (:class:`LanguageModel`), and what differs between the kinds
of language model (:class:`ModelKind`): the two contracts behind the table of kinds (``kinds.py``).

The trainer, evaluation, sampling, checkpoints, resume, inspect, export and MPI speak to a model
only through :class:`LanguageModel`; where they must do something different for a kind (build
it, start its run, sample from it, draw its graph), they ask its :class:`ModelKind`, never its
name. Plain Python: importing this loads no Numba.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from ...errors import ConfigError
from ...settings import option_name

# The carried state of a model: per layer (or memory) a tuple of arrays, each (N, ...) by stream.
State = list


class LanguageModel(Protocol):
    """The calls a language model answers. Token arrays are (T, N), time-major; a negative target
    is masked; ``resets`` are (t, rows) pairs where a document begins inside a window."""

    config: Any  # its ModelConfig
    dtype: np.dtype
    store: Any  # the ParamStore holding every parameter and gradient
    params: dict  # name -> array, views into ``store``
    grads: dict
    adaptive: Any  # the adaptive softmax, when it is the output layer; else None

    def refresh(self) -> None:
        """Call after the parameters changed (optimizer step, load)."""

    def initial_state(self, batch_size: int) -> State:
        """The state of ``batch_size`` streams that have read nothing."""

    def state_before(self, tokens: np.ndarray, offsets: np.ndarray, starts: np.ndarray) -> State:
        """The state streams starting at ``offsets`` of ``tokens`` begin with (``starts``: where
        documents begin)."""

    def train_step(self, x, y, state: State, rng=None, resets=()) -> tuple[float, State]:
        """Forward and backward over one window; gradients into ``store.grad``. (mean loss, state)"""

    def loss(self, x, y, state: State, resets=()) -> tuple[float, State]:
        """Forward only: (summed loss in nats over the unmasked targets, state)."""

    def outputs(self, x, state: State) -> tuple[np.ndarray, State]:
        """Forward only: the top layer's outputs (T, N, H) and the state."""

    def step_logits(self, tokens: np.ndarray, state: State) -> tuple[np.ndarray, State]:
        """One step for N streams: logits (N, V) and the state."""

    def inspect_window(self, x, state: State) -> tuple[np.ndarray, State, list[dict], dict]:
        """Forward only: logits (T*N, V), the state, each layer's activations by name, extras."""


class ModelKind:
    """What differs between kinds of language model. One subclass per kind, one line in the table
    (``kinds.KINDS``); every caller asks ``kind_of(config)``. Subclasses set the attributes and
    override the methods; heavy modules (the model, its kernels, its graphs) are imported inside
    the methods, so that naming and checking a kind never loads Numba."""

    name: str = ""  # its --model value, set by the table
    # How a message names the kind ("the recurrent model") and one of its models ("a recurrent model").
    called: str = ""
    a_model: str = ""
    options: tuple[str, ...] = ()  # ModelConfig fields only this kind reads: refused for the others
    # Training options (TrainConfig fields) that cannot take effect on this kind: name -> why.
    no_effect: dict[str, str] = {}
    positions: tuple[str, ...] = ("streams",)  # the --positions it trains with
    why_streams: str = ""  # why it needs streams, when it cannot take random positions
    runs_jitted_loops: bool = False  # the jitted sampling and beam loops can run its layers
    attends: bool = False  # it attends over a memory (`charlm inspect --attention`)

    # -- the model
    def build(self, config, dtype=np.float32, seed: int = 0) -> LanguageModel:
        raise NotImplementedError

    def describe(self, config) -> str:
        """The network in a few words ("lstm 256x2, embedding 256")."""
        raise NotImplementedError

    def kernel_family(self, config) -> str:
        """What its compiled kernels depend on (the compile markers of ``warmup.py``)."""
        return self.name

    def tiny_values(self, family: str, vocab_size: int, dropout: float) -> dict:
        """ModelConfig values of a tiny model whose kernels are those of ``family``'s (warm-up)."""
        raise NotImplementedError

    # -- starting a run
    def new_run_values(self, options, values: dict) -> tuple[dict, dict]:
        """A new run's model values (``values``: the given ones over the configuration's
        defaults) and the training defaults of the kind's recipe; refuses what cannot take effect."""
        return values, {}

    def check_text(self, config, n_train_tokens: int, whose: str | None = None) -> None:
        """Refuse a training text the model cannot use (``whose``: the checkpoint it came from)."""

    def refuse_with_init_from(self, options, path) -> None:
        """Refuse what a run fine-tuned from checkpoint ``path`` of this kind cannot take."""

    # -- what it offers the commands
    def inspect_values(self, model) -> tuple[int, list[str]]:
        """(layers, value names) `charlm inspect --unit` can show."""
        raise NotImplementedError

    def onnx_graph(self, model, step: bool):
        raise NotImplementedError

    def info_description(self, config: dict) -> str:
        """How `charlm info` describes a saved configuration (a dict: it may be an older one)."""
        raise NotImplementedError

    # -- refusals by name
    def refuse_training_options(self, options) -> None:
        for name, why in self.no_effect.items():
            if getattr(options, name, None) is not None:
                raise ConfigError(f"{option_name(name)} cannot take effect with --model {self.name}: {why}")

    def refuse_positions(self, positions: str, others: list[str]) -> None:
        if positions not in self.positions:
            who = f" ({positions} positions are for {', '.join('--model ' + o for o in others)})" if others else ""
            raise ConfigError(f"--positions {positions} cannot take effect with {self.a_model}: {self.why_streams}{who}")
