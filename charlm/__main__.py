"""``python -m charlm``: the same as the ``charlm`` command. Under MPI:
``mpiexec -n 4 python -m mpi4py -m charlm train ...``."""

from .cli import main

main()
