"""``charlm sample``: load a model, prime it, stream the generated text to stdout.

Only the text goes to stdout (the prime echoed, then the continuation), so ``charlm sample >
out.txt`` captures exactly the sample; notes (compiling, unknown prime words) go to stderr. With
``--num-samples`` above 1 the samples are generated together as one batch and each is printed
after a ``==> sample k <==`` line, the convention of ``head`` with several files.
"""

import sys
from pathlib import Path
from typing import Annotated, Optional, TextIO

import typer

import numpy as np

from ..errors import CharlmError, ConfigError
from ..store.runfolder import resolve_checkpoint
from ..text.vocab import Vocab

from ..lm.config import TrainConfig
from ..lm.generate.sampling_config import SamplingConfig
from .config_options import ConfigOption, plain_values, with_config_options
from .errors import err, user_errors

SAMPLING_FIELDS = set(SamplingConfig.__dataclass_fields__)

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


def run(model: Path | None, config: SamplingConfig, *, prime: str | None, threads: int | None, out: TextIO, err) -> None:
    # Here, not at the top: the command's --help must not load Numba.
    from ..core.threads import set_threads
    from ..lm.models.saved import load_model
    from ..store.checkpoint import computing_with

    set_threads(threads)
    path = resolve_checkpoint(model)
    snap = load_model(path)
    with computing_with(path):  # weights that overflow are refused, naming the checkpoint
        _sample(snap, config, prime, out, err)


def _sample(snap, config: SamplingConfig, prime: str | None, out: TextIO, err) -> None:
    from ..lm.generate.sampler import Sampler
    from ..lm.models.warmup import is_compiled, mark_compiled, wait_for_background_compile

    vocab = snap.vocab
    if config.beam:
        return run_beam(snap, vocab, config, prime, out, err)
    cell, dtype = snap.model.config.kernel_family, snap.model.dtype
    wait_for_background_compile(cell, dtype, say=lambda text: err.print(text, markup=False))
    if not is_compiled("sample", cell, dtype):
        # Before anything that compiles: priming runs the sampling kernel too.
        err.print("Compiling sampling kernels (first run only)...", markup=False)
    sampler = Sampler(snap.model, config, start_token=start_token(vocab))
    head = ""
    if prime is not None:
        sampler.prime(encode_prime(vocab, prime, err))
        head = prime

    # A prime that ends mid-line is continued after a space at word level ("the cat" + "sat").
    line_start = prime is None or prime[-1:].isspace()
    decoders = [StreamDecoder(vocab, line_start) for _ in range(config.num_samples)]
    chunks = sampler.generate(config.length, config.num_samples)
    if config.num_samples == 1:
        _stream_one(chunks, decoders[0], head, config.stop, out)
    else:
        _print_batch(chunks, decoders, head, config.stop, out)
    mark_compiled("sample", cell, dtype)


def run_beam(snap, vocab, config: SamplingConfig, prime: str | None, out: TextIO, err) -> None:
    """The ``num_samples`` best of ``beam`` hypotheses, each with its log-probability on stderr."""
    beam, stop, length_penalty, num_samples = config.beam, config.stop, config.length_penalty or 0.0, config.num_samples
    from ..lm.generate.beam import beam_search

    prime_ids = encode_prime(vocab, prime, err) if prime is not None else np.array([start_token(vocab)])
    stop_ids = None
    if stop is not None:
        try:
            stop_ids = vocab.encode(stop, unknown="error")
        except CharlmError as exc:  # a stop the model cannot write is named as the --stop
            raise ConfigError(f"--stop {stop!r}: {exc}") from None
    hyps = beam_search(snap.model, beam=beam, length=config.length, prime_ids=prime_ids, length_penalty=length_penalty,
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
    """Write the text as it comes; with ``stop``, end just after its first occurrence. The head
    (the prime) goes out with the first token: a model that cannot draw one prints nothing."""
    written = head
    tail = ""  # the end of the text so far, long enough to catch a stop string split across chunks
    for ids in chunks:
        text = decode(ids[0])
        if stop is not None:
            found = (tail + text).find(stop)
            if found >= 0:
                text = text[: found + len(stop) - len(tail)]
                out.write(head + text)
                written = text
                break
            tail = (tail + text)[-(len(stop) - 1) :] if len(stop) > 1 else ""
        out.write(head + text)
        out.flush()
        head = ""
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


@with_config_options
def sample(
    ctx: typer.Context,
    model: Annotated[Optional[Path], typer.Argument(help="Run folder (its best.npz, else last.npz) or checkpoint file. Default: the latest run under runs/.", show_default=False)] = None,
    length=ConfigOption(SamplingConfig, "length"),
    prime: Annotated[Optional[str], typer.Option(help="Text to start from (the model reads it first).")] = None,
    temperature=ConfigOption(SamplingConfig, "temperature"),
    top_k=ConfigOption(SamplingConfig, "top_k"),
    top_p=ConfigOption(SamplingConfig, "top_p"),
    greedy=ConfigOption(SamplingConfig, "greedy", "--greedy"),
    seed=ConfigOption(SamplingConfig, "seed"),
    num_samples=ConfigOption(SamplingConfig, "num_samples"),
    stop=ConfigOption(SamplingConfig, "stop"),
    threads=ConfigOption(TrainConfig, "threads"),
    beam=ConfigOption(SamplingConfig, "beam"),
    length_penalty=ConfigOption(SamplingConfig, "length_penalty", show_default=False),
):
    """Generate text from a trained model; only the text goes to stdout."""
    with user_errors():
        given = {name: value for name, value in plain_values(ctx.params).items()
                 if name in SAMPLING_FIELDS and value is not None}
        if given.get("stop") is not None:
            given["stop"] = unescape(given["stop"])
        config = SamplingConfig(**given)
        config.refuse_idle(given)  # also what was given at its default value (--temperature 1 --greedy)
        run(model, config, prime=prime, threads=threads, out=sys.stdout, err=err)
