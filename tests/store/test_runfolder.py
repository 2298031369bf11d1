"""RunFolder.discard_if_unused: a run that fails before its first checkpoint takes back the
folders it made, and only those, and only while they hold nothing but its own metrics log."""

from __future__ import annotations

import pytest

from charlm.store.runfolder import RunFolder, discarded_on_failure


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
