"""`charlm inspect`: surprisals that add up to `charlm eval`'s loss, unit values aligned with
the model's own outputs, an HTML page with one element per character and nothing fetched,
`--find` recovering a quote unit planted by hand, and bad input refused by name."""

from __future__ import annotations

import json
import math
import random
from html.parser import HTMLParser

import numpy as np
import pytest

from charlm.lm.config import ModelConfig
from charlm.lm.models.recurrent import RecurrentLanguageModel
from charlm.lm.models.saved import load_model, save_model
from charlm.text.vocab import Vocab
from tests.helpers.browser import CHROMIUM, NO_CHROMIUM, rendered_dom, shown_tip
from tests.helpers.cli import run_cli
from tests.helpers.texts import english_text


@pytest.fixture(scope="module")
def run_and_text(trained_run):
    folder, corpus, run, result = trained_run
    assert result.code == 0, result.err
    text = folder / "inspect.txt"
    text.write_text(corpus.read_text(encoding="utf-8")[-700:], encoding="utf-8")
    return run, text


def inspect_json(capsys, *args) -> dict:
    result = run_cli(capsys, "inspect", *args, "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def test_the_surprisals_add_up_to_the_loss_of_eval_in_one_stream(run_and_text, capsys):
    run, text = run_and_text
    report = inspect_json(capsys, run, text, "--seq-len", 37)
    records = report["records"]
    assert len(records) == len(text.read_text(encoding="utf-8")) and records[0]["surprisal"] is None
    bits = sum(r["surprisal"] for r in records[1:])
    plain = json.loads(run_cli(capsys, "eval", run, text, "--batch-size", 1, "--json").out)
    assert bits * math.log(2) / (len(records) - 1) == pytest.approx(plain["loss"], rel=1e-5)
    for record in records:  # the top predictions are best first, and are probabilities
        probs = [p for _, p in record["top"]]
        assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1 + 1e-4


def test_a_units_values_are_the_models_own_outputs_at_each_position(run_and_text, capsys):
    run, text = run_and_text
    report = inspect_json(capsys, run, text, "--unit", "0:7")
    snap = load_model(run / "best.npz")
    tokens = snap.vocab.encode(text.read_text(encoding="utf-8"))
    outputs, _ = snap.model.outputs(tokens.reshape(-1, 1), snap.model.initial_state(1))
    h = np.array([r["unit"]["h"] for r in report["records"]])
    np.testing.assert_allclose(h, outputs[:, 0, 7], atol=1e-6)
    assert set(report["records"][0]["unit"]) == {"h", "c", "i", "f", "g", "o"}
    gates = np.array([[r["unit"][g] for g in "ifo"] for r in report["records"]])
    assert (gates > 0).all() and (gates < 1).all()  # sigmoid gates


class Spans(HTMLParser):
    def __init__(self):
        super().__init__()
        self.pieces, self.inside, self.fetches = [], False, []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.fetches += [value for key, value in attrs.items() if key in ("src", "href")]
        self.inside = tag == "span" and attrs.get("class") == "t"
        if self.inside:
            self.pieces.append("")

    def handle_endtag(self, tag):
        self.inside = False

    def handle_data(self, data):
        if self.inside:
            self.pieces[-1] += data


def test_the_html_page_holds_one_element_per_character_and_fetches_nothing(run_and_text, capsys, tmp_path):
    run, text = run_and_text
    page = tmp_path / "page.html"
    result = run_cli(capsys, "inspect", run, text, "--html", page, "--unit", "0:3")
    assert result.code == 0, result.err
    parser = Spans()
    parser.feed(page.read_text(encoding="utf-8"))
    content = text.read_text(encoding="utf-8")
    assert len(parser.pieces) == len(content) and "".join(parser.pieces) == content
    assert parser.fetches == [] and "http" not in page.read_text(encoding="utf-8")
    # A second run may replace its own page; another file of the user's is never overwritten.
    assert run_cli(capsys, "inspect", run, text, "--html", page).code == 0
    mine = tmp_path / "notes.html"
    mine.write_text("<p>my notes</p>", encoding="utf-8")
    refused = run_cli(capsys, "inspect", run, text, "--html", mine)
    assert refused.code != 0 and "not written by charlm inspect" in refused.err
    assert mine.read_text(encoding="utf-8") == "<p>my notes</p>"


def quote_text(n_words: int = 1500) -> str:
    """English with double-quoted passages of 2-10 words dropped in."""
    words = english_text(40_000).replace('"', "").split()[:n_words]
    rng, out, i = random.Random(0), [], 0
    while i < len(words):
        if rng.random() < 0.15:
            k = rng.randint(2, 10)
            out.append('"' + " ".join(words[i:i + k]) + '"')
            i += k
        else:
            out.append(words[i])
            i += 1
    return " ".join(out)


@pytest.mark.slow  # 1.8 s warm on 2 cores (measured with --durations): too slow for the inner loop
def test_find_recovers_a_quote_unit_planted_by_hand(tmp_path, capsys):
    """Unit 5's cell flips at every double quote (input gate open and forget gate shut there, the
    candidate the opposite of the unit's last output), so it is +1 inside quotes, -1 after them."""
    text = quote_text()
    vocab = Vocab.build_char(text)
    H, j, q = 12, 5, vocab.tokens.index('"')
    model = RecurrentLanguageModel(ModelConfig(vocab_size=len(vocab), hidden_size=H, layers=1), np.float32, seed=3)
    p = model.params
    p["encoder.weight"][:, 0] = 0
    p["encoder.weight"][q] = 0
    p["encoder.weight"][q, 0] = 1  # dimension 0 of the embedding: "this is a quote"
    w_ih, w_hh, bias = p["rnn.weight_ih_l0"], p["rnn.weight_hh_l0"], p["rnn.bias_ih_l0"]
    rows = [k * H + j for k in range(4)]  # unit 5's i, f, g, o rows
    w_ih[rows], w_hh[rows], bias[rows], p["rnn.bias_hh_l0"][rows] = 0, 0, 0, 0
    w_ih[:, 0] = 0
    w_ih[rows[0], 0], bias[rows[0]] = 20, -10  # input gate: open on a quote only
    w_ih[rows[1], 0], bias[rows[1]] = -20, 10  # forget gate: shut on a quote only
    w_hh[rows[2], j], bias[rows[2]] = -20, 5  # candidate: the opposite of the last output (+1 at the start)
    bias[rows[3]] = 10  # output gate: open
    model.refresh()
    save_model(tmp_path / "planted.npz", model, vocab)
    (tmp_path / "quotes.txt").write_text(text, encoding="utf-8")
    report = inspect_json(capsys, tmp_path / "planted.npz", tmp_path / "quotes.txt", "--find", '"[^"]*"')
    best = report["find"]["units"][0]
    assert (best["layer"], best["unit"]) == (0, j) and best["correlation"] > 0.9
    assert all(abs(m["correlation"]) < best["correlation"] for m in report["find"]["units"] if m["unit"] != j)
    assert report["unit"] == {"layer": 0, "unit": j, "value": best["kind"]}  # shown by default


@pytest.mark.parametrize("args, named", [
    (["--unit", "1:0"], "layer 1 is out of range"),
    (["--unit", "0:999"], "unit 999 is out of range"),
    (["--unit", "x"], "--unit must be LAYER:UNIT"),
    (["--unit", "0:1", "--value", "z"], "--value 'z'"),
    (["--value", "c"], "--value takes effect only with --unit"),
    (["--find", "("], "not a valid regular expression"),
    (["--find", "QQQ"], "matches nothing"),
    (["--top-k", 0], "--top-k"),
])
def test_impossible_options_are_refused_by_name(run_and_text, capsys, args, named):
    run, text = run_and_text
    result = run_cli(capsys, "inspect", run, text, *args)
    assert result.code != 0 and named in result.err and "Traceback" not in result.err


def test_an_unknown_character_is_named_and_an_empty_file_refused(run_and_text, capsys, tmp_path):
    run, _ = run_and_text
    odd = tmp_path / "odd.txt"
    odd.write_text("a snowman \u2603 here", encoding="utf-8")
    result = run_cli(capsys, "inspect", run, odd)
    assert result.code != 0 and "\u2603" in result.err
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    result = run_cli(capsys, "inspect", run, empty)
    assert result.code != 0 and "empty" in result.err.lower() and "Traceback" not in result.err


@pytest.mark.slow  # 1.5 s warm on 2 cores (measured with --durations): too slow for the inner loop
@pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)
def test_the_pages_script_runs_in_a_real_browser(run_and_text, capsys, tmp_path):
    """Headless Chromium opens page.html#40 (a token's box shown, as on hover) and the box
    names that token and its predictions: the inline script parsed and ran."""
    run, text = run_and_text
    page = tmp_path / "page.html"
    assert run_cli(capsys, "inspect", run, text, "--html", page, "--unit", "0:3").code == 0
    dom = rendered_dom(page, "40", tmp_path / "profile")
    tip = shown_tip(dom)
    assert tip is not None, dom[-2000:]
    assert "token 40:" in tip and "layer 0 unit 3 h = " in tip and "next, predicted:" in tip


@pytest.mark.parametrize("cell, gates", [("gru", "rzn"), ("rnn-tanh", ""), ("lstm-coupled", "fgo")])
def test_every_cell_shows_its_own_values(tmp_path, capsys, cell, gates):
    text = english_text(300)
    vocab = Vocab.build_char(text)
    model = RecurrentLanguageModel(ModelConfig(vocab_size=len(vocab), cell=cell, hidden_size=8, layers=2), np.float32, seed=2)
    save_model(tmp_path / "m.npz", model, vocab)
    (tmp_path / "t.txt").write_text(text, encoding="utf-8")
    report = inspect_json(capsys, tmp_path / "m.npz", tmp_path / "t.txt", "--unit", "1:7")
    values = report["records"][5]["unit"]
    assert set(values) == {"h"} | set(gates) | ({"c"} if cell.startswith("lstm") else set())
    outputs, _ = model.outputs(vocab.encode(text).reshape(-1, 1), model.initial_state(1))
    assert values["h"] == pytest.approx(float(outputs[5, 0, 7]), abs=1e-6)
