"""Text classification with the same recurrent engine as the language models, and recursive
networks over parse trees.

``charlm classify train|predict|eval``: a bidirectional Text-RNN or an RCNN (Lai et al. 2015) reads
labelled sentences (``label<TAB>text``) and learns to tell their classes apart; a recursive NN, an
RNTN (Socher et al. 2013) or a binary Tree-LSTM (Tai et al. 2015) reads labelled parse trees.

Modules, one job each (arrows point down only; the command is ``cli/classify.py``, its display
``cli/classify_display.py``)::

    session.py ──► data.py, tokens.py, metrics.py, options.py
       ├────────► train.py ──► models.py ──► bidirectional.py ──► charlm.core.recurrent
       │                          ├───────► pooling.py
       │                          └───────► padding.py, config.py
       ├────────► tree_session.py ──► treebank.py (parse, binary labels, fallback trees)
       │              └─────────────► tree_train.py ──► tree_models.py ──► tree_batch.py
       │                                                   └───────────► charlm.core.kernels.trees
       └────────► saved_model.py ──► charlm.store.checkpoint
"""
