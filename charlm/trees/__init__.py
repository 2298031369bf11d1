"""Recursive networks over labelled binary parse trees: the recursive NN, the RNTN (Socher et al.
2013) and the binary Tree-LSTM (Tai et al. 2015), ``charlm classify train|predict|eval`` with
``--model treernn|rntn|treelstm``. A family of its own beside the sequence classifiers
(``charlm/classify/``, which it never imports), built on what both share (``charlm/supervised/``),
with its kernels in ``charlm/core/kernels/trees.py``.

Modules, one job each (arrows point down only)::

    family.py (this family's entry in supervised/families.py)
       └─► session.py ──► treebank.py (parse, binary labels, fallback trees), config.py
              ├────────► recipe.py (charlm's recipe or CoreNLP's)
              └────────► train.py ──► models.py ──► batch.py (trees as one batch, level by level)
                            │            └───────► charlm.core.kernels.trees
                            └──────────► charlm.supervised.trainer (the loop)
"""
