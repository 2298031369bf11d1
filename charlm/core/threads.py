"""How many cores charlm's math uses: the BLAS behind numpy (all matrix products) and Numba's
parallel kernels, set together so they never oversubscribe the machine."""

from __future__ import annotations

import os
import warnings

import numba
from threadpoolctl import threadpool_limits

from ..errors import ConfigError, TextNote

_limits = None  # keep the threadpoolctl handle alive


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def set_threads(count: int | None, *, whose: str = "", say: bool = True) -> int:
    """Use ``count`` threads (None: every core this process may run on). More than those cores
    cannot run at once (Numba's pool has one thread per core): such a count is cut to the cores,
    with a note unless ``say`` is False (``whose``: whose count it is, " (the run's)"). Returns
    the count that runs, which is what a run saves."""
    global _limits
    cores = available_cores()
    if count is None:
        count = cores
    if count < 1:
        raise ConfigError(f"threads must be at least 1, got {count}")
    if count > cores:
        if say:
            warnings.warn(TextNote(f"--threads {count}{whose} is more than the {cores} core{'s' if cores != 1 else ''} "
                                   f"this process may run on: using {cores} (and saving {cores} with a run)"),
                          stacklevel=2)
        count = cores
    _limits = threadpool_limits(limits=count, user_api="blas")
    numba.set_num_threads(min(count, numba.config.NUMBA_NUM_THREADS))
    return count


def thread_change_note(saved: int | None, given: int | None) -> str | None:
    """What a resumed run should be told when ``--threads`` differs from the run's (None: it used
    every core of its machine): float32 sums split over another count of threads round differently,
    so the run goes on along a nearby path, not the one an uninterrupted run would have taken."""
    if given is None or given == (saved or available_cores()):
        return None  # (a run saved with every core: assumed to be this machine's)
    had = "every core of its machine" if saved is None else f"{saved} thread{'s' if saved != 1 else ''}"
    return (f"resuming on --threads {given} where the run had {had}: the sums split differently, so it "
            f"will not retrace an uninterrupted run bit for bit (resume without --threads to keep its count)")
