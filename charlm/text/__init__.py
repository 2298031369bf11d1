"""Text in and out: strict reading of text files (byte offsets in errors), vocabularies (character
or word) and the bundled corpus. Imports nothing of charlm above it and never Numba."""
