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
from pathlib import Path

import numpy as np

try:
    import fcntl
except ImportError:  # Windows: no background compile
    fcntl = None

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


# The longest a `charlm sample` waits for a background compile before compiling by itself.
WAIT_LIMIT_S = 600


def _lock_path(cell: str, dtype):
    return KERNEL_CACHE_DIR / f"{_marker('sample', cell, dtype)}.lock"


def compile_sampling_in_background(cell: str, dtype, say=lambda text: None) -> bool:
    """Start compiling the sampling kernels for this cell and dtype in a separate process at the
    lowest priority (training calls this when it starts), so a ``charlm sample`` after the first
    ``charlm train`` starts in about a second instead of compiling for ~20 s, or waits only for
    what is left of that compile (:func:`wait_for_background_compile`). Does nothing when they are
    compiled, when another process is at it, or with CHARLM_BACKGROUND_COMPILE=0. A process that
    cannot be started is a note (``say``), not an error. Returns whether it started one.

    The compiler holds an exclusive ``flock`` on the lock file for as long as it lives (taken
    here, before it starts, and handed to it), so a compile that died is never waited for."""
    if os.environ.get("CHARLM_BACKGROUND_COMPILE", "1") == "0" or is_compiled("sample", cell, dtype) or fcntl is None:
        return False
    lock = _lock_path(cell, dtype)
    try:
        KERNEL_CACHE_DIR.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError:
        return False  # a read-only cache
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.fstat(fd).st_ino != os.stat(lock).st_ino:
                return False  # the compile that held it has just ended and removed it
        except OSError:
            return False  # another process compiles them (or the file system has no locks)
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())  # who started it (see wait_for_background_compile)
        except OSError:
            pass
        try:
            subprocess.Popen(
                [sys.executable, "-m", "charlm.lm.models.warmup", "sample", cell, np.dtype(dtype).name, str(lock)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C to the training does not reach it
                pass_fds=(fd,),  # the lock is held as long as the compiler lives
                env=_child_environment(),
                # `-m` imports from the working folder first: a user training in a clone of the
                # sources (the README's quick start) would compile that copy's kernels, cached
                # under its paths, while `charlm sample` runs the installed copy. Start the child
                # beside the package this process runs, so both import the same one.
                cwd=_PACKAGE_HOME,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            _remove(lock)
            reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            say(f"note: the sampling kernels could not be compiled in the background ({sys.executable}: {reason}); "
                "the first charlm sample compiles them")
            return False
    finally:
        os.close(fd)  # the child's copy keeps the lock; on failure this releases it
    return True


def compile_running(cell: str, dtype) -> bool:
    """Whether a live process compiles the sampling kernels for this cell and dtype now (holds the
    lock file's ``flock``; a lock file left by a compile that died counts for nothing)."""
    if fcntl is None:
        return False
    try:
        fd = os.open(_lock_path(cell, dtype), os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    except OSError:
        return False  # a file system without locks: nothing to wait for
    finally:
        os.close(fd)


def wait_for_background_compile(cell: str, dtype, say) -> None:
    """If a background compile of the sampling kernels is under way, wait for it (compiling the
    same kernels a second time beside it would only be slower), unless the training that started
    it still runs: until it ends the compile has only the time it leaves idle, so the caller
    compiles them itself, as fast as before there was a background compile."""
    if is_compiled("sample", cell, dtype) or not compile_running(cell, dtype) or _starter_alive(cell, dtype):
        return
    say("Waiting for the sampling kernels, compiling in the background since training started...")
    deadline = time.monotonic() + WAIT_LIMIT_S
    while compile_running(cell, dtype) and time.monotonic() < deadline:
        time.sleep(0.1)


def _starter_alive(cell: str, dtype) -> bool:
    """Whether the process that started the background compile (its pid is in the lock file)
    still runs; not when the file names none."""
    try:
        pid = int(_lock_path(cell, dtype).read_text().strip())
    except (OSError, ValueError):
        return False
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # alive, another user's
    return True


_PACKAGE_HOME = str(Path(__file__).resolve().parents[3])  # the folder holding this charlm package


def _child_environment() -> dict:
    env = {**os.environ, "NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    if env.get("CHARLM_CACHE_DIR"):  # it starts elsewhere (cwd): a relative folder must stay the same one
        env["CHARLM_CACHE_DIR"] = os.path.abspath(env["CHARLM_CACHE_DIR"])
    return env


def _remove(path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _lowest_priority() -> None:
    """The lowest priority there is: SCHED_IDLE where the system has it (the scheduler runs it
    only when nothing else wants the core, and stops it when something does), else nice 19."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        os.nice(19)


def _main(argv: list[str]) -> None:
    """``python -m charlm.lm.models.warmup sample CELL DTYPE LOCK``: the background compile (its
    inherited descriptor of LOCK holds the lock until it exits)."""
    _, cell, dtype, lock = argv
    try:
        _lowest_priority()
        warm_sampling(cell, dtype)
    finally:
        _remove(lock)


if __name__ == "__main__":
    _main(sys.argv[1:])
