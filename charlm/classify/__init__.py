"""Text classification with the same recurrent engine as the language models.

``charlm classify train|predict|eval``: a bidirectional Text-RNN or an RCNN (Lai et al. 2015) reads
labelled sentences (``label<TAB>text``) and learns to tell their classes apart.

Modules, one job each (arrows point down only)::

    cli.py ──► display.py
       └─────► session.py ──► data.py, tokens.py, metrics.py
                   ├────────► train.py ──► models.py ──► bidirectional.py ──► charlm.core.recurrent
                   │                          ├───────► pooling.py
                   │                          └───────► padding.py, config.py
                   └────────► snapshot.py ──► charlm.store.checkpoint
"""
