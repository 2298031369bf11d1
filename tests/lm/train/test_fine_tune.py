"""`charlm train NEW --init-from RUN`: a new run from another run's weights. In-process runs of the
real command on small corpora."""

from __future__ import annotations

import numpy as np
import pytest

from charlm.lm.models.saved import load_model
from tests.helpers.cli import TINY, run_cli
from tests.helpers.texts import write_text

SMALL = [*TINY, "--threads", 1, "--quiet"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small character model trained for 30 steps, and its corpus."""
    folder = tmp_path_factory.mktemp("fine_tune")
    corpus = write_text(folder, 3_000)
    run = folder / "old"
    result = run_cli(None, "train", corpus, "--out", run, *SMALL, "--max-steps", 30)
    assert result.code == 0, result.err
    return corpus, run


def test_the_new_run_starts_from_the_old_weights_with_fresh_training_state(tmp_path, trained):
    corpus, old = trained
    before = load_model(old / "best.npz")
    # A learning rate too small to move the weights: the first validation is the old model's.
    result = run_cli(None, "train", corpus, "--out", tmp_path / "new", "--init-from", old, *SMALL,
                     "--max-steps", 1, "--lr", 1e-12)
    assert result.code == 0, result.err
    after = load_model(tmp_path / "new" / "best.npz")
    assert after.meta["progress"]["step"] == 1  # its own count, not the old run's 30 + 1
    assert after.meta["progress"]["best_val_loss"] == pytest.approx(before.meta["progress"]["best_val_loss"], abs=1e-4)
    assert after.vocab == before.vocab
    for name, array in before.model.params.items():
        np.testing.assert_allclose(after.model.params[name], array, atol=1e-9)
    assert after.meta["init_from"]["checkpoint"] == str((old / "best.npz").resolve())
    assert after.meta["init_from"]["step"] == before.meta["progress"]["step"]
    # The same step from fresh weights is far worse: the figure above came from the old ones.
    fresh = run_cli(None, "train", corpus, "--out", tmp_path / "fresh", *SMALL, "--max-steps", 1, "--lr", 1e-12)
    assert fresh.code == 0
    fresh_loss = load_model(tmp_path / "fresh" / "best.npz").meta["progress"]["best_val_loss"]
    assert fresh_loss > before.meta["progress"]["best_val_loss"] + 0.1


def test_info_says_where_the_weights_came_from_and_resume_keeps_it(tmp_path, trained):
    corpus, old = trained
    new = tmp_path / "new"
    assert run_cli(None, "train", corpus, "--out", new, "--init-from", old, *SMALL, "--max-steps", 2).code == 0
    shown = run_cli(None, "info", new)
    assert shown.code == 0
    assert "fine-tuned from" in shown.out and "best.npz" in shown.out
    assert run_cli(None, "train", corpus, "--out", new, "--resume", "--max-steps", 4, "--quiet").code == 0
    assert load_model(new / "last.npz").meta["init_from"]["checkpoint"] == str((old / "best.npz").resolve())


@pytest.mark.parametrize("option, value, names", [
    ("--hidden-size", 64, "--hidden-size"),
    ("--cell", "gru", "--cell"),
    ("--level", "word", "--level"),
    ("--min-freq", 2, "--min-freq"),
])
def test_an_option_the_old_weights_fix_is_refused_by_name(tmp_path, trained, option, value, names):
    corpus, old = trained
    result = run_cli(None, "train", corpus, "--out", tmp_path / "new", "--init-from", old, "--quiet",
                     "--max-steps", 1, option, value)
    assert result.code != 0
    assert names in result.err and "--init-from" in result.err and "Traceback" not in result.err
    assert not (tmp_path / "new").exists()


def test_init_from_with_resume_or_a_missing_model_is_one_line(tmp_path, trained):
    corpus, old = trained
    both = run_cli(None, "train", corpus, "--out", old, "--init-from", old, "--resume", "--quiet")
    assert both.code != 0 and "--init-from" in both.err and "--resume" in both.err
    missing = run_cli(None, "train", corpus, "--out", tmp_path / "new", "--init-from", tmp_path / "nowhere")
    assert missing.code != 0 and "nowhere" in missing.err and len(missing.err.strip().splitlines()) == 1


def test_word_level_new_words_train_as_unk_and_are_counted(tmp_path):
    old_text = tmp_path / "old.txt"
    old_text.write_text("the cat sat on the mat\n" * 200, encoding="utf-8")
    new_text = tmp_path / "new.txt"
    new_text.write_text("the dog sat on the rug\n" * 200, encoding="utf-8")
    assert run_cli(None, "train", old_text, "--level", "word", "--out", tmp_path / "old", *SMALL, "--max-steps", 3).code == 0
    result = run_cli(None, "train", new_text, "--out", tmp_path / "new", "--init-from", tmp_path / "old", *SMALL,
                     "--max-steps", 2)
    assert result.code == 0, result.err
    # 2 of every 7 tokens (6 words and <eos>) of the training part are new words.
    note = [line for line in result.err.splitlines() if "<unk>" in line]
    assert len(note) == 1 and "(28.6%)" in note[0], result.err
    assert load_model(tmp_path / "new" / "best.npz").vocab == load_model(tmp_path / "old" / "best.npz").vocab


def test_unseen_characters_are_refused_naming_them_and_the_option(tmp_path, trained):
    _, old = trained
    new_text = tmp_path / "new.txt"
    new_text.write_text(write_text(tmp_path, 3_000, "plain.txt").read_text() + " ☃ §\n", encoding="utf-8")
    result = run_cli(None, "train", new_text, "--out", tmp_path / "new", "--init-from", old, "--quiet")
    assert result.code != 0
    assert "'☃'" in result.err and "'§'" in result.err and "--grow-vocab" in result.err
    assert "Traceback" not in result.err and not (tmp_path / "new").exists()


def test_growing_keeps_every_old_row_and_the_old_texts_loss(tmp_path, trained):
    from charlm.lm.train import fine_tune

    corpus, old = trained
    snap = load_model(old / "best.npz")
    new_text = tmp_path / "new.txt"
    new_text.write_text(corpus.read_text(encoding="utf-8") + " ☃ §\n", encoding="utf-8")
    result = run_cli(None, "train", new_text, "--out", tmp_path / "new", "--init-from", old, "--grow-vocab",
                     *SMALL, "--max-steps", 2)
    assert result.code == 0, result.err
    grown = load_model(tmp_path / "new" / "best.npz")
    assert grown.vocab.tokens[: len(snap.vocab)] == snap.vocab.tokens
    assert set(grown.vocab.tokens[len(snap.vocab):]) == {"☃", "§"}
    assert grown.meta["init_from"]["added_tokens"] == list(grown.vocab.tokens[len(snap.vocab):])
    shown = run_cli(None, "info", tmp_path / "new")
    assert shown.code == 0 and "character(s) added: '§☃'" in shown.out, shown.out

    # The grown model before any training: old rows equal bit for bit, the old text's loss kept.
    model = fine_tune.starting_model(snap, len(grown.vocab), None, snap.model.dtype, seed=0)
    V = len(snap.vocab)
    for name, array in snap.model.params.items():
        assert np.array_equal(model.params[name][:V] if array.shape != model.params[name].shape else model.params[name], array)
    ids = snap.vocab.encode(corpus.read_text(encoding="utf-8")[:2_001])
    x, y = ids[:-1].reshape(1, -1).T.copy(), ids[1:].reshape(1, -1).T.copy()  # (T, N=1)
    old_loss, _ = snap.model.loss(x, y, snap.model.initial_state(1))
    new_loss, _ = model.loss(x, y, model.initial_state(1))
    assert abs(new_loss - old_loss) / x.size < 1e-4
    assert new_loss > old_loss  # the new characters do take a little probability


@pytest.mark.parametrize("extra", [[], ["--resume"]])
def test_grow_vocab_without_init_from_is_refused(tmp_path, trained, extra):
    corpus, old = trained
    result = run_cli(None, "train", corpus, "--out", old if extra else tmp_path / "new", "--grow-vocab", *extra, "--quiet")
    assert result.code != 0 and "--grow-vocab" in result.err and "--init-from" in result.err


def test_freeze_embedding_keeps_it_bit_for_bit_and_trains_the_rest(tmp_path, trained):
    corpus, old = trained
    before = load_model(old / "best.npz").model.params
    result = run_cli(None, "train", corpus, "--out", tmp_path / "new", "--init-from", old, "--freeze-embedding",
                     *SMALL, "--max-steps", 3)
    assert result.code == 0, result.err
    after = load_model(tmp_path / "new" / "last.npz")
    assert after.meta["train"]["freeze_embedding"] is True
    assert np.array_equal(after.model.params["encoder.weight"], before["encoder.weight"])
    assert not np.array_equal(after.model.params["decoder.weight"], before["decoder.weight"])


def test_freeze_embedding_with_tied_weights_is_refused(tmp_path, trained):
    corpus, _ = trained
    result = run_cli(None, "train", corpus, "--out", tmp_path / "new", "--tie-weights", "--embed-size", 32,
                     "--freeze-embedding", *SMALL, "--max-steps", 1)
    assert result.code != 0 and "--freeze-embedding" in result.err and "tied" in result.err
    assert not (tmp_path / "new").exists()
