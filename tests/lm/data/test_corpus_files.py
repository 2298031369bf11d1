"""A corpus of many files: ``charlm train DIR/`` and ``charlm train a.txt b.txt``. Which files are
read and in what order, whole files held out for validation, empty and bad files, the document
boundaries the trainer is given, and a resume that checks each file."""

from __future__ import annotations

import numpy as np
import pytest

from charlm.errors import DataError
from charlm.lm.config import ModelConfig, TrainConfig
from charlm.lm.data.corpus import fingerprint, load_corpus
from charlm.lm.models.recurrent import RecurrentLanguageModel
from charlm.lm.train.trainer import Trainer
from charlm.store.runfolder import RunFolder
from charlm.text.sources import find_sources, walk
from tests.helpers.cli import TINY, run_cli
from tests.helpers.texts import english_text


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def books(folder, sizes=(3_000, 2_000, 2_500, 1_500), prefix="book"):
    """Files of real English text, each a different slice, named book0.txt, book1.txt, ..."""
    text = english_text(sum(sizes))
    at = 0
    for i, size in enumerate(sizes):
        write(folder / f"{prefix}{i}.txt", text[at:at + size])
        at += size
    return folder


def test_a_folder_is_walked_recursively_in_sorted_order_without_hidden_files(tmp_path):
    for name in ("b.txt", "a/z.txt", "a/b/c.md", ".hidden.txt", ".git/config", "A.txt"):
        write(tmp_path / name, name)
    assert [p.relative_to(tmp_path).as_posix() for p in walk(tmp_path)] == ["A.txt", "a/b/c.md", "a/z.txt", "b.txt"]
    assert [p.name for p in walk(tmp_path, "*.md")] == ["c.md"]
    assert [p.name for p in walk(tmp_path, "a/*.txt")] == ["z.txt"]  # with a '/': the path inside the folder
    corpus = load_corpus(tmp_path, val_frac=None)
    assert corpus.vocab.decode(corpus.train) == "A.txta/b/c.mda/z.txtb.txt"
    assert [d.name for d in corpus.documents] == ["A.txt", "a/b/c.md", "a/z.txt", "b.txt"]
    assert corpus.starts["train"].tolist() == [5, 13, 20]  # where the 2nd, 3rd and 4th files begin


def test_several_paths_are_one_corpus_named_after_their_folder(tmp_path):
    books(tmp_path / "shelf")
    paths = [tmp_path / "shelf" / "book2.txt", tmp_path / "shelf" / "book0.txt"]
    corpus = load_corpus(paths, val_frac=None)
    sources = find_sources(paths)
    assert sources.kind == "files" and sources.name == "shelf"
    expected = (paths[0].read_text() + paths[1].read_text())  # the order given
    assert corpus.vocab.decode(corpus.train) == expected
    with pytest.raises(DataError, match="named twice"):
        load_corpus([paths[0], tmp_path / "shelf", paths[1]])


def test_val_frac_holds_out_the_last_whole_files_and_says_which(tmp_path):
    books(tmp_path, sizes=(2_000,) * 9 + (1_000,))
    corpus = load_corpus(tmp_path, val_frac=0.05)
    assert corpus.vocab.decode(corpus.val) == (tmp_path / "book9.txt").read_text()
    assert corpus.train.size == 9 * 2_000 and corpus.starts["train"].tolist() == list(range(2_000, 18_000, 2_000))
    assert "val" not in corpus.starts  # one file: no boundary inside it
    assert corpus.notes == ["validation: the last 1 of the 10 files (book9.txt), 5.3% of the tokens"]


def test_with_too_few_files_val_frac_is_the_tail_and_says_so(tmp_path):
    books(tmp_path, sizes=(4_000, 6_000))  # the last file is 60% of the text: too much to hold out
    corpus = load_corpus(tmp_path, val_frac=0.1)
    assert corpus.val.size == 1_000 and corpus.train.size == 9_000
    assert corpus.notes == ["validation: the last 0.1 of the tokens, from inside book1.txt (too few files to hold "
                            "out whole ones)"]
    assert corpus.starts["train"].tolist() == [4_000]


def test_empty_files_are_left_out_with_a_note(tmp_path):
    books(tmp_path, sizes=(1_000, 1_000))
    write(tmp_path / "blank.txt", "  \n\n")
    write(tmp_path / "nothing.txt", "")
    corpus = load_corpus(tmp_path, val_frac=None)
    assert [d.name for d in corpus.documents] == ["book0.txt", "book1.txt"]
    assert corpus.notes == ["2 empty file(s) left out: blank.txt, nothing.txt"]
    for name in ("book0.txt", "book1.txt"):
        (tmp_path / name).unlink()
    with pytest.raises(DataError, match="no file of the corpus has text to learn from"):
        load_corpus(tmp_path)


