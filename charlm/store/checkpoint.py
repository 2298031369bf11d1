"""Checkpoint files: a safe, atomic container for named arrays plus JSON metadata.

What goes in is the caller's business (``lm/models/saved.py`` decides for language models, ``classify/saved_model.py`` for classifiers). This module
guarantees three things:

- **Data, not code.** A checkpoint is an uncompressed ``.npz`` (a zip of ``.npy`` members) whose
  ``__meta__`` member holds the metadata as UTF-8 JSON bytes. Nothing is ever unpickled: arrays are
  read with ``allow_pickle=False``, so a hostile file can at worst be refused.
- **All or nothing on disk.** A save writes a temporary file in the target's folder, fsyncs it,
  ``os.replace``-s it onto the target and fsyncs the folder. A reader, or a crash at any moment,
  sees either the previous checkpoint or the new one, never half of one.
- **Damage is noticed.** Every member is read to its end, so zipfile checks its CRC-32 before any
  byte is interpreted, and the metadata lists the members, so a lost one is noticed too. A
  truncated or corrupted file is refused with a ``CheckpointError`` rather than loaded wrong.

Layout of the metadata JSON (format 1)::

    {"format": "charlm-checkpoint", "format_version": 1, "charlm_version": "0.1.0",
     "arrays": ["param/embedding.weight", ...],   # every member but __meta__, in file order
     ...the caller's keys...}
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .. import __version__
from ..errors import CheckpointError, UnusableWeights
from .atomic import remove_stale_temporaries, write_atomically  # noqa: F401 (remove_stale_temporaries re-exported)

FORMAT_VERSION = 1
MAGIC = "charlm-checkpoint"
META_NAME = "__meta__"
# Keys this module writes into the metadata; the caller's meta may not use them.
HEADER_KEYS = ("format", "format_version", "charlm_version", "arrays")

_ZIP_SIGNATURE = b"PK\x03\x04"
# What zipfile raises on a damaged zip (RuntimeError: flipped "encrypted"/"unsupported" flags).
# Bytes that pass the CRC check are judged separately, in _read_member.
_DAMAGE = (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError, RuntimeError)


# What a checkpoint's ``kind`` says it holds, so each loader can refuse the other's file by name.
LANGUAGE_MODEL_KIND = "charlm-language-model"
CLASSIFIER_KIND = "charlm-classifier"


def save_checkpoint(path: str | os.PathLike, arrays: dict[str, np.ndarray], meta: dict) -> None:
    """Write ``arrays`` and ``meta`` to ``path`` atomically, replacing what was there.

    Bad arguments (non-JSON metadata, object arrays, reserved names) are programming errors and raise
    TypeError/ValueError before anything touches the disk. A failed write (read-only folder, full
    disk) raises CheckpointError and leaves the previous file at ``path`` as it was.
    """
    path = Path(path)
    _check_arrays(arrays)
    header = {"format": MAGIC, "format_version": FORMAT_VERSION, "charlm_version": __version__,
              "arrays": list(arrays)}
    meta_bytes = _encode_meta(meta, header)

    try:
        write_atomically(path, lambda f: _write_npz(f, arrays, meta_bytes))
    except OSError as exc:
        raise CheckpointError(f"cannot save checkpoint {path}: {_reason(exc)} (the previous one, if any, is unchanged)") from None


def load_checkpoint(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict]:
    """Read a checkpoint: ``(arrays, meta)``. ``meta`` is the caller's metadata plus ``format``,
    ``format_version`` and ``charlm_version``. Every problem with the file is a CheckpointError."""
    path = Path(path)
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        raise CheckpointError(f"no such checkpoint: {path}") from None
    except IsADirectoryError:
        raise CheckpointError(f"{path} is a folder, not a checkpoint file") from None
    except OSError as exc:
        raise CheckpointError(f"cannot read checkpoint {path}: {_reason(exc)}") from None
    with f:
        signature = f.read(len(_ZIP_SIGNATURE))
        if signature != _ZIP_SIGNATURE:
            raise CheckpointError(f"{path} is not a charlm checkpoint ({_guess_kind(signature)})")
        f.seek(0)
        try:
            with zipfile.ZipFile(f) as zf:
                return _read_contents(path, zf)
        except _DAMAGE as exc:
            raise CheckpointError(f"{path} is damaged (truncated or corrupted): {str(exc) or 'the data ends early'}") from None


# ---------------------------------------------------------------------------------------- saving
def _check_arrays(arrays: dict) -> None:
    for name, array in arrays.items():
        if not isinstance(name, str) or not name or "\0" in name:
            raise ValueError(f"checkpoint array names must be non-empty strings without NUL, got {name!r}")
        if name == META_NAME:
            raise ValueError(f"the array name {META_NAME!r} is reserved for the metadata")
        if not isinstance(array, np.ndarray):
            raise TypeError(f"checkpoint array {name!r} must be a numpy array, got {type(array).__name__}")
        if array.dtype.hasobject:
            raise TypeError(f"checkpoint array {name!r} holds Python objects ({array.dtype}); only plain data can be saved")


def _encode_meta(meta: dict, header: dict) -> np.ndarray:
    """The metadata as UTF-8 JSON bytes in a uint8 array, after checking it survives JSON exactly."""
    if not isinstance(meta, dict):
        raise TypeError(f"checkpoint metadata must be a dict, got {type(meta).__name__}")
    clash = sorted(set(meta) & set(HEADER_KEYS))
    if clash:
        raise ValueError(f"checkpoint metadata may not use the reserved keys {clash}")
    _check_json(meta, "meta")
    # NaN and infinities are kept (as Python's json writes them): a diverged loss is worth recording.
    text = json.dumps({**header, **meta}, ensure_ascii=False)
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8)


def _check_json(value, where: str) -> None:
    """Refuse what JSON would not give back as it was (tuples, non-string keys, numpy scalars...)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_json(item, f"{where}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where} has the key {key!r}: JSON object keys must be strings")
            _check_json(item, f"{where}[{key!r}]")
    else:
        raise TypeError(f"{where} is a {type(value).__name__}, which JSON cannot hold exactly "
                        "(use None, bool, int, float, str, list or dict)")


