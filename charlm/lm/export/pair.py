"""The two files of ``charlm export``, written as a pair: the sequence graph (``OUT.onnx``) and
the step graph (``OUT.step.onnx``) carry one id in their metadata (``charlm.export_id``), and
neither is renamed into place before both are written (``store/atomic.py``), so a kill while
writing leaves the previous pair whole. Only a kill in the instant between the two renames
leaves one new file beside one old one, and :func:`check_pair` tells that pair by its ids."""

from __future__ import annotations

import secrets
from pathlib import Path

from ...errors import DataError
from ...store.atomic import write_all_atomically
from .onnx_graphs import build_onnx_model

EXPORT_ID = "charlm.export_id"


def export_pair(model, vocab, sequence: Path, step: Path) -> str:
    """Write both graphs of ``model``; returns the id they share."""
    shared = secrets.token_hex(8)
    protos = [build_onnx_model(model, vocab, step=is_step, meta={EXPORT_ID: shared}) for is_step in (False, True)]
    try:
        write_all_atomically([(target, lambda handle, data=proto.SerializeToString(): handle.write(data))
                              for target, proto in zip((sequence, step), protos)])
    except OSError as error:
        raise DataError(f"cannot write {error.filename or sequence}: {error.strerror or error} "
                        "(files already there are unchanged)") from None
    return shared


def export_id(path: Path) -> str | None:
    """The id an exported graph carries (None for a file exported before ids existed)."""
    import onnx

    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception as error:  # onnx raises its own DecodeError and OSError subclasses alike
        raise DataError(f"cannot read {path} as an ONNX model: {error}") from None
    return next((p.value for p in proto.metadata_props if p.key == EXPORT_ID), None)


def check_pair(sequence: Path, step: Path) -> str:
    """The id both files share; DataError if they come from two different exports."""
    ids = export_id(sequence), export_id(step)
    if ids[0] != ids[1] or ids[0] is None:
        raise DataError(f"{sequence} and {step} are not one export (ids {ids[0]} and {ids[1]}): "
                        "an export was interrupted between them; export again")
    return ids[0]
