"""The background compile of the sampling kernels (lm/models/warmup.py): a process that cannot
be started is a note and leaves no lock behind, and a waiting `charlm sample` waits for a live
compile only, never for one that died (the compiler holds the lock file's flock while it lives)."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from charlm.lm.models import warmup


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty kernel cache, background compiles on."""
    monkeypatch.setattr(warmup, "KERNEL_CACHE_DIR", tmp_path / "cache")
    monkeypatch.setenv("CHARLM_BACKGROUND_COMPILE", "1")
    return tmp_path / "cache"


def _not_executable(tmp_path):
    path = tmp_path / "python"
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o644)
    return str(path)


def _process_limit(*args, **kwargs):
    raise BlockingIOError(errno.EAGAIN, os.strerror(errno.EAGAIN))


@pytest.mark.parametrize("how", ["not executable", "removed", "process limit"])
def test_a_compile_that_cannot_start_is_a_note_and_leaves_no_lock(cache, tmp_path, monkeypatch, how):
    if how == "not executable":
        if os.access(_not_executable(tmp_path), os.X_OK):
            pytest.skip("this user may run any file")
        monkeypatch.setattr(sys, "executable", _not_executable(tmp_path))
    elif how == "removed":
        monkeypatch.setattr(sys, "executable", str(tmp_path / "gone" / "python3"))
    else:
        monkeypatch.setattr(subprocess, "Popen", _process_limit)
    said = []
    assert warmup.compile_sampling_in_background("lstm", "float32", say=said.append) is False
    assert len(said) == 1 and said[0].startswith("note:") and "charlm sample compiles them" in said[0], said
    assert not list(cache.glob("*.lock")) and not warmup.compile_running("lstm", "float32")
    started = time.monotonic()
    warmup.wait_for_background_compile("lstm", "float32", say=said.append)
    assert len(said) == 1 and time.monotonic() - started < 1


def _holder(lock, starter: str = "") -> subprocess.Popen:
    """A process holding the lock as a compiler does, until it is killed; ``starter``: the pid
    written in the lock (``self``: its own)."""
    code = ("import fcntl, os, sys, time\nfd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX)\n"
            "os.write(fd, (str(os.getpid()) if sys.argv[2] == 'self' else sys.argv[2]).encode())\n"
            "print('held', flush=True)\ntime.sleep(120)\n")
    holder = subprocess.Popen([sys.executable, "-c", code, str(lock), starter], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


@pytest.mark.slow  # 1.1 s warm on 2 cores (measured with --durations): too slow for the inner loop
def test_sample_waits_for_a_live_compile_and_not_for_one_that_died(cache, monkeypatch):
    lock = warmup._lock_path("gru", "float32")
    cache.mkdir()
    lock.touch()  # left by a compile that was killed (or never began)
    said = []
    started = time.monotonic()
    warmup.wait_for_background_compile("gru", "float32", say=said.append)
    assert said == [] and time.monotonic() - started < 1
    spawned = []
    with monkeypatch.context() as patched:  # no real compile
        patched.setattr(subprocess, "Popen", lambda command, **kwargs: spawned.append(command))
        assert warmup.compile_sampling_in_background("gru", "float32") is True and len(spawned) == 1  # nor blocks one

    holder = _holder(lock)
    try:
        waiting = threading.Thread(target=warmup.wait_for_background_compile, args=("gru", "float32", said.append))
        waiting.start()
        waiting.join(1.0)
        assert waiting.is_alive() and said and said[0].startswith("Waiting"), said
        with monkeypatch.context() as patched:
            patched.setattr(subprocess, "Popen", lambda command, **kwargs: spawned.append(command))
            assert warmup.compile_sampling_in_background("gru", "float32") is False and len(spawned) == 1  # one at once
    finally:
        holder.kill()  # dies without removing the lock file
        holder.wait()
    waiting.join(5.0)
    assert not waiting.is_alive() and lock.exists()


@pytest.mark.slow  # 1.1 s warm on 2 cores (measured with --durations): too slow for the inner loop
def test_sample_does_not_wait_while_the_training_that_started_the_compile_runs(cache):
    """Until that training ends the compile has only the time it leaves idle: a sample taken
    during the training compiles the kernels itself; after it, the sample waits."""
    cache.mkdir()
    lock = warmup._lock_path("gru", "float32")
    training = _holder(lock, "self")  # stands for the training (alive) and its compile
    try:
        said = []
        started = time.monotonic()
        warmup.wait_for_background_compile("gru", "float32", say=said.append)
        assert said == [] and time.monotonic() - started < 1
    finally:
        training.kill()
        training.wait()
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    compiler = _holder(lock, ended.stdout.strip())  # the training has ended; its compile runs on
    try:
        waiting = threading.Thread(target=warmup.wait_for_background_compile, args=("gru", "float32", said.append))
        waiting.start()
        waiting.join(1.0)
        assert waiting.is_alive() and said, said
    finally:
        compiler.kill()
        compiler.wait()
    waiting.join(5.0)
    assert not waiting.is_alive()


def test_a_file_system_without_locks_is_never_waited_on(cache, monkeypatch):
    cache.mkdir()
    warmup._lock_path("gru", "float32").touch()

    def no_locks(fd, operation):
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(warmup.fcntl, "flock", no_locks)
    said = []
    assert warmup.compile_sampling_in_background("gru", "float32", say=said.append) is False
    started = time.monotonic()
    warmup.wait_for_background_compile("gru", "float32", say=said.append)
    assert said == [] and time.monotonic() - started < 1


def test_the_compile_imports_the_charlm_this_process_runs_whatever_the_working_folder(cache, tmp_path, monkeypatch):
    """The README's quick start trains inside a clone: a child started with `-m` there would import
    the clone's sources and cache kernels under their paths, never the ones the installed
    `charlm sample` reads (its first sample then compiled for 24 s)."""
    import charlm

    clone = tmp_path / "clone"
    (clone / "charlm").mkdir(parents=True)
    (clone / "charlm" / "__init__.py").write_text("raise SystemExit('imported the clone')\n")
    monkeypatch.chdir(clone)
    monkeypatch.setenv("CHARLM_CACHE_DIR", "relative-cache")
    spawned = []
    with monkeypatch.context() as patched:  # no real compile
        patched.setattr(subprocess, "Popen", lambda command, **kwargs: spawned.append(kwargs))
        assert warmup.compile_sampling_in_background("gru", "float32") is True
    child = spawned[0]
    assert child["env"]["CHARLM_CACHE_DIR"] == str(clone / "relative-cache")  # the same folder from any cwd
    # Started as `-m` starts it (its working folder first on the path), it imports this process's charlm.
    probe = subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, ''); import charlm; print(charlm.__file__)"],
                           cwd=child.get("cwd"), env=child["env"], capture_output=True, text=True)
    assert probe.returncode == 0, probe.stderr
    assert Path(probe.stdout.strip()).resolve() == Path(charlm.__file__).resolve()
