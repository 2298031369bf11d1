"""Compile the kernels a run needs before it starts, so the user is told when that happens
("Compiling kernels (first run only)") instead of staring at a frozen first step.

A tiny model of the same cell type and dtype exercises the same kernel signatures as the real
one (Numba specialises on types, not sizes); the compiled code lands in the on-disk cache and
later processes load it in well under a second. A marker file in the cache folder (which is keyed
by the kernel sources) records that this combination is compiled.
"""

from __future__ import annotations

import numpy as np

from ..core.kernels import KERNEL_CACHE_DIR


def _marker(kind: str, cell: str, dtype) -> str:
    return f".compiled-{kind}-{cell}-{np.dtype(dtype).name}"


def is_compiled(kind: str, cell: str, dtype) -> bool:
    return (KERNEL_CACHE_DIR / _marker(kind, cell, dtype)).exists()


def mark_compiled(kind: str, cell: str, dtype) -> None:
    try:
        KERNEL_CACHE_DIR.mkdir(parents=True, exist_ok=True)
        (KERNEL_CACHE_DIR / _marker(kind, cell, dtype)).touch()
    except OSError:
        pass  # a read-only cache only costs the message being shown again


def warm_training(cell: str, dtype, optimizer: str, say) -> None:
    """Compile everything a training run of this cell type and dtype uses."""
    if is_compiled(f"train-{optimizer}", cell, dtype):
        return
    say("Compiling kernels (first run only)...")
    from .config import ModelConfig
    from .evaluate import evaluate
    from .model import LanguageModel
    from ..core.optim import make_optimizer

    rng = np.random.default_rng(0)
    for dropout, V in ((0.0, 3), (0.5, 40)):  # the projection-table path, and the gather + dropout path
        model = LanguageModel(ModelConfig(vocab_size=V, cell=cell, hidden_size=4, layers=2, dropout=dropout), dtype)
        x = rng.integers(0, V, (3, 2)).astype(np.int32)
        model.train_step(x, x, model.initial_state(2), rng)
        make_optimizer(optimizer, model.store, 1e-3).step()
        evaluate(model, rng.integers(0, V, 50).astype(np.uint8), batch_size=2, seq_len=3)
    mark_compiled(f"train-{optimizer}", cell, dtype)
