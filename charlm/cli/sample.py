"""``charlm sample``: load a model, prime it, stream the generated text to stdout.

Only the text goes to stdout (the prime echoed, then the continuation), so ``charlm sample >
out.txt`` captures exactly the sample; notes (compiling, unknown prime words) go to stderr. With
``--num-samples`` above 1 the samples are generated together as one batch and each is printed
after a ``==> sample k <==`` line, the convention of ``head`` with several files.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional, TextIO

import typer

import numpy as np

from ..errors import CharlmError, ConfigError
from ..store.runfolder import resolve_checkpoint
from ..text.vocab import Vocab

from ..lm.config import TrainConfig
from ..settings import help_text
from .errors import err, quiet_broken_pipe, user_errors

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\"}


def unescape(text: str) -> str:
    r"""``\n``, ``\t``, ``\r`` and ``\\`` as the characters they name, so ``--stop '\n\n'`` can be
    typed in any shell. Any other backslash stays as it is."""
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in _ESCAPES:
            out.append(_ESCAPES[text[i + 1]])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


class StreamDecoder:
    """Turns successive chunks of ids of one sample into text whose concatenation equals
    ``vocab.decode`` of all the ids at once. Character level decodes each chunk alone; word level
    must remember whether the last token ended a line, to put a space between words only."""

    def __init__(self, vocab: Vocab, line_start: bool):
        self.vocab = vocab
        self.line_start = line_start

    def __call__(self, ids: np.ndarray) -> str:
        text = self.vocab.decode(ids)
        if self.vocab.level == "char" or ids.size == 0:
            return text
        if not self.line_start and ids[0] != self.vocab.eos_id:
            text = " " + text
        self.line_start = bool(ids[-1] == self.vocab.eos_id)
        return text


def start_token(vocab: Vocab) -> int:
    """The first input when there is no prime: a line break, the most neutral place to begin."""
    if vocab.level == "word":
        return vocab.eos_id
    for char in ("\n", " "):
        if char in vocab:
            return vocab.id_of(char)
    return 0


def encode_prime(vocab: Vocab, prime: str, err) -> np.ndarray:
    """The prime's ids. Unknown characters are an error naming them; unknown words become
    ``<unk>`` with a note, as the model was trained to read them."""
    if prime == "":
        raise ConfigError("--prime is empty; leave it out to start from a line break")
    if vocab.level == "char":
        try:
            return vocab.encode(prime)
        except CharlmError as exc:
            raise ConfigError(f"--prime: {exc}") from None
    encoded = vocab.encode_counting(prime, unknown="unk")
    if encoded.unknown:
        err.print(f"note: {encoded.unknown} word(s) of --prime are not in the vocabulary and read as <unk>", markup=False)
    if encoded.tokens.size == 0:
        raise ConfigError("--prime holds no words; leave it out to start from a line break")
    return encoded.tokens


def run(
    model: Path | None,
    *,
    length: int,
    prime: str | None,
    temperature: float,
    top_k: int,
    top_p: float,
    greedy: bool,
    seed: int | None,
    num_samples: int,
    stop: str | None,
    threads: int | None,
    out: TextIO,
    err,
    beam: int = 0,
    length_penalty: float | None = None,
) -> None:
    if length < 1:
        raise ConfigError(f"--length must be at least 1, got {length}")
    if num_samples < 1:
        raise ConfigError(f"--num-samples must be at least 1, got {num_samples}")
    if stop is not None:
        stop = unescape(stop)
        if stop == "":
            raise ConfigError("--stop is empty")
    if beam < 0:
        raise ConfigError(f"--beam must be a positive integer (0: sample), got {beam}")
    if beam:
        given = [name for name, value, default in (("--temperature", temperature, 1.0), ("--top-k", top_k, 0),
                                                   ("--top-p", top_p, 1.0), ("--greedy", greedy, False),
                                                   ("--seed", seed, None)) if value != default]
        if given:
            raise ConfigError(f"{', '.join(given)} cannot take effect with --beam: beam search draws nothing")
        if num_samples > beam:
            raise ConfigError(f"--num-samples {num_samples} is more than the --beam {beam} hypotheses kept")
    elif length_penalty is not None:
        raise ConfigError("--length-penalty takes effect only with --beam")
    # Here, not at the top: the command's --help must not load Numba.
    from ..core.threads import set_threads
    from ..lm.generate.sampler import Sampler
    from ..lm.models.saved import load_model
    from ..lm.models.warmup import is_compiled, mark_compiled, wait_for_background_compile

    set_threads(threads)
    snap = load_model(resolve_checkpoint(model))
    vocab = snap.vocab
    if beam:
        return run_beam(snap, vocab, beam, length, prime, length_penalty or 0.0, stop, num_samples, out, err)
    cell, dtype = snap.model.config.kernel_family, snap.model.dtype
    wait_for_background_compile(cell, dtype, say=lambda text: err.print(text, markup=False))
    if not is_compiled("sample", cell, dtype):
        # Before anything that compiles: priming runs the sampling kernel too.
        err.print("Compiling sampling kernels (first run only)...", markup=False)
    sampler = Sampler(
        snap.model, temperature=temperature, top_k=top_k, top_p=top_p, greedy=greedy, seed=seed,
        start_token=start_token(vocab),
    )  # fmt: skip
    head = ""
    if prime is not None:
        sampler.prime(encode_prime(vocab, prime, err))
        head = prime

    # A prime that ends mid-line is continued after a space at word level ("the cat" + "sat").
    line_start = prime is None or prime[-1:].isspace()
    decoders = [StreamDecoder(vocab, line_start) for _ in range(num_samples)]
    chunks = sampler.generate(length, num_samples)
    if num_samples == 1:
        _stream_one(chunks, decoders[0], head, stop, out)
    else:
        _print_batch(chunks, decoders, head, stop, out)
    mark_compiled("sample", cell, dtype)


def run_beam(snap, vocab, beam: int, length: int, prime: str | None, length_penalty: float, stop: str | None,
             num_samples: int, out: TextIO, err) -> None:
    """The ``num_samples`` best of ``beam`` hypotheses, each with its log-probability on stderr."""
    from ..lm.generate.beam import beam_search

    prime_ids = encode_prime(vocab, prime, err) if prime is not None else np.array([start_token(vocab)])
    stop_ids = None
    if stop is not None:
        try:
            stop_ids = vocab.encode(stop, unknown="error")
        except CharlmError as exc:  # a stop the model cannot write is named as the --stop
            raise ConfigError(f"--stop {stop!r}: {exc}") from None
    hyps = beam_search(snap.model, beam=beam, length=length, prime_ids=prime_ids, length_penalty=length_penalty,
                       stop_ids=stop_ids)
    line_start = prime is None or prime[-1:].isspace()
    for n, hyp in enumerate(hyps[:num_samples]):
        text = (prime or "") + StreamDecoder(vocab, line_start)(hyp.ids)
        if num_samples > 1:
            out.write(("\n" if n else "") + f"==> sample {n + 1} <==\n")
        out.write(text if text.endswith("\n") else text + "\n")
        ranked = f", ranked {hyp.ranked(length_penalty):.4f}" if length_penalty else ""
        err.print(f"beam {n + 1}/{beam}: log-prob {hyp.log_prob:.4f} nats over {len(hyp.ids)} tokens{ranked}"
                  + (" (reached --stop)" if hyp.finished else ""), markup=False)
    out.flush()


def _stream_one(chunks, decode: StreamDecoder, head: str, stop: str | None, out: TextIO) -> None:
    """Write the text as it comes; with ``stop``, end just after its first occurrence."""
    written = head
    out.write(head)
    tail = ""  # the end of the text so far, long enough to catch a stop string split across chunks
    for ids in chunks:
        text = decode(ids[0])
        if stop is not None:
            found = (tail + text).find(stop)
            if found >= 0:
                text = text[: found + len(stop) - len(tail)]
                out.write(text)
                written = text
                break
            tail = (tail + text)[-(len(stop) - 1) :] if len(stop) > 1 else ""
        out.write(text)
        out.flush()
        written = text or written
    chunks.close()
    if not written.endswith("\n"):
        out.write("\n")  # the shell prompt starts on its own line
    out.flush()


def _print_batch(chunks, decoders, head: str, stop: str | None, out: TextIO) -> None:
    """Collect every sample (they are generated together), then print each under its header."""
    texts = [head] * len(decoders)
    done = [False] * len(decoders)
    for ids in chunks:
        for n, decode in enumerate(decoders):
            if done[n]:
                continue
            texts[n] += decode(ids[n])
            if stop is not None:
                found = texts[n].find(stop, len(head))
                if found >= 0:
                    texts[n] = texts[n][: found + len(stop)]
                    done[n] = True
        if all(done):
            break
    chunks.close()
    for n, text in enumerate(texts):
        if n:
            out.write("\n")
        out.write(f"==> sample {n + 1} <==\n{text}\n")
    out.flush()


def sample(
    model: Annotated[Optional[Path], typer.Argument(help="Run folder (its best.npz, else last.npz) or checkpoint file. Default: the latest run under runs/.", show_default=False)] = None,
    length: Annotated[int, typer.Option(help="Tokens to generate per sample.")] = 500,
    prime: Annotated[Optional[str], typer.Option(help="Text to start from (the model reads it first).")] = None,
    temperature: Annotated[float, typer.Option(help="Sharpen (<1) or flatten (>1) the distribution.")] = 1.0,
    top_k: Annotated[int, typer.Option(help="Sample among the k most likely tokens; 0: all.")] = 0,
    top_p: Annotated[float, typer.Option(help="Sample among the most likely tokens holding this much probability.")] = 1.0,
    greedy: Annotated[bool, typer.Option("--greedy", help="Always take the most likely token.")] = False,
    seed: Annotated[Optional[int], typer.Option(help="Random seed: the same seed gives the same text.")] = None,
    num_samples: Annotated[int, typer.Option(help="Samples, generated together as a batch.")] = 1,
    stop: Annotated[Optional[str], typer.Option(help="Stop a sample when it produces this text.")] = None,
    threads: Annotated[Optional[int], typer.Option(help=help_text(TrainConfig, "threads"))] = None,
    beam: Annotated[int, typer.Option(help="Beam search over this many hypotheses instead of sampling: the most likely continuations (0: sample).")] = 0,
    length_penalty: Annotated[Optional[float], typer.Option(help="With --beam: rank by log-prob / length^A instead of the total. \\[default: 0]", show_default=False)] = None,
):
    """Generate text from a trained model; only the text goes to stdout."""
    with user_errors(), quiet_broken_pipe():
        run(
            model, length=length, prime=prime, temperature=temperature, top_k=top_k, top_p=top_p, greedy=greedy,
            seed=seed, num_samples=num_samples, stop=stop, threads=threads, out=sys.stdout, err=err,
            beam=beam, length_penalty=length_penalty,
        )
