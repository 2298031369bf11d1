"""The errors a user can cause. The CLI turns each into one line on stderr and an exit code;
any other exception is a bug in charlm and may show a traceback."""


class CharlmError(Exception):
    """Base class: something about the input, options or files that the user can fix."""

    exit_code = 2


class ConfigError(CharlmError):
    """Impossible or inconsistent options."""


class DataError(CharlmError):
    """A text file that cannot be used as a corpus (missing, empty, binary, not UTF-8, too short)."""


class CheckpointError(CharlmError):
    """A file that is not a loadable charlm checkpoint (foreign, truncated, corrupt, newer format)."""


class TextNote(UserWarning):
    """Something about the input (a text, a resumed run, an option cut to what the machine has)
    that is worth a one-line note but not a refusal (the command line prints it as ``note: ...``).
    Here, below every layer, so that any of them can say one."""


class UnusableWeights(CheckpointError):
    """Weights that load (finite, the right shapes) but compute non-finite values: every parameter
    3e38, say. ``source``: the checkpoint, named by whoever knows it (``store.checkpoint.computing_with``)."""

    def __init__(self, source=None):
        self.source = source
        super().__init__(f"{'the model' if source is None else source} produces non-finite values; "
                         "the weights are unusable")


class TrainingError(CharlmError):
    """Training cannot go on (for example the loss keeps becoming NaN)."""

    exit_code = 3