def test_a_binary_file_is_refused_by_name_or_skipped_with_skip_bad(tmp_path):
    books(tmp_path, sizes=(1_000, 1_000))
    (tmp_path / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    write(tmp_path / "latin.txt", "caf")
    with open(tmp_path / "latin.txt", "ab") as f:
        f.write(b"\xe9 au lait\n")
    with pytest.raises(DataError, match=r"image\.png.*--skip-bad"):
        load_corpus(tmp_path)
    corpus = load_corpus(tmp_path, val_frac=None, skip_bad=True)
    assert [d.name for d in corpus.documents] == ["book0.txt", "book1.txt"]
    assert len(corpus.notes) == 1 and corpus.notes[0].startswith("--skip-bad: 2 file(s) left out: image.png (")
    assert "latin.txt (" in corpus.notes[0] and "offset 3" in corpus.notes[0]


def test_an_encoding_error_names_the_file_and_the_byte_offset(tmp_path):
    books(tmp_path, sizes=(1_000, 1_000))
    with open(tmp_path / "book1.txt", "ab") as f:
        f.write(b"ok\xff")
    with pytest.raises(DataError, match=r"book1\.txt is not valid UTF-8: byte 0xff at offset 1002"):
        load_corpus(tmp_path)


def test_options_for_a_corpus_of_files_are_refused_for_one_file(tmp_path):
    one = write(tmp_path / "one.txt", english_text(500))
    with pytest.raises(DataError, match="--skip-bad leaves bad files out of a corpus of many files"):
        load_corpus(one, skip_bad=True)
    with pytest.raises(DataError, match="--glob chooses files in a folder"):
        load_corpus(one, glob="*.txt")
    split = tmp_path / "split"
    write(split / "train.txt", english_text(500))
    with pytest.raises(DataError, match="split folder"):
        load_corpus(split, glob="*.txt")
    with pytest.raises(DataError, match=r"holds no file matching --glob '\*\.md'"):
        load_corpus(books(tmp_path / "shelf"), glob="*.md")


def test_the_fingerprint_names_every_file_with_its_size_and_hash(tmp_path):
    books(tmp_path, sizes=(1_000, 1_200))
    before = fingerprint(load_corpus(tmp_path, val_frac=None))
    assert [(name, size) for name, size, _ in before["files"]] == [("book0.txt", 1_000), ("book1.txt", 1_200)]
    text = (tmp_path / "book0.txt").read_text()
    write(tmp_path / "book0.txt", text[::-1])  # same size, other content
    after = fingerprint(load_corpus(tmp_path, val_frac=None))
    assert after["files"][0][2] != before["files"][0][2] and after["files"][1] == before["files"][1]


def test_the_trainer_masks_and_resets_at_every_document_boundary(tmp_path, monkeypatch):
    """Over one epoch every boundary inside a stream masks one target (the first token of the
    next file) and resets that row's state at that step; nothing else is masked."""
    corpus = load_corpus(books(tmp_path / "shelf", sizes=(700, 900, 400, 1_300, 800)), val_frac=None)
    model = RecurrentLanguageModel(ModelConfig(vocab_size=len(corpus.vocab), hidden_size=8, layers=1), np.float32, seed=0)
    config = TrainConfig(seq_len=16, batch_size=3, epochs=1, checkpoint_seconds=1e9)
    run = RunFolder(tmp_path / "run")
    run.prepare(resume=False, force=False)
    trainer = Trainer(model, corpus.vocab, config, run, corpus.train, starts=corpus.starts)
    masked, reset, calls = [], [], []
    real_step = model.train_step

    def spy(x, y, state, rng=None, resets=()):
        offsets = trainer._row_offsets + len(calls) * config.seq_len  # window k starts at column k*T
        calls.append(x.shape)
        for t, row in zip(*np.nonzero(y < 0)):
            masked.append(int(offsets[row] + t + 1))  # the token index of the masked target
        for t, rows in resets:
            reset.extend(int(offsets[row] + t) for row in rows)
        return real_step(x, y, state, rng, resets)

    monkeypatch.setattr(model, "train_step", spy)
    trainer.fit()
    length = corpus.train.size // config.batch_size
    stream_starts = {r * length for r in range(config.batch_size)}
    # A stream reads tokens [r*length, (r+1)*length): a boundary strictly inside is crossed.
    inside = [s for s in corpus.starts["train"].tolist()
              if s % length != 0 and s < config.batch_size * length]
    assert sorted(masked) == inside and sorted(reset) == inside
    assert len(inside) == 4 and not stream_starts & set(masked)


def test_charlm_train_on_a_folder_end_to_end(tmp_path, capsys):
    shelf = books(tmp_path / "shelf", sizes=(3_000,) * 6 + (1_000,))
    write(shelf / "empty.txt", "")
    write(shelf / "notes" / "readme.md", english_text(500))
    result = run_cli(capsys, "train", shelf, *TINY, "--max-steps", 3, "--glob", "*.txt", cwd=tmp_path)
    assert result.code == 0, result.err
    assert "note: 1 empty file(s) left out: empty.txt" in result.err
    assert "note: validation: the last 1 of the 7 files (book6.txt)" in result.err
    run = tmp_path / "runs" / "shelf"
    info = run_cli(capsys, "info", run, cwd=tmp_path)
    assert info.code == 0 and "(7 files, --glob '*.txt')" in info.out
    # Resuming checks every file: an edited one is named.
    write(shelf / "book3.txt", english_text(3_000)[::-1])
    again = run_cli(capsys, "train", shelf, "--resume", "--max-steps", 5, cwd=tmp_path)
    assert again.code != 0
    assert "not those the run stopped on (changed: book3.txt)" in again.err.strip().splitlines()[-1]
    assert "Traceback" not in again.err


def test_charlm_train_on_several_files_and_resume_without_naming_them(tmp_path, capsys):
    shelf = books(tmp_path / "shelf", sizes=(3_000,) * 4)
    files = [shelf / "book0.txt", shelf / "book1.txt", shelf / "book2.txt"]
    result = run_cli(capsys, "train", *files, *TINY, "--max-steps", 3, "--val-frac", 0.2, cwd=tmp_path)
    assert result.code == 0, result.err
    assert "validation: the last 1 of the 3 files (" in result.err and "shelf/book2.txt), 33.3%" in result.err
    # The run saved the three paths: --resume alone reads the same three files again.
    again = run_cli(capsys, "train", "--resume", "--out", tmp_path / "runs" / "shelf", "--max-steps", 5, cwd=tmp_path)
    assert again.code == 0, again.err
    bad = run_cli(capsys, "train", shelf / "book0.txt", "--skip-bad", *TINY, "--out", tmp_path / "other", cwd=tmp_path)
    assert bad.code != 0 and "--skip-bad leaves bad files out of a corpus of many files" in bad.err
    assert not (tmp_path / "other").exists()


@pytest.fixture(scope="module")
def shelf_run(tmp_path_factory):
    """A small character model trained on a folder of books, and a second shelf to measure it on."""
    root = tmp_path_factory.mktemp("shelf-run")
    books(root / "shelf", sizes=(3_000,) * 4)
    result = run_cli(None, "train", root / "shelf", *TINY, "--max-steps", 4, "--out", root / "run", "--quiet")
    assert result.code == 0, result.err
    return root / "run", books(root / "other", sizes=(1_200, 900, 700), prefix="other")


def _eval(run, path, *options):
    import json

    result = run_cli(None, "eval", run, path, "--batch-size", 1, "--seq-len", 16, "--json", *options)
    assert result.code == 0, result.err
    return json.loads(result.out), result.err


def test_eval_of_a_folder_is_the_sum_of_its_files_each_measured_alone(shelf_run):
    run, other = shelf_run
    whole, _ = _eval(run, other)
    alone = [_eval(run, other / f"other{i}.txt")[0] for i in range(3)]
    assert whole["files"] == 3 and [a["files"] for a in alone] == [1, 1, 1]
    # Each file starts from a fresh state and its first character is not predicted from the file
    # before it: the folder's tokens and summed loss are those of its files measured one by one.
    assert whole["tokens"] == sum(a["tokens"] for a in alone) == 2_800 - 3
    assert whole["loss"] * whole["tokens"] == pytest.approx(sum(a["loss"] * a["tokens"] for a in alone), rel=1e-6)
    joined = write(other.parent / "joined.txt", "".join((other / f"other{i}.txt").read_text() for i in range(3)))
    assert _eval(run, joined)[0]["tokens"] == 2_800 - 1  # one file: the two seams are predicted too


def test_eval_of_a_folder_takes_glob_and_skip_bad_and_refuses_what_cannot_apply(shelf_run, tmp_path):
    run, other = shelf_run
    only, _ = _eval(run, other, "--glob", "other[01].txt")
    assert only["files"] == 2 and only["glob"] == "other[01].txt" and only["tokens"] == 2_100 - 2
    mixed = books(tmp_path / "mixed", sizes=(800, 600))
    (mixed / "picture.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00binary")
    write(mixed / "empty.txt", "")
    refused = run_cli(None, "eval", run, mixed)
    assert refused.code != 0 and "picture.png" in refused.err and "--skip-bad" in refused.err
    assert "Traceback" not in refused.err
    kept, notes = _eval(run, mixed, "--skip-bad")
    assert kept["files"] == 2 and "picture.png" in notes and "1 empty file(s) left out: empty.txt" in notes
    for args, fragment in (
        ([other / "other0.txt", "--glob", "*.txt"], "--glob chooses files in a folder"),
        ([other / "other0.txt", "--skip-bad"], "--skip-bad leaves bad files out of a corpus of many files"),
        ([other, "--dynamic", "--glob", "*.txt"], "--glob cannot take effect with --dynamic"),
        ([tmp_path / "nothing"], "no such file"),
    ):
        result = run_cli(None, "eval", run, *args)
        assert result.code != 0 and fragment in result.err and "Traceback" not in result.err, args
    splits = tmp_path / "splits"
    for name in ("train.txt", "valid.txt", "test.txt"):
        write(splits / name, english_text(500))
    result = run_cli(None, "eval", run, splits)
    assert result.code != 0 and f"name the file to measure, e.g. {splits / 'test.txt'}" in result.err
