"""Checkpoint files: a safe, atomic container for named arrays plus JSON metadata.

What goes in is the caller's business (``lm/models/saved.py`` decides for language models, ``supervised/saved_model.py`` for classifiers). This module
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
- **A size is believed only when the file holds it.** The zip entry's size is compared with the
  file's before the member is read, the ``.npy`` header's shape and dtype with the member's bytes
  before numpy allocates the array, and the metadata has a size limit (``META_LIMIT``), so a forged
  header asking for terabytes is refused rather than attempted.

Layout of the metadata JSON (format 1)::

    {"format": "charlm-checkpoint", "format_version": 1, "charlm_version": "0.1.0",
     "arrays": ["param/embedding.weight", ...],   # every member but __meta__, in file order
     ...the caller's keys...}
"""

from __future__ import annotations

import io
import json
import math
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

# The metadata is a few KB to a few MB (a large word vocabulary); JSON this size would take
# gigabytes of Python objects to parse, so more is refused, on saving as on loading.
META_LIMIT = 128 * 2**20
# Where a member's .npy header must end (numpy's own limit on reading one).
_NPY_HEADER_LIMIT = 10_000

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
    if meta_bytes.size > META_LIMIT:
        raise CheckpointError(f"cannot save checkpoint {path}: its metadata ({_size(meta_bytes.size)}) is more than the "
                              f"{_size(META_LIMIT)} charlm reads (the previous one, if any, is unchanged)")

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
                return _read_contents(path, zf, os.fstat(f.fileno()).st_size)
        except _DAMAGE as exc:
            raise CheckpointError(f"{path} is damaged (truncated or corrupted): {str(exc) or 'the data ends early'}") from None


