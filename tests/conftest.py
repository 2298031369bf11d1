import os

import pytest

# Training starts a background compile of the sampling kernels (lm/models/warmup.py); in the suite that
# would be dozens of extra processes competing for two cores. tests/system/test_warmup.py turns it on.
os.environ["CHARLM_BACKGROUND_COMPILE"] = "0"

SYSTEM = os.path.join(os.path.dirname(__file__), "system")


def pytest_collection_modifyitems(config, items):
    """Everything under tests/system/ (processes, kills, MPI, cold compiles, wheels) is slow."""
    for item in items:
        if str(item.path).startswith(SYSTEM + os.sep):
            item.add_marker(pytest.mark.slow)



@pytest.fixture(scope="session")
def trained_run(tmp_path_factory):
    """One small character model trained through the CLI on real text, shared by the CLI tests:
    (folder, corpus path, run folder, the train command's Result)."""
    from tests.helpers.cli import TINY, run_cli
    from tests.helpers.texts import write_text

    folder = tmp_path_factory.mktemp("cli")
    corpus = write_text(folder, 40_000)
    run = folder / "run"
    result = run_cli(None, "train", corpus, "--out", run, *TINY, "--epochs", 2, "--eval-every", 50, "--seed", 1)
    return folder, corpus, run, result
