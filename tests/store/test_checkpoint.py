"""The checkpoint container: exact round trips, atomic saves, no code run on load, damage detected."""

from __future__ import annotations

import errno
import io
import json
import math
import os
import pickle
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import charlm
from charlm.store import checkpoint
from charlm.store.checkpoint import FORMAT_VERSION, load_checkpoint, remove_stale_temporaries, save_checkpoint
from charlm.errors import CharlmError, CheckpointError
from tests.helpers.forged import npy_claiming, rewrite_member

HEADER = {"format": "charlm-checkpoint", "format_version": FORMAT_VERSION, "charlm_version": charlm.__version__}


def sample_arrays(scale: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "param/rnn.weight_ih_l0": rng.standard_normal((4 * scale, 3)).astype(np.float32),
        "param/rnn.bias_ih_l0": np.asfortranarray(rng.standard_normal((3, 2 * scale))),  # float64, F order
        "optim/m": rng.standard_normal(5 * scale).astype(">f4"),  # non-native byte order
        "state/0/0": np.zeros((0, 3), np.float32),  # empty
        "cursor": np.array(7, np.int64),  # 0-d
        "mask": np.array([True, False]),
    }


def sample_meta() -> dict:
    return {
        "kind": "charlm-language-model",
        "vocab": {"level": "char", "tokens": ["\n", " ", "é", "€", "😀", '"', "\\"]},
        "progress": {"step": 12, "best_val_loss": None, "lr": 0.002, "elapsed_s": 1e-300},
        "rng": {"bit_generator": "PCG64", "state": {"state": 2**127 + 12345, "inc": 3**70}},
        "validations": [{"step": 10, "perplexity": float("inf"), "ok": False}],
        "empty": {"list": [], "dict": {}, "text": ""},
    }


def assert_same_arrays(got: dict, expected: dict) -> None:
    """Bit for bit: same names in the same order, dtypes (byte order included), shapes and bytes."""
    assert list(got) == list(expected)
    for name, array in expected.items():
        assert got[name].dtype == array.dtype, name
        assert got[name].shape == array.shape, name
        assert got[name].tobytes() == array.tobytes(), name


def without_header(meta: dict) -> dict:
    return {k: v for k, v in meta.items() if k not in HEADER}


def temporaries(folder: Path) -> list[Path]:
    return sorted(folder.glob(".*.tmp-*"))


@pytest.fixture
def saved(tmp_path) -> Path:
    """A small real checkpoint."""
    path = tmp_path / "last.npz"
    save_checkpoint(path, sample_arrays(), sample_meta())
    return path


# ---------------------------------------------------------------------------------------- format
def test_round_trip_is_exact(saved):
    arrays, meta = load_checkpoint(saved)
    assert_same_arrays(arrays, sample_arrays())
    assert without_header(meta) == sample_meta()
    assert {k: meta[k] for k in HEADER} == HEADER
    assert all(a.flags.writeable for a in arrays.values())


@pytest.mark.parametrize("arrays", [
    {},
    {"file": np.ones(2), "allow_pickle": np.zeros(1), "args": np.arange(3)},  # np.savez keywords
    {"naïve/∂w": np.ones(2), "x.npy": np.arange(2)},
], ids=["none", "savez-keywords", "odd-names"])
def test_round_trip_with_unusual_names(tmp_path, arrays):
    save_checkpoint(tmp_path / "c.npz", arrays, {})
    got, meta = load_checkpoint(tmp_path / "c.npz")
    assert_same_arrays(got, arrays)
    assert meta == HEADER


def test_nan_in_metadata_survives(tmp_path):
    save_checkpoint(tmp_path / "c.npz", {}, {"loss": float("nan"), "best": -float("inf")})
    _, meta = load_checkpoint(tmp_path / "c.npz")
    assert np.isnan(meta["loss"]) and meta["best"] == -float("inf")


def test_file_is_a_plain_uncompressed_npz_that_numpy_reads(saved):
    with zipfile.ZipFile(saved) as zf:
        assert all(info.compress_type == zipfile.ZIP_STORED for info in zf.infolist())
    with np.load(saved, allow_pickle=False) as npz:
        assert npz.files == ["__meta__", *sample_arrays()]
        assert_same_arrays({name: npz[name] for name in sample_arrays()}, sample_arrays())
        raw = npz["__meta__"]
    assert raw.dtype == np.uint8 and raw.ndim == 1
    meta = json.loads(raw.tobytes().decode("utf-8"))
    assert {k: meta[k] for k in HEADER} == HEADER
    assert meta["arrays"] == list(sample_arrays())