def _write_npz(f, arrays: dict[str, np.ndarray], meta_bytes: np.ndarray) -> None:
    """What np.savez does, minus its keyword-argument names (a key "file" would clash) and its
    willingness to pickle. ZIP_STORED: checkpoints are written often and float data barely compresses."""
    with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, array in [(META_NAME, meta_bytes), *arrays.items()]:
            with zf.open(name + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, array, allow_pickle=False)


# --------------------------------------------------------------------------------------- loading
def _read_contents(path: Path, zf: zipfile.ZipFile) -> tuple[dict[str, np.ndarray], dict]:
    members = {info.filename: info for info in zf.infolist()}
    meta_info = members.pop(META_NAME + ".npy", None)
    if meta_info is None:
        raise CheckpointError(f"{path} is not a charlm checkpoint (a zip file without charlm metadata)")
    meta = _decode_meta(path, _read_member(path, zf, meta_info))
    names = meta.pop("arrays")
    arrays = {}
    for info in members.values():
        array = _read_member(path, zf, info)
        arrays[info.filename.removesuffix(".npy")] = array
    # The list in the (CRC-checked) metadata notices a member that a damaged zip directory lost.
    if sorted(arrays) != sorted(names) or len(members) != len(names):
        missing = sorted(set(names) - set(arrays))
        extra = sorted(set(arrays) - set(names))
        raise CheckpointError(f"{path} is damaged (truncated or corrupted): arrays missing {missing}, unexpected {extra}")
    return {name: arrays[name] for name in names}, meta


def _read_member(path: Path, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> np.ndarray:
    if info.compress_type != zipfile.ZIP_STORED:
        raise CheckpointError(f"{path} is damaged or was not written by charlm: {info.filename} is compressed")
    # Reading the whole member makes zipfile check its CRC-32 (it does so on reaching the end);
    # read_array alone stops where the .npy header says, so a damaged header could go unnoticed.
    data = zf.read(info)
    # The bytes are now exactly what was written, so anything odd below means a foreign file.
    buffer = io.BytesIO(data)
    try:
        array = np.lib.format.read_array(buffer, allow_pickle=False)
    except (ValueError, TypeError) as exc:
        raise CheckpointError(f"{path} is not a charlm checkpoint: {info.filename} is not a plain numpy array ({exc})") from None
    if buffer.tell() != len(data):
        raise CheckpointError(f"{path} is not a charlm checkpoint: {info.filename} has bytes after its array data")
    return array


def _decode_meta(path: Path, raw: np.ndarray) -> dict:
    try:
        if raw.dtype != np.uint8 or raw.ndim != 1:
            raise ValueError(f"metadata is a {raw.dtype} array of shape {raw.shape}, not bytes")
        meta = json.loads(raw.tobytes().decode("utf-8"))
        if not isinstance(meta, dict) or meta.get("format") != MAGIC:
            raise ValueError("no charlm format marker")
        version = meta.get("format_version")
        if type(version) is not int or version < 1:
            raise ValueError(f"invalid format_version {version!r}")
        names = meta.get("arrays")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ValueError("invalid list of arrays")
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise CheckpointError(f"{path} is not a charlm checkpoint ({exc})") from None
    if version > FORMAT_VERSION:
        raise CheckpointError(f"{path} was written by a newer charlm (checkpoint format {version}; "
                              f"this charlm reads format {FORMAT_VERSION}): upgrade charlm")
    return meta


def _guess_kind(signature: bytes) -> str:
    if not signature:
        return "the file is empty"
    if signature.startswith(b"\x80"):
        return "it looks like a Python pickle, which charlm never loads"
    if signature.startswith(b"\x93NUM"):
        return "it is a single .npy array"
    return "not an .npz file"


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def fill_parameters(path: Path, model, arrays: dict) -> None:
    """Copy the checkpoint's ``param/<name>`` arrays into a freshly built model (a language model
    or a classifier), refusing missing, misshapen or non-finite ones."""
    for name, target in model.params.items():
        array = arrays.get(f"param/{name}")
        if array is None:
            raise CheckpointError(f"{path} is incomplete: parameter {name} is missing")
        if array.shape != target.shape or array.dtype.kind != "f":
            raise CheckpointError(f"{path} is inconsistent: {name} has shape {array.shape}, the model needs {target.shape}")
        if not np.isfinite(array).all():
            raise CheckpointError(f"{path} holds non-finite values in {name}: the model it saved had diverged")
        target[...] = array
    model.refresh()


def refuse_non_finite(*values) -> None:
    """UnusableWeights unless every value (a number or an array) is finite: a loss, a probability
    or an activation computed from weights that overflow is no figure, and is never shown."""
    for value in values:
        if not np.isfinite(value).all():
            raise UnusableWeights()


@contextmanager
def computing_with(path):
    """Compute with the weights loaded from ``path``: numpy's overflow warnings are not printed
    (a result that is not finite is refused instead, by refuse_non_finite), and the refusal names
    ``path``."""
    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            yield
    except UnusableWeights as exc:
        if exc.source is None:
            raise UnusableWeights(path) from None
        raise
