"""Slow, obviously-correct references, written gate by gate from the equations in the papers and
PyTorch's documentation, independent of charlm's kernels. float64 only."""

from __future__ import annotations

import numpy as np


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _split(v, G):
    return np.split(v, G, axis=-1)


def cell_window(cell: str, x, state, p):
    """Run one layer over x: (T, N, D) from state ((h0,) or (h0, c0)) with parameters
    p = {weight_ih, weight_hh, bias_ih, bias_hh[, weight_peephole]}. Returns y (T, N, H), final state."""
    W_ih, W_hh, b_ih, b_hh = p["weight_ih"], p["weight_hh"], p["bias_ih"], p["bias_hh"]
    h = state[0].copy()
    c = state[1].copy() if len(state) > 1 else None
    ys = []
    for x_t in x:
        ax = x_t @ W_ih.T + b_ih
        ah = h @ W_hh.T + b_hh
        if cell == "lstm":
            i, f, g, o = _split(ax + ah, 4)
            i, f, g, o = sigmoid(i), sigmoid(f), np.tanh(g), sigmoid(o)
            c = f * c + i * g
            h = o * np.tanh(c)
        elif cell == "lstm-peephole":
            P = p["weight_peephole"]
            i, f, g, o = _split(ax + ah, 4)
            i = sigmoid(i + P[0] * c)
            f = sigmoid(f + P[1] * c)
            g = np.tanh(g)
            c = f * c + i * g
            o = sigmoid(o + P[2] * c)
            h = o * np.tanh(c)
        elif cell == "lstm-coupled":
            f, g, o = _split(ax + ah, 3)
            f, g, o = sigmoid(f), np.tanh(g), sigmoid(o)
            c = f * c + (1 - f) * g
            h = o * np.tanh(c)
        elif cell == "gru":
            xr, xz, xn = _split(ax, 3)
            hr, hz, hn = _split(ah, 3)
            r = sigmoid(xr + hr)
            z = sigmoid(xz + hz)
            n = np.tanh(xn + r * hn)
            h = (1 - z) * n + z * h
        elif cell == "rnn-tanh":
            h = np.tanh(ax + ah)
        elif cell == "rnn-relu":
            h = np.maximum(ax + ah, 0)
        else:
            raise ValueError(cell)
        ys.append(h)
    final = (h, c) if c is not None else (h,)
    return np.stack(ys), final


def log_softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def lm_loss(cell: str, params: dict, layers: int, x, y, states, tied: bool, dropout_masks=None):
    """Mean cross-entropy of a language model (embedding, `layers` recurrent layers, linear decoder)
    on token windows x, y: (T, N). params use charlm's (PyTorch's) names. dropout_masks, if given,
    are the already-scaled multipliers applied to the embedding output, between layers, and before
    the decoder (a list of layers + 1 arrays)."""
    E = params["encoder.weight"]
    h = E[x]
    finals = []
    for l in range(layers):
        if dropout_masks is not None:
            h = h * dropout_masks[l]
        p = {k: params[f"rnn.{k}_l{l}"] for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
        if f"rnn.weight_peephole_l{l}" in params:
            p["weight_peephole"] = params[f"rnn.weight_peephole_l{l}"]
        h, final = cell_window(cell, h, states[l], p)
        finals.append(final)
    if dropout_masks is not None:
        h = h * dropout_masks[layers]
    W = E if tied else params["decoder.weight"]
    logits = h @ W.T + params["decoder.bias"]
    lp = log_softmax(logits)
    T, N = y.shape
    loss = -lp[np.arange(T)[:, None], np.arange(N)[None, :], y].mean()
    return loss, finals
