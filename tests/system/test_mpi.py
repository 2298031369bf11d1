"""Data-parallel training over MPI (charlm/distributed.py): 2 ranks on this machine against one
process with the same command line; a dead rank ends the job; errors are one line.

Every launch stays on this machine: MPICH's Hydra with the fork launcher on localhost, shared
memory transport (UCX_TLS=self,sm). Skipped, saying why, where mpi4py or mpiexec is missing
(`pip install -e '.[mpi]'`; .ci/run installs it)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from charlm.lm.models.saved import load_model
from tests.helpers.texts import write_text

# Not imported here: that would start MPI inside the test process itself.
HAVE_MPI4PY = importlib.util.find_spec("mpi4py") is not None


def _mpiexec() -> str | None:
    beside = Path(sys.executable).parent / "mpiexec"  # the mpich wheel puts it beside python
    return str(beside) if beside.exists() else shutil.which("mpiexec")


MPIEXEC = _mpiexec()
needs_mpi = pytest.mark.skipif(not (HAVE_MPI4PY and MPIEXEC),
                               reason="mpi4py or mpiexec missing: pip install -e '.[mpi]'")

# Seven streams: 2 ranks own 3 and 4 of them, so the token-weighted mean is really tested.
MODEL = ["--hidden-size", 24, "--layers", 2, "--seq-len", 16, "--batch-size", 7, "--lr", 0.01,
         "--eval-every", 10, "--threads", 1, "--quiet", "--seed", 3]


def _env() -> dict:
    env = dict(os.environ)
    env.update(UCX_TLS="self,sm", HYDRA_LAUNCHER="fork")
    for name in ("PMI_SIZE", "PMI_RANK", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE"):
        env.pop(name, None)  # a test run under mpiexec itself must not confuse the children
    return env


def charlm_command(*args, ranks: int = 1) -> list[str]:
    args = [str(a) for a in args]
    if ranks == 1:
        return [sys.executable, "-m", "charlm", *args]
    return [MPIEXEC, "-launcher", "fork", "-hosts", "localhost", "-n", str(ranks),
            sys.executable, "-m", "mpi4py", "-m", "charlm", *args]


def run(*args, ranks: int = 1, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(charlm_command(*args, ranks=ranks), capture_output=True, text=True, env=_env(),
                          timeout=timeout)


def losses(run_folder: Path) -> list[tuple]:
    rows = [json.loads(line) for line in (run_folder / "metrics.jsonl").read_text().splitlines()]
    return [(r["step"], r["train_loss"], r["val_loss"]) for r in rows]


def assert_same_training(one: Path, two: Path, stopped_at: int | None = None) -> None:
    a = losses(one)
    # A run stopped at --max-steps validated there: a row the uninterrupted run has not.
    b = [r for r in losses(two) if r[0] != stopped_at]
    assert [r[0] for r in a] == [r[0] for r in b]
    for ra, rb in zip(a, b):
        for x, y in zip(ra[1:], rb[1:]):
            assert (x is None) == (y is None)
            if x is not None:
                assert y == pytest.approx(x, rel=2e-5)
    sa, sb = load_model(one / "last.npz"), load_model(two / "last.npz")
    assert sa.meta["progress"]["step"] == sb.meta["progress"]["step"]
    for name, value in sa.model.params.items():
        np.testing.assert_allclose(sb.model.params[name], value, rtol=1e-4, atol=2e-5, err_msg=name)
    # The carried state of every stream, gathered from both ranks in stream order.
    for name, value in sa.arrays.items():
        if name.startswith(("state/", "optim/")):
            np.testing.assert_allclose(sb.arrays[name], value, rtol=1e-4, atol=2e-5, err_msg=name)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_text(tmp_path_factory.mktemp("mpi"), 40_000)


@needs_mpi
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_two_ranks_train_the_same_model_as_one_process(tmp_path, corpus, cell):
    args = [corpus, *MODEL, "--cell", cell, "--max-steps", 24]
    single = run("train", *args, "--out", tmp_path / "one")
    double = run("train", *args, "--out", tmp_path / "two", ranks=2)
    assert single.returncode == 0, single.stderr
    assert double.returncode == 0, double.stderr
    assert_same_training(tmp_path / "one", tmp_path / "two")
    # Rank 0 alone prints: one summary line, not two.
    assert double.stdout.count("steps (max-steps)") == 1


@needs_mpi
@pytest.mark.parametrize("positions", ["streams", "random"])  # random: each rank trains its rows of one draw
def test_two_ranks_train_the_same_memory_network_as_one_process(tmp_path, corpus, positions):
    args = [corpus, "--model", "memn2n", "--hidden-size", 16, "--memory", 10, "--hops", 2, "--seq-len", 4,
            "--batch-size", 7, "--eval-every", 10, "--threads", 1, "--quiet", "--seed", 3, "--max-steps", 24,
            "--positions", positions]
    single = run("train", *args, "--out", tmp_path / "one")
    double = run("train", *args, "--out", tmp_path / "two", ranks=2)
    assert single.returncode == 0, single.stderr
    assert double.returncode == 0, double.stderr
    assert_same_training(tmp_path / "one", tmp_path / "two")  # the memories carried included


@needs_mpi
def test_a_two_rank_run_resumes_with_every_streams_state(tmp_path, corpus):
    args = [corpus, *MODEL]
    whole = run("train", *args, "--max-steps", 24, "--out", tmp_path / "one")
    first = run("train", *args, "--max-steps", 12, "--out", tmp_path / "two", ranks=2)
    second = run("train", *args, "--max-steps", 24, "--out", tmp_path / "two", "--resume", ranks=2)
    for result in (whole, first, second):
        assert result.returncode == 0, result.stderr
    assert_same_training(tmp_path / "one", tmp_path / "two", stopped_at=12)
    # A 2-rank checkpoint is a whole one: a single process continues it too.
    third = run("train", *args, "--max-steps", 30, "--out", tmp_path / "two", "--resume")
    assert third.returncode == 0, third.stderr
    assert load_model(tmp_path / "two" / "last.npz").meta["progress"]["step"] == 30


def _rank_pids(marker: str) -> dict[int, int]:
    """{rank: pid} of the training processes whose command line holds ``marker``."""
    found = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            environ = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if marker.encode() not in cmdline or b"mpi4py" not in cmdline:
            continue
        for entry in environ:
            if entry.startswith(b"PMI_RANK="):
                found[int(entry[len(b"PMI_RANK="):])] = int(proc.name)
    return found


@needs_mpi
@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="finds the ranks through /proc (Linux)")
def test_killing_one_rank_ends_the_job_quickly_and_the_checkpoint_stays_loadable(tmp_path, corpus):
    out = tmp_path / "killed"
    proc = subprocess.Popen(charlm_command("train", corpus, *MODEL, "--max-steps", 10**9, "--epochs", 10**9,
                                           "--out", out, ranks=2),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env())
    try:
        deadline = time.monotonic() + 60
        while not (out / "last.npz").exists() or len(_rank_pids(str(out))) < 2:
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "the 2-rank job never saved a checkpoint"
            time.sleep(0.05)
        os.kill(_rank_pids(str(out))[1], signal.SIGKILL)
        killed_at = time.monotonic()
        proc.wait(timeout=30)
        took = time.monotonic() - killed_at
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode != 0
    assert took < 10, f"the job took {took:.1f} s to end after a rank died"
    assert _rank_pids(str(out)) == {}, "a rank outlived the job"
    assert load_model(out / "last.npz").meta["progress"]["step"] > 0


@needs_mpi
def test_an_error_on_every_rank_is_one_line_and_a_non_zero_exit(tmp_path, corpus):
    started = time.monotonic()
    result = run("train", corpus, *MODEL, "--batch-size", 1, "--out", tmp_path / "r", ranks=2)
    assert result.returncode != 0
    assert result.stderr.count("--batch-size 1 is smaller than the 2 processes") == 1, result.stderr
    assert "Traceback" not in result.stderr
    # Every rank failed alike, so they ended together, not by an MPI abort (which can cut off the
    # launcher's forwarding of rank 0's message: CI once saw exit 2 and an empty stderr).
    assert "Abort" not in result.stderr, result.stderr
    assert time.monotonic() - started < 60
    assert not (tmp_path / "r").exists()


def test_plain_training_never_imports_mpi(tmp_path, corpus):
    code = (
        "import sys\n"
        "from charlm import cli\n"
        f"sys.argv = ['charlm', 'train', {str(corpus)!r}, '--out', {str(tmp_path / 'r')!r}, '--max-steps', '2',"
        " '--hidden-size', '8', '--layers', '1', '--seq-len', '8', '--batch-size', '4', '--quiet']\n"
        "try:\n    cli.main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "print('mpi4py' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(), timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "False"


def test_under_a_launcher_without_mpi4py_the_error_says_what_to_install(tmp_path, corpus):
    # sys.modules["mpi4py"] = None makes `import mpi4py` fail, as on a machine without it.
    code = (
        "import sys\n"
        "sys.modules['mpi4py'] = None\n"
        "from charlm import cli\n"
        f"sys.argv = ['charlm', 'train', {str(corpus)!r}, '--out', {str(tmp_path / 'r')!r}, '--quiet']\n"
        "cli.main()\n"
    )
    env = _env()
    env["PMI_SIZE"] = "2"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 2
    assert "mpi4py is not installed: pip install 'charlm[mpi]'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "r").exists()


AGREEMENT_PROBE = """
import json, sys
from pathlib import Path
from charlm.lm.measure import evaluate as evaluation
from charlm.lm.train import trainer as training
from charlm.lm.train.distributed import current_group

