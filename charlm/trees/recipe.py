"""How a tree model is trained: charlm's recipe (``--recipe charlm``, every model) or the recipe of
Stanford CoreNLP's sentiment trainer (``--recipe corenlp``, the recursive NN and the RNTN), read from
its SentimentModel, SentimentCostAndGradient and SentimentTraining sources:

- the composition matrix starts as [I + U, I + U], U uniform in +-1/(2 sqrt(d)), a zero bias (the
  parent starts as the sum of its children); word vectors N(0, 0.1^2); the tensor +-1/(4d);
- a leaf's vector is tanh(word vector), so leaves and inner nodes live in the same range;
- L2 of 1e-3 on the composition (its bias too), 1e-4 on the classifier's weights and the words;
- AdaGrad with eps 1e-3 added to the root of the summed squares (a first step of at most
  lr * |g| / (|g| + 1e-3), not a full lr for every weight), the sums reset every epoch;
- d = 25, batches of 27 trees, lr 0.01.

On the Sentiment Treebank it is worth 4.2 points of fine-grained RNTN root accuracy over charlm's
recipe and costs 3 binary points (docs/results.md), so it is a choice, not the default.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError

RECIPES = ("charlm", "corenlp")
DEFAULT_RECIPE = "charlm"
CORENLP_MODELS = ("treernn", "rntn")
# What --recipe corenlp changes where the user did not say otherwise.
CORENLP_DEFAULTS = {"hidden_size": 25, "batch_size": 27, "lr": 0.01, "epochs": 100, "patience": 25}
CORENLP_L2_COMPOSE = 1e-3
CORENLP_L2_REST = 1e-4
CORENLP_ADAGRAD_EPS = 1e-3


def check_recipe(recipe: str, model: str, given: dict) -> None:
    """Refuse a recipe the model has no use for, and options the recipe fixes (``given``: the
    options the user set, by name)."""
    if recipe not in RECIPES:
        raise ConfigError(f"unknown recipe {recipe!r}; choose one of {', '.join(RECIPES)}")
    if recipe != "corenlp":
        return
    if model not in CORENLP_MODELS:
        raise ConfigError(f"--recipe corenlp is CoreNLP's recipe for {' and '.join(CORENLP_MODELS)}, not --model {model}")
    if given.get("l2") is not None:
        raise ConfigError("--l2 cannot take effect with --recipe corenlp: the recipe sets its own L2 "
                          f"({CORENLP_L2_COMPOSE:g} on the composition, {CORENLP_L2_REST:g} on the rest)")
    if given.get("optimizer") not in (None, "adagrad"):
        raise ConfigError(f"--optimizer {given['optimizer']} cannot take effect with --recipe corenlp: it trains with AdaGrad")


def l2_weights(recipe: str, params: dict[str, np.ndarray], l2: float) -> dict[str, float]:
    """The L2 weight of each penalised parameter, by name."""
    if recipe == "corenlp":
        return {name: CORENLP_L2_COMPOSE if name.startswith("compose") else CORENLP_L2_REST
                for name in params if name.startswith("compose") or not name.endswith("bias")}
    return {name: l2 for name in params if not name.endswith("bias")} if l2 else {}


def corenlp_initialize(params: dict[str, np.ndarray], rng: np.random.Generator) -> None:
    """CoreNLP's starting point for the recursive NN and the RNTN (the module docstring)."""
    W = params["compose.weight"]
    H = W.shape[0]
    noise = 1.0 / (2.0 * np.sqrt(H))
    W[...] = rng.uniform(-noise, noise, W.shape)
    W[:, :H] += np.eye(H, dtype=W.dtype)
    W[:, H:] += np.eye(H, dtype=W.dtype)
    params["compose.bias"][...] = 0.0
    words = params["embedding.weight"]
    words[...] = rng.normal(0.0, 0.1, words.shape)
    if "compose.tensor" in params:
        V = params["compose.tensor"]
        V[...] = rng.uniform(-1.0 / (4 * H), 1.0 / (4 * H), V.shape)
