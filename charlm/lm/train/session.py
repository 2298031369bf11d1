"""Turn what ``charlm train`` was told (:class:`TrainOptions`) into a ready Trainer: find the
corpus, build or resume the model, check everything a user can get wrong before the first byte is
written. Every default comes from the configuration classes in ``config.py``."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...core.threads import available_cores, set_threads, thread_change_note
from ...errors import ConfigError, DataError
from ...store.runfolder import RUNS_ROOT, RunFolder, discarded_on_failure
from ...text.files import TextNote
from ...text.sources import corpus_name, is_split_folder
from ..data import corpus as data
from . import fine_tune
from ..data.batching import check_trainable
from ..config import DataConfig, ModelConfig, TrainConfig, parse_duration
from .distributed import current_group, default_threads
from .schedule import refuse_without_validation
from .resume_checks import changes, check_same_data, refuse_fixed_settings, refuse_fixed_training_options
from ..models.kinds import KINDS, build_language_model, kind_named, kind_of, refuse_other_kinds_options
from ..options import DATA_OPTIONS, MODEL_OPTIONS, TRAIN_OPTIONS, TrainOptions
from ..models.saved import load_model
from .trainer import Trainer



@dataclass
class TrainingSession:
    trainer: Trainer
    level: str

    def run(self, observer, say) -> dict:
        """Compile (or load) the kernels, then train; ``observer`` receives the progress (on rank
        0 only: with MPI, one process draws), ``say`` the compile notes."""
        from ..models.warmup import compile_sampling_in_background, warm_training

        model, root = self.trainer.model, self.trainer.group.is_root
        if root:
            # Now, not when training ends: the first `charlm sample` after a short run finds them
            # compiled. The compile runs beside the training's own (one core each), then at
            # SCHED_IDLE beside the training (which it can slow while it lasts: measured on a
            # loaded 2-core machine, benchmarks/first_sample.py).
            compile_sampling_in_background(model.config.kernel_family, model.dtype, say=say)
        # A run that fails before its first checkpoint (a full disk under stdout, Ctrl-C while
        # compiling) leaves no empty folder; rank 0 alone owns it.
        with discarded_on_failure(self.trainer.run if root else None):
            try:
                warm_training(model.config.kernel_family, model.dtype, self.trainer.config.optimizer, say=say)
                if root:
                    self.trainer.observer = observer
                return self.trainer.fit()
            finally:
                self.trainer.run.release()  # locked by prepare(): another process may now train there


def _corpus_path(path) -> Path | list[Path]:
    """The CORPUS given (one path, or a list of several), else the bundled corpus."""
    if isinstance(path, (list, tuple)):
        return [Path(p) for p in path]
    if path is not None:
        return Path(path)
    from ...text.bundled import bundled_corpus_path

    return bundled_corpus_path()


def _default_out(corpus_path) -> Path:
    """runs/<the file's stem, or the folder's name, or the name of the folder several paths share>."""
    return RUNS_ROOT / (corpus_name(corpus_path) or "run")


def _refuse_default_out_inside(out: Path, corpus_path) -> None:
    """The default run folder is never inside a corpus folder (``charlm train .``): every later
    read of the corpus would meet the run's own files."""
    for folder in corpus_path if isinstance(corpus_path, list) else [corpus_path]:
        if folder.is_dir() and out.resolve().is_relative_to(folder.resolve()):
            outside = Path(os.path.relpath(folder.resolve().parent / RUNS_ROOT / out.name))
            raise ConfigError(f"the default run folder {out} would be inside the corpus folder {folder}; "
                              f"give --out outside it (for example --out {outside})")


def prepare(options: TrainOptions) -> TrainingSession:
    if options.resume and options.force:
        raise ConfigError("--resume continues a run and --force starts it over: give one of them")
    if options.resume and options.init_from is not None:
        raise ConfigError("--init-from starts a new run and --resume continues one: give one of them")
    if options.grow_vocab and options.init_from is None:
        raise ConfigError("--grow-vocab grows the vocabulary of a model given with --init-from; "
                          "a new model's is its text's own, a resumed one's is fixed")
    group = current_group()
    run = RunFolder(options.out_dir or _default_out(_corpus_path(options.corpus)))
    if options.out_dir is None and not options.resume:
        _refuse_default_out_inside(run.path, _corpus_path(options.corpus))
    try:
        return _resume(options, group, run) if options.resume else _start(options, group, run)
    except BaseException:
        run.release()  # if it was locked before the refusal
        raise


def _threads(options: TrainOptions, group, saved: int | None = None) -> int | None:
    """The thread count the run saves: the one that runs (a count above the cores is cut to them,
    with a note), or None for every core of the machine."""
    threads = options.threads or saved
    if threads is None and group.size > 1:
        threads = default_threads(group, available_cores())  # ranks on one machine share its cores
    running = set_threads(threads, whose="" if options.threads else " (the run's)", say=group.is_root)
    return None if threads is None else running


