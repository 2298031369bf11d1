"""Options that cannot take effect are refused by name, never silently ignored (issue 44): sampling
settings with --greedy or --beam, --forget-bias with a cell that has no forget gate, the settings
that act on validations in a run without validation (and classify's --dev-frac with a dev set);
what is cut to what the machine has is said in a note (--threads); and what deserves a note but no
refusal (a validation file that is a training file, CRLF lines at character level) gets one line
on stderr while the run goes on. The valid combinations still run."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest

from charlm.core.cells import CELLS
from charlm.core.threads import available_cores, set_threads
from charlm.errors import ConfigError, TextNote
from charlm.lm.models.saved import load_model
from charlm.lm.options import TrainOptions
from charlm.lm.train.session import new_run_settings
from tests.helpers.classify_texts import TINY as CLASSIFY_TINY
from tests.helpers.classify_texts import write_split_folder
from tests.helpers.cli import TINY, refused, run_cli, tree
from tests.helpers.texts import english_text, write_text
from tests.helpers.tree_texts import write_treebank


@pytest.fixture(scope="module")
def run(trained_run):
    return trained_run[2]


def train_refused(folder: Path, corpus, *options, fragments=()):
    before = tree(folder)
    result = run_cli(None, "train", corpus, "--out", folder / "run", *TINY, "--max-steps", 2, *options)
    refused(result, *fragments)
    assert tree(folder) == before  # no run folder, no checkpoint, nothing rewritten
    return result


# ------------------------------------------------------------------------------------- sample
# Each given at its default value too: a value the user typed cannot take effect either.
DRAWS = [["--temperature", 0.7], ["--temperature", 1], ["--top-k", 5], ["--top-k", 0], ["--top-p", 0.9],
         ["--top-p", 1], ["--seed", 3], ["--seed", 0]]


@pytest.mark.parametrize("option", DRAWS, ids=lambda o: f"{o[0]}={o[1]}")
def test_greedy_refuses_every_setting_of_the_draw_by_name(run, capsys, option):
    result = run_cli(capsys, "sample", run, "--greedy", *option, "--length", 10)
    refused(result, option[0], "--greedy")
    assert result.out == ""


@pytest.mark.parametrize("option", DRAWS + [["--greedy"]], ids=lambda o: "=".join(map(str, o)))
def test_beam_refuses_every_setting_of_the_draw_by_name_even_at_its_default(run, capsys, option):
    result = run_cli(capsys, "sample", run, "--beam", 2, *option, "--length", 10)
    refused(result, option[0], "--beam")
    assert result.out == ""


def test_several_idle_settings_are_named_together(run, capsys):
    refused(run_cli(capsys, "sample", run, "--greedy", "--top-k", 4, "--seed", 2), "--top-k, --seed", "--greedy")


@pytest.mark.parametrize("options", [["--greedy"], ["--beam", 2], ["--temperature", 0.7, "--top-k", 5, "--seed", 1],
                                     ["--top-p", 0.9, "--seed", 1], ["--beam", 2, "--length-penalty", 0.5]])
def test_the_valid_sampling_combinations_still_run(run, capsys, options):
    result = run_cli(capsys, "sample", run, *options, "--length", 20, "--prime", "The ")
    assert result.code == 0, result.err
    assert result.out.startswith("The ")


def test_the_library_refuses_greedy_with_a_draw_setting_too():
    from charlm.lm.generate.sampling_config import SamplingConfig

    for setting in ({"temperature": 0.5}, {"top_k": 3}, {"top_p": 0.5}, {"seed": 1}):
        with pytest.raises(ConfigError, match="cannot take effect with --greedy"):
            SamplingConfig(greedy=True, **setting)
    SamplingConfig(greedy=True)  # alone it is fine


# ------------------------------------------------------------------------------ --forget-bias
NO_FORGET_GATE = [name for name, cell in CELLS.items() if not cell.has_forget_gate]
WITH_FORGET_GATE = [name for name, cell in CELLS.items() if cell.has_forget_gate]


def test_the_cell_table_says_which_cells_have_a_forget_gate():
    assert {"gru", "rnn-tanh", "rnn-relu"} <= set(NO_FORGET_GATE)
    assert {"lstm", "lstm-peephole", "lstm-coupled"} <= set(WITH_FORGET_GATE)


@pytest.mark.parametrize("cell", NO_FORGET_GATE)
def test_forget_bias_with_a_cell_without_a_forget_gate_is_refused(tmp_path, cell):
    corpus = write_text(tmp_path, 5_000)
    train_refused(tmp_path, corpus, "--cell", cell, "--forget-bias", 2, fragments=("--forget-bias", cell, "forget gate"))


@pytest.mark.parametrize("cell", WITH_FORGET_GATE)
def test_forget_bias_with_a_cell_that_has_one_is_taken(cell):
    assert new_run_settings(TrainOptions(cell=cell, forget_bias=2.0))[0]["forget_bias"] == 2.0


def test_forget_bias_sets_the_lstm_forget_gate_through_the_command_line(tmp_path):
    corpus = write_text(tmp_path, 20_000)
    result = run_cli(None, "train", corpus, "--out", tmp_path / "run", *TINY, "--max-steps", 1, "--forget-bias", 3,
                     "--lr", 1e-9, "--quiet")  # (a step this small leaves the bias at 3 to float32 precision)
    assert result.code == 0, result.err
    snap = load_model(tmp_path / "run" / "last.npz")
    H = snap.model.config.hidden_size
    f = CELLS["lstm"].gate_names.index("f")
    assert snap.model.params["rnn.bias_ih_l0"][f * H:(f + 1) * H] == pytest.approx(3.0, abs=1e-4)


# ------------------------------------------------------------------------- no validation at all
# Each option that acts on validations, with a value that would do something.
ACTING = [["--patience", 2], ["--eval-every", 5], ["--lr-decay", 0.3], ["--min-lr", 1e-4], ["--stop-lr", 1e-4],
          ["--decay-threshold", 0.01], ["--decay-patience", 2], ["--decay-against", "previous"]]


@pytest.mark.parametrize("option", ACTING, ids=lambda o: o[0])
def test_settings_that_act_on_validations_are_refused_with_val_frac_0(tmp_path, option):
    corpus = write_text(tmp_path, 5_000)
    train_refused(tmp_path, corpus, "--val-frac", 0, *option, fragments=(option[0], "without validation", "--val-frac 0"))


@pytest.mark.parametrize("option", [["--patience", 2], ["--eval-every", 5], ["--lr-decay", 0.3]], ids=lambda o: o[0])
def test_a_split_folder_without_a_validation_file_refuses_them_too(tmp_path, option):
    folder = tmp_path / "split"
    folder.mkdir()
    (folder / "train.txt").write_text(english_text(20_000))
    (folder / "test.txt").write_text(english_text(3_000))
    train_refused(tmp_path, folder, *option, fragments=(option[0], "without validation", "no validation split"))


@pytest.mark.parametrize("options", [[], ["--patience", 0], ["--lr-decay", 1], ["--lr-decay", 0.5, "--decay-start", 2],
                                     ["--min-lr", 0, "--stop-lr", 0, "--decay-threshold", 0]])
def test_without_validation_the_settings_that_turn_them_off_still_run(tmp_path, options):
    corpus = write_text(tmp_path, 20_000)
    result = run_cli(None, "train", corpus, "--out", tmp_path / "run", *TINY, "--max-steps", 2, "--val-frac", 0,
                     *options, "--quiet")
    assert result.code == 0, result.err


def test_a_resumed_run_without_validation_refuses_them(tmp_path):
    corpus = write_text(tmp_path, 20_000)
    run = tmp_path / "run"
    assert run_cli(None, "train", corpus, "--out", run, *TINY, "--max-steps", 2, "--val-frac", 0, "--quiet").code == 0
    before = tree(tmp_path)
    refused(run_cli(None, "train", corpus, "--out", run, "--resume", "--max-steps", 4, "--patience", 2),
            "--patience", "without validation")
    assert tree(tmp_path) == before
    assert run_cli(None, "train", corpus, "--out", run, "--resume", "--max-steps", 4, "--quiet").code == 0


def classify_refused(folder: Path, data, *options, fragments=()):
    before = tree(folder)
    refused(run_cli(None, "classify", "train", data, "--out", folder / "run", *options), *fragments)
    assert tree(folder) == before


@pytest.mark.parametrize("how", ["folder", "--dev"])
def test_classify_refuses_dev_frac_with_a_dev_set(tmp_path, how):
    folder = write_split_folder(tmp_path / "data", train=40, dev=10, test=0)
    data, extra = (folder, []) if how == "folder" else (folder / "train.txt", ["--dev", folder / "dev.txt"])
    classify_refused(tmp_path, data, *CLASSIFY_TINY, *extra, "--dev-frac", 0.2, fragments=("--dev-frac", "dev.txt"))


@pytest.mark.parametrize("how", ["folder", "--dev"])
def test_classify_tree_models_refuse_dev_frac_with_a_dev_set(tmp_path, how):
    folder = write_treebank(tmp_path / "trees", train=20, dev=5, test=5)
    data, extra = (folder, []) if how == "folder" else (folder / "train.txt", ["--dev", folder / "dev.txt"])
    classify_refused(tmp_path, data, "--model", "treernn", "--epochs", 1, *extra, "--dev-frac", 0.2,
                     fragments=("--dev-frac", "dev.txt"))


def test_classify_dev_frac_without_a_dev_set_still_runs(tmp_path):
    folder = write_split_folder(tmp_path / "data", train=60, dev=0, test=0)
    result = run_cli(None, "classify", "train", folder, "--out", tmp_path / "run", *CLASSIFY_TINY, "--epochs", 1,
                     "--dev-frac", 0.2, "--quiet")
    assert result.code == 0, result.err


# ----------------------------------------------------------------------------------- --threads
def test_more_threads_than_cores_are_cut_to_them_with_a_note():
    cores = available_cores()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert set_threads(10_000) == cores
        assert len(caught) == 1 and issubclass(caught[0].category, TextNote)
        assert f"--threads 10000 is more than the {cores} core" in str(caught[0].message)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a count the machine has: nothing to say
            assert set_threads(cores) == cores
    finally:
        set_threads(None)


def test_train_saves_the_thread_count_that_runs_and_says_so(tmp_path):
    corpus = write_text(tmp_path, 20_000)
    result = run_cli(None, "train", corpus, "--out", tmp_path / "run", *TINY, "--max-steps", 2, "--threads", 10_000,
                     "--quiet")
    assert result.code == 0, result.err
    notes = [line for line in result.err.splitlines() if "--threads 10000" in line]
    assert len(notes) == 1 and notes[0].startswith("note: ")
    assert load_model(tmp_path / "run" / "last.npz").meta["train"]["threads"] == available_cores()


@pytest.mark.parametrize("command", ["sample", "eval", "inspect"])
def test_every_command_with_threads_cuts_them_the_same_way(trained_run, capsys, command):
    _, corpus, run, _ = trained_run
    args = {"sample": ["--length", 10], "eval": [corpus], "inspect": [corpus, "--limit", 50]}[command]
    result = run_cli(capsys, command, run, *args, "--threads", 10_000)
    assert result.code == 0, result.err
    assert f"note: --threads 10000 is more than the {available_cores()} core" in result.err


def test_classify_saves_the_thread_count_that_runs(tmp_path):
    from charlm.supervised.saved_model import load

    folder = write_split_folder(tmp_path / "data", train=40, dev=10, test=0)
    result = run_cli(None, "classify", "train", folder, "--out", tmp_path / "run", *CLASSIFY_TINY, "--epochs", 1,
                     "--threads", 10_000, "--quiet")
    assert result.code == 0, result.err
    assert "note: --threads 10000" in result.err
    assert load(tmp_path / "run")[1].meta["train"]["threads"] == available_cores()


# ------------------------------------------------------------------------------ inspect --top-k
def _percents(result) -> int:
    return result.out.count("%")  # each prediction shown as "expected instead" is "'x' 12%"


def test_inspect_top_k_sets_how_many_predictions_the_terminal_shows(trained_run, capsys):
    _, corpus, run, _ = trained_run
    shown = {k: run_cli(capsys, "inspect", run, corpus, "--limit", 300, *(["--top-k", k] if k else [])) for k in (None, 1, 9)}
    assert all(r.code == 0 for r in shown.values()), [r.err for r in shown.values()]
    rows = 10  # the table of the most surprising tokens
    assert _percents(shown[9]) - _percents(shown[None]) == rows * (9 - 3)  # without --top-k: 3 each, as before
    assert _percents(shown[None]) - _percents(shown[1]) == rows * (3 - 1)


# -------------------------------------------------------------------- notes: the run goes on
def test_a_validation_file_that_is_the_training_file_gets_a_note(trained_run, tmp_path):
    corpus = write_text(tmp_path, 20_000)
    os.symlink(corpus, tmp_path / "link.txt")
    for val, extra in ((corpus, ""), (tmp_path / "link.txt", "by another path")):
        result = run_cli(None, "train", corpus, "--out", tmp_path / "run", *TINY, "--max-steps", 2, "--val", val,
                         "--force", "--quiet")
        assert result.code == 0, result.err
        notes = [line for line in result.err.splitlines() if "is a training file" in line]
        assert len(notes) == 1 and notes[0].startswith("note: the validation file") and extra in notes[0], result.err


def test_a_test_file_inside_a_corpus_of_files_gets_a_note(tmp_path):
    from charlm.lm.data.corpus import load_corpus

    folder = tmp_path / "texts"
    folder.mkdir()
    for name in ("a.txt", "b.txt"):
        (folder / name).write_text(english_text(5_000))
    corpus = load_corpus(folder, test=folder / "b.txt", val_frac=0.3)
    assert any(note.startswith("the test file") and "b.txt" in note for note in corpus.notes), corpus.notes
    other = tmp_path / "other.txt"
    other.write_text(english_text(2_000))
    assert not any("training file" in note for note in load_corpus(folder, test=other).notes)


def test_crlf_lines_at_character_level_get_a_note_and_the_text_is_not_changed(tmp_path):
    from charlm.lm.data.corpus import load_corpus

    lines = english_text(20_000).splitlines(keepends=True)
    crlf = sum(1 for i in range(0, len(lines), 3) if lines[i].endswith("\n"))
    text = "".join(line.replace("\n", "\r\n") if i % 3 == 0 else line for i, line in enumerate(lines))
    path = tmp_path / "dos.txt"
    path.write_bytes(text.encode())
    for chunk_bytes in (1 << 20, 7):  # a "\r\n" cut between two chunks is counted once
        corpus = load_corpus(path, val_frac=0.1, chunk_bytes=chunk_bytes)
        notes = [note for note in corpus.notes if "CRLF" in note]
        assert len(notes) == 1 and f"{crlf:,} lines" in notes[0] and "\\r is a token" in notes[0], corpus.notes
        assert "\r" in corpus.vocab  # the data is read as it is
        assert corpus.vocab.decode(corpus.train).count("\r") + corpus.vocab.decode(corpus.val).count("\r") == crlf
    assert not any("CRLF" in note for note in load_corpus(path, level="word", val_frac=0.1).notes)  # words: whitespace
    plain = write_text(tmp_path, 5_000, "plain.txt")
    assert not any("CRLF" in note for note in load_corpus(plain, val_frac=0.1).notes)


def test_the_crlf_note_goes_to_stderr_and_training_goes_on(tmp_path):
    path = tmp_path / "dos.txt"
    path.write_bytes(english_text(20_000).replace("\n", "\r\n").encode())
    result = run_cli(None, "train", path, "--out", tmp_path / "run", *TINY, "--max-steps", 2, "--quiet")
    assert result.code == 0, result.err
    assert sum("CRLF" in line and line.startswith("note: ") for line in result.err.splitlines()) == 1
