"""charlm: recurrent language models (RNN, LSTM, GRU) trained, sampled and measured on the CPU."""

__version__ = "0.1.0"
