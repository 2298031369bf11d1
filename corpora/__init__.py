"""Bundled corpora, installed as the package ``charlm.corpora``: see README.md here, and
:func:`charlm.bundled.bundled_corpus_path`."""
