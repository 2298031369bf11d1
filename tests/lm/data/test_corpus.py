"""data.py: reading and validating text, chunked encoding, splits, batchify and windows."""

from pathlib import Path

import numpy as np
import pytest

from charlm.lm.data.batching import batchify, check_trainable, count_windows, random_windows, windows
from charlm.lm.data.corpus import encode_file, load_corpus, read_text
from charlm.errors import DataError
from charlm.text.vocab import Vocab
from tests.helpers.paths import SHARED_CORPORA

SHARED = SHARED_CORPORA
SHAKESPEARE = SHARED / "tinyshakespeare" / "input.txt"
PTB = SHARED / "ptb"
MULTI = "Привет, мир!\n三國志演義 第一回\n👍🏽 and 👨‍👩‍👧 café\n" * 3


def write(path: Path, content: str | bytes) -> Path:
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


# --------------------------------------------------------------------------- bad input
def test_missing_file(tmp_path):
    with pytest.raises(DataError, match=r"^no such file: .*nope\.txt$"):
        read_text(tmp_path / "nope.txt")


def test_folder_where_a_file_is_expected(tmp_path):
    with pytest.raises(DataError, match="is a folder"):
        read_text(tmp_path)


@pytest.mark.parametrize(
    "content, fragment",
    [(b"", "is empty"), (b"\xef\xbb\xbf", "only a byte-order mark"), (b" \n\t\r\n  \n", "only whitespace")],
)
def test_empty_files(tmp_path, content, fragment):
    path = write(tmp_path / "e.txt", content)
    with pytest.raises(DataError) as info:
        read_text(path)
    assert fragment in str(info.value) and str(path) in str(info.value)


@pytest.mark.parametrize("chunk_bytes", [7, 64, 1 << 20])
def test_binary_file_reports_the_nul_offset(tmp_path, chunk_bytes):
    path = write(tmp_path / "b.bin", b"hello\n" * 300 + b"\x00\x01\x02")
    with pytest.raises(DataError) as info:
        read_text(path, chunk_bytes=chunk_bytes)
    assert str(info.value) == f"{path} looks binary: NUL byte at offset 1800; charlm reads plain text"


