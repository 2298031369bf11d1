"""store/runfolder.py and folder_lock.py: a folder another process trains in is refused while that
process lives and free the moment it dies (SIGKILL included); only a checkpoint charlm wrote
makes a run, and other files of a run's names are named, not taken for one; a run that fails before
its first checkpoint takes back the folders it made, and only those."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from charlm.errors import ConfigError
from charlm.store.checkpoint import save_checkpoint
from charlm.store.folder_lock import LOCK_NAME
from charlm.store.runfolder import RunFolder, discarded_on_failure

if sys.platform == "win32":  # pragma: no cover
    pytest.skip("flock and POSIX signals", allow_module_level=True)

# Another process that locks the run folder as a training run does, says so, and waits.
HOLDER = """
import sys, time
from charlm.store.runfolder import RunFolder
RunFolder(sys.argv[1]).create(resume=False, force=False)
print("holding", flush=True)
time.sleep(600)
"""


def hold(folder: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])})
    assert proc.stdout.readline() == "holding\n"
    return proc


def end(proc: subprocess.Popen, how=signal.SIGKILL) -> None:
    proc.send_signal(how)
    proc.wait()


def test_a_folder_is_refused_while_another_process_trains_in_it_and_free_once_it_is_killed(tmp_path):
    folder = tmp_path / "run"
    holder = hold(folder)
    try:
        for resume, force in ((True, False), (False, True), (False, False)):
            with pytest.raises(ConfigError, match=f"in use: another charlm process {holder.pid} is training there"):
                RunFolder(folder).create(resume=resume, force=force)
    finally:
        end(holder)
    run = RunFolder(folder)
    run.create(resume=False, force=False)  # the kernel released the dead process's lock
    run.create(resume=False, force=False)  # a process may claim what it holds
    run.release()
    assert not (folder / LOCK_NAME).exists()


def test_a_released_folder_can_be_taken_by_another_process(tmp_path):
    run = RunFolder(tmp_path / "run")
    run.create(resume=False, force=False)
    run.release()
    holder = hold(run.path)  # would be refused if the lock outlived release()
    end(holder)


def save(path: Path) -> None:
    save_checkpoint(path, {"w": np.ones(3)}, {"kind": "charlm-language-model"})


@pytest.mark.parametrize("files", [["metrics.jsonl"], ["last.npz"], ["best.npz", "metrics.jsonl"]])
def test_files_of_a_runs_names_that_charlm_did_not_write_are_named_not_taken_for_a_run(tmp_path, files):
    run = RunFolder(tmp_path)
    for name in files:
        if name.endswith(".npz"):
            np.savez(tmp_path / name, w=np.ones(3))  # the user's own arrays
        else:
            (tmp_path / name).write_text('{"step": 1, "loss": 2.0}\n')  # the user's own log
    assert not run.holds_a_run()
    with pytest.raises(ConfigError) as refusal:
        run.check(resume=False, force=False)
    message = str(refusal.value)
    assert "already holds a run" not in message
    assert "no checkpoint that charlm wrote" in message and "--force" in message
    assert all(name in message for name in files)
    run.check(resume=False, force=True)


def test_a_checkpoint_charlm_wrote_makes_a_run(tmp_path):
    run = RunFolder(tmp_path)
    save(run.best)
    assert run.holds_a_run()
    with pytest.raises(ConfigError, match="already holds a run; use --resume"):
        run.check(resume=False, force=False)
    with pytest.raises(ConfigError, match="already holds a run; use --force"):
        RunFolder(tmp_path, resumable=False).check(resume=False, force=False)


# ------------------------------------------------- a run that fails before its first checkpoint
def made(tmp_path, *parts) -> RunFolder:
    run = RunFolder(tmp_path.joinpath(*parts))
    run.create(resume=False, force=False)
    return run


def test_the_folders_it_made_go_with_the_metrics_log(tmp_path):
    run = made(tmp_path, "runs", "a", "b")
    run.append_metrics({"step": 1})
    (run.path / ".last.npz.tmp-0123456789abcdef").write_bytes(b"half")  # a write the failure cut short
    run.discard_if_unused()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["last.npz", "best.npz", "cv_summary.json", "notes.txt"])
def test_a_folder_holding_anything_else_stays(tmp_path, name):
    run = made(tmp_path, "run")
    run.append_metrics({"step": 1})
    (run.path / name).write_bytes(b"kept")
    run.discard_if_unused()
    assert (run.path / name).read_bytes() == b"kept" and run.metrics.exists()


def test_a_folder_that_was_there_stays(tmp_path):
    (tmp_path / "runs").mkdir()
    run = made(tmp_path, "runs", "new")
    run.discard_if_unused()
    assert list(tmp_path.iterdir()) == [tmp_path / "runs"] and not run.path.exists()
    mine = RunFolder(tmp_path / "runs")
    mine.create(resume=False, force=True)
    mine.discard_if_unused()
    assert (tmp_path / "runs").is_dir()


def test_discarded_on_failure_acts_only_on_failure(tmp_path):
    kept = made(tmp_path, "kept")
    with discarded_on_failure(kept):
        pass
    assert kept.path.is_dir()
    gone = made(tmp_path, "gone")
    with pytest.raises(KeyboardInterrupt), discarded_on_failure(gone):
        raise KeyboardInterrupt
    assert not gone.path.exists()
