"""Timed rounds that alternate between engines, each in a worker process of its own: the harness
of throughput.py, memn2n_speed.py and sampling.py.

Each worker builds its engine, warms it up (Numba compiles or loads its cache on the first call),
measures how long one unit of work takes (a training step, a character) and reports; the parent
then sizes a round of about ``seconds`` per engine and runs the rounds in turn (charlm, torch,
charlm, torch, ...), so a noisy neighbour on a shared machine slows every engine alike.

A worker function takes (conn, *args), builds its engine and hands over to :func:`serve`.
"""

from __future__ import annotations

import time
from collections.abc import Callable


def spawn(ctx, target, *args):
    """Start ``target(child_conn, *args)`` in a daemon process: (process, parent's end of the pipe)."""
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=target, args=(child, *args), daemon=True)
    proc.start()
    return proc, parent


def serve(conn, work: Callable[[int], object], warm_up: Callable[[], dict | None], calibrate_s: float,
          chunk: int = 1) -> None:
    """The worker's side: ``warm_up()`` (what it returns joins the report), then ``work(chunk)``
    for ``calibrate_s`` to time one unit; then, until told None, ``work(n)`` for each n asked,
    answering the seconds it took."""
    t0 = time.perf_counter()
    extra = warm_up() or {}
    warm = time.perf_counter() - t0
    t0, units = time.perf_counter(), 0
    while time.perf_counter() - t0 < calibrate_s:
        work(chunk)
        units += chunk
    conn.send({"warmup_s": warm, "per_unit_s": (time.perf_counter() - t0) / units, **extra})
    while (units := conn.recv()) is not None:
        t0 = time.perf_counter()
        work(units)
        conn.send(time.perf_counter() - t0)


def steps(step: Callable[[int], object]) -> Callable[[int], None]:
    """``work(n)`` for an engine whose unit is a step: step(0) .. step(n - 1)."""
    def work(n: int) -> None:
        for i in range(n):
            step(i)
    return work


def alternate(ctx, worker, args_by_engine: dict[str, tuple], rounds: int, seconds: float, per_unit: float = 1.0,
              min_units: int = 1) -> dict:
    """Start one worker per engine (one at a time: warm-ups do not overlap either), then
    ``rounds`` rounds of about ``seconds`` each, in turn. Returns {"rates": {engine: [per round:
    units x per_unit / second]}, "info": {engine: its worker's report}, "warmup_s": {engine: seconds}}."""
    workers = {}
    for name, args in args_by_engine.items():
        proc, conn = spawn(ctx, worker, name, *args)
        info = conn.recv()
        workers[name] = (proc, conn, max(min_units, round(seconds / info["per_unit_s"])), info)
    rates = {name: [] for name in workers}
    for _ in range(rounds):
        for name, (_, conn, units, _) in workers.items():
            conn.send(units)
            rates[name].append(units * per_unit / conn.recv())
    for proc, conn, _, _ in workers.values():
        conn.send(None)
        proc.join()
    info = {name: w[3] for name, w in workers.items()}
    return {"rates": rates, "info": info, "warmup_s": {name: report["warmup_s"] for name, report in info.items()}}
