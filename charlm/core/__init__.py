"""The numerical core: jitted kernels, the cell table, recurrent layers, parameters, optimizers
and thread control. Imports nothing of charlm above it (only ``charlm.errors``)."""