def _train_config(options: TrainOptions, base: dict) -> TrainConfig:
    values = {**base, **options.given(TRAIN_OPTIONS)}
    if isinstance(values.get("max_time"), str):
        values["max_time"] = parse_duration(values["max_time"])
    return TrainConfig(**values)


def new_run_settings(options: TrainOptions, split_folder: bool = False) -> tuple[dict, TrainConfig, DataConfig]:
    """The model settings (without the vocabulary size), training and data configuration of a new
    run: what was given, else the configuration's defaults. Validates them all; reads nothing."""
    kind = kind_named(options.model or ModelConfig.model)
    refuse_other_kinds_options(kind, options, model_given=options.model is not None)
    defaults = {name: getattr(ModelConfig, name) for name in MODEL_OPTIONS}
    model_values, train_defaults = kind.new_run_values(options, {**defaults, **options.given(MODEL_OPTIONS)})
    train_config = _train_config(options, train_defaults)
    if options.tail_div is not None and options.softmax != "adaptive":
        raise ConfigError("--tail-div is for --softmax adaptive")
    ModelConfig(vocab_size=1, **model_values)  # validates the model options
    data_config = DataConfig(**options.given(DATA_OPTIONS))
    if options.softmax == "adaptive" and data_config.level != "word":
        raise ConfigError("--softmax adaptive is for word-level models (--level word): a character vocabulary is "
                          "small enough for the full softmax")
    if options.val_frac is None and (options.val is not None or split_folder):
        data_config.val_frac = None  # the validation text is the --val file or the split folder's
    if data_config.val_frac == 0:  # no validation, known before reading (a folder without one: _start)
        refuse_without_validation(options.given(TRAIN_OPTIONS), train_config.decay_start, "--val-frac 0")
    return model_values, train_config, data_config


def _start(options: TrainOptions, group, run: RunFolder) -> TrainingSession:
    corpus_path = _corpus_path(options.corpus)
    if group.is_root:  # rank 0 alone owns the run folder
        run.check(resume=False, force=options.force)  # refuses an existing run before any work
    # Validates every option before the corpus is read.
    model_values, train_config, data_config = new_run_settings(options, is_split_folder(corpus_path))
    start = fine_tune.load_start(options) if options.init_from is not None else None
    threads = _threads(options, group)

    level, val_frac = data_config.level, data_config.val_frac
    if start is not None:
        level = start[1].vocab.level
    corpus = data.load_corpus(
        corpus_path, level=level, val=options.val, test=options.test, val_frac=val_frac,
        min_freq=data_config.min_freq, max_vocab=data_config.max_vocab, encoding=data_config.encoding,
        glob=data_config.glob, skip_bad=data_config.skip_bad,
        # word level: the old vocabulary (new words become <unk>); char level: its own, then remapped
        vocab=start[1].vocab if start is not None and level == "word" else None,
    )
    _say_notes(corpus, group)
    _refuse_without_validation(options, corpus, val_frac, train_config.decay_start)
    if start is not None and level == "char":
        corpus = fine_tune.grow_char_corpus(corpus, start[1], start[0], options.grow_vocab)
    train_config.threads = threads
    check_trainable(len(corpus.train), train_config.batch_size, train_config.seq_len)
    group.shard(train_config.batch_size)  # at least one stream per process
    extra_meta = {}
    if start is None:
        model_config = ModelConfig(vocab_size=len(corpus.vocab), **model_values)
        kind_of(model_config).check_text(model_config, len(corpus.train))
        model = build_language_model(model_config, np.dtype(data_config.dtype), seed=train_config.seed)
    else:
        path, snap = start
        dtype = np.dtype(options.dtype) if options.dtype else snap.model.dtype
        kind_of(snap.model.config).check_text(snap.model.config, len(corpus.train), whose=str(path))
        model = fine_tune.starting_model(snap, len(corpus.vocab), options.dropout, dtype, train_config.seed)
        extra_meta["init_from"] = fine_tune.provenance(path, snap, corpus.vocab)
        if group.is_root:
            fine_tune.note_unknown_words(corpus)
    _check_frozen_embedding(train_config, model.config)
    _check_positions(train_config, model.config)
    if group.is_root:
        run.create(resume=False, force=options.force)
    extra_meta["corpus"] = {
        **_saved_paths(corpus_path, corpus), "glob": data_config.glob, "skip_bad": data_config.skip_bad, "level": level, "val": _str(options.val), "test": _str(options.test),
        "val_frac": val_frac, "min_freq": data_config.min_freq, "max_vocab": data_config.max_vocab,
        "encoding": data_config.encoding, "bundled": options.corpus is None, "fingerprint": data.fingerprint(corpus),
    }
    trainer = Trainer(model, corpus.vocab, train_config, run, corpus.train, corpus.val, corpus.test,
                      starts=corpus.starts, extra_meta=extra_meta, group=group)
    return TrainingSession(trainer, level)


