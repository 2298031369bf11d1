"""Standard output and standard error as the commands see them while charlm runs: a write or a
flush that fails (a full disk, a closed descriptor, a reader gone away) becomes
:class:`OutputFailed` naming the stream, whichever code wrote (rich, ``print``, ``sys.stdout``).
``cli/errors.py`` turns it into one line and an exit code; this module only notices."""

from __future__ import annotations

import errno
import os
import sys
from contextlib import contextmanager

from rich.console import Console

STREAM_NAMES = {"stdout": "standard output", "stderr": "standard error"}


class OutputFailed(Exception):
    """A write to standard output or standard error failed. Not a CharlmError: the error boundary
    must not try to report it on the stream that failed."""

    def __init__(self, stream: str, error: OSError):
        super().__init__(f"cannot write to {STREAM_NAMES[stream]}: {error.strerror or error}")
        self.stream, self.error = stream, error

    @property
    def broken_pipe(self) -> bool:
        return self.error.errno == errno.EPIPE


class CommandConsole(Console):
    """rich's Console as the commands print with. rich keeps what it was writing in its buffer
    when the write raises; this one drops it, so that nothing stale comes out with whatever
    prints next in the same process (a library caller, the tests)."""

    def _check_buffer(self) -> None:
        try:
            super()._check_buffer()
        except OutputFailed:
            del self._buffer[:]
            raise


class _Closed:
    """The stand-in for a stream whose descriptor was closed when charlm started (``>&-``): Python
    leaves it None, which rich and ``print`` would write to silently."""

    closed = False
    encoding = "utf-8"

    def write(self, text: str) -> int:
        raise OSError(errno.EBADF, os.strerror(errno.EBADF))

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


class _Guarded:
    """``stream`` with its write and flush failures raised as OutputFailed (every other attribute
    is the stream's own)."""

    def __init__(self, stream, name: str):
        self._stream, self._name = stream, name

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except OSError as exc:
            raise OutputFailed(self._name, exc) from None

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as exc:
            raise OutputFailed(self._name, exc) from None

    def __getattr__(self, name):
        return getattr(self._stream, name)


@contextmanager
def guarded_streams():
    """Guard sys.stdout and sys.stderr for the duration; a stream closed at start gets the
    stand-in, and its descriptor is held by /dev/null so that no file charlm opens takes its
    number (and with it what a library prints)."""
    saved = sys.stdout, sys.stderr
    for name, fd in (("stdout", 1), ("stderr", 2)):
        stream = getattr(sys, name)
        if stream is None:
            _hold_descriptor(fd)
            stream = _Closed()
        setattr(sys, name, _Guarded(stream, name))
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


def flush_streams() -> None:
    """Flush both streams: a failure the buffering kept back surfaces here, not at exit."""
    sys.stdout.flush()
    sys.stderr.flush()


def silence(stream: str) -> None:
    """Point the failed ``stream`` ("stdout" or "stderr", while guarded) at /dev/null, so that what
    is still buffered for it, flushed when the interpreter exits, goes nowhere instead of raising
    again."""
    try:
        fd = getattr(sys, stream).fileno()
    except (AttributeError, OSError, ValueError):
        return  # not a real descriptor (a test's StringIO): nothing flushes it at exit
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, fd)
    os.close(null)


def _hold_descriptor(fd: int) -> None:
    try:
        os.fstat(fd)
        return  # open after all (Python found it unusable for another reason)
    except OSError:
        pass
    null = os.open(os.devnull, os.O_WRONLY)
    if null != fd:
        os.dup2(null, fd)
        os.close(null)
