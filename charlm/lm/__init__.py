"""Language models: the typed configuration (the one home of every default), the model, corpus
loading and batching, the training loop, evaluation, sampling and data parallelism."""
