"""The table of classifier families (supervised/families.py): every ``--model`` the command offers
belongs to exactly one family, the default is the sequence classifiers', each family's own options
are options the command has, and the table loads no family's heavy code until it is asked."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import fields

from charlm.classify.config import MODELS
from charlm.classify.options import ClassifyOptions
from charlm.cli.classify import ModelName
from charlm.supervised.families import FAMILIES, families, family_of
from charlm.trees.config import TREE_MODELS


def test_every_model_the_command_offers_has_exactly_one_family():
    offered = [m.value for m in ModelName]
    for model in offered:
        owners = [f for f in families() if model in f.models]
        assert len(owners) == 1, (model, owners)
        assert family_of(model) is owners[0]
    assert sorted(m for f in families() for m in f.models) == sorted(offered)
    assert family_of("rntn").models == TREE_MODELS and family_of("rcnn").models == MODELS


def test_the_default_family_is_the_sequence_classifiers():
    # --model not given, or a name no family has (its configuration then refuses it with its choices)
    assert family_of(None).models == MODELS == family_of("no-such-model").models
    assert family_of(None) is families()[0] and len(families()) == len(FAMILIES)


def test_a_familys_own_options_are_options_of_the_command_and_no_other_familys():
    names = {f.name for f in fields(ClassifyOptions)}
    owned = [name for f in families() for name in f.own_options]
    assert set(owned) <= names and len(owned) == len(set(owned))
    assert {"model", "hidden_size", "embed_size", "dropout", "lr"}.isdisjoint(owned)  # every family reads these


LIGHT = """
import sys
from charlm.supervised.families import families, family_of
family_of("rntn"), families()
print(sorted(m for m in sys.modules if m.startswith("charlm.")), "numba" in sys.modules)
"""


def test_the_table_loads_no_familys_heavy_code():
    proc = subprocess.run([sys.executable, "-c", LIGHT], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[-1] == "False", proc.stdout
    assert "charlm.trees.session" not in proc.stdout and "charlm.classify.session" not in proc.stdout
