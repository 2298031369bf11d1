"""Compile the kernels a run needs before it starts, so the user is told when that happens
("Compiling kernels (first run only)") instead of staring at a frozen first step.

A tiny model of the same cell type and dtype exercises the same kernel signatures as the real
one (Numba specialises on types, not sizes); the compiled code lands in the on-disk cache and
later processes load it in well under a second. A marker file in the cache folder (which is keyed
by the kernel sources) records that this combination is compiled.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np

from ...core.kernels import KERNEL_CACHE_DIR


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


def _tiny_model(family: str, V: int, dtype, dropout: float = 0.0):
    """A small model whose kernels are the real one's (``family``: a kernel family, the cell of a
    recurrent model or the name of another kind)."""
    from ..config import ModelConfig
    from .kinds import DEFAULT_KIND, KINDS, build_language_model, kind_named

    kind = kind_named(family if family in KINDS else DEFAULT_KIND)
    return build_language_model(ModelConfig(**kind.tiny_values(family, V, dropout)), dtype)


def warm_training(cell: str, dtype, optimizer: str, say) -> None:
    """Compile everything a training run of this cell type and dtype uses."""
    if is_compiled(f"train-{optimizer}", cell, dtype):
        return
    say("Compiling kernels (first run only)...")
    from ..measure.evaluate import evaluate
    from ...core.optim import make_optimizer

    rng = np.random.default_rng(0)
    for dropout, V in ((0.0, 3), (0.5, 40)):  # the projection-table path, and the gather + dropout path
        model = _tiny_model(cell, V, dtype, dropout)
        x = rng.integers(0, V, (3, 2)).astype(np.int32)
        model.train_step(x, x, model.initial_state(2), rng)
        make_optimizer(optimizer, model.store, 1e-3).step()
        evaluate(model, rng.integers(0, V, 50).astype(np.uint8), batch_size=2, seq_len=3)
    mark_compiled(f"train-{optimizer}", cell, dtype)


def warm_sampling(cell: str, dtype) -> None:
    """Compile what ``charlm sample`` runs for this cell type and dtype (priming, and drawing for
    one stream and several), then mark it compiled."""
    from ..generate.sampler import Sampler

    model = _tiny_model(cell, 5, dtype)
    sampler = Sampler(model, seed=0, top_k=3, top_p=0.9)
    sampler.prime(np.array([1, 2, 3], np.uint8))
    sampler.run(4)
    Sampler(model, seed=0).run(4, num_samples=2)
    mark_compiled("sample", cell, dtype)


# A background compile older than this is taken to have died (its lock is stale).
STALE_LOCK_S = 600


def compile_sampling_in_background(cell: str, dtype) -> bool:
    """Start compiling the sampling kernels for this cell and dtype in a separate, low-priority
    process (training calls this when it ends), so a ``charlm sample`` after the first ``charlm
    train`` starts in about a second instead of compiling for ~20 s, or waits only for what is
    left of that compile (:func:`wait_for_background_compile`). Does nothing when they are
    compiled, when another process is at it, or with CHARLM_BACKGROUND_COMPILE=0. Returns whether
    it started one."""
    if os.environ.get("CHARLM_BACKGROUND_COMPILE", "1") == "0" or is_compiled("sample", cell, dtype):
        return False
    lock = KERNEL_CACHE_DIR / f"{_marker('sample', cell, dtype)}.lock"
    try:
        KERNEL_CACHE_DIR.mkdir(parents=True, exist_ok=True)
        if lock.exists() and time.time() - lock.stat().st_mtime > STALE_LOCK_S:
            lock.unlink(missing_ok=True)
        os.close(os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except OSError:
        return False  # another process compiles, or the cache is read-only
    subprocess.Popen(
        [sys.executable, "-m", "charlm.lm.models.warmup", "sample", cell, np.dtype(dtype).name, str(lock)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,  # Ctrl-C to the training does not reach it
        env={**os.environ, "NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"},
    )
    return True


def wait_for_background_compile(cell: str, dtype, say) -> None:
    """If a background compile of the sampling kernels is under way, wait for it (compiling the
    same kernels a second time beside it would only be slower)."""
    lock = KERNEL_CACHE_DIR / f"{_marker('sample', cell, dtype)}.lock"
    if not lock.exists() or is_compiled("sample", cell, dtype):
        return
    say("Waiting for the sampling kernels, compiling in the background since training ended...")
    deadline = time.monotonic() + STALE_LOCK_S
    while lock.exists() and time.monotonic() < deadline:
        time.sleep(0.2)


def _main(argv: list[str]) -> None:
    """``python -m charlm.lm.models.warmup sample CELL DTYPE LOCK``: the background compile."""
    _, cell, dtype, lock = argv
    try:
        os.nice(19)  # the training run in the foreground comes first
        warm_sampling(cell, dtype)
    finally:
        try:
            os.unlink(lock)
        except OSError:
            pass


if __name__ == "__main__":
    _main(sys.argv[1:])
