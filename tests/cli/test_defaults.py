"""One home for every default: what `charlm train --help` says a default is, a new run really uses.
The help text is built from the configuration classes; these tests check it against the settings
``training_run.new_run_settings`` resolves when an option is left out, so a default written a second
time anywhere on the way (the command line, the run set-up) shows up as a mismatch."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from charlm.lm.config import DataConfig, ModelConfig, TrainConfig
from charlm.lm.options import TrainOptions


def _help_defaults(*command) -> dict[str, str]:
    """``--option`` -> the text of its ``[default: ...]``, read from the real help page."""
    env = {**os.environ, "COLUMNS": "400", "TERMINAL_WIDTH": "400", "NO_COLOR": "1"}
    proc = subprocess.run([sys.executable, "-m", "charlm", *command, "--help"], capture_output=True, text=True,
                          env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    found = {}
    for line in proc.stdout.splitlines():
        option = re.search(r"(--[a-z][a-z0-9-]*)", line)
        default = re.search(r"\[default: ([^\]]+)\]", line)
        if option and default:
            found[option.group(1)] = default.group(1).strip()
    return found


def _shown(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


@pytest.fixture(scope="module")
def train_help():
    return _help_defaults("train")


@pytest.mark.slow  # 1.0 s warm on 2 cores (measured with --durations): too slow for the inner loop
def test_every_plain_default_in_train_help_is_the_one_a_new_run_uses(train_help):
    # Loaded here, not at the top: resolving the settings imports the training code.
    from charlm.lm.train.session import new_run_settings

    model_values, train, data = new_run_settings(TrainOptions())
    model = ModelConfig(vocab_size=1, **model_values)
    used = {**vars(model), **vars(train), **vars(data)}
    computed = {"embed_size", "forget_bias", "threads", "init_scale", "val_frac", "lr", "cutoffs",
                "linear_units"}  # checked below
    checked = 0
    for option, shown in train_help.items():
        name = option[2:].replace("-", "_")
        if name in computed or name not in used:
            continue
        assert shown == _shown(used[name]), f"{option}: help says {shown}, a new run uses {used[name]!r}"
        checked += 1
    # Every default the page shows was checked, here or below; and the page shows the usual ones.
    assert checked + len(computed) == len(train_help), sorted(train_help)
    assert {"--epochs", "--hidden-size", "--seq-len", "--batch-size", "--clip-norm"} <= set(train_help)


def test_the_computed_defaults_are_what_their_help_says(train_help):
    from charlm.lm.train.session import new_run_settings

    assert train_help["--embed-size"] == "the hidden size"
    assert train_help["--cutoffs"] == "2000,10000 with --softmax adaptive"
    model_values, _, _ = new_run_settings(TrainOptions(softmax="adaptive", level="word"))
    assert ModelConfig(vocab_size=1, **model_values).cutoffs == [2000, 10000]
    model_values, _, _ = new_run_settings(TrainOptions(hidden_size=48))
    assert ModelConfig(vocab_size=1, **model_values).embed_size == 48
    assert train_help["--linear-units"] == "half the hidden size"
    model_values, train, _ = new_run_settings(TrainOptions(model="memn2n"))
    assert ModelConfig(vocab_size=1, **model_values).linear_units == 75  # and 150 units: the --model help says so
    assert (model_values["hidden_size"], train.optimizer, train.batch_size, train.seq_len) == (150, "sgd", 128, 1)
    assert train_help["--forget-bias"] == "1 for LSTMs"
    for cell in ("lstm", "lstm-peephole", "lstm-coupled"):
        assert new_run_settings(TrainOptions(cell=cell))[0]["forget_bias"] == 1.0
    assert new_run_settings(TrainOptions(cell="gru"))[0]["forget_bias"] is None
    assert train_help["--lr"] == "0.002 for adam and rmsprop, 1 for sgd, 0.01 for adagrad"
    assert [new_run_settings(TrainOptions(optimizer=name))[1].lr for name in ("adam", "rmsprop", "sgd", "adagrad")] == [0.002, 0.002, 1.0, 0.01]
    assert train_help["--threads"] == "all cores"
    assert new_run_settings(TrainOptions())[1].threads is None  # None: every core (threads.py)
    assert train_help["--init-scale"] == "PyTorch's initialisation"
    assert new_run_settings(TrainOptions())[0].get("init_scale") is None
    assert train_help["--val-frac"] == "0.05 without --val"
    assert new_run_settings(TrainOptions())[2].val_frac == 0.05
    assert new_run_settings(TrainOptions(val="v.txt"))[2].val_frac is None
    assert new_run_settings(TrainOptions(), split_folder=True)[2].val_frac is None


def test_every_option_of_train_is_a_field_of_the_typed_options():
    """The command line builds TrainOptions by name: an option with no field would be lost."""
    from typer.main import get_command

    from charlm.cli.train import train
    from charlm.cli.app import app

    command = get_command(app).commands["train"]
    names = {p.name for p in command.params}
    fields = set(TrainOptions.__dataclass_fields__)
    assert names - {"out_dir"} <= fields | {"corpus"}, names - fields
    assert "out_dir" in fields and train.__name__ == "train"


def test_a_given_option_overrides_the_default():
    from charlm.lm.train.session import new_run_settings

    model_values, train, data = new_run_settings(TrainOptions(lr=0.5, epochs=2, cell="gru", level="word", dtype="float64"))
    assert (train.lr, train.epochs, model_values["cell"], data.level, data.dtype) == (0.5, 2, "gru", "word", "float64")
    assert new_run_settings(TrainOptions(clip_norm=0))[1].clip_norm is None  # 0 turns it off
    # A 0 means "off" or "never" for the same settings in every command: it is the field's rule.
    assert new_run_settings(TrainOptions(patience=0))[1].patience is None  # never stop early
    from charlm.supervised.config import FitConfig

    assert (FitConfig(clip_norm=0).clip_norm, FitConfig(patience=0).patience) == (None, None)
    assert (TrainConfig(patience=3).patience, FitConfig(patience=3).patience) == (3, 3)
    assert TrainConfig().clip_norm == 5.0 and DataConfig().level == "char"


@pytest.mark.slow  # 1.1 s warm on 2 cores (measured with --durations): too slow for the inner loop
def test_every_default_in_classify_train_help_is_the_one_a_new_classifier_uses():
    from charlm.classify.options import ClassifyOptions
    from charlm.classify.session import new_run_settings

    shown = _help_defaults("classify", "train")
    model_values, fit, data = new_run_settings(ClassifyOptions())
    from charlm.classify.config import ClassifierConfig

    model = ClassifierConfig(vocab_size=1, num_classes=2, **model_values)
    used = {**vars(model), **vars(fit), **vars(data)}
    computed = {"proj_size", "threads", "classes", "l2", "recipe"}  # the last three: tree models only, below
    for option, text in shown.items():
        name = option[2:].replace("-", "_")
        if name not in computed:
            assert text == _shown(used[name]), f"{option}: help says {text}, a new classifier uses {used[name]!r}"
    assert {"--model", "--lr", "--epochs", "--dev-frac", "--level", "--patience"} <= set(shown)
    assert shown["--proj-size"] == "the hidden size" and model.proj_size == model.hidden_size
    assert shown["--threads"] == "all cores"
    from charlm.trees.config import TREE_DEFAULT_CLASSES, TREE_DEFAULT_L2, TREE_FIT_DEFAULTS, tree_defaults_text
    from charlm.trees.session import _fit_config

    assert (shown["--classes"], shown["--l2"]) == (str(TREE_DEFAULT_CLASSES), f"{TREE_DEFAULT_L2:g}")
    assert "--lr 0.05 (treernn), 0.01 (rntn), 0.05 (treelstm)" in tree_defaults_text()
    tree_fit = _fit_config(ClassifyOptions(model="rntn"), "charlm")
    assert {k: getattr(tree_fit, k) for k in TREE_FIT_DEFAULTS} == TREE_FIT_DEFAULTS
    from charlm.trees import recipe as tree_recipe

    assert shown["--recipe"] == tree_recipe.DEFAULT_RECIPE == "charlm"
    corenlp = _fit_config(ClassifyOptions(model="rntn"), "corenlp")
    assert (corenlp.batch_size, corenlp.lr, corenlp.epochs, corenlp.patience) == (27, 0.01, 100, 25)
    from charlm.trees.config import TREE_DEFAULT_LR

    assert [_fit_config(ClassifyOptions(model=m), "charlm").lr for m in TREE_DEFAULT_LR] == list(TREE_DEFAULT_LR.values())
    assert _fit_config(ClassifyOptions(model="rntn", lr=0.2), "corenlp").lr == 0.2
    # The RCNN's pooling is not a choice: it max-pools whatever the Text-RNN default is.
    assert new_run_settings(ClassifyOptions(model="rcnn"))[0]["pool"] == "max"


@pytest.mark.slow  # 1.1 s warm on 2 cores (measured with --durations): too slow for the inner loop
def test_every_default_in_sample_help_is_the_one_sampling_uses():
    from charlm.lm.generate.sampling_config import SamplingConfig

    shown = _help_defaults("sample")
    used = vars(SamplingConfig())
    checked = {option: text for option, text in shown.items() if option[2:].replace("-", "_") in used}
    for option, text in checked.items():
        name = option[2:].replace("-", "_")
        expected = "0" if name == "length_penalty" else _shown(used[name])  # None: 0 once --beam is given
        assert text == expected, f"{option}: help says {text}, sampling uses {used[name]!r}"
    assert {"--length", "--temperature", "--top-k", "--top-p", "--num-samples", "--beam"} <= set(checked)
