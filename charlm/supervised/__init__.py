"""What the two classifier families share: the sequence classifiers (``charlm/classify/``) and the
tree models (``charlm/trees/``) are both built on this layer, which imports neither of them.

- ``families.py``: the table of families, the one place ``charlm classify`` chooses between them
  (which prepares, trains, predicts and evaluates a ``--model``; which builds a saved classifier);
- ``config.py``: ``FitConfig`` (how a classifier is trained), ``ClassifyDataConfig`` (its data);
- ``trainer.py``: the training loop (epochs, patience, best model, finite steps) and its observer;
- ``saved_model.py``: the classifier checkpoint (its contents, saving, loading either family);
- ``runs.py``: the run folder's check; ``data.py``: texts to classify, the dev hold-out, telling a
  treebank from ``label<TAB>text``; ``metrics.py``: accuracy, F1, the confusion matrix;
  ``layers.py``: dropout and softmax.
"""
