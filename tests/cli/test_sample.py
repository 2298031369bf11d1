"""``charlm sample`` as a user runs it, on the model the CLI tests train (see conftest.py), and the
streaming pieces it is made of."""

from __future__ import annotations

import io

import numpy as np
import pytest

from charlm.cli.sample import StreamDecoder, _stream_one, unescape
from charlm.text.vocab import Vocab
from tests.helpers.cli import run_cli


@pytest.fixture(scope="module")
def run(trained_run):
    _, _, run, result = trained_run
    assert result.code == 0, result.err
    return run


def test_same_seed_same_text_and_another_seed_other_text(run, capsys):
    first = run_cli(capsys, "sample", run, "--length", 300, "--seed", 7)
    again = run_cli(capsys, "sample", run, "--length", 300, "--seed", 7)
    other = run_cli(capsys, "sample", run, "--length", 300, "--seed", 8)
    assert first.code == again.code == other.code == 0, first.err
    assert first.out == again.out
    assert first.out != other.out


def test_stdout_holds_the_prime_then_exactly_length_characters(run, capsys):
    result = run_cli(capsys, "sample", run, "--prime", "The ", "--length", 250, "--seed", 1)
    assert result.code == 0, result.err
    assert result.out.startswith("The ")
    text = result.out[len("The ") :]
    # One character per token; a final newline is added only when the sample does not end in one.
    assert len(text.removesuffix("\n")) in (250, 249) and len(text) in (250, 251)
    assert "Compiling" not in result.out  # notes go to stderr


def test_greedy_gives_the_same_text_every_time(run, capsys):
    # (a --seed with --greedy is refused: tests/cli/test_bad_input_ignored.py)
    one = run_cli(capsys, "sample", run, "--greedy", "--length", 100)
    two = run_cli(capsys, "sample", run, "--greedy", "--length", 100)
    assert one.code == 0 and one.out == two.out


def test_stop_ends_the_sample_just_after_the_stop_text(run, capsys):
    full = run_cli(capsys, "sample", run, "--prime", "A", "--length", 2000, "--seed", 3)
    stopped = run_cli(capsys, "sample", run, "--prime", "A", "--length", 2000, "--seed", 3, "--stop", "\\n")
    assert full.code == stopped.code == 0, stopped.err
    first_line = full.out[: full.out.index("\n", 1) + 1]  # the prime "A" is not searched
    assert stopped.out == first_line


def test_num_samples_prints_each_sample_under_its_header(run, capsys):
    result = run_cli(capsys, "sample", run, "--num-samples", 3, "--length", 60, "--seed", 5, "--prime", "Th")
    assert result.code == 0, result.err
    parts = result.out.split("==> sample ")
    assert parts[0] == "" and len(parts) == 4
    bodies = []
    for k, part in enumerate(parts[1:], start=1):
        header, body = part.split(" <==\n", 1)
        assert header == str(k)
        body = body.removesuffix("\n\n") if k < 3 else body.removesuffix("\n")
        assert body.startswith("Th") and len(body) == 62
        bodies.append(body)
    assert len(set(bodies)) == 3  # the draws set the streams apart


def test_a_prime_with_a_character_the_model_never_saw_is_refused_by_name(run, capsys):
    result = run_cli(capsys, "sample", run, "--prime", "snow\u2603man")
    assert result.code == 2
    assert result.out == ""
    assert len(result.err.strip().splitlines()) == 1
    assert "--prime" in result.err and "\u2603" in result.err and "Traceback" not in result.err


@pytest.mark.parametrize(
    "options, message",
    [
        (["--temperature", 0], "--greedy"),
        (["--temperature", -1], "--temperature"),
        (["--top-k", -1], "--top-k"),  # (above the vocabulary size it keeps every token: tests/lm/generate/test_sampler.py)
        (["--top-p", 1.5], "--top-p"),
        (["--length", 0], "--length"),
        (["--num-samples", 0], "--num-samples"),
        (["--prime", ""], "--prime"),
        (["--stop", ""], "--stop"),
    ],
)
def test_impossible_options_get_one_line_naming_the_option(run, capsys, options, message):
    result = run_cli(capsys, "sample", run, *options)
    assert result.code == 2, result.out
    assert result.out == ""
    assert len(result.err.strip().splitlines()) == 1 and message in result.err


