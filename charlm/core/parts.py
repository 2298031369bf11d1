"""Work split over threads: a nogil kernel called once per part, each call on its own thread.

Numba's parallel regions cost 70-95 us to launch with the workqueue layer and ran slower beside
OpenBLAS's own threads on these machines (``kernels/sampling.py``, ``kernels/time_loops.py``);
plain threads calling a kernel that releases the GIL cost a few microseconds each. Part 0 runs
on the calling thread, the others on a pool of helper threads kept for the whole process.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from typing import Callable, TypeVar

import numba
from threadpoolctl import ThreadpoolController

from .threads import available_cores

R = TypeVar("R")
_helpers: ThreadPoolExecutor | None = None
_blas: ThreadpoolController | None = None  # found once: a fresh threadpool_limits costs ~0.3 ms


def thread_parts(limit: int | None = None) -> int:
    """How many parts to split work into: the thread setting (``set_threads``), never more than
    the cores this process may use, nor than ``limit``."""
    parts = min(numba.get_num_threads(), available_cores())
    if limit is not None:
        parts = min(parts, limit)
    return max(1, parts)


def run_parts(work: Callable[[int], R], parts: int) -> list[R]:
    """[work(0), ..., work(parts - 1)], the calls running at once, one per thread."""
    global _helpers
    if parts <= 1:
        return [work(0)]
    if _helpers is None or _helpers._max_workers < parts - 1:
        _helpers = ThreadPoolExecutor(max_workers=max(parts - 1, available_cores()), thread_name_prefix="charlm-part")
    helpers = [_helpers.submit(work, part) for part in range(1, parts)]
    first = work(0)
    return [first] + [helper.result() for helper in helpers]


def part_bounds(count: int, part: int, parts: int) -> tuple[int, int]:
    """The items [first, last) of ``part`` when ``count`` items are cut into ``parts`` runs."""
    return count * part // parts, count * (part + 1) // parts


def blas_per_part(parts: int):
    """A context in which the BLAS behind numpy runs on one thread, when ``parts`` threads
    already share the work (one BLAS thread per part, none left spinning on another's core)."""
    global _blas
    if parts <= 1:
        return nullcontext()
    if _blas is None:
        _blas = ThreadpoolController()
    return _blas.limit(limits=1, user_api="blas")
