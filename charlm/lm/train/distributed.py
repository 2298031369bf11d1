"""Data-parallel training over MPI: who this process is, and the few collective operations the
training loop needs. Plain ``charlm train`` gets :class:`Single`, which does nothing and imports
nothing; under ``mpiexec -n N python -m mpi4py -m charlm train ...`` every process gets an
:class:`MPIGroup` of N ranks.

The split: ``--batch-size`` stays the global number of parallel streams; rank r owns the
contiguous rows ``shard(N)`` of them (its own slice of every window and its own carried state),
so one command line means the same training with 1 or N processes. After each backward pass::

    grad_buffer = [ grad * M_r | loss_r * M_r | M_r | flags ]   (M_r: rank r's tokens)
    Allreduce(SUM) in place  →  grad = sum / M,  loss = sum / M             (M: all tokens)

one collective on one contiguous array, no pickling. Every rank then clips and updates the same
way, so the parameters stay identical without ever being sent. The flags make the decisions that
depend on one process (a Ctrl-C it received, rank 0's checkpoint timer) collective, so that every
rank takes part in the same saves and stops at the same step.

Cost per step (ring allreduce): each rank sends and receives about 2·(N−1)/N of the gradient's
bytes; see benchmarks/allreduce.py and the README.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

from ...errors import ConfigError

# Slots after the gradient in ParamStore.grad_buffer (params.EXTRA_SLOTS reserves room): the
# loss, the token count, then one per flag (any rank raising a flag raises it for all).
LOSS, TOKENS, FLAGS = 0, 1, 2

# Environment variables MPI launchers set in every process they start (MPICH/Hydra, Open MPI, PMIx, Slurm).
_LAUNCHER_SIZE = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE")


class Single:
    """One process: the whole batch, no communication."""

    rank, size, is_root = 0, 1, True

    def shard(self, batch_size: int) -> slice:
        return slice(0, batch_size)

    def combine(self, store, loss: float, tokens: int, flags: tuple = ()):
        return loss, tokens, tuple(flags)

    def gather(self, value) -> list:
        return [value]

    def sum(self, values: tuple[float, ...]) -> tuple[float, ...]:
        return tuple(values)

    def local_ranks(self) -> int:
        return 1


class MPIGroup:
    """Every rank of ``MPI.COMM_WORLD``."""

    def __init__(self, comm):
        from mpi4py import MPI

        self._MPI = MPI
        self.comm = comm
        self.rank, self.size = comm.Get_rank(), comm.Get_size()
        self.is_root = self.rank == 0
        # A communicator of its own for failing together, so that its barrier can never be
        # matched with a training collective another rank is waiting in.
        self._failing = comm.Dup()

    def shard(self, batch_size: int) -> slice:
        if batch_size < self.size:
            raise ConfigError(
                f"--batch-size {batch_size} is smaller than the {self.size} processes: each needs at least one stream"
            )
        return slice(self.rank * batch_size // self.size, (self.rank + 1) * batch_size // self.size)

    def combine(self, store, loss: float, tokens: int, flags: tuple = ()):
        """Sum gradients, losses and token counts of all ranks in one allreduce; the gradient
        in ``store.grad`` becomes the mean over every token of the global window, and a flag
        is up when it is up on any rank. Returns (mean loss, all tokens, flags)."""
        n = store.grad.size
        buffer, grad = store.grad_buffer, store.grad
        grad *= tokens
        tail = buffer[n:]
        tail[:] = 0
        tail[LOSS], tail[TOKENS] = loss * tokens, tokens
        tail[FLAGS : FLAGS + len(flags)] = [float(f) for f in flags]
        self.comm.Allreduce(self._MPI.IN_PLACE, buffer, op=self._MPI.SUM)
        total = float(tail[TOKENS])
        grad *= 1.0 / total
        raised = tuple(bool(v > 0) for v in tail[FLAGS : FLAGS + len(flags)])
        return float(tail[LOSS]) / total, int(round(total)), raised

    def sum(self, values: tuple[float, ...]) -> tuple[float, ...]:
        """The sums over every rank of a few numbers; every rank gets the same ones."""
        buffer = np.array(values, np.float64)
        self.comm.Allreduce(self._MPI.IN_PLACE, buffer, op=self._MPI.SUM)
        return tuple(float(v) for v in buffer)

    def gather(self, value) -> list | None:
        """Every rank's ``value`` at rank 0 (None elsewhere). For checkpoints only: it pickles."""
        return self.comm.gather(value, root=0)

    def local_ranks(self) -> int:
        """Ranks on this machine (they share its cores)."""
        return self.comm.Split_type(self._MPI.COMM_TYPE_SHARED).Get_size()

    def all_failing(self, patience: float) -> bool:
        """Whether every rank reaches this call (each with an error of its own) within
        ``patience`` seconds. Then they can all exit as one process would, and no output is
        lost: an MPI abort tears the job down while the launcher may still be forwarding
        what the ranks printed."""
        request = self._failing.Ibarrier()
        deadline = time.monotonic() + patience
        while not request.Test():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True

    def exit_together(self, code: int) -> None:
        """End this process with ``code`` once every rank is here (see all_failing): MPI is
        finalised and the process exits, so the launcher forwards all output. A plain sys.exit
        would not do: under ``python -m mpi4py`` a non-zero exit becomes an MPI abort."""
        sys.stdout.flush()
        sys.stderr.flush()
        self._MPI.Finalize()
        os._exit(code)

    def abort(self, code: int) -> None:
        """End every rank of the job now (a rank that returned alone would leave the others waiting)."""
        sys.stdout.flush()
        sys.stderr.flush()
        self.comm.Abort(code)


def launched_ranks() -> int:
    """How many processes an MPI launcher says it started (1 when not under one)."""
    for name in _LAUNCHER_SIZE:
        value = os.environ.get(name)
        if value and value.isdigit():
            return int(value)
    return 1


_active = None  # the group current_group() found, for the CLI's error handling


def active_group():
    """The group of this training process once current_group() ran, else None."""
    return _active


def current_group():
    """The group this process trains in. MPI is used only when a launcher started several
    processes; mpi4py is imported only then (plain ``charlm train`` never touches it)."""
    global _active
    _active = _find_group()
    return _active


def _find_group():
    if launched_ranks() <= 1 and "mpi4py" not in sys.modules:
        return Single()
    try:
        from mpi4py import MPI
    except ImportError:
        raise ConfigError(
            f"started by an MPI launcher with {launched_ranks()} processes, but mpi4py is not installed: "
            "pip install 'charlm[mpi]', or run one process"
        ) from None
    comm = MPI.COMM_WORLD
    return MPIGroup(comm) if comm.Get_size() > 1 else Single()


def default_threads(group, cores: int) -> int:
    """Threads per rank when --threads is not given: this machine's cores shared by its ranks."""
    return max(1, cores // group.local_ranks())


def concat_states(states: list[list[tuple]]) -> list[tuple]:
    """Rank-ordered carried states (each layer a tuple of (N_r, H) arrays) → the whole batch's."""
    layers = len(states[0])
    return [tuple(np.concatenate([s[layer][part] for s in states]) for part in range(len(states[0][layer])))
            for layer in range(layers)]
