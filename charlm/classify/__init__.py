"""Text classification with the same recurrent engine as the language models.

``charlm classify train|predict|eval`` with ``--model textrnn|rcnn``: a bidirectional Text-RNN or an
RCNN (Lai et al. 2015) reads labelled sentences (``label<TAB>text``) and learns to tell their classes
apart. The recursive networks over parse trees are the other family, ``charlm/trees/``; what both
share (training configuration, the loop, metrics, checkpoints, the table of families that chooses
between them) is ``charlm/supervised/``. Neither family imports the other.

Modules, one job each (arrows point down only; the command is ``cli/classify.py``, its display
``cli/classify_display.py``)::

    family.py (this family's entry in supervised/families.py)
       └─► session.py ──► data.py, tokens.py, options.py ──► charlm.supervised (config, metrics, runs, saved_model)
              └────────► train.py ──► models.py ──► bidirectional.py ──► charlm.core.recurrent
                            │            ├───────► pooling.py
                            │            └───────► padding.py, config.py
                            └──────────► charlm.supervised.trainer (the loop)
"""