def _resume(options: TrainOptions, group, run: RunFolder) -> TrainingSession:
    corpus_arg = options.corpus
    if group.is_root:
        run.prepare(resume=True, force=False)
    else:
        run.check(resume=True, force=False)  # reads only
    snap = load_model(run.last)
    meta = snap.meta
    if "progress" not in meta or "train" not in meta:
        raise ConfigError(f"{run.last} is not a training checkpoint (no progress saved): it cannot be resumed")
    saved_corpus = meta.get("corpus", {})
    level = saved_corpus.get("level", snap.vocab.level)
    refuse_fixed_settings(options, meta, level)
    corpus_path = _corpus_path(corpus_arg) if corpus_arg is not None else _saved_corpus_path(saved_corpus)
    threads = _threads(options, group, meta["train"].get("threads"))
    given = threads if options.threads is not None else None  # (what runs of the count given)
    if (note := thread_change_note(meta["train"].get("threads"), given)) and group.is_root:
        warnings.warn(TextNote(note), stacklevel=2)
    corpus = data.load_corpus(
        corpus_path, level=level,
        val=options.val or _path(saved_corpus.get("val")), test=options.test or _path(saved_corpus.get("test")),
        val_frac=options.val_frac if options.val_frac is not None else saved_corpus.get("val_frac"),
        min_freq=saved_corpus.get("min_freq", DataConfig.min_freq), max_vocab=saved_corpus.get("max_vocab"),
        encoding=options.encoding or saved_corpus.get("encoding", DataConfig.encoding),
        glob=options.glob if options.glob is not None else saved_corpus.get("glob"),
        skip_bad=options.skip_bad if options.skip_bad is not None else saved_corpus.get("skip_bad", False),
        vocab=snap.vocab,
    )
    _say_notes(corpus, group)
    check_same_data(saved_corpus.get("fingerprint"), data.fingerprint(corpus))
    saved_train = meta["train"]
    refuse_fixed_training_options(options, saved_train)
    # --max-steps and --epochs are totals; --max-time is this invocation's budget. A stop rule the
    # saved run had is not carried over: given neither, a resumed run trains on to its --epochs.
    base = {**saved_train, "threads": threads, "max_steps": None, "max_time": None}
    train_config = _train_config(options, base)
    _refuse_without_validation(options, corpus, options.val_frac if options.val_frac is not None
                               else saved_corpus.get("val_frac"), train_config.decay_start)
    check_trainable(len(corpus.train), train_config.batch_size, train_config.seq_len)
    _check_frozen_embedding(train_config, snap.model.config)
    _check_positions(train_config, snap.model.config)
    trainer = Trainer(snap.model, snap.vocab, train_config, run, corpus.train, corpus.val, corpus.test,
                      starts=corpus.starts, resume=snap, extra_meta=_carried_meta(meta), group=group)
    trainer.changes = changes(options, saved_train, train_config)
    if options.lr is not None:
        trainer.progress.lr = train_config.lr  # the rate the run had reached gives way to the one asked for
    return TrainingSession(trainer, level)


def _refuse_without_validation(options: TrainOptions, corpus, val_frac, decay_start: int | None) -> None:
    if corpus.val is None:
        why = "--val-frac 0" if val_frac == 0 else \
            f"{corpus.source} has no validation split; --val FILE or --val-frac F gives it one"
        refuse_without_validation(options.given(TRAIN_OPTIONS), decay_start, why)


def _check_frozen_embedding(train_config: TrainConfig, model_config: ModelConfig) -> None:
    if train_config.freeze_embedding and model_config.tie_weights:
        raise ConfigError("--freeze-embedding cannot be used with tied weights: the embedding is also the output layer")


def _check_positions(train_config: TrainConfig, model_config: ModelConfig) -> None:
    positions = train_config.positions
    kind_of(model_config).refuse_positions(positions, [k for k in KINDS if positions in kind_named(k).positions])


def _carried_meta(meta: dict) -> dict:
    """What a resumed run's checkpoints keep saying about the run: its data and, when it was
    fine-tuned, where its first weights came from."""
    return {key: meta[key] for key in ("corpus", "init_from") if key in meta}


def _saved_paths(corpus_path, corpus) -> dict:
    """How the run's metadata names its corpus: "path" (for several paths, what they are, with
    the list in "paths")."""
    if isinstance(corpus_path, list):
        return {"path": corpus.source, "paths": [str(p.resolve()) for p in corpus_path]}
    return {"path": str(corpus_path.resolve())}


def _say_notes(corpus, group) -> None:
    """What reading a corpus of files decided or left out (empty files, --skip-bad, which files
    are the validation split), once."""
    if group.is_root:
        for note in corpus.notes:
            warnings.warn(TextNote(note), stacklevel=2)


def _saved_corpus_path(saved: dict):
    if saved.get("bundled"):
        from ...text.bundled import bundled_corpus_path

        return bundled_corpus_path()
    if saved.get("paths"):
        return [Path(p) for p in saved["paths"]]
    path = saved.get("path")
    if not path:
        raise DataError("the run does not say which corpus it was trained on: give CORPUS")
    return Path(path)


def _str(path) -> str | None:
    return None if path is None else str(Path(path).resolve())


def _path(value) -> Path | None:
    return None if value is None else Path(value)
