"""The floor: the same LSTM language model written in plain vectorised numpy (float32), the way
one would without a kernel compiler: whole-array ufuncs per time step, gates sliced from one fused
product. Used only by the benchmarks."""

from __future__ import annotations

import numpy as np


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


class NumpyLSTMLM:
    def __init__(self, V, H, L, seed=0, dtype=np.float32):
        rng = np.random.default_rng(seed)
        k = 1 / np.sqrt(H)
        self.V, self.H, self.L = V, H, L
        self.p = {"E": rng.uniform(-0.1, 0.1, (V, H)).astype(dtype)}
        for l in range(L):
            self.p[f"Wx{l}"] = rng.uniform(-k, k, (H, 4 * H)).astype(dtype)
            self.p[f"Wh{l}"] = rng.uniform(-k, k, (H, 4 * H)).astype(dtype)
            self.p[f"b{l}"] = rng.uniform(-k, k, 4 * H).astype(dtype)
        self.p["Wd"] = rng.uniform(-0.1, 0.1, (H, V)).astype(dtype)
        self.p["bd"] = np.zeros(V, dtype)
        self.m = {k: np.zeros_like(v) for k, v in self.p.items()}
        self.v = {k: np.zeros_like(v) for k, v in self.p.items()}
        self.t = 0

    def initial_state(self, N):
        return [(np.zeros((N, self.H), np.float32), np.zeros((N, self.H), np.float32)) for _ in range(self.L)]

    def train_step(self, x, y, state, lr=2e-3, clip=5.0):
        T, N = x.shape
        H, p = self.H, self.p
        g = {k: np.zeros_like(v) for k, v in p.items()}
        h_in = p["E"][x]  # (T, N, H)
        caches, new_state = [], []
        for l in range(self.L):
            h, c = state[l]
            A = h_in @ p[f"Wx{l}"] + p[f"b{l}"]
            hs, cs, gates = np.empty((T, N, H), np.float32), np.empty((T, N, H), np.float32), np.empty_like(A)
            h0, c0 = h, c
            for t in range(T):
                a = A[t] + h @ p[f"Wh{l}"]
                i, f, o = _sigmoid(a[:, :H]), _sigmoid(a[:, H : 2 * H]), _sigmoid(a[:, 3 * H :])
                gg = np.tanh(a[:, 2 * H : 3 * H])
                c = f * c + i * gg
                h = o * np.tanh(c)
                gates[t] = np.concatenate([i, f, gg, o], axis=1)
                hs[t], cs[t] = h, c
            caches.append((h_in, h0, c0, hs, cs, gates))
            new_state.append((h, c))
            h_in = hs
        logits = h_in.reshape(T * N, H) @ p["Wd"] + p["bd"]
        logits -= logits.max(axis=1, keepdims=True)
        prob = np.exp(logits)
        prob /= prob.sum(axis=1, keepdims=True)
        yf = y.reshape(-1)
        loss = -np.log(prob[np.arange(T * N), yf]).mean()
        prob[np.arange(T * N), yf] -= 1
        prob /= T * N
        g["Wd"] = h_in.reshape(T * N, H).T @ prob
        g["bd"] = prob.sum(0)
        dh_in = (prob @ p["Wd"].T).reshape(T, N, H)
        for l in reversed(range(self.L)):
            x_in, h0, c0, hs, cs, gates = caches[l]
            dA = np.empty_like(gates)
            dh, dc = np.zeros((N, H), np.float32), np.zeros((N, H), np.float32)
            for t in reversed(range(T)):
                i, f, gg, o = gates[t, :, :H], gates[t, :, H : 2 * H], gates[t, :, 2 * H : 3 * H], gates[t, :, 3 * H :]
                c_prev = cs[t - 1] if t else c0
                tc = np.tanh(cs[t])
                dht = dh_in[t] + dh
                dct = dc + dht * o * (1 - tc * tc)
                dA[t] = np.concatenate(
                    [dct * gg * i * (1 - i), dct * c_prev * f * (1 - f), dct * i * (1 - gg * gg), dht * tc * o * (1 - o)], axis=1
                )
                dc = dct * f
                dh = dA[t] @ p[f"Wh{l}"].T
            h_prev = np.concatenate([h0[None], hs[:-1]])
            dA2 = dA.reshape(T * N, 4 * H)
            g[f"Wh{l}"] = h_prev.reshape(T * N, H).T @ dA2
            g[f"Wx{l}"] = x_in.reshape(T * N, H).T @ dA2
            g[f"b{l}"] = dA2.sum(0)
            dh_in = (dA2 @ p[f"Wx{l}"].T).reshape(T, N, H)
        np.add.at(g["E"], x.reshape(-1), dh_in.reshape(T * N, H))
        norm = np.sqrt(sum(float((v * v).sum()) for v in g.values()))
        scale = min(1.0, clip / (norm + 1e-6))
        self.t += 1
        for k in p:
            gk = g[k] * scale
            self.m[k] = 0.9 * self.m[k] + 0.1 * gk
            self.v[k] = 0.999 * self.v[k] + 0.001 * gk * gk
            mhat = self.m[k] / (1 - 0.9**self.t)
            vhat = self.v[k] / (1 - 0.999**self.t)
            p[k] -= (lr * mhat / (np.sqrt(vhat) + 1e-8)).astype(np.float32)
        return loss, new_state
