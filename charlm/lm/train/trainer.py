"""The training loop: windows, steps, validation, learning-rate decay, early stopping, the NaN
guard, checkpoints and resuming. It never prints: it reports to a ``sink`` (the CLI draws it).

One epoch walks the N parallel streams window by window (truncated BPTT): the hidden state
carried from one window into the next, reset at the start of each epoch (or every window with
``bptt="full"``); a memory network may draw its rows anew for every window instead. Everything
that decides what happens next (parameters, optimizer moments, learning rate, random generator,
data cursor, carried state, partial log sums) goes into the checkpoint, so a resumed run
continues exactly where it stopped.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict

import numpy as np

from ..config import TrainConfig
from ..data.batching import batchify, count_scored, count_windows, document_breaks, random_windows, windows
from .distributed import Single, concat_states
from ..data.documents import NO_STARTS
from ...errors import TrainingError
from ..measure.evaluate import Evaluation, evaluate
from ..models.protocol import LanguageModel
from ...core.optim import MAX_BAD_STEPS, clip_grad_norm, clip_grad_value, global_norm, make_optimizer
from ...store.runfolder import RunFolder
from ..models.saved import Snapshot, save_model
from .observer import TrainingObserver, TrainingStatus
from .progress import Progress, TokenRate
from .schedule import LearningRateSchedule


class Trainer:
    def __init__(self, model: LanguageModel, vocab, config: TrainConfig, run: RunFolder, train_tokens: np.ndarray,
                 val_tokens: np.ndarray | None = None, test_tokens: np.ndarray | None = None, observer: TrainingObserver | None = None,
                 resume: Snapshot | None = None, extra_meta: dict | None = None, group=None, starts: dict | None = None):
        self.model, self.vocab, self.config, self.run = model, vocab, config, run
        self.observer = observer or TrainingObserver()
        self.train_tokens, self.val_tokens, self.test_tokens = train_tokens, val_tokens, test_tokens
        # Data parallel (distributed.py): this process trains its own contiguous rows of the
        # batch; everything below that says "local" is this process's share.
        self.group = group or Single()
        self._rows = self.group.shard(config.batch_size)
        self.local_batch = self._rows.stop - self._rows.start
        self.streams = batchify(train_tokens, config.batch_size)[self._rows]
        # Several files: split -> where documents begin (token indices); the state resets there.
        self.starts = {split: np.asarray(s, np.int64) for split, s in (starts or {}).items()}
        length = train_tokens.size // config.batch_size
        self._row_offsets = np.arange(self._rows.start, self._rows.stop, dtype=np.int64) * length
        self.windows_per_epoch = max(1, count_windows(self.streams, config.seq_len))
        self.optimizer = make_optimizer(config.optimizer, model.store, config.lr)
        self.rng = self._rank_rng(config.seed)
        self.progress = Progress(lr=config.lr)
        self.state = model.initial_state(self.local_batch)
        self.validations: list[dict] = []
        self.extra_meta = extra_meta or {}
        self.changes: list[str] = []  # settings a resumed run took from the command line ("--lr 0.002 -> 0.5")
        self._stop_requested = False
        self._stop_agreed = False  # what every rank learned from the last step's allreduce
        self._save_due = False
        self._time_up = False
        self._early_stop = False
        self._bad_in_a_row = 0
        self._last_save = time.monotonic()
        self._started = time.monotonic()
        self._elapsed_base = 0.0
        self._rate = TokenRate()
        if resume is not None:
            self._restore(resume)

    def _rank_rng(self, seed: int) -> np.random.Generator:
        # Rank 0 draws what a single process draws; the others get streams of their own (dropout),
        # but all draw the same random positions (a memory network's: no dropout) to share them out.
        return np.random.default_rng(seed if self.group.rank == 0 or self.config.positions == "random" else [seed, self.group.rank])

    # ------------------------------------------------------------------ resume
    def _restore(self, snap: Snapshot) -> None:
        meta = snap.meta
        self.progress = Progress(**meta["progress"])
        if "schedule_best" not in meta["progress"]:  # a checkpoint from before the field existed
            self.progress.schedule_best = self.progress.best_val_loss
        self.optimizer.load_state(meta["optimizer"], {k[len("optim/"):]: v for k, v in snap.arrays.items() if k.startswith("optim/")})
        rngs = meta.get("rank_rngs") or [meta["rng"]]
        if self.group.rank < len(rngs):
            self.rng.bit_generator.state = rngs[self.group.rank]
        self.validations = list(meta.get("validations", []))
        state = snap.carried_state()  # the whole batch's: this process takes its rows
        if state is not None:
            self.state = [tuple(part[self._rows].copy() for part in layer) for layer in state]
        if self.group.is_root:
            self.run.truncate_metrics(self.progress.step)

    # ------------------------------------------------------------------ control
    def request_stop(self) -> None:
        """Finish the current window, save, and return (Ctrl-C, SIGTERM)."""
        self._stop_requested = True

    @property
    def total_steps(self) -> int:
        by_epochs = self.config.epochs * self.windows_per_epoch
        return min(by_epochs, self.config.max_steps) if self.config.max_steps else by_epochs

    # ------------------------------------------------------------------ the loop
    def fit(self) -> dict:
        """Train until the epochs or --max-steps are done, early stopping, or request_stop().
        Saves last.npz at the end and returns a summary."""
        cfg, p = self.config, self.progress
        self._started, self._elapsed_base = time.monotonic(), p.elapsed_s
        self.observer.started(self.status())
        reason = "completed" if p.epoch > cfg.epochs or self._max_steps_reached() else None
        while reason is None:
            if p.position == 0:
                # A new epoch starts cold: zero for a recurrent state; a memory network's streams
                # remember the text before them, as one reader of the whole text would.
                self.state = self.model.state_before(self.train_tokens, self._row_offsets, self._starts("train"))
                LearningRateSchedule(cfg, p).epoch_started(p.epoch)
            self.optimizer.lr = p.lr
            for position, x, y, resets in self._epoch_windows(p.position):
                self._train_window(x, y, resets)
                p.position = position + x.shape[0]
                reason = self._after_step()
                if reason:
                    break
            else:  # the epoch is over; what its validation saves resumes with the next one
                p.position, p.epoch = 0, p.epoch + 1
                if cfg.eval_every == 0:
                    self._validate(epoch=p.epoch - 1)
                if self._early_stop:
                    reason = "early-stop"
                elif p.epoch > cfg.epochs:
                    reason = "completed"
        if reason != "interrupted" and self.val_tokens is not None and (
            not self.validations or self.validations[-1]["step"] != p.step
        ):
            self._validate(scheduled=False)  # the model being kept has always been validated
        self.save(self.run.last)
        summary = self._summary(reason)
        self.observer.finished(self.status(), summary)
        return summary

    def _epoch_windows(self, start: int):
        """(position, x, y, resets) of the epoch's windows from column ``start``: along the streams, or (--positions
        random) at rows drawn from the run's saved generator, with the memory of the text before each as ``self.state``."""
        cfg, starts, tokens = self.config, self._starts("train"), self.train_tokens
        if cfg.positions == "streams":
            for position, x, y in windows(self.streams, cfg.seq_len, start=start):
                yield position, x, y, document_breaks(starts, self._row_offsets, position, y)
            return
        span = self.streams.shape[1] - 1  # as many windows as along the streams
        draws = random_windows(tokens, span, cfg.seq_len, cfg.batch_size, self.rng, start, mine=self._rows)
        for position, x, y, offsets in draws:
            self.state = self.model.state_before(tokens, offsets, starts)
            yield position, x, y, document_breaks(starts, offsets, 0, y)

    def _max_steps_reached(self) -> bool:
        return self.config.max_steps is not None and self.progress.step >= self.config.max_steps

    def _starts(self, split: str) -> np.ndarray:
        return self.starts.get(split, NO_STARTS)

    def _train_window(self, x: np.ndarray, y: np.ndarray, resets=()) -> None:
        cfg, p, model = self.config, self.progress, self.model
        state_in = model.initial_state(self.local_batch) if cfg.bptt == "full" else self.state
        rng = self.rng if model.config.dropout > 0 else None
        loss, state_out = model.train_step(x, y, state_in, rng, resets)
        # With several processes: the mean gradient and loss over every rank's tokens, and the
        # stop and save decisions made together (a no-op for one process).
        root = self.group.is_root  # rank 0's clock decides for everyone
        save_due = root and time.monotonic() - self._last_save >= cfg.checkpoint_seconds
        # --max-time is this invocation's budget: counted from this fit()'s start, not the run's.
        time_up = root and cfg.max_time is not None and time.monotonic() - self._started >= cfg.max_time
        loss, tokens, (self._stop_agreed, self._save_due, self._time_up) = self.group.combine(
            model.store, loss, count_scored(y), (self._stop_requested, save_due, time_up))
        grad = model.store.grad
        if cfg.freeze_embedding:
            model.grads["encoder.weight"][...] = 0.0
        if cfg.clip_value is not None:
            clip_grad_value(grad, cfg.clip_value)
        norm = clip_grad_norm(grad, cfg.clip_norm) if cfg.clip_norm is not None else global_norm(grad)
        p.step += 1
        self._rate.window_done(tokens)
        if not (math.isfinite(loss) and math.isfinite(norm)):
            self._bad_step(loss, norm)
            # No update. The data cursor moves past the window, so the state from before it no
            # longer belongs to the text that comes next, and the state after it is not finite:
            # the next window starts cold, as a new epoch does.
            self.state = model.initial_state(self.local_batch)
            return
        self._bad_in_a_row = 0
        self.optimizer.step()
        model.refresh()
        self.state = state_out
        p.tokens += tokens
        p.log_loss_sum += loss
        p.log_steps += 1
        p.smooth_loss = loss if p.smooth_loss is None else 0.98 * p.smooth_loss + 0.02 * loss
        self.observer.step(self.status(), loss)

    def _bad_step(self, loss: float, norm: float) -> None:
        p = self.progress
        p.skipped_steps += 1
        self._bad_in_a_row += 1
        what = "loss" if not math.isfinite(loss) else "gradient norm"
        self.observer.message(f"step {p.step}: the {what} is not finite ({loss if what == 'loss' else norm}); step skipped")
        if self._bad_in_a_row >= MAX_BAD_STEPS:
            raise TrainingError(
                f"training diverged: the {what} was not finite at step {p.step} and the "
                f"{MAX_BAD_STEPS - 1} steps before; lower --lr (now {p.lr:g}) or set a smaller --clip-norm. "
                + (f"The last good checkpoint is {self.run.last}" if self.run.last.exists()
                   else "No checkpoint had been saved yet")
            )

    def _after_step(self) -> str | None:
        """Logging, validation and checkpoint cadence. Returns why to stop, or None."""
        cfg, p = self.config, self.progress
        if p.log_steps and p.step % cfg.log_every == 0:
            self._log_train_row()
        validated = bool(cfg.eval_every and p.step % cfg.eval_every == 0 and self.val_tokens is not None)
        if validated:
            self._validate()
        # One process stops the moment it is asked; several stop together, at the step whose
        # allreduce told them all.
        if self._stop_agreed or (self.group.size == 1 and self._stop_requested):
            return "interrupted"
        if self._early_stop:
            return "early-stop"
        if self._max_steps_reached():
            return "max-steps"
        if self._time_up:
            return "max-time"
        if self._save_due and not validated:  # validating has just saved
            self.save(self.run.last)
        return None

    def _log_train_row(self) -> None:
        p = self.progress
        if self.group.is_root:
            self.run.append_metrics(self._row(train_loss=p.log_loss_sum / p.log_steps))
        p.log_loss_sum, p.log_steps = 0.0, 0

    def _row(self, **values) -> dict:
        p = self.progress
        row = {"step": p.step, "epoch": p.epoch, "train_loss": None, "val_loss": None,
               "tokens_per_s": self.tokens_per_s, "lr": p.lr, "elapsed_s": round(self.elapsed_s, 3)}
        row.update(values)
        return row

    # ------------------------------------------------------------------ validation
    def _evaluate_together(self, tokens) -> Evaluation:
        """One validation figure for every rank: each scores its share of the streams, one
        allreduce adds the sums. Every decision that follows (best, decay, early stop, the
        collective save of best.npz) is taken from that one figure, so ranks cannot disagree."""
        cfg, group = self.config, self.group
        mine = evaluate(self.model, tokens, cfg.batch_size, cfg.seq_len, part=(group.rank, group.size),
                        starts=self._starts("val"))
        loss_sum, scored = group.sum((mine.loss_sum, mine.tokens))
        return Evaluation(tokens=int(round(scored)), loss_sum=loss_sum)

    def _validate(self, scheduled: bool = True, epoch: int | None = None) -> None:
        """``epoch``: the one validated, when the progress has already moved on to the next."""
        if self.val_tokens is None:
            return
        p = self.progress
        result = self._evaluate_together(self.val_tokens)
        improved = p.best_val_loss is None or result.loss < p.best_val_loss
        record = {"step": p.step, "epoch": p.epoch if epoch is None else epoch, "val_loss": result.loss, "lr": p.lr}
        self.validations.append(record)
        if self.group.is_root:
            self.run.append_metrics(self._row(epoch=record["epoch"], train_loss=p.smooth_loss, val_loss=result.loss,
                                              val_perplexity=result.perplexity,
                                              val_bits_per_token=result.bits_per_token))
        if scheduled:
            self._schedule(result.loss)
        if improved:  # after the rule has judged: best.npz holds the rate the run goes on with
            p.best_val_loss, p.best_step = result.loss, p.step
            self.save(self.run.best)
        self.observer.validated(self.status(), result, improved)
        self.save(self.run.last)
        self._rate.pause()  # validation time is not training time

    def _schedule(self, loss: float) -> None:
        """The plateau rule (lower the rate when validation does not improve) and --patience."""
        decision = LearningRateSchedule(self.config, self.progress).validated(loss)
        self.optimizer.lr = self.progress.lr
        for note in decision.notes:
            self.observer.message(note)
        self._early_stop = self._early_stop or decision.stop

    # ------------------------------------------------------------------ saving
    def save(self, path) -> None:
        """Every rank calls this together: rank 0 gathers the carried states and dropout
        generators of all ranks and alone writes the checkpoint."""
        self.progress.elapsed_s = self.elapsed_s
        states = self.group.gather(self.state)
        rngs = self.group.gather(self.rng.bit_generator.state)
        self._last_save = time.monotonic()
        if not self.group.is_root:
            return
        meta = dict(self.extra_meta)
        meta.update({"train": self.config.to_dict(), "progress": asdict(self.progress),
                     "rng": rngs[0], "validations": self.validations})
        if self.group.size > 1:
            meta["rank_rngs"] = rngs
        state = concat_states(states) if self.group.size > 1 else self.state
        save_model(path, self.model, self.vocab, extra_meta=meta, optimizer=self.optimizer, state=state)
        self._last_save = time.monotonic()

    # ------------------------------------------------------------------ figures
    def status(self) -> TrainingStatus:
        """The figures the observer shows, as they stand now."""
        cfg, p, model = self.config, self.progress, self.model
        return TrainingStatus(
            model=model.config.describe(), parameters=model.store.size, vocab_size=len(self.vocab),
            tokens=self.streams.size, windows_per_epoch=self.windows_per_epoch, batch_size=cfg.batch_size,
            seq_len=cfg.seq_len, epochs=cfg.epochs, total_steps=self.total_steps, step=p.step, epoch=p.epoch,
            smooth_loss=p.smooth_loss, tokens_per_s=self.tokens_per_s, eta_s=self.eta_s, changes=tuple(self.changes))

    @property
    def elapsed_s(self) -> float:
        return self._elapsed_base + time.monotonic() - self._started

    @property
    def tokens_per_s(self) -> float | None:
        return self._rate.value

    @property
    def eta_s(self) -> float | None:
        """Seconds left to the end of training at the current speed."""
        left = max(self.total_steps - self.progress.step, 0) * self.config.seq_len * self.config.batch_size
        return left / self._rate.value if self._rate.value else None

    def _summary(self, stopped_by: str) -> dict:
        self.progress.elapsed_s = self.elapsed_s
        p = self.progress
        summary = {"stopped_by": stopped_by, "steps": p.step, "elapsed_s": p.elapsed_s, "epoch": min(p.epoch, self.config.epochs),
                   "tokens": p.tokens, "skipped_steps": p.skipped_steps, "best_val_loss": p.best_val_loss,
                   "best_step": p.best_step, "last": str(self.run.last),
                   "best": str(self.run.best) if self.run.best.exists() else None, "changed": list(self.changes)}
        if stopped_by != "interrupted" and self.test_tokens is not None and self.group.is_root:
            summary["test"] = self._test()
        return summary

    def _test(self) -> dict:
        """Test loss of the best model (the last one if there was no validation)."""
        from ..models.saved import load_model

        model = load_model(self.run.best).model if self.run.best.exists() else self.model
        result = evaluate(model, self.test_tokens, self.config.batch_size, self.config.seq_len, starts=self._starts("test"))
        row = {"test_loss": result.loss, "test_perplexity": result.perplexity, "test_bits_per_token": result.bits_per_token}
        self.run.append_metrics(self._row(**row))
        return row