class Unserialisable:
    pass


@pytest.mark.parametrize("meta", [
    {"shape": (3, 4)},  # would come back as a list
    {"ids": {1, 2}},
    {"lr": np.float32(0.1)},
    {"step": np.int64(3)},
    {"blob": b"bytes"},
    {"table": {1: "one"}},  # the key would come back as "1"
    {"deep": [{"ok": 1}, {"bad": Unserialisable()}]},
    {"format": "mine"},  # reserved
    {"arrays": []},  # reserved
    ["not", "a", "dict"],
], ids=repr)
def test_metadata_that_json_would_not_give_back_exactly_is_refused(tmp_path, meta):
    path = tmp_path / "c.npz"
    with pytest.raises((TypeError, ValueError)):
        save_checkpoint(path, {"w": np.ones(2)}, meta)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("arrays", [
    {"__meta__": np.ones(2)},
    {"w": np.array([object()], dtype=object)},
    {"w": [1.0, 2.0]},
    {"": np.ones(2)},
    {"a\0b": np.ones(2)},
    {3: np.ones(2)},
], ids=["reserved-name", "object-array", "list", "empty-name", "nul-in-name", "int-name"])
def test_bad_arrays_are_refused_before_touching_the_disk(saved, arrays):
    before = saved.read_bytes()
    with pytest.raises((TypeError, ValueError)):
        save_checkpoint(saved, arrays, {})
    assert saved.read_bytes() == before
    assert temporaries(saved.parent) == []


# ------------------------------------------------------------------------------------- atomicity
def test_save_writes_a_temporary_in_the_same_folder_fsyncs_it_then_renames_it(saved, monkeypatch):
    """While the new file is being made durable, the old checkpoint is still whole at its path."""
    real_fsync = os.fsync
    seen = []

    def spy_fsync(fd):
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            seen.append(("folder", info.st_ino))
        else:
            [tmp] = temporaries(saved.parent)  # one temporary, next to the target
            assert tmp.name.startswith(".last.npz.tmp-") and not tmp.name.endswith(".npz")
            assert info.st_ino == tmp.stat().st_ino
            arrays, meta = load_checkpoint(saved)  # a reader still sees the previous checkpoint
            assert meta["progress"]["step"] == 12
            seen.append(("file", info.st_ino))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy_fsync)
    new_meta = {**sample_meta(), "progress": {"step": 13}}
    save_checkpoint(saved, sample_arrays(), new_meta)

    assert [kind for kind, _ in seen] == ["file", "folder"]
    assert seen[0][1] == saved.stat().st_ino  # the fsynced file became the checkpoint (renamed, not copied)
    assert seen[1][1] == saved.parent.stat().st_ino
    assert load_checkpoint(saved)[1]["progress"] == {"step": 13}
    assert sorted(p.name for p in saved.parent.iterdir()) == ["last.npz"]


def test_saved_file_permissions_follow_the_umask(tmp_path):
    mask = os.umask(0o022)
    try:
        save_checkpoint(tmp_path / "c.npz", {}, {})
    finally:
        os.umask(mask)
    assert stat.S_IMODE((tmp_path / "c.npz").stat().st_mode) == 0o644


def _fill_then_fail(code):
    def write_array(fp, array, **kwargs):
        fp.write(b"\0" * 1000)
        raise OSError(code, os.strerror(code))
    return write_array


def _fail(code):
    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code))
    return fail