def test_png_is_called_binary_not_misencoded(tmp_path):
    path = write(tmp_path / "x.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(DataError, match="looks binary: NUL byte at offset 8"):
        load_corpus(path)


@pytest.mark.parametrize("chunk_bytes", [4, 5, 13, 1 << 20])
def test_cp1252_text_names_offset_line_and_fix(tmp_path, chunk_bytes):
    text = "first line\nnaïve café\n€5\n"
    path = write(tmp_path / "latin.txt", text.encode("cp1252"))
    with pytest.raises(DataError) as info:
        read_text(path, chunk_bytes=chunk_bytes)
    message = str(info.value)
    assert "not valid UTF-8" in message
    assert f"offset {text.index('ï')} (line 2)" in message  # cp1252 is one byte per character
    assert "0xef" in message
    assert "iconv -f cp1252 -t utf-8" in message and "--encoding cp1252" in message and "latin-1" in message
    assert "\n" not in message
    assert read_text(path, "cp1252", chunk_bytes=chunk_bytes) == text


def test_utf8_truncated_at_the_end_is_read_without_its_last_bytes_and_a_note(tmp_path):
    path = write(tmp_path / "t.txt", "ab\n€".encode()[:-1])
    with pytest.warns(UserWarning, match=r"last 2 byte\(s\), from offset 3 \(line 2\), are an incomplete UTF-8"):
        assert read_text(path, chunk_bytes=4) == "ab\n"


@pytest.mark.parametrize("chunk_bytes", [4, 5, 6, 7])
def test_broken_sequence_split_across_chunks(tmp_path, chunk_bytes):
    # "€" is e2 82 ac: its first two bytes then an ASCII byte, wherever the chunk edge falls
    path = write(tmp_path / "t.txt", b"a\nbc\xe2\x82Xdefgh")
    with pytest.raises(DataError, match=r"offset 4 \(line 2\)"):
        read_text(path, chunk_bytes=chunk_bytes)


def test_utf16_is_recognised_and_readable(tmp_path):
    text = "Größe 👍\nzweite Zeile\n"
    path = write(tmp_path / "notepad.txt", text.encode("utf-16"))  # with a BOM, as Notepad writes it
    with pytest.raises(DataError, match=r"is UTF-16 text .*--encoding utf-16"):
        read_text(path)
    assert read_text(path, "utf-16", chunk_bytes=5) == text


def test_unknown_encoding(tmp_path):
    path = write(tmp_path / "a.txt", "abc")
    with pytest.raises(DataError, match="unknown encoding 'klingon'"):
        read_text(path, encoding="klingon")


def test_bom_is_dropped(tmp_path):
    path = write(tmp_path / "bom.txt", b"\xef\xbb\xbfab\xc3\xa9\n")
    assert read_text(path) == "abé\n"
    assert read_text(path, chunk_bytes=4) == "abé\n"
    corpus = load_corpus(path, chunk_bytes=4)
    assert "\ufeff" not in corpus.vocab and corpus.vocab.decode(corpus.train) == "abé\n"


# --------------------------------------------------------------------------- chunked encoding
@pytest.mark.parametrize("chunk_bytes", [4, 5, 6, 7, 11, 1 << 20])
def test_chunked_char_encoding_matches_whole_text(tmp_path, chunk_bytes):
    """Chunk edges fall inside 2-, 3- and 4-byte characters for some of these sizes."""
    path = write(tmp_path / "multi.txt", MULTI)
    corpus = load_corpus(path, chunk_bytes=chunk_bytes)
    assert corpus.vocab == Vocab.build_char(MULTI)
    assert np.array_equal(corpus.train, corpus.vocab.encode(MULTI))
    assert corpus.vocab.decode(corpus.train) == MULTI
    assert corpus.train.size == len(MULTI)


def test_unknown_characters_in_a_file_are_located_across_chunks(tmp_path):
    vocab = Vocab.build_char("abc\n")
    path = write(tmp_path / "eval.txt", "abc\nab\ncab€a\nbé\n")
    with pytest.raises(DataError) as info:
        encode_file(path, vocab, chunk_bytes=4)
    message = str(info.value)
    assert message.startswith(f"{path}: unknown characters")
    assert "'€' (line 3, col 4)" in message and "'é' (line 4, col 2)" in message


def test_word_file_unknown_words_become_unk_and_are_counted(tmp_path):
    vocab = Vocab.build_word("a b c\n")
    path = write(tmp_path / "w.txt", "a zebra b\nc <unk> yak")  # no final newline
    encoded = encode_file(path, vocab, unknown="unk", chunk_bytes=4)
    assert encoded.unknown == 2  # zebra and yak; the literal <unk> is known
    assert vocab.decode(encoded.tokens) == "a <unk> b\nc <unk> <unk>\n"  # the last line gets its <eos>


# --------------------------------------------------------------------------- corpora and splits
@pytest.mark.parametrize(
    "names",
    [
        ("train.txt", "valid.txt", "test.txt"),
        ("ptb.train.txt", "ptb.valid.txt", "ptb.test.txt"),
        ("ptb.char.train.txt", "ptb.char.valid.txt", "ptb.char.test.txt"),
    ],
)
def test_folder_splits(tmp_path, names):
    folder = tmp_path / "mycorpus"
    folder.mkdir()
    texts = ("the training text\n" * 4, "valid text\n", "test: é only here\n")
    for name, text in zip(names, texts):
        write(folder / name, text)
    corpus = load_corpus(folder)
    assert corpus.name == "mycorpus"
    assert [corpus.paths[s].name for s in ("train", "val", "test")] == list(names)
    for tokens, text in zip((corpus.train, corpus.val, corpus.test), texts):
        assert corpus.vocab.decode(tokens) == text
    assert "é" in corpus.vocab  # char vocabulary from every split


def test_a_folder_without_a_training_file_is_a_corpus_of_files(tmp_path):
    write(tmp_path / "notes.txt", "hello")
    write(tmp_path / "more.txt", "world")
    corpus = load_corpus(tmp_path, val_frac=None)
    assert corpus.vocab.decode(corpus.train) == "worldhello"  # sorted: more.txt, notes.txt
    (tmp_path / "more.txt").unlink()
    (tmp_path / "notes.txt").unlink()
    (tmp_path / ".hidden.txt").write_text("ignored")
    with pytest.raises(DataError, match="holds no files"):
        load_corpus(tmp_path)


def test_word_corpus_vocabulary_comes_from_training_only(tmp_path):
    folder = tmp_path / "w"
    folder.mkdir()
    write(folder / "train.txt", "the cat sat\nthe <unk> ran\n")
    write(folder / "valid.txt", "the dog sat\n")
    write(folder / "test.txt", "a dog and a cat\n")
    corpus = load_corpus(folder, level="word")
    assert "dog" not in corpus.vocab
    assert corpus.unknown == {"train": 0, "val": 1, "test": 4}
    assert corpus.vocab.decode(corpus.val) == "the <unk> sat\n"
    assert corpus.train.size == 8  # 6 words + 2 <eos>


def test_explicit_val_and_test_files(tmp_path):
    train = write(tmp_path / "story.txt", "abcabc\n")
    val = write(tmp_path / "v.txt", "cab\n")
    test = write(tmp_path / "t.txt", "xyz\n")
    corpus = load_corpus(train, val=val, test=test)
    assert corpus.name == "story"
    assert corpus.paths == {"train": train, "val": val, "test": test}
    assert corpus.vocab.decode(corpus.val) == "cab\n" and corpus.vocab.decode(corpus.test) == "xyz\n"


def test_val_frac_zero_means_no_validation_even_for_a_split_folder(tmp_path):
    folder = tmp_path / "split"
    folder.mkdir()
    write(folder / "train.txt", "abcabcabc\n")
    write(folder / "valid.txt", "cab\n")
    write(folder / "test.txt", "bca\n")
    corpus = load_corpus(folder, val_frac=0)
    assert corpus.val is None and "val" not in corpus.paths
    assert corpus.vocab.decode(corpus.test) == "bca\n"
    with pytest.raises(DataError, match="contradict"):
        load_corpus(folder, val=folder / "valid.txt", val_frac=0)


def test_val_frac_is_a_contiguous_tail(tmp_path):
    text = "".join(f"line {i} of the story\n" for i in range(50))
    corpus = load_corpus(write(tmp_path / "s.txt", text), val_frac=0.1)
    n = len(text)
    assert corpus.val.size == n - int(n * 0.9)
    assert corpus.vocab.decode(corpus.train) + corpus.vocab.decode(corpus.val) == text
    assert corpus.vocab.decode(corpus.val) == text[int(n * 0.9) :]
    assert corpus.paths["val"] == corpus.paths["train"]


def test_word_val_frac_counts_the_vocabulary_on_the_head_only(tmp_path):
    text = "a b a b\n" * 9 + "a tailword b b\n"  # 50 tokens with <eos>; the tail: the last line
    corpus = load_corpus(write(tmp_path / "w.txt", text), level="word", val_frac=0.1)
    assert corpus.val.size == 5 and corpus.train.size == 45
    assert "tailword" not in corpus.vocab
    assert corpus.unknown == {"train": 0, "val": 1}
    assert corpus.vocab.decode(corpus.val) == "a <unk> b b\n"


@pytest.mark.parametrize("val_frac", [1.0, 1.5, -0.1, float("nan"), "half"])
def test_val_frac_out_of_range(tmp_path, val_frac):
    with pytest.raises(DataError, match="--val-frac must be 0 .no validation. or between 0 and 1"):
        load_corpus(write(tmp_path / "s.txt", "abcdef\n"), val_frac=val_frac)


def test_val_frac_with_a_val_file_is_an_error(tmp_path):
    with pytest.raises(DataError, match="both given"):
        load_corpus(write(tmp_path / "s.txt", "abc"), val=write(tmp_path / "v.txt", "a"), val_frac=0.1)


# 9 tokens: 1e-17 rounds to none, 1e-9 and 0.1 leave one (evaluation needs two)
@pytest.mark.parametrize(
    "val_frac, fragment",
    [(1e-17, "leaves no validation tokens"), (1e-9, "too short: 1 token"), (0.1, "too short: 1 token")],
)
def test_val_frac_too_small(tmp_path, val_frac, fragment):
    with pytest.raises(DataError, match=fragment):
        load_corpus(write(tmp_path / "s.txt", "abcdefgh\n"), val_frac=val_frac)


def test_empty_val_file_is_an_error(tmp_path):
    with pytest.raises(DataError, match=r"v\.txt is empty"):
        load_corpus(write(tmp_path / "s.txt", "abc\n"), val=write(tmp_path / "v.txt", ""))


def test_word_options_at_char_level_are_an_error(tmp_path):
    with pytest.raises(DataError, match="word-level vocabularies only"):
        load_corpus(write(tmp_path / "s.txt", "abc\n"), min_freq=2)


def test_one_repeated_character(tmp_path):
    corpus = load_corpus(write(tmp_path / "a.txt", "a" * 100), val_frac=0.1)
    assert len(corpus.vocab) == 1 and corpus.train.size == 90 and corpus.val.size == 10
    streams = batchify(corpus.train, 3)
    assert [p for p, _, _ in windows(streams, 7)] == [0, 7, 14, 21, 28]


# --------------------------------------------------------------------------- batchify and windows
def test_batchify_layout_is_a_view():
    tokens = np.arange(26, dtype=np.uint8)
    streams = batchify(tokens, 4)
    assert streams.shape == (4, 6)
    for i in range(4):
        assert streams[i].tolist() == list(range(6 * i, 6 * i + 6))
    assert np.shares_memory(streams, tokens)


def test_windows_shift_by_one_and_cover_every_target():
    streams = batchify(np.arange(46, dtype=np.uint16), 3)  # (3, 15)
    got = list(windows(streams, 4))
    assert [p for p, _, _ in got] == [0, 4, 8, 12]
    assert [x.shape for _, x, _ in got] == [(4, 3), (4, 3), (4, 3), (2, 3)]  # last window short
    assert count_windows(streams, 4) == len(got)
    for p, x, y in got:
        assert x.flags.c_contiguous and y.flags.c_contiguous and x.dtype == np.int32
        assert np.array_equal(x, streams[:, p : p + x.shape[0]].T)
        assert np.array_equal(y, x + 1)  # consecutive tokens: y is x shifted by one
    inputs = np.concatenate([x for _, x, _ in got])  # (14, 3): every token but the last of each stream
    assert np.array_equal(inputs.T, streams[:, :-1])


def test_windows_resume_from_a_saved_position():
    streams = batchify(np.arange(100), 2)
    full = list(windows(streams, 7))
    resumed = list(windows(streams, 7, start=full[3][0]))
    assert len(resumed) == len(full) - 3 == count_windows(streams, 7, start=full[3][0])
    for (p, x, y), (q, u, v) in zip(full[3:], resumed):
        assert p == q and np.array_equal(x, u) and np.array_equal(y, v)


def test_check_trainable():
    with pytest.raises(DataError) as info:
        check_trainable(812, 50, 100)
    message = str(info.value)
    assert message.startswith("corpus too short: 812 training tokens")
    assert "50 x 101 = 5050" in message and "--batch-size" in message and "--seq-len" in message
    assert "--seq-len 15" in message and "--batch-size 8" in message  # values that would fit
    check_trainable(5050, 50, 100)  # exactly one window fits
    streams = batchify(np.arange(5050), 50)
    assert count_windows(streams, 100) == 1


# --------------------------------------------------------------------------- real corpora
@pytest.mark.skipif(not SHAKESPEARE.is_file(), reason="needs ../shared/corpora (not in a user's clone)")
def test_tiny_shakespeare():
    corpus = load_corpus(SHAKESPEARE, val_frac=0.1)
    text = SHAKESPEARE.read_text(encoding="utf-8")
    assert corpus.vocab.tokens == tuple(sorted(set(text)))
    assert corpus.train.dtype == np.uint8
    assert corpus.vocab.decode(np.concatenate([corpus.train, corpus.val])) == text


@pytest.mark.skipif(not (PTB / "ptb.train.txt").is_file(), reason="needs ../shared/corpora (not in a user's clone)")
def test_ptb_word_level():
    corpus = load_corpus(PTB, level="word")
    text = (PTB / "ptb.train.txt").read_text(encoding="utf-8")
    assert len(corpus.vocab) == len(set(text.split()) | {"<eos>"})  # the corpus's own <unk> included once
    assert corpus.train.size == len(text.split()) + text.count("\n")
    assert corpus.train.dtype == np.uint16
    first_eos = int(np.flatnonzero(corpus.train == corpus.vocab.eos_id)[0])
    assert corpus.vocab.decode(corpus.train[: first_eos + 1]) == " ".join(text.split("\n")[0].split()) + "\n"


# --------------------------------------------------------------------------- resuming with a saved vocabulary
def test_a_given_vocabulary_reproduces_the_ids(tmp_path):
    path = write(tmp_path / "s.txt", MULTI)
    first = load_corpus(path, val_frac=0.2)
    again = load_corpus(path, val_frac=0.2, vocab=Vocab.from_dict(first.vocab.to_dict()), chunk_bytes=5)
    assert again.vocab == first.vocab
    assert np.array_equal(again.train, first.train) and np.array_equal(again.val, first.val)


def test_a_given_char_vocabulary_rejects_new_characters(tmp_path):
    vocab = load_corpus(write(tmp_path / "s.txt", "abc\nabc\n")).vocab
    write(tmp_path / "s.txt", "abc\nabcé\n")  # the file changed since the checkpoint
    with pytest.raises(DataError, match=r"'é' \(line 2, col 4\)"):
        load_corpus(tmp_path / "s.txt", vocab=vocab)
    with pytest.raises(DataError, match="char-level"):
        load_corpus(tmp_path / "s.txt", level="word", vocab=vocab)


def test_a_given_word_vocabulary_counts_unknown_words_per_split(tmp_path):
    vocab = Vocab.build_word("a b c\n")
    text = "a x <unk> b\n" * 9 + "a y <unk> z\n"  # 50 tokens; the last line is the 10% tail
    corpus = load_corpus(write(tmp_path / "w.txt", text), level="word", val_frac=0.1, vocab=vocab)
    assert corpus.unknown == {"train": 9, "val": 2}  # the literal <unk> is never counted
    assert corpus.vocab.decode(corpus.val) == "a <unk> <unk> <unk>\n"


def test_a_file_cut_inside_its_last_character_trains_with_a_note(tmp_path):
    """`head -c N big.txt > part.txt` can cut a UTF-8 character in half at the very end: that file
    trains, saying the last bytes were dropped; the same bytes anywhere else are still refused."""
    import warnings

    from charlm.text.files import TextNote

    text = "caf\u00e9 au lait, \u20ac3\n" * 200
    cut = text.encode()[:-2] + "\u20ac".encode()[:2]  # the last character is 2 of its 3 bytes
    path = tmp_path / "part.txt"
    path.write_bytes(cut)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        read = read_text(path)
    assert read == text[:-2]
    [note] = [str(w.message) for w in caught if issubclass(w.category, TextNote)]
    assert note.startswith(f"{path}: its last 2 byte(s), from offset {len(cut) - 2} (line 200)") and "dropped" in note
    inside = tmp_path / "inside.txt"
    inside.write_bytes(cut + b"more text\n")
    with pytest.raises(DataError, match="not valid UTF-8"):
        read_text(inside)


def test_the_note_about_a_cut_file_is_one_line_from_the_command(tmp_path, capsys):
    from tests.helpers.cli import TINY, run_cli

    text = "the quick brown fox jumps over the lazy dog\n" * 150 + "\u00e9"
    path = tmp_path / "part.txt"
    path.write_bytes(text.encode()[:-1])
    result = run_cli(capsys, "train", path, "--out", tmp_path / "run", *TINY, "--max-steps", 2, "--quiet")
    assert result.code == 0, result.err
    notes = [line for line in result.err.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "incomplete UTF-8 character" in notes[0], result.err
    assert "cp1252" not in result.err


def test_random_windows_read_each_row_at_an_offset_drawn_for_it():
    tokens = np.arange(1000, 1100)
    drawn = list(random_windows(tokens, span=24, seq_len=5, rows=3, rng=np.random.default_rng(7)))
    along_streams = [position for position, _, _ in windows(np.zeros((3, 25), np.int32), 5)]
    assert [position for position, *_ in drawn] == along_streams == [0, 5, 10, 15, 20]
    for _, x, y, offsets in drawn:
        assert x.shape == y.shape == (5, 3) and x.dtype == np.int32
        assert ((0 <= offsets) & (offsets + 5 < tokens.size)).all()  # the last target is in the text
        np.testing.assert_array_equal(x, tokens[offsets][None, :] + np.arange(5)[:, None])
        np.testing.assert_array_equal(y, x + 1)
    again = list(random_windows(tokens, span=24, seq_len=5, rows=3, rng=np.random.default_rng(7), start=10))
    np.testing.assert_array_equal(again[0][3], drawn[0][3])  # the draws are the generator's, whatever the start
    assert len({tuple(offsets) for *_, offsets in drawn}) == len(drawn)  # drawn anew for each window
