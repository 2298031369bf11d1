"""`charlm inspect --html` with hostile tokens: a model trained on HTML or XML has words such as
`</script>` or `<!--<script>` in its vocabulary, and the page embeds the vocabulary in its inline
script. In a real browser the page's script must still run (the box of a token pinned by
``page.html#N`` shown) and show every such token as written, at word and at character level."""

from __future__ import annotations

import html

import numpy as np
import pytest

from charlm.lm.config import ModelConfig
from charlm.lm.models.recurrent import RecurrentLanguageModel
from charlm.lm.models.saved import save_model
from charlm.text.vocab import Vocab
from tests.helpers.browser import CHROMIUM, NO_CHROMIUM, rendered_dom, shown_tip
from tests.helpers.cli import run_cli

HOSTILE_WORDS = ["</script>", "<!--<script>", "</SCRIPT", "<script", "<!--", "-->", "]]>", "&amp;", "&lt;/script&gt;",
                 '"quoted"', "'single'", "back\\slash", '\\"', "\\u2028", "a<b>c", "</style>"]
HOSTILE_CHARS = "<!--<script></SCRIPT >\u2028\u2029&amp;\"'\\/ x"


def page_of(tmp_path, capsys, vocab: Vocab, text: str) -> tuple[int, str]:
    """The page `charlm inspect --html` writes for a random model over ``text``, opened in
    Chromium at the token whose name is ``HOSTILE_WORDS[1]`` or ``<``; the top-k list is the
    whole vocabulary, so the box names every token. Returns that token's position and the box's
    HTML with its text unescaped."""
    model = RecurrentLanguageModel(ModelConfig(vocab_size=len(vocab), hidden_size=8, layers=1), np.float32, seed=1)
    save_model(tmp_path / "m.npz", model, vocab)
    source = tmp_path / "<!--<script>.txt"  # the file's name is in the page's title and subtitle
    source.write_text(text, encoding="utf-8")
    page = tmp_path / "page.html"
    result = run_cli(capsys, "inspect", tmp_path / "m.npz", source, "--html", page, "--top-k", len(vocab))
    assert result.code == 0, result.err
    pinned = vocab.encode(text).tolist().index(vocab.id_of("<!--<script>" if vocab.level == "word" else "<"))
    dom = rendered_dom(page, str(pinned), tmp_path / "profile")
    tip = shown_tip(dom)
    assert tip is not None, f"the page's script did not run:\n{dom[-3000:]}"
    assert f"token {pinned}:" in tip and "next, predicted:" in tip
    return pinned, html.unescape(tip)


@pytest.mark.slow  # a headless browser starts (2-5 s)
@pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)
def test_a_word_models_page_runs_whatever_its_words(tmp_path, capsys):
    text = "\n".join(" ".join(HOSTILE_WORDS[i:] + HOSTILE_WORDS[:i]) for i in range(len(HOSTILE_WORDS))) + "\n"
    vocab = Vocab.build_word(text)
    pinned, tip = page_of(tmp_path, capsys, vocab, text)
    assert f"token {pinned}: <!--<script><br>" in tip
    for word in HOSTILE_WORDS:
        assert f"{word}\u00a0\u00a0" in tip, word  # each listed as written, with its probability after it


@pytest.mark.slow  # a headless browser starts (2-5 s)
@pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)
def test_a_character_models_page_runs_whatever_its_characters(tmp_path, capsys):
    text = HOSTILE_CHARS * 3
    vocab = Vocab.build_char(text)
    pinned, tip = page_of(tmp_path, capsys, vocab, text)
    assert f"token {pinned}: <<br>" in tip
    for char in set(HOSTILE_CHARS) - {" "}:
        assert f"\u00a0\u00a0{char}\u00a0\u00a0" in tip, hex(ord(char))