group = current_group()
OUT = Path(sys.argv[1])
real, calls = evaluation.evaluate, []

def skewed(model, tokens, *args, **kwargs):
    # Rank 1's figures drift upward with every validation (as if its arithmetic differed): on its
    # own it would never see an improvement while rank 0 does.
    result = real(model, tokens, *args, **kwargs)
    calls.append(1)
    if group.rank == 1:
        result = evaluation.Evaluation(result.tokens, result.loss_sum * (1 + 0.05 * len(calls)))
    return result

training.evaluate = skewed
fit = training.Trainer.fit

def recorded(self):
    summary = fit(self)
    p = self.progress
    (OUT / f"rank{group.rank}.json").write_text(json.dumps(
        {"lr": p.lr, "best": p.best_val_loss, "best_step": p.best_step, "validations": self.validations}))
    return summary

training.Trainer.fit = recorded
from charlm.cli import main
sys.argv = ["charlm", "train", sys.argv[2], "--out", sys.argv[1], *sys.argv[3:]]
main()
"""


@needs_mpi
def test_ranks_whose_own_validation_figures_differ_still_take_the_same_decisions(tmp_path, corpus):
    """Validation is one figure for all ranks (each scores a share of the streams, one allreduce):
    decisions (best.npz, the plateau rule) cannot split the ranks, whose collective save would
    otherwise wait forever."""
    probe = tmp_path / "probe.py"
    probe.write_text(AGREEMENT_PROBE)
    out = tmp_path / "run"
    command = [MPIEXEC, "-launcher", "fork", "-hosts", "localhost", "-n", "2", sys.executable, "-m", "mpi4py",
               str(probe), str(out), str(corpus), *map(str, MODEL), "--eval-every", "3", "--max-steps", "15"]
    result = subprocess.run(command, capture_output=True, text=True, env=_env(), timeout=180)
    assert result.returncode == 0, result.stderr
    ranks = [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0] == ranks[1]
    assert len(ranks[0]["validations"]) >= 5
    assert load_model(out / "best.npz").meta["progress"]["step"] == ranks[0]["best_step"]