def is_checkpoint(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a file charlm wrote as a checkpoint (its metadata says so). Reads only
    the metadata, not the arrays: a quick look, not a validation."""
    try:
        with zipfile.ZipFile(path) as zf:
            info = zf.getinfo(META_NAME + ".npy")
            if info.file_size > META_LIMIT:
                return False
            _decode_meta(Path(path), _read_member(Path(path), zf, info, os.path.getsize(path)))
        return True
    except (CheckpointError, *_DAMAGE):
        return False


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
def _read_contents(path: Path, zf: zipfile.ZipFile, file_size: int) -> tuple[dict[str, np.ndarray], dict]:
    members = {info.filename: info for info in zf.infolist()}
    meta_info = members.pop(META_NAME + ".npy", None)
    if meta_info is None:
        raise CheckpointError(f"{path} is not a charlm checkpoint (a zip file without charlm metadata)")
    if meta_info.file_size > META_LIMIT:
        raise CheckpointError(f"{path} is not a charlm checkpoint: its metadata declares {_size(meta_info.file_size)}, "
                              f"more than the {_size(META_LIMIT)} charlm reads")
    meta = _decode_meta(path, _read_member(path, zf, meta_info, file_size))
    names = meta.pop("arrays")
    arrays = {}
    for info in members.values():
        array = _read_member(path, zf, info, file_size)
        arrays[info.filename.removesuffix(".npy")] = array
    # The list in the (CRC-checked) metadata notices a member that a damaged zip directory lost.
    if sorted(arrays) != sorted(names) or len(members) != len(names):
        missing = sorted(set(names) - set(arrays))
        extra = sorted(set(arrays) - set(names))
        raise CheckpointError(f"{path} is damaged (truncated or corrupted): arrays missing {missing}, unexpected {extra}")
    return {name: arrays[name] for name in names}, meta


def _read_member(path: Path, zf: zipfile.ZipFile, info: zipfile.ZipInfo, file_size: int) -> np.ndarray:
    if info.compress_type != zipfile.ZIP_STORED:
        raise CheckpointError(f"{path} is damaged or was not written by charlm: {info.filename} is compressed")
    # A size the zip entry declares is believed only when the file holds it (reading asks for it).
    if info.file_size != info.compress_size or info.compress_size > file_size:
        raise CheckpointError(f"{path} is damaged (truncated or corrupted): {info.filename} declares "
                              f"{_size(info.file_size)} in a file of {_size(file_size)}")
    # Reading the whole member makes zipfile check its CRC-32 (it does so on reaching the end);
    # read_array alone stops where the .npy header says, so a damaged header could go unnoticed.
    data = zf.read(info)
    # The bytes are now exactly what was written, so anything odd below means a foreign file.
    buffer = io.BytesIO(data)
    _check_npy_header(path, info.filename, buffer, len(data))
    try:
        array = np.lib.format.read_array(buffer, allow_pickle=False)
    except (ValueError, TypeError) as exc:
        raise CheckpointError(f"{path} is not a charlm checkpoint: {info.filename} is not a plain numpy array ({exc})") from None
    return array


def _check_npy_header(path: Path, name: str, buffer: io.BytesIO, held: int) -> None:
    """Refuse a .npy member whose header declares other than the bytes it holds, before numpy
    allocates what the header asks for (a shape of 10**12 in a 55 KB file). ``buffer`` is left where
    it was."""
    try:
        version = np.lib.format.read_magic(buffer)
        read_header = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}[version]
        shape, _, dtype = read_header(buffer, max_header_size=_NPY_HEADER_LIMIT)
    except (ValueError, TypeError, KeyError, SyntaxError, EOFError) as exc:
        raise CheckpointError(f"{path} is not a charlm checkpoint: {name} is not a plain numpy array ({exc})") from None
    if dtype.hasobject:
        raise CheckpointError(f"{path} is not a charlm checkpoint: {name} holds Python objects ({dtype}), "
                              "which charlm never loads")
    declared = buffer.tell() + math.prod(shape) * dtype.itemsize
    buffer.seek(0)
    if 0 <= declared < held:
        raise CheckpointError(f"{path} is not a charlm checkpoint: {name} has bytes after its array data")
    if declared != held:
        shown = f"{math.prod(shape):,} values of {dtype}" if min(shape, default=0) >= 0 else f"the shape {shape}"
        raise CheckpointError(f"{path} is not a charlm checkpoint: {name} declares {shown} "
                              f"({_size(max(declared, 0))}) but holds {_size(held)}")


def _size(n: int) -> str:
    """A byte count in words: "55.2 KB", "8.0 TB"."""
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:,} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1000


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


def check_array(path: Path, name: str, array: np.ndarray | None, like: np.ndarray, what: str,
                bounds: tuple | None = None) -> None:
    """Refuse ``array`` (None: missing) unless it fits ``like``, the model's own array: the same
    shape and a float dtype (every value finite) for a float one, an integer dtype for an integer
    one, with every value in ``bounds`` (lowest, highest) when given. ``what`` says what it is."""
    if array is None:
        raise CheckpointError(f"{path} is incomplete: {what} {name} is missing")
    floats = like.dtype.kind == "f"
    if array.shape != like.shape or array.dtype.kind not in (("f",) if floats else ("i", "u")):
        raise CheckpointError(f"{path} is inconsistent: {what} {name} is {array.dtype} of shape {array.shape}; the "
                              f"model needs {'floats' if floats else 'integers'} of shape {like.shape}")
    if floats and not np.isfinite(array).all():
        raise CheckpointError(f"{path} holds non-finite values in {name}: the model it saved had diverged")
    if bounds is not None and array.size and not (bounds[0] <= array.min() and array.max() <= bounds[1]):
        raise CheckpointError(f"{path} is inconsistent: {what} {name} holds values outside {bounds[0]}..{bounds[1]}")


def fill_parameters(path: Path, model, arrays: dict) -> None:
    """Copy the checkpoint's ``param/<name>`` arrays into a freshly built model (a language model
    or a classifier), refusing missing, misshapen or non-finite ones."""
    for name, target in model.params.items():
        check_array(path, name, arrays.get(f"param/{name}"), target, "parameter")
        target[...] = arrays[f"param/{name}"]
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
