"""Real training processes killed and interrupted: the promises of a checkpoint that is never
half-written, and of Ctrl-C saving before it exits. These start real `charlm train` processes."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from charlm.store.checkpoint import load_checkpoint
from charlm.store.runfolder import RunFolder
from charlm.lm.models.saved import load_model
from tests.helpers.cli import TINY
from tests.helpers.texts import write_text

if sys.platform == "win32":  # pragma: no cover
    pytest.skip("POSIX signals", allow_module_level=True)

KILLS = 20
LIFETIME = 10**9  # epochs and steps: a training process that cannot finish before it is stopped


def start_training(corpus: Path, run: Path, *extra) -> subprocess.Popen:
    # --eval-every 1 on a tiny validation split: every step validates and saves best.npz and
    # last.npz, so most of the process's life is spent writing checkpoints. The process must never
    # end by itself within a test (every test here stops it with a signal): --epochs and --max-steps
    # are far beyond what any test waits for (the 30,000-character corpus is ~110 steps an epoch).
    command = [sys.executable, "-m", "charlm.cli", "train", str(corpus), "--out", str(run), *map(str, TINY),
               "--eval-every", "1", "--val-frac", "0.02", "--epochs", str(LIFETIME), "--max-steps", str(LIFETIME),
               "--quiet", "--threads", "1", *extra]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_until(done, proc: subprocess.Popen, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if proc.poll() is not None:
            raise AssertionError(f"training ended early: {proc.stderr.read().decode()}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"{what} after {timeout} s")
        time.sleep(0.01)


def wait_for(path: Path, proc: subprocess.Popen, timeout: float = 60) -> None:
    wait_until(path.exists, proc, f"no {path.name}", timeout)


def file_identity(path: Path):
    """What changes when os.replace puts a new file at ``path``."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns


def wait_for_new_save(path: Path, before, proc: subprocess.Popen, timeout: float = 60) -> None:
    wait_until(lambda: file_identity(path) != before, proc, f"no new {path.name}", timeout)


def test_sigkill_at_random_moments_always_leaves_a_loadable_checkpoint(tmp_path):
    corpus = write_text(tmp_path, 30_000)
    run = tmp_path / "run"
    rng = np.random.default_rng(0)
    steps_seen = []
    leftovers_seen = 0
    for kill in range(KILLS):
        before = file_identity(run / "last.npz")
        proc = start_training(corpus, run, *(["--resume"] if kill else []))
        if kill:
            # A resumed process first loads; wait until it has saved once of its own, so every
            # life makes progress however slow a loaded machine makes it.
            wait_for_new_save(run / "last.npz", before, proc)
        else:
            wait_for(run / "last.npz", proc)
        time.sleep(rng.uniform(0.0, 0.4))
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        assert proc.returncode == -signal.SIGKILL
        # Whatever moment it died at, both checkpoints load and are whole.
        snap = load_model(run / "last.npz")
        load_checkpoint(run / "best.npz")
        steps_seen.append(snap.meta["progress"]["step"])
        leftovers_seen += sum(1 for p in run.iterdir() if ".tmp-" in p.name)
    # Resumes continued from the saved step (never from scratch) and the runs made progress.
    assert steps_seen[-1] > steps_seen[0]
    assert steps_seen == sorted(steps_seen)
    # The next run removes the temporaries the kills left and still loads the same checkpoint.
    # It is stopped once it has saved a checkpoint of its own: by then it has cleaned up (it does
    # that before training), whatever a loaded machine does to its start-up time.
    before = file_identity(run / "last.npz")
    proc = start_training(corpus, run, "--resume")
    wait_for_new_save(run / "last.npz", before, proc)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert not [p for p in run.iterdir() if ".tmp-" in p.name]
    load_model(run / "last.npz")
    # The metrics log survives the kills as whole JSON lines.
    assert RunFolder(run).read_metrics()
    print(f"{KILLS} kills survived; temporaries left by kills: {leftovers_seen}")


def test_ctrl_c_saves_a_checkpoint_and_exits_130_and_a_second_exits_at_once(tmp_path):
    corpus = write_text(tmp_path, 30_000)
    run = tmp_path / "run"
    proc = start_training(corpus, run)
    wait_for(run / "last.npz", proc)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err.decode()
    message = err.decode().strip().splitlines()
    assert len(message) == 1 and str(run / "last.npz") in message[0] and "--resume" in message[0]
    saved = load_model(run / "last.npz").meta["progress"]["step"]
    assert saved > 0

    # A second Ctrl-C while the first is being handled: out at once, the last checkpoint untouched
    # (it may be the one saved just before, or the previous one, but always whole). Sent once the
    # resumed process is training (it has saved), so the handlers under test are the ones in place.
    before = file_identity(run / "last.npz")
    proc = start_training(corpus, run, "--resume")
    wait_for_new_save(run / "last.npz", before, proc)
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGINT)
    t0 = time.monotonic()
    proc.communicate(timeout=60)
    assert time.monotonic() - t0 < 10
    assert proc.returncode != 0
    assert load_model(run / "last.npz").meta["progress"]["step"] >= saved


def test_sigterm_saves_and_exits_143(tmp_path):
    corpus = write_text(tmp_path, 30_000)
    run = tmp_path / "run"
    proc = start_training(corpus, run)
    wait_for(run / "last.npz", proc)
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err.decode()
    assert "checkpoint saved" in err.decode()
    load_model(run / "last.npz")


def test_resume_in_a_new_process_continues_bit_for_bit(tmp_path):
    """`charlm train --max-steps 24` in one process equals `--max-steps 10`, then `--resume
    --max-steps 24` in another: every array of the checkpoint (parameters, optimizer moments,
    carried state) and every logged loss, bit for bit (one thread, dropout on, an epoch boundary
    and validations crossed)."""
    from tests.helpers.cli import run_subprocess

    corpus = write_text(tmp_path, 5_000)  # 18 windows of 8 x 32 per epoch
    common = [*TINY, "--dropout", 0.3, "--eval-every", 7, "--threads", 1, "--seed", 3, "--quiet"]
    once, twice = tmp_path / "once", tmp_path / "twice"
    assert run_subprocess("train", corpus, "--out", once, *common, "--max-steps", 24).code == 0
    assert run_subprocess("train", corpus, "--out", twice, *common, "--max-steps", 10).code == 0
    resumed = run_subprocess("train", corpus, "--out", twice, "--resume", "--max-steps", 24, "--quiet")
    assert resumed.code == 0, resumed.err
    a, b = load_model(once / "last.npz"), load_model(twice / "last.npz")
    assert a.meta["progress"]["epoch"] > 1  # the run crossed an epoch boundary
    assert sorted(a.arrays) == sorted(b.arrays)
    for key in a.arrays:
        assert np.array_equal(a.arrays[key], b.arrays[key]), key
    assert a.meta["rng"] == b.meta["rng"]

    def rows(run):
        return [(r["step"], r["train_loss"], r["val_loss"]) for r in RunFolder(run).read_metrics() if "test_loss" not in r]

    # The interrupted run adds one validation where it stopped (step 10); every other row matches.
    assert rows(once) == [row for row in rows(twice) if row[0] != 10 or row[2] is None]
