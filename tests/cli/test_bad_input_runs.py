"""Run folders as users collide in them: a second `charlm train` (or `classify train`) in a folder
that a living process trains in is refused in one line, and files of a run's names that charlm did
not write (the user's own metrics.jsonl) are named, never called a run. Nothing on disk changes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.classify_texts import TINY as CLASSIFY_TINY, write_split_folder
from tests.helpers.cli import TINY, refused, run_cli, tree

if sys.platform == "win32":  # pragma: no cover
    pytest.skip("flock", allow_module_level=True)

HOLDER = """
import sys, time
from charlm.store.runfolder import RunFolder
RunFolder(sys.argv[1]).create(resume=True, force=False)
print("holding", flush=True)
time.sleep(600)
"""


@pytest.fixture
def held():
    """holding(folder): another process locks the folder as a training run does, until the test ends."""
    procs = []

    def holding(folder: Path) -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder)], stdout=subprocess.PIPE, text=True,
                                env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])})
        procs.append(proc)
        assert proc.stdout.readline() == "holding\n"
        return proc

    yield holding
    for proc in procs:
        proc.kill()
        proc.wait()


@pytest.mark.slow  # 0.7 s warm on 2 cores (measured with --durations): too slow for the inner loop
def test_a_run_another_process_trains_is_neither_resumed_nor_restarted(trained_run, tmp_path, held):
    _, corpus, trained, _ = trained_run
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    holder = held(run)
    before = tree(run)
    for extra in (["--resume"], ["--force"]):
        result = run_cli(None, "train", corpus, "--out", run, *TINY, "--max-steps", 2, *extra)
        refused(result, f"{run} is in use", f"charlm process {holder.pid}", "--out")
        assert tree(run) == before


def test_a_classifier_run_another_process_trains_is_refused(tmp_path, held):
    data = write_split_folder(tmp_path / "data", train=40, dev=10, test=10)
    run = tmp_path / "run"
    run.mkdir()
    held(run)
    before = tree(tmp_path)
    result = run_cli(None, "classify", "train", data, "--out", run, *CLASSIFY_TINY, "--epochs", 1, "--force")
    refused(result, "is in use")
    assert tree(tmp_path) == before


def test_the_users_own_metrics_log_is_named_not_called_a_run(trained_run, tmp_path):
    _, corpus, _, _ = trained_run
    run = tmp_path / "notes"
    run.mkdir()
    (run / "metrics.jsonl").write_text('{"experiment": 3, "score": 0.9}\n')
    before = tree(tmp_path)
    result = run_cli(None, "train", corpus, "--out", run, *TINY, "--max-steps", 2)
    refused(result, "holds metrics.jsonl but no checkpoint that charlm wrote", "--force")
    assert "already holds a run" not in result.err
    data = write_split_folder(tmp_path / "data", train=40, dev=10, test=10)
    before = tree(tmp_path)
    result = run_cli(None, "classify", "train", data, "--out", run, *CLASSIFY_TINY, "--epochs", 1)
    refused(result, "holds metrics.jsonl but no checkpoint that charlm wrote")
    assert tree(tmp_path) == before


# ------------------------------------------------------------------------------ a run inside its corpus
def notes_folder(tmp_path: Path) -> Path:
    from tests.helpers.texts import english_text

    notes = tmp_path / "notes"
    (notes / "sub").mkdir(parents=True)
    text = english_text(24_000)
    (notes / "a.txt").write_text(text[:12_000], encoding="utf-8")
    (notes / "sub" / "b.txt").write_text(text[12_000:], encoding="utf-8")
    return notes


def test_the_default_run_folder_is_never_inside_the_corpus(tmp_path):
    notes = notes_folder(tmp_path)
    before = tree(tmp_path)
    result = run_cli(None, "train", ".", *TINY, "--max-steps", 2, cwd=notes)
    refused(result, "the default run folder runs/notes would be inside the corpus folder .", "--out ../runs/notes")
    assert tree(tmp_path) == before


@pytest.mark.parametrize("skip_bad", [[], ["--skip-bad"]])
def test_a_run_inside_its_corpus_folder_is_not_read_as_text_and_resumes(tmp_path, skip_bad):
    notes = notes_folder(tmp_path)
    common = [".", "--out", "runs/n", *TINY, "--val-frac", 0.1, *skip_bad]
    first = run_cli(None, "train", *common, "--max-steps", 2, cwd=notes)
    assert first.code == 0, first.err
    resumed = run_cli(None, "train", *common, "--max-steps", 4, "--resume", cwd=notes)
    assert resumed.code == 0, resumed.err  # before: "runs/n/best.npz looks binary", or metrics.jsonl as text
    assert "1 folder(s) holding a charlm run left out of the corpus: runs/n" in resumed.err
    assert "--skip-bad" not in resumed.err
    measured = run_cli(None, "eval", "runs/n", ".", "--json", cwd=notes)
    assert measured.code == 0, measured.err
    assert '"files": 2' in measured.out
