"""The one way charlm replaces a file: write a hidden temporary beside it, fsync, rename over the
target, fsync the folder. A crash at any moment leaves the old file or the new one, never half of
either. :func:`write_all_atomically` does the same for several files that belong together: none
is renamed before every one is written.

A temporary is named ``.<target>.tmp-<16 hex digits>`` and its writer holds an ``flock`` on it
until the rename, so a temporary that nobody holds was left by a writer that died (the kernel
releases the lock of a killed process). Every write first removes the stale temporaries of its
own target, and :func:`remove_stale_temporaries` those of a whole folder: a killed write's
leftover lasts only until the next write of the same file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import BinaryIO

try:
    import fcntl
except ImportError:  # pragma: no cover (not POSIX): temporaries are not locked, nor removed while unsure
    fcntl = None

# ".last.npz.tmp-0123456789abcdef": hidden, in the target's folder, and not ending in the
# target's suffix, so globs for checkpoints or logs never pick one up.
_TEMP_PATTERN = re.compile(r"\..+\.tmp-[0-9a-f]{16}")
_BUSY = (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES)

Write = Callable[[BinaryIO], None]


def write_atomically(path: str | os.PathLike, write: Write) -> None:
    """Replace ``path`` with what ``write(f)`` writes into a binary file. Raises OSError (from
    opening, writing or renaming) with the previous file at ``path`` as it was."""
    write_all_atomically([(path, write)])


def write_all_atomically(writes: Sequence[tuple[str | os.PathLike, Write]]) -> None:
    """Replace each ``path`` with what its ``write(f)`` writes, renaming none of them before all
    are written and fsynced: a failure or a kill while writing leaves every previous file as it
    was. Only a kill between the renames themselves (microseconds) replaces some and not the
    others; a caller whose files must match marks them (``charlm export`` gives both graphs one
    id)."""
    with contextlib.ExitStack() as held:
        ready = []
        for path, write in writes:
            path = Path(path)
            remove_stale_temporaries(path.parent, path.name)
            temporary, handle = _create_temporary(path)
            held.callback(_discard, temporary, handle)  # closes it, releasing the lock, last
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())  # the data is on disk before the name points at it
            ready.append((temporary, path))
        for temporary, path in ready:
            os.replace(temporary, path)
    for folder in dict.fromkeys(path.parent for _, path in ready):
        _fsync_folder(folder)


def write_text_atomically(path: str | os.PathLike, text: str) -> None:
    write_atomically(path, lambda f: f.write(text.encode("utf-8")))


def remove_stale_temporaries(folder: str | os.PathLike, target: str | None = None) -> list[Path]:
    """Delete the temporary files that writers who died left in ``folder`` (only those of the
    file named ``target``, if given); returns them. Only names this module makes are touched, and
    never one whose writer is still writing (it holds the file's lock)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for candidate in folder.glob(f".{_glob_escape(target)}.tmp-*" if target else ".*.tmp-*"):
        if _TEMP_PATTERN.fullmatch(candidate.name) and candidate.is_file() and not candidate.is_symlink():
            if _remove_if_abandoned(candidate):
                removed.append(candidate)
    return sorted(removed)


def _create_temporary(path: Path) -> tuple[Path, BinaryIO]:
    """A new temporary for ``path``, open for writing and locked."""
    while True:
        temporary = path.with_name(f".{path.name}.tmp-{secrets.token_hex(8)}")
        # O_EXCL: never write into a file someone else owns; 0o666 lets the umask decide (mkstemp's
        # 0o600 would make every file private).
        handle = os.fdopen(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), "wb")
        if fcntl is None:
            return temporary, handle
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno not in _BUSY:
                return temporary, handle  # a file system without locks: write unlocked
            handle.close()  # a cleaner took it for a leftover in the instant before the lock
            continue
        if _names(temporary, handle.fileno()):
            return temporary, handle
        handle.close()  # removed by a cleaner in that instant: take another name


def _remove_if_abandoned(candidate: Path) -> bool:
    if fcntl is None:
        return False
    try:
        fd = os.open(candidate, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False  # its writer is alive (or locks cannot tell): leave it
        if not _names(candidate, fd):
            return False  # renamed into place meanwhile
        with contextlib.suppress(FileNotFoundError):
            candidate.unlink()
            return True
        return False
    finally:
        os.close(fd)


def _names(path: Path, fd: int) -> bool:
    """Whether ``path`` still names the open file ``fd``."""
    try:
        return os.stat(path, follow_symlinks=False).st_ino == os.fstat(fd).st_ino
    except OSError:
        return False


def _discard(temporary: Path, handle: BinaryIO) -> None:
    """After a write: remove the temporary if it was not renamed (a failure), then close it."""
    if not handle.closed and _names(temporary, handle.fileno()):
        with contextlib.suppress(OSError):
            temporary.unlink()
    handle.close()


def _glob_escape(name: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", name)


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable. Best effort: the new file is already in place, and some
    systems cannot open or fsync a folder."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
