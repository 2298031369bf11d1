"""Checkpoints that lie: a valid checkpoint with one member rewritten, for the tests that make sure
a lie is refused by name (tests/store/, tests/lm/models/, tests/cli/)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

from charlm.store.checkpoint import HEADER_KEYS, load_checkpoint, save_checkpoint


def npy_bytes(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def npy_claiming(shape: tuple, dtype, data: bytes) -> bytes:
    """A .npy header declaring ``shape`` and ``dtype``, followed by ``data`` (however long that is)."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
                                                  "fortran_order": False, "shape": shape})
    return buffer.getvalue() + data


def rewrite_member(path: Path, name: str, content: bytes) -> None:
    """Replace one member of a checkpoint by ``content``, keeping the zip intact (CRCs right)."""
    with zipfile.ZipFile(path) as zf:
        members = [(info.filename, zf.read(info)) for info in zf.infolist()]
    with zipfile.ZipFile(path, "w") as zf:
        for filename, data in members:
            zf.writestr(filename, content if filename == name else data)


def claim_shape(path: Path, name: str, shape: tuple) -> None:
    """Make member ``name`` (e.g. "param/encoder.weight", "__meta__") declare ``shape`` in its
    .npy header, keeping its dtype and its bytes."""
    with zipfile.ZipFile(path) as zf:
        data = zf.read(name + ".npy")
    buffer = io.BytesIO(data)
    np.lib.format.read_magic(buffer)
    _, _, dtype = np.lib.format.read_array_header_1_0(buffer)
    rewrite_member(path, name + ".npy", npy_claiming(shape, dtype, data[buffer.tell():]))


def forge(path: Path, out: Path, meta=None, arrays=None) -> Path:
    """Write to ``out`` the checkpoint at ``path`` with its metadata passed through ``meta`` and its
    arrays through ``arrays`` (functions that change the dict in place), as a valid container."""
    saved_arrays, saved_meta = load_checkpoint(path)
    saved_meta = {k: v for k, v in saved_meta.items() if k not in HEADER_KEYS}
    if meta is not None:
        meta(saved_meta)
    if arrays is not None:
        arrays(saved_arrays)
    save_checkpoint(out, saved_arrays, saved_meta)
    return out
