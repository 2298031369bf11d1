import os
import sys
from pathlib import Path

import pytest

# tests/naive.py, gradcheck.py, cli_helpers.py and texts.py are imported as plain modules.
sys.path.insert(0, str(Path(__file__).parent))

# Training starts a background compile of the sampling kernels (lm/warmup.py); in the suite that
# would be dozens of extra processes competing for two cores. tests/test_warmup.py turns it on.
os.environ["CHARLM_BACKGROUND_COMPILE"] = "0"



@pytest.fixture(scope="session")
def trained_run(tmp_path_factory):
    """One small character model trained through the CLI on real text, shared by the CLI tests:
    (folder, corpus path, run folder, the train command's Result)."""
    from cli_helpers import TINY, run_cli
    from texts import write_text

    folder = tmp_path_factory.mktemp("cli")
    corpus = write_text(folder, 40_000)
    run = folder / "run"
    result = run_cli(None, "train", corpus, "--out", run, *TINY, "--epochs", 2, "--eval-every", 50, "--seed", 1)
    return folder, corpus, run, result