def test_a_file_that_is_not_a_checkpoint_is_refused(tmp_path, capsys):
    fake = tmp_path / "model.npz"
    fake.write_text("not a checkpoint")
    result = run_cli(capsys, "sample", fake)
    assert result.code != 0 and result.out == ""
    assert len(result.err.strip().splitlines()) == 1 and "Traceback" not in result.err


def test_with_no_model_and_no_runs_it_says_how_to_get_one(tmp_path, capsys):
    result = run_cli(capsys, "sample", cwd=tmp_path)
    assert result.code != 0
    assert "charlm train" in result.err and len(result.err.strip().splitlines()) == 1


def test_without_a_model_argument_it_samples_the_latest_run(trained_run, capsys):
    folder, _, run, _ = trained_run
    # The fixture's run lives at folder/run; the default looks under ./runs/ of the working folder.
    (folder / "runs").mkdir(exist_ok=True)
    link = folder / "runs" / "mine"
    if not link.exists():
        link.symlink_to(run, target_is_directory=True)
    result = run_cli(capsys, "sample", "--length", 20, "--seed", 1, cwd=folder)
    direct = run_cli(capsys, "sample", run, "--length", 20, "--seed", 1)
    assert result.code == 0, result.err
    assert result.out == direct.out


# ---------------------------------------------------------------------- streaming pieces
def test_unescape_turns_backslash_sequences_into_characters():
    assert unescape(r"\n\n") == "\n\n"
    assert unescape(r"a\tb\\n") == "a\tb\\n"
    assert unescape(r"\x") == r"\x"  # unknown escapes stay as typed
    assert unescape("déjà\\n") == "déjà\n"


def test_word_stream_decoding_equals_decoding_at_once():
    vocab = Vocab.build_word("the cat sat on the mat\na dog ran\n")
    rng = np.random.default_rng(0)
    ids = rng.integers(0, len(vocab), 60)
    for cuts in ([20, 40], [1, 2, 3, 59], list(range(1, 60))):
        decode = StreamDecoder(vocab, line_start=True)
        pieces = [decode(chunk) for chunk in np.split(ids, cuts)]
        assert "".join(pieces) == vocab.decode(ids)


def test_word_stream_after_a_prime_mid_line_starts_with_a_space():
    vocab = Vocab.build_word("the cat sat\n")
    decode = StreamDecoder(vocab, line_start=False)
    assert decode(np.array([vocab.id_of("sat")])) == " sat"
    assert decode(np.array([vocab.eos_id, vocab.id_of("the")])) == "\nthe"


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 100])
def test_stop_text_split_across_chunks_is_found(chunk):
    vocab = Vocab.build_char("abc\n")
    text = "abcab\ncab\n\nabc"
    ids = vocab.encode(text).astype(np.int64)

    def chunks():
        for start in range(0, ids.size, chunk):
            yield ids[start : start + chunk].reshape(1, -1)

    out = io.StringIO()
    _stream_one(chunks(), StreamDecoder(vocab, True), "P:", "\n\n", out)
    assert out.getvalue() == "P:abcab\ncab\n\n"


@pytest.mark.slow  # 2.0 s warm on 2 cores (measured with --durations): too slow for the inner loop
def test_a_reader_that_stops_early_ends_sampling_quietly(run):
    """`charlm sample | head -c 20`: no traceback, no error message, exit 0."""
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "charlm.cli", "sample", str(run), "--length", "200000", "--seed", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    head = proc.stdout.read(20)
    proc.stdout.close()
    _, err = proc.communicate(timeout=120)
    assert len(head) == 20
    assert proc.returncode == 0 and b"Traceback" not in err and b"Error" not in err, err.decode()