@pytest.mark.parametrize("target, replacement, reason", [
    ((np.lib.format, "write_array"), _fill_then_fail(errno.ENOSPC), "No space left on device"),
    ((os, "fsync"), _fail(errno.EIO), "Input/output error"),
    ((os, "replace"), _fail(errno.EXDEV), "Invalid cross-device link"),
], ids=["disk-full-while-writing", "fsync-fails", "rename-fails"])
def test_a_failed_save_keeps_the_previous_checkpoint(saved, monkeypatch, target, replacement, reason):
    before = saved.read_bytes()
    monkeypatch.setattr(*target, replacement)
    with pytest.raises(CheckpointError) as info:
        save_checkpoint(saved, {"w": np.ones(1000)}, {"new": True})
    monkeypatch.undo()
    message = str(info.value)
    assert "\n" not in message and str(saved) in message and reason in message
    assert saved.read_bytes() == before
    assert temporaries(saved.parent) == []
    assert without_header(load_checkpoint(saved)[1]) == sample_meta()


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="root ignores folder permissions, so chmod cannot make a folder read-only")
def test_read_only_folder(saved):
    before = saved.read_bytes()
    saved.parent.chmod(0o555)
    try:
        with pytest.raises(CheckpointError) as info:
            save_checkpoint(saved, {"w": np.ones(3)}, {})
    finally:
        saved.parent.chmod(0o755)
    message = str(info.value)
    assert "\n" not in message and str(saved) in message and "Permission denied" in message
    assert saved.read_bytes() == before
    assert temporaries(saved.parent) == []


def test_ctrl_c_during_a_save_removes_the_temporary(saved, monkeypatch):
    before = saved.read_bytes()

    def interrupted(fp, array, **kwargs):
        fp.write(b"\0" * 100)
        raise KeyboardInterrupt

    monkeypatch.setattr(np.lib.format, "write_array", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(saved, {"w": np.ones(3)}, {})
    assert saved.read_bytes() == before
    assert temporaries(saved.parent) == []


CRASH_DURING_SAVE = """
import os, sys
import numpy as np
from charlm.store.checkpoint import save_checkpoint
os.fsync = lambda fd: os._exit(9)  # the process dies with the new file written but not yet renamed
save_checkpoint(sys.argv[1], {"w": np.ones(1000)}, {"new": True})
"""


def test_a_crash_leaves_a_temporary_that_loading_ignores_and_cleanup_removes(saved):
    before = saved.read_bytes()
    folder = saved.parent
    done = subprocess.run([sys.executable, "-c", CRASH_DURING_SAVE, str(saved)], capture_output=True, text=True)
    assert done.returncode == 9, done.stderr
    [leftover] = temporaries(folder)
    assert leftover.stat().st_size > 8000  # the new checkpoint, fully written
    assert saved.read_bytes() == before
    assert without_header(load_checkpoint(saved)[1]) == sample_meta()
    assert sorted(folder.glob("*.npz")) == [saved]  # globs for checkpoints do not see it

    # Names that merely look similar are left alone.
    decoys = [".last.npz.tmp-123", "last.npz.tmp-0123456789abcdef", ".last.npz.tmp-0123456789ABCDEF",
              ".notes", "metrics.jsonl", ".x.tmp-0123456789abcdefg"]
    for name in decoys:
        (folder / name).write_text("keep me")
    assert remove_stale_temporaries(folder) == [leftover]
    assert not leftover.exists()
    assert sorted(p.name for p in folder.iterdir()) == sorted(decoys + ["last.npz"])
    assert remove_stale_temporaries(folder) == []
    assert remove_stale_temporaries(folder / "missing") == []


# ------------------------------------------------------------------------ loading never runs code
class Payload:
    """Unpickling this creates the file MARKER: proof that pickled code ran."""

    marker: Path

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def payload(marker: Path) -> Payload:
    p = Payload()
    p.marker = marker
    return p


def test_the_payload_is_live(tmp_path):
    """Guard for the tests below: unpickling really would create the marker."""
    pickle.loads(pickle.dumps(payload(tmp_path / "ran")))
    assert (tmp_path / "ran").exists()


def _charlm_looking_meta() -> np.ndarray:
    text = json.dumps({**HEADER, "arrays": ["w"]})
    return np.frombuffer(text.encode(), np.uint8)


def _write_pickle(path, evil):
    path.write_bytes(pickle.dumps({"w": evil}))


def _write_torch(path, evil):
    torch = pytest.importorskip("torch", reason="PyTorch not installed: install the 'bench' extra")
    torch.save({"w": torch.zeros(3), "evil": evil}, path)


def _write_npy(path, evil):
    with open(path, "wb") as f:
        np.save(f, np.array([evil], dtype=object), allow_pickle=True)


def _write_npz_object(path, evil):
    np.savez(path, w=np.array([evil], dtype=object))


def _write_charlm_looking_npz_object(path, evil):
    """Valid charlm metadata, but the array is a pickle."""
    np.savez(path, __meta__=_charlm_looking_meta(), w=np.array([evil], dtype=object))


def _write_pickled_meta(path, evil):
    np.savez(path, __meta__=np.array([evil], dtype=object))


def _write_plain_zip(path, evil):
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("data.pkl", pickle.dumps(evil))


FOREIGN = {
    "pickle": (_write_pickle, "is not a charlm checkpoint (it looks like a Python pickle"),
    "torch.save": (_write_torch, "is not a charlm checkpoint"),
    "npy-with-objects": (_write_npy, "is not a charlm checkpoint (it is a single .npy array)"),
    "npz-with-objects": (_write_npz_object, "is not a charlm checkpoint"),
    "charlm-meta-with-object-array": (_write_charlm_looking_npz_object, "is not a charlm checkpoint"),
    "pickled-meta": (_write_pickled_meta, "is not a charlm checkpoint"),
    "zip-holding-a-pickle": (_write_plain_zip, "is not a charlm checkpoint"),
}


@pytest.mark.parametrize("kind", list(FOREIGN))
def test_foreign_files_are_refused_without_running_code(tmp_path, kind):
    write, expected = FOREIGN[kind]
    marker = tmp_path / "ran"
    path = tmp_path / "model.npz"
    write(path, payload(marker))
    assert not marker.exists()
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    assert str(info.value).startswith(f"{path} {expected}"), str(info.value)
    assert not marker.exists()


@pytest.mark.parametrize("content", [
    b"",
    b"first line\nsecond line\n",
    bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8)),
    b"PK",  # too short for a zip signature
], ids=["empty", "text", "random", "two-bytes"])
def test_other_files_are_not_checkpoints(tmp_path, content):
    path = tmp_path / "c.npz"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=r"is not a charlm checkpoint"):
        load_checkpoint(path)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "nothing.npz")
    with pytest.raises(CheckpointError, match="is a folder"):
        load_checkpoint(tmp_path)


