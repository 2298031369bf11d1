"""The one way charlm replaces a file: write a hidden temporary beside it, fsync, rename over the
target, fsync the folder. A crash at any moment leaves the old file or the new one, never half of
either; the temporaries an interrupted write leaves are removed by :func:`remove_stale_temporaries`."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

# ".last.npz.tmp-0123456789abcdef": hidden, in the target's folder, and not ending in the
# target's suffix, so globs for checkpoints or logs never pick one up.
_TEMP_PATTERN = re.compile(r"\..+\.tmp-[0-9a-f]{16}")


def write_atomically(path: str | os.PathLike, write: Callable[[BinaryIO], None]) -> None:
    """Replace ``path`` with what ``write(f)`` writes into a binary file. Raises OSError (from
    opening, writing or renaming) with the previous file at ``path`` as it was."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.tmp-{secrets.token_hex(8)}")
    # O_EXCL: never write into a file someone else owns; 0o666 lets the umask decide (mkstemp's
    # 0o600 would make every file private).
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())  # the data is on disk before the name points at it
        os.replace(temporary, path)
    finally:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)  # gone already after a successful replace
    _fsync_folder(path.parent)


def write_text_atomically(path: str | os.PathLike, text: str) -> None:
    write_atomically(path, lambda f: f.write(text.encode("utf-8")))


def remove_stale_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Delete the temporary files that interrupted writes left in ``folder``; returns them.

    Only names this module makes are touched. Call it when no write into ``folder`` is under way
    (for example before a run starts): it cannot tell a leftover from a write in progress.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for candidate in folder.glob(".*.tmp-*"):
        if _TEMP_PATTERN.fullmatch(candidate.name) and candidate.is_file() and not candidate.is_symlink():
            with contextlib.suppress(FileNotFoundError):
                candidate.unlink()
                removed.append(candidate)
    return sorted(removed)


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable. Best effort: the new file is already in place, and some
    systems cannot open or fsync a folder."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
