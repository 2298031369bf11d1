"""A run folder's lock: while one charlm process trains in a folder, another that would write
there (a second ``--resume``, a fresh run with the same ``--out``, ``--force``) is refused.

It is an ``flock`` on the hidden file ``.charlm.lock`` in the folder, which the kernel releases
when the process ends, however it ends (SIGKILL too): a killed run never leaves its folder
locked (the file it leaves is unlocked, and taken over by the next run). The holder writes its
process id into the file for the message, and removes the file when it is done (a claimer that
locked a file just removed notices and opens the new one). A process may claim a folder it
already holds (a library caller that trains twice in one folder); :func:`release` gives it up.
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path

from ..errors import ConfigError

try:
    import fcntl
except ImportError:  # pragma: no cover (not POSIX): folders are not locked
    fcntl = None

LOCK_NAME = ".charlm.lock"
_held: dict[tuple[int, int], int] = {}  # (device, inode) of a lock file -> the descriptor holding it


def claim(folder: Path) -> None:
    """Lock ``folder`` (which exists) for this process, or raise ConfigError naming the process
    that holds it. On a file system without locks it goes on unlocked."""
    if fcntl is None:
        return
    path = Path(folder) / LOCK_NAME
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError:
            return  # create() reports a folder it cannot write to
        key = _key(fd)
        if key in _held:
            os.close(fd)
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            holder = _holder(fd)
            os.close(fd)
            if error.errno not in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES):
                return  # no locks here
            who = f"charlm process {holder}" if holder else "charlm process"
            raise ConfigError(f"{folder} is in use: another {who} is training there; wait for it to end, "
                              "or choose another --out") from None
        try:
            current = os.stat(path)
        except OSError:
            current = None
        if current is not None and (current.st_dev, current.st_ino) == key:
            break
        os.close(fd)  # its holder removed it as we locked it: lock the file there now
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    _held[key] = fd


def release(folder: Path) -> None:
    """Give up this process's lock on ``folder`` and remove the file (nothing if it holds none)."""
    path = Path(folder) / LOCK_NAME
    try:
        st = os.stat(path)
    except OSError:
        return
    fd = _held.pop((st.st_dev, st.st_ino), None)
    if fd is not None:
        with contextlib.suppress(OSError):
            path.unlink()  # while still locked: whoever opened it meanwhile sees it gone
        os.close(fd)  # closing the last descriptor releases the flock


def _key(fd: int) -> tuple[int, int]:
    st = os.fstat(fd)
    return st.st_dev, st.st_ino


def _holder(fd: int) -> str:
    with contextlib.suppress(OSError, ValueError):
        return str(int(os.pread(fd, 32, 0).decode().strip()))
    return ""