# ------------------------------------------------------------------------------------ versioning
def test_a_newer_format_is_refused_naming_both_versions(tmp_path, monkeypatch):
    path = tmp_path / "c.npz"
    monkeypatch.setattr(checkpoint, "FORMAT_VERSION", FORMAT_VERSION + 1)
    save_checkpoint(path, {"w": np.ones(2)}, {})
    monkeypatch.undo()
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    assert str(info.value) == (f"{path} was written by a newer charlm (checkpoint format 2; "
                               "this charlm reads format 1): upgrade charlm")


@pytest.mark.parametrize("meta", [
    {},
    {"format": "something-else", "format_version": 1, "arrays": []},
    {"format": "charlm-checkpoint", "arrays": []},
    {"format": "charlm-checkpoint", "format_version": "1", "arrays": []},
    {"format": "charlm-checkpoint", "format_version": 0, "arrays": []},
    {"format": "charlm-checkpoint", "format_version": True, "arrays": []},
    {"format": "charlm-checkpoint", "format_version": 1.0, "arrays": []},
    {"format": "charlm-checkpoint", "format_version": 1},  # no list of arrays
    ["charlm-checkpoint", 1],
], ids=repr)
def test_a_missing_or_invalid_marker_is_not_a_checkpoint(tmp_path, meta):
    path = tmp_path / "c.npz"
    np.savez(path, __meta__=np.frombuffer(json.dumps(meta).encode(), np.uint8))
    with pytest.raises(CheckpointError, match=r"is not a charlm checkpoint"):
        load_checkpoint(path)


@pytest.mark.parametrize("raw", [
    np.frombuffer(b"{not json", np.uint8),
    np.frombuffer(b"\xff\xfe{}", np.uint8),
    np.frombuffer(json.dumps({**HEADER, "arrays": []}).encode(), np.uint8).astype(np.int16),
], ids=["not-json", "not-utf8", "not-bytes"])
def test_unreadable_metadata_is_not_a_checkpoint(tmp_path, raw):
    path = tmp_path / "c.npz"
    np.savez(path, __meta__=raw)
    with pytest.raises(CheckpointError, match=r"is not a charlm checkpoint"):
        load_checkpoint(path)


