"""store/atomic.py: a temporary is removed once its writer is dead, never while it writes, and
several files written together are renamed only once all are written."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from charlm.store.atomic import remove_stale_temporaries, write_all_atomically, write_atomically

if sys.platform == "win32":  # pragma: no cover
    pytest.skip("flock and POSIX signals", allow_module_level=True)


def temporaries(folder: Path) -> list[Path]:
    return sorted(folder.glob(".*.tmp-*"))


# Writes a few bytes of the new file, says so, then waits to be killed in the middle of the write.
KILLED_WHILE_WRITING = """
import sys, time
from charlm.store.atomic import write_atomically

def write(f):
    f.write(b"half of the new")
    f.flush()
    print("writing", flush=True)
    time.sleep(600)

write_atomically(sys.argv[1], write)
"""


def killed_writer(target: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", KILLED_WHILE_WRITING, str(target)], stdout=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])})
    assert proc.stdout.readline() == "writing\n"
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def test_a_write_in_progress_is_never_taken_for_a_leftover(tmp_path):
    target = tmp_path / "model.onnx"
    target.write_bytes(b"old")
    seen = []

    def write(f):
        f.write(b"new")
        [temporary] = temporaries(tmp_path)
        # Another writer of the same file, or a run folder's clean-up, runs meanwhile.
        seen.append(remove_stale_temporaries(tmp_path))
        seen.append(remove_stale_temporaries(tmp_path, "model.onnx"))
        assert temporary.exists()

    write_atomically(target, write)
    assert seen == [[], []]
    assert target.read_bytes() == b"new" and temporaries(tmp_path) == []


def test_a_killed_writer_leaves_the_old_file_and_the_next_write_removes_its_temporary(tmp_path):
    target = tmp_path / "model.onnx"
    target.write_bytes(b"old")
    other = tmp_path / "other.onnx"
    killed_writer(target)
    killed_writer(other)
    assert target.read_bytes() == b"old"
    leftovers = temporaries(tmp_path)
    assert len(leftovers) == 2 and all(p.read_bytes() == b"half of the new" for p in leftovers)

    write_atomically(target, lambda f: f.write(b"new"))  # removes its own target's leftovers only
    assert target.read_bytes() == b"new"
    [left] = temporaries(tmp_path)
    assert left.name.startswith(".other.onnx.tmp-")
    assert remove_stale_temporaries(tmp_path) == [left]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]


def test_files_written_together_are_renamed_only_when_all_are_written(tmp_path):
    first, second = tmp_path / "a.onnx", tmp_path / "a.step.onnx"
    first.write_bytes(b"old a")
    second.write_bytes(b"old step")
    renamed_while_writing = []

    def write_second(f):
        renamed_while_writing.append(first.read_bytes())
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        write_all_atomically([(first, lambda f: f.write(b"new a")), (second, write_second)])
    assert renamed_while_writing == [b"old a"]
    assert (first.read_bytes(), second.read_bytes()) == (b"old a", b"old step")
    assert temporaries(tmp_path) == []

    write_all_atomically([(first, lambda f: f.write(b"new a")), (second, lambda f: f.write(b"new step"))])
    assert (first.read_bytes(), second.read_bytes()) == (b"new a", b"new step")
    assert temporaries(tmp_path) == []


def test_names_with_glob_characters_are_cleaned_only_for_themselves(tmp_path):
    target = tmp_path / "m[1]*.onnx"
    killed_writer(target)
    killed_writer(tmp_path / "m1x.onnx")
    started = time.monotonic()
    write_atomically(target, lambda f: f.write(b"new"))
    assert time.monotonic() - started < 5
    [left] = temporaries(tmp_path)
    assert left.name.startswith(".m1x.onnx.tmp-")
