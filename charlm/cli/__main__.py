"""``python -m charlm.cli``: the ``charlm`` command."""

from . import main

main()
