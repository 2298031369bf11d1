"""lm/export/pair.py: the two graphs of one export share an id, and a pair made of two exports
is told. (Exports killed while writing: tests/system/test_export_kill.py.)"""

from __future__ import annotations

import pytest

pytest.importorskip("onnx", reason="the onnx package is not installed (pip install -e '.[test]')")

from charlm.cli.export import step_path  # noqa: E402
from charlm.errors import DataError  # noqa: E402
from charlm.lm.config import ModelConfig  # noqa: E402
from charlm.lm.export.pair import check_pair, export_pair  # noqa: E402
from charlm.lm.models.recurrent import RecurrentLanguageModel  # noqa: E402
from charlm.text.vocab import Vocab  # noqa: E402


def test_a_pair_from_two_exports_is_told(tmp_path):
    vocab = Vocab.build_char("abcdefghij klmnop\n")
    model = RecurrentLanguageModel(ModelConfig(vocab_size=len(vocab), hidden_size=8, layers=1), seed=0)
    one, two = tmp_path / "one.onnx", tmp_path / "two.onnx"
    export_pair(model, vocab, one, step_path(one))
    export_pair(model, vocab, two, step_path(two))
    assert check_pair(one, step_path(one)) != check_pair(two, step_path(two))
    with pytest.raises(DataError, match="not one export"):
        check_pair(one, step_path(two))
