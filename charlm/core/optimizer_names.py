"""The table of optimizers by name (those of ``core/optim.py``) and the learning rate each starts
from when none is given. Plain data with no imports, so the configurations and the command line
name and check optimizers without loading Numba.

Adam's and RMSprop's 2e-3 suit character models (Karpathy's char-rnn); plain SGD needs a rate
near 1 (Zaremba et al. 2014 start at 1); AdaGrad's accumulated squares shrink its steps, so it
starts higher than Adam.
"""

OPTIMIZER_NAMES = ("adam", "sgd", "rmsprop", "adagrad")
DEFAULT_LR = {"adam": 2e-3, "sgd": 1.0, "rmsprop": 2e-3, "adagrad": 1e-2}