def _npy_bytes(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


@pytest.mark.parametrize("members, expected", [
    ({"w.npy": _npy_bytes(np.arange(3.0)) + b"tail"}, "w.npy has bytes after its array data"),
    ({"w.npy": _npy_bytes(np.arange(3.0)), "extra.npy": _npy_bytes(np.ones(1))}, "unexpected ['extra']"),
    ({"w.npy": b"not an npy member"}, "w.npy is not a plain numpy array"),
], ids=["trailing-bytes", "unlisted-member", "not-npy"])
def test_crafted_members_are_refused(tmp_path, members, expected):
    """Intact zips (CRCs right) that this module would never write."""
    path = tmp_path / "c.npz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("__meta__.npy", _npy_bytes(_charlm_looking_meta()))
        for name, content in members.items():
            zf.writestr(name, content)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    assert expected in str(info.value)


def test_the_same_layout_written_by_numpy_loads(tmp_path):
    """The reader needs nothing from this module's writer beyond the documented layout."""
    path = tmp_path / "c.npz"
    np.savez(path, __meta__=_charlm_looking_meta(), w=np.arange(3.0))
    arrays, meta = load_checkpoint(path)
    assert_same_arrays(arrays, {"w": np.arange(3.0)})
    assert meta == HEADER


# ---------------------------------------------------------------------------------------- damage
def _load_or_error(path: Path):
    """The load's outcome; any exception but CheckpointError fails the test with its traceback."""
    try:
        return load_checkpoint(path)
    except CheckpointError as exc:
        assert "\n" not in str(exc) and str(exc).startswith(str(path))
        return exc


def _check_damaged_copy(path: Path, content: bytes, original: tuple) -> bool:
    """Load a damaged copy: a CheckpointError, or exactly the original. True if it was refused."""
    path.write_bytes(content)
    outcome = _load_or_error(path)
    if isinstance(outcome, CheckpointError):
        return True
    arrays, meta = outcome
    assert_same_arrays(arrays, original[0])
    assert meta == original[1]
    return False


def _member_data_ranges(path: Path) -> list[range]:
    """Where each member's bytes (.npy header and data, which the CRC covers) lie in the file."""
    content = path.read_bytes()
    ranges = []
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            local = info.header_offset
            name_len = int.from_bytes(content[local + 26:local + 28], "little")
            extra_len = int.from_bytes(content[local + 28:local + 30], "little")
            start = local + 30 + name_len + extra_len
            ranges.append(range(start, start + info.compress_size))
    return ranges


def test_changing_the_version_inside_the_json_is_caught_by_the_crc(saved):
    content = saved.read_bytes()
    old = b'"format_version": 1'
    assert content.count(old) == 1
    saved.write_bytes(content.replace(old, b'"format_version": 2'))
    with pytest.raises(CheckpointError, match=r"is damaged \(truncated or corrupted\)"):
        load_checkpoint(saved)


def test_changing_a_shape_in_an_npy_header_is_caught_by_the_crc(tmp_path):
    """A reader that stopped where the header says would return a smaller array without noticing
    (zipfile checks the CRC only on reaching a member's end; it reads ahead 4 KiB, so the member
    must be larger than that for the test to mean anything)."""
    path = tmp_path / "c.npz"
    save_checkpoint(path, {"w": np.ones((3000, 3), np.float32)}, {})
    content = path.read_bytes()
    old = b"'shape': (3000, 3)"
    assert content.count(old) == 1
    path.write_bytes(content.replace(old, b"'shape': (3000, 1)"))
    with pytest.raises(CheckpointError, match=r"is damaged \(truncated or corrupted\)"):
        load_checkpoint(path)


def test_compressed_members_are_refused(tmp_path):
    """charlm never compresses; refusing deflated members also rules out zip bombs."""
    path = tmp_path / "c.npz"
    np.savez_compressed(path, __meta__=_charlm_looking_meta(), w=np.arange(3.0))
    with pytest.raises(CheckpointError, match=r"is damaged or was not written by charlm: .* is compressed"):
        load_checkpoint(path)


def test_every_truncation_is_refused(tmp_path):
    path = tmp_path / "c.npz"
    save_checkpoint(path, {"w": np.arange(6, dtype=np.float32).reshape(2, 3)}, {"step": 1})
    content = path.read_bytes()
    damaged = tmp_path / "damaged.npz"
    for size in range(len(content)):
        damaged.write_bytes(content[:size])
        assert isinstance(_load_or_error(damaged), CheckpointError), size


@pytest.mark.slow  # 9.4 s warm on 2 cores (measured with --durations): too slow for the inner loop
def test_every_single_bit_flip_is_refused_or_harmless(tmp_path):
    """Flip each bit of a small checkpoint in turn. Only zip bookkeeping that the reader does not
    use may go unnoticed, and then the result must be exact; a flip in any member's bytes is refused."""
    path = tmp_path / "c.npz"
    arrays = {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.array([1.5])}
    save_checkpoint(path, arrays, {"step": 1, "vocab": ["a", "é"]})
    original = load_checkpoint(path)
    content = path.read_bytes()
    covered = _member_data_ranges(path)
    damaged = tmp_path / "damaged.npz"
    harmless = []
    for bit in range(8 * len(content)):
        flipped = bytearray(content)
        flipped[bit // 8] ^= 1 << (bit % 8)
        if not _check_damaged_copy(damaged, bytes(flipped), original):
            harmless.append(bit // 8)
    assert not any(offset in r for r in covered for offset in harmless)
    assert len(set(harmless)) < len(content) // 4  # most of the file is checked


@pytest.fixture(scope="module")
def realistic(tmp_path_factory):
    """A larger checkpoint for the property tests: (content, (arrays, meta))."""
    path = tmp_path_factory.mktemp("realistic") / "last.npz"
    save_checkpoint(path, sample_arrays(scale=200), sample_meta())  # members over 4 KiB
    return path.read_bytes(), load_checkpoint(path)


PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@PROPERTY
@given(data=st.data())
def test_random_truncations_are_refused(tmp_path, realistic, data):
    content, _ = realistic
    size = data.draw(st.integers(0, len(content) - 1), label="size")
    path = tmp_path / "damaged.npz"
    path.write_bytes(content[:size])
    assert isinstance(_load_or_error(path), CheckpointError)


@PROPERTY
@given(data=st.data())
def test_random_bit_flips_are_refused_or_harmless(tmp_path, realistic, data):
    content, original = realistic
    bits = data.draw(st.lists(st.integers(0, 8 * len(content) - 1), min_size=1, max_size=8, unique=True), label="bits")
    flipped = bytearray(content)
    for bit in bits:
        flipped[bit // 8] ^= 1 << (bit % 8)
    _check_damaged_copy(tmp_path / "damaged.npz", bytes(flipped), original)


def test_every_file_of_a_run_is_replaced_atomically_and_its_interrupted_temporaries_cleared(tmp_path, monkeypatch):
    """The metrics log and JSON summaries go through the same atomic write as checkpoints, so a
    write that dies half-way leaves the old file whole and a temporary the next run removes."""
    import os as os_module

    from charlm.store.runfolder import RunFolder

    run = RunFolder(tmp_path / "run")
    run.create(resume=False, force=False)
    for step in (1, 2, 3):
        run.append_metrics({"step": step, "train_loss": 1.0})
    run.write_json("cv.json", {"folds": 2})
    before = run.metrics.read_bytes()

    def dies(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os_module, "replace", dies)
    with pytest.raises(CharlmError, match="No space left on device"):
        run.truncate_metrics(after_step=1)
    with pytest.raises(CharlmError, match="No space left on device"):
        run.write_json("cv.json", {"folds": 3})
    monkeypatch.undo()
    assert run.metrics.read_bytes() == before
    assert json.loads((run.path / "cv.json").read_text()) == {"folds": 2}
    # The interrupted writes are cleaned up at once; one left by a kill is removed by the next run.
    assert not [p for p in run.path.iterdir() if ".tmp-" in p.name]
    for name in (".metrics.jsonl.tmp-0123456789abcdef", ".cv.json.tmp-fedcba9876543210"):
        (run.path / name).write_text("half")
    run.create(resume=True, force=False)
    run.release()  # the run's lock, .charlm.lock, goes with it
    assert sorted(p.name for p in run.path.iterdir()) == ["cv.json", "metrics.jsonl"]
    run.truncate_metrics(after_step=2)
    assert [r["step"] for r in run.read_metrics()] == [1, 2]


# ------------------------------------------------------------------------------- declared sizes
def _set_central_sizes(path: Path, name: str, size: int) -> None:
    """Make the zip's central directory declare ``size`` bytes for member ``name`` (both sizes)."""
    content = bytearray(path.read_bytes())
    start = 0
    while True:
        entry = content.index(b"PK\x01\x02", start)
        name_len = int.from_bytes(content[entry + 28:entry + 30], "little")
        if content[entry + 46:entry + 46 + name_len].decode() == name:
            break
        start = entry + 4
    content[entry + 20:entry + 24] = size.to_bytes(4, "little")
    content[entry + 24:entry + 28] = size.to_bytes(4, "little")
    path.write_bytes(bytes(content))


@pytest.fixture
def stored(tmp_path) -> Path:
    """A checkpoint written the plain way (no zip64 records), whose sizes can be edited."""
    path = tmp_path / "c.npz"
    save_checkpoint(path, {"w": np.arange(14_000, dtype=np.float32), "b": np.ones(3)}, {"step": 1})
    rewrite_member(path, "w.npy", _npy_bytes(np.arange(14_000, dtype=np.float32)))  # 55 KB
    return path


@pytest.mark.parametrize("member, shape, dtype", [
    ("w.npy", (10**12,), np.float32),
    ("w.npy", (10**6, 10**6), np.float64),
    ("w.npy", (2**62, 4), np.float32),  # more bytes than a 64-bit size holds
    ("b.npy", (10**12,), np.float64),
    ("__meta__.npy", (10**12,), np.uint8),
    ("__meta__.npy", (2**40,), np.uint8),
], ids=["weight-4TB", "weight-2d", "weight-overflow", "small-member", "meta-1TB", "meta-2**40"])
def test_a_member_declaring_more_than_the_file_holds_is_refused_before_it_is_allocated(stored, member, shape, dtype):
    with zipfile.ZipFile(stored) as zf:
        data = zf.read(member)
    header_end = len(_npy_bytes(np.zeros(0, np.uint8)))  # v1.0 headers are padded to 64 bytes
    rewrite_member(stored, member, npy_claiming(shape, dtype, data[header_end:]))
    outcome = _load_or_error(stored)  # a MemoryError from numpy fails here, with its traceback
    assert isinstance(outcome, CheckpointError)
    assert f"{member} declares {math.prod(shape):,} values of {np.dtype(dtype)}" in str(outcome)
    assert "but holds" in str(outcome)


def test_a_negative_shape_is_refused(stored):
    with zipfile.ZipFile(stored) as zf:
        data = zf.read("w.npy")
    rewrite_member(stored, "w.npy", npy_claiming((-1, 14_000), np.float32, data[128:]))
    outcome = _load_or_error(stored)
    assert isinstance(outcome, CheckpointError) and "w.npy declares the shape (-1, 14000)" in str(outcome)


@pytest.mark.parametrize("member", ["w.npy", "__meta__.npy"])
def test_a_zip_entry_declaring_more_than_the_file_holds_is_refused(stored, member):
    _set_central_sizes(stored, member, 0xFFFF0000)  # 4 GB in a file of 56 KB
    outcome = _load_or_error(stored)
    assert isinstance(outcome, CheckpointError)
    assert f"{member} declares 4.3 GB in a file of" in str(outcome) or "metadata declares 4.3 GB" in str(outcome)


def test_metadata_over_the_limit_is_refused_on_saving_and_on_loading(tmp_path, monkeypatch):
    path = tmp_path / "c.npz"
    save_checkpoint(path, {}, {"vocab": ["x" * 20] * 100})
    before = path.read_bytes()
    monkeypatch.setattr(checkpoint, "META_LIMIT", 1000)
    with pytest.raises(CheckpointError, match=r"cannot save checkpoint .*c\.npz: its metadata \(2\.\d KB\) is more than the 1\.0 KB charlm reads"):
        save_checkpoint(path, {}, {"vocab": ["x" * 20] * 100})
    assert path.read_bytes() == before
    with pytest.raises(CheckpointError, match=r"is not a charlm checkpoint: its metadata declares 2\.\d KB, more than the 1\.0 KB charlm reads"):
        load_checkpoint(path)


@pytest.mark.parametrize("dtype", [object, [("a", object)]], ids=["object", "struct-with-object"])
def test_an_object_header_is_refused_before_anything_is_unpickled(stored, dtype):
    rewrite_member(stored, "b.npy", npy_claiming((1,), dtype, pickle.dumps([1])))
    outcome = _load_or_error(stored)
    assert isinstance(outcome, CheckpointError) and "b.npy holds Python objects" in str(outcome)
