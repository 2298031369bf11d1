"""Sample text from a model exported by `charlm export`, with numpy and onnxruntime only:
python examples/onnx_sample.py model.step.onnx --prime "The " --length 300 [--greedy]"""
import argparse
import json

import numpy as np
import onnxruntime as ort

args = argparse.ArgumentParser()
args.add_argument("model"), args.add_argument("--prime", default="")
args.add_argument("--length", type=int, default=300), args.add_argument("--temperature", type=float, default=1.0)
args.add_argument("--greedy", action="store_true"), args.add_argument("--seed", type=int)
a = args.parse_args()
session = ort.InferenceSession(a.model, providers=["CPUExecutionProvider"])
meta = session.get_modelmeta().custom_metadata_map
vocab, word = json.loads(meta["charlm.vocab"]), meta["charlm.level"] == "word"
index = {token: i for i, token in enumerate(vocab)}
pieces = a.prime.replace("\n", " <eos> ").split() if word else list(a.prime)
start = int(meta["charlm.eos"]) if word else index.get("\n", index.get(" ", 0))  # as charlm sample
ids = [index[p] if p in index else index["<unk>"] for p in pieces] or [start]  # an unknown character: KeyError
fill = {"tensor(float)": (0, np.float32), "tensor(int64)": (-1, np.int64)}  # h0, c0: zeros; memn2n's memory0: -1, none
state = {i.name: np.full([1 if isinstance(d, str) else d for d in i.shape], *fill[i.type]) for i in session.get_inputs()[1:]}


def step(token: int) -> np.ndarray:
    global state
    logits, *new_state = session.run(None, {"token": np.array([token], np.int64), **state})
    state = dict(zip(state, new_state))
    return logits[0].astype(np.float64)


for token in ids[:-1]:
    step(token)
token, rng, text = ids[-1], np.random.default_rng(a.seed), a.prime
for _ in range(a.length):
    z = step(token) / a.temperature
    p = np.exp(z - z.max())
    token = int(np.argmax(z)) if a.greedy else int(rng.choice(z.size, p=p / p.sum()))
    text += ("\n" if vocab[token] == "<eos>" else ("" if text[-1:] in ("\n", "") else " ") + vocab[token]) if word else vocab[token]
print(text, end="" if text.endswith("\n") else "\n")  # one line break at the end, as charlm sample
