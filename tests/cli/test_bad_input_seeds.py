"""A seed is a whole number from 0 to 2^32 - 1 in every command that takes one (train, also with
--init-from or --model memn2n; sample; classify train): one rule, said in the help, refused in one
line otherwise, before anything is read or written."""

from __future__ import annotations

import numpy as np
import pytest

from charlm.supervised.config import FitConfig
from charlm.errors import ConfigError
from charlm.lm.config import TrainConfig
from charlm.lm.generate.sampling_config import SamplingConfig
from charlm.settings import SEED_RANGE, check_seed
from tests.helpers.classify_texts import TINY as CLASSIFY_TINY
from tests.helpers.classify_texts import write_labelled
from tests.helpers.cli import TINY, refused, run_cli, tree

BAD_SEEDS = [-1, SEED_RANGE[1] + 1, 99999999999999999999999]


@pytest.mark.parametrize("seed", BAD_SEEDS)
@pytest.mark.parametrize("options", [TINY, ["--model", "memn2n", "--hidden-size", 8, "--memory", 5, "--hops", 2],
                                     ["--init-from", "RUN"]])
def test_train_refuses_a_seed_out_of_range(trained_run, tmp_path, capsys, seed, options):
    _, corpus, run, _ = trained_run
    options = [str(run) if o == "RUN" else o for o in options]
    result = run_cli(capsys, "train", corpus, "--out", tmp_path / "new", "--max-steps", 2, "--seed", seed, *options)
    refused(result, "--seed", f"from 0 to {SEED_RANGE[1]}", str(seed))
    assert tree(tmp_path) == {}


@pytest.mark.parametrize("seed", BAD_SEEDS)
def test_sample_refuses_a_seed_out_of_range(trained_run, capsys, seed):
    result = run_cli(capsys, "sample", trained_run[2], "--length", 5, "--seed", seed)
    refused(result, "--seed", f"from 0 to {SEED_RANGE[1]}", str(seed))
    assert result.out == ""


def test_sample_takes_the_largest_seed(trained_run, capsys):
    result = run_cli(capsys, "sample", trained_run[2], "--length", 5, "--seed", SEED_RANGE[1])
    assert result.code == 0, result.err


@pytest.mark.parametrize("seed", BAD_SEEDS)
def test_classify_train_refuses_a_seed_out_of_range(tmp_path, capsys, seed):
    data = write_labelled(tmp_path / "data.txt", 40, seed=1)
    before = tree(tmp_path)
    result = run_cli(capsys, "classify", "train", data, "--out", tmp_path / "run", *CLASSIFY_TINY, "--seed", seed)
    refused(result, "--seed", f"from 0 to {SEED_RANGE[1]}", str(seed))
    assert tree(tmp_path) == before


@pytest.mark.parametrize("command", [["train"], ["sample"], ["classify", "train"]])
def test_every_help_page_says_the_range(capsys, command):
    result = run_cli(capsys, *command, "--help")
    assert f"0 to {SEED_RANGE[1]}" in " ".join(result.out.split()), result.out


@pytest.mark.parametrize("make", [lambda seed: TrainConfig(seed=seed), lambda seed: FitConfig(seed=seed).validate(),
                                  lambda seed: SamplingConfig(seed=seed)])
def test_every_configuration_keeps_the_rule(make):
    """The library's configurations, not only the command line, keep it."""
    for seed in (*BAD_SEEDS, True, 1.5, "3"):
        with pytest.raises(ConfigError, match="--seed"):
            make(seed)
    for seed in (0, SEED_RANGE[1], np.int64(7)):
        make(seed)


def test_check_seed_gives_a_plain_int():
    assert check_seed(np.uint32(SEED_RANGE[1])) == SEED_RANGE[1] and type(check_seed(np.int64(3))) is int
