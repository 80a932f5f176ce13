"""`fit`: the one training loop of groove, with its typed settings (`TrainConfig`),
run folder, resume and NaN guard.

`fit` trains any compiled-here Keras model on `tf.data` datasets and keeps a run
folder:

    RUN_DIR/run.json        settings, data, replicas, and the state to resume from
    RUN_DIR/model.keras     best validation loss so far, weights only (no optimizer)
    RUN_DIR/last.keras      the latest good state, with the optimizer (for --resume)
    RUN_DIR/history.csv     one line of train and validation loss per evaluation
    RUN_DIR/logs/           TensorBoard logs (when TensorFlow is installed)

It uses `keras.Model.fit`, its progress bar and its TensorBoard callback. Checkpoints
are our own callback rather than `ModelCheckpoint` + `BackupAndRestore`, because
those save at the end of an epoch even when the loss has just gone NaN, and would
then overwrite the last good state the run must keep.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from groove.distribute import Distribution, precision
from groove.errors import ConfigError, GrooveWarning, TrainingError
from groove.fileio import atomic_open
from groove.models.saving import save_for_inference


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Training settings: a TOML file's `[train]` table (a preset's are the defaults).

    Attributes:
        batch_size: Examples per optimizer step, over all replicas.
        steps: Optimizer steps in all; `fit` wants a multiple of `eval_every`.
        learning_rate: Peak learning rate of Adam.
        warmup_steps: Linear warmup, then cosine decay to `final_lr_fraction` of it.
        final_lr_fraction: Where the cosine decay ends, as a fraction of the peak.
        clipnorm: Gradient-norm clipping (0: none).
        eval_every: Steps between validations and checkpoints.
        val_batches: Batches per validation; 0 is the whole split.
        seed: Seeds the weights, the data order and the augmentation.
        max_minutes: A time budget (0: none): the run stops at the first checkpoint
            after which one more `eval_every` steps would pass it, so a run on a
            lent machine ends with its checkpoints written.
    """

    batch_size: int = 32
    steps: int = 2000
    learning_rate: float = 1e-3
    warmup_steps: int = 100
    final_lr_fraction: float = 0.05
    clipnorm: float = 1.0
    eval_every: int = 200
    val_batches: int = 0
    seed: int = 0
    max_minutes: float = 0.0

    def __post_init__(self):
        if not self.max_minutes >= 0:
            raise ConfigError(f"max_minutes must be 0 (none) or more, got {self.max_minutes}")
        if (
            self.steps < 1
            or self.eval_every < 1
            or self.batch_size < 1
            or self.warmup_steps < 0
            or self.val_batches < 0
        ):
            raise ConfigError(
                "steps, eval_every and batch_size must be positive; warmup_steps and "
                "val_batches >= 0"
            )
        if not self.learning_rate > 0 or self.clipnorm < 0:
            raise ConfigError("learning_rate must be positive and clipnorm >= 0")
        if not 0 <= self.final_lr_fraction <= 1:
            raise ConfigError(f"final_lr_fraction must be in [0, 1], got {self.final_lr_fraction}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, settings: dict[str, Any]) -> TrainConfig:
        """The settings of a dict (defaults for missing keys); an unknown key or a
        bad value is a `ConfigError`."""
        unknown = set(settings) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ConfigError(f"unknown [train] setting(s) {', '.join(sorted(unknown))}")
        return cls(**settings)


@dataclasses.dataclass(frozen=True)
class TransferTrainConfig(TrainConfig):
    """`groove train transfer`'s settings: the shared ones, the style cut, and how
    triplets are cut when they are streamed from a corpus (`--data` a corpus
    folder from `groove data synth` rather than `groove data triplets` output).

    Attributes:
        style_tokens: Style examples are cut to this many tokens.
        tokenizer: (streamed) "beat" or "duration".
        bars: (streamed) Bars per segment.
        max_tokens: (streamed) Longest target or style example kept, in tokens.
        workers: (streamed) Processes cutting triplets.
    """

    style_tokens: int = 512
    tokenizer: str = "beat"
    bars: int = 8
    max_tokens: int = 1023
    workers: int = 1

    def __post_init__(self):
        super().__post_init__()
        if self.tokenizer not in ("beat", "duration"):
            raise ConfigError(f"tokenizer must be beat or duration, got {self.tokenizer!r}")
        if min(self.style_tokens, self.bars, self.max_tokens, self.workers) < 1:
            raise ConfigError("style_tokens, bars, max_tokens and workers must be positive")


@dataclasses.dataclass(frozen=True)
class LMTrainConfig(TrainConfig):
    """`groove train lm`'s settings: the shared ones (other defaults), and on-the-fly
    augmentation.

    Attributes:
        transpose: Each window is transposed by -transpose .. +transpose semitones.
        stretch: And played (1 - stretch) .. (1 + stretch) times as fast.
    """

    batch_size: int = 16
    learning_rate: float = 5e-4
    warmup_steps: int = 200
    transpose: int = 3
    stretch: float = 0.05

    def __post_init__(self):
        super().__post_init__()
        if self.transpose < 0 or not 0 <= self.stretch < 1:
            raise ConfigError(
                f"transpose must be >= 0 and stretch in [0, 1), got {self.transpose} and "
                f"{self.stretch}"
            )


class _NanGuard:
    """Stops the run at the first non-finite training loss (see `fit`)."""

    def __init__(self):
        self.step = None


def _callbacks(run_dir: Path, state: dict, guard: _NanGuard, eval_every: int,
               max_minutes: float = 0.0):  # fmt: skip
    import keras
    import numpy as np

    class NanGuard(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            loss = (logs or {}).get("loss")
            if loss is not None and not math.isfinite(float(loss)):
                guard.step = state["step"] + batch + 1
                self.model.stop_training = True

    class Checkpoints(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            val = logs.get("val_loss")
            # Weights are checked too: a NaN input can poison a conv kernel while
            # ReLU and max-pooling keep that step's loss finite.
            finite = all(np.isfinite(w).all() for w in self.model.get_weights())
            if guard.step is not None or not finite or not math.isfinite(float(val or 0.0)):
                guard.step = guard.step or state["step"] + eval_every
                self.model.stop_training = True
                return  # keep the last good state
            state["step"] += eval_every
            state["epoch"] = epoch + 1
            state["train_loss"] = float(logs.get("loss", math.nan))
            if val is None:  # no validation split: the latest model is the best known
                save_for_inference(self.model, run_dir / "model.keras")
            else:
                state["val_loss"] = float(val)
                if state.get("best_val_loss") is None or val < state["best_val_loss"]:
                    state["best_val_loss"], state["best_step"] = float(val), state["step"]
                    save_for_inference(self.model, run_dir / "model.keras")
            _save_full(self.model, run_dir / "last.keras")
            _write_json(run_dir / "run.json", state)

    class TimeBudget(keras.callbacks.Callback):
        """Stops after the checkpoint past which one more epoch would overrun."""

        def __init__(self, minutes: float):
            super().__init__()
            self.seconds, self.start, self.last = 60.0 * minutes, None, None

        def on_train_begin(self, logs=None):
            self.start = self.last = time.monotonic()

        def on_epoch_end(self, epoch, logs=None):
            now = time.monotonic()
            took, self.last = now - self.last, now
            if self.seconds and now - self.start + took > self.seconds:
                state["stopped_for_time"] = True
                self.model.stop_training = True

    return [NanGuard(), Checkpoints(), TimeBudget(max_minutes)]


def fit(
    build: Callable[[], Any],
    train_data: Callable[[int, int], Any],
    val_data: Callable[[int], Any] | None,
    run_dir: str | os.PathLike,
    *,
    train: TrainConfig | dict[str, Any],
    strategy: str = "auto",
    mixed_precision: bool = False,
    resume: bool = False,
    info: dict[str, Any] | None = None,
    verbose: str | int = "auto",
    callbacks: list | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Train, validating and checkpointing every `train.eval_every` steps.

    Args:
        build: Makes the (uncompiled) model; called inside the strategy's scope.
        train_data: `(global_batch, seed) -> tf.data.Dataset` repeating forever, or
            an endless iterator of numpy `(inputs, target)` batches.
        val_data: `global_batch -> tf.data.Dataset` of one pass, or an iterable of
            numpy batches (one pass), or None.
        run_dir: The run folder (see the module docstring).
        train: Training settings: a `TrainConfig` (or subclass), or its dict.
        strategy: One of `STRATEGIES`.
        mixed_precision: Compute in float16 (GPU) or bfloat16, keep float32 weights.
        resume: Continue from `run_dir/last.keras`; the other settings must match.
        info: Extra JSON-ready facts written to `run.json`.
        verbose: `keras.Model.fit`'s verbosity ("auto": a progress bar on a terminal).
        callbacks: More Keras callbacks, called after the checkpoints are written.

    Returns:
        `(model, state)`: the trained model (as in `last.keras`) and the run state
        written to `run.json` (steps done, losses, best step).

    Raises:
        TrainingError: the loss went NaN (the last good checkpoint is kept), or
            `resume` found no checkpoint or other settings.
    """
    import keras

    train = _typed(train)
    extra = callbacks or []
    run_dir = Path(run_dir)
    state_path = run_dir / "run.json"
    settings = {
        "train": train.to_dict(),
        "strategy": strategy,
        "mixed_precision": mixed_precision,
        **(info or {}),
    }
    if resume:
        if not (run_dir / "last.keras").is_file() or not state_path.is_file():
            raise TrainingError(f"{run_dir}: nothing to resume (no last.keras and run.json)")
        state = json.loads(state_path.read_text(encoding="utf-8"))
        if state["settings"] != json.loads(json.dumps(settings)):
            raise TrainingError(
                f"{run_dir}: the run was started with other settings; cannot resume"
            )
    else:
        if (run_dir / "last.keras").exists():
            raise TrainingError(f"{run_dir}: holds a run already; use --resume or another folder")
        run_dir.mkdir(parents=True, exist_ok=True)
        state = {"settings": settings, "step": 0, "epoch": 0, "best_val_loss": None}
    every, steps = train.eval_every, train.steps
    if steps % every:
        raise ConfigError(f"steps ({steps}) must be a positive multiple of eval_every ({every})")

    keras.utils.set_random_seed(train.seed + state["epoch"])
    dist = Distribution(strategy)
    state["replicas"] = dist.replicas
    try:
        with precision(mixed_precision), dist.scope():
            if resume:
                model = keras.saving.load_model(run_dir / "last.keras")
                _reconcile(model, state, run_dir, every)
            else:
                model = build()
                # XLA under JAX (its training step is traced once per batch shape);
                # TensorFlow's XLA cannot compile the GRU's scan, so it runs as a graph.
                jit = keras.backend.backend() == "jax"
                model.compile(_optimizer(train), _loss(), jit_compile=jit)
        train_ds = train_data(train.batch_size, train.seed + state["epoch"])
        val_ds = None
        if val_data is not None:
            val_ds = _validation(val_data(train.batch_size), train.val_batches)
        guard = _NanGuard()
        callbacks = _callbacks(run_dir, state, guard, every, train.max_minutes)
        tensorboard = _tensorboard(run_dir / "logs")
        callbacks += [keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=True)]
        callbacks += [tensorboard] if tensorboard is not None else []
        callbacks += list(extra)
        if state["epoch"] < steps // every:
            # Keras warns each time a validation pass reaches the end of its data;
            # one pass over the split is exactly what we want.
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", "Your input ran out of data", UserWarning)
                model.fit(
                    train_ds,
                    validation_data=val_ds,
                    epochs=steps // every,
                    initial_epoch=state["epoch"],
                    steps_per_epoch=every,
                    callbacks=callbacks,
                    shuffle=False,  # the datasets shuffle themselves, seeded
                    verbose=verbose,
                )
    finally:
        dist.close()
    if guard.step is not None:
        kept = f"the last good checkpoint is {run_dir / 'last.keras'} (step {state['step']})"
        if not state["step"]:
            kept = "no checkpoint was good yet"
        raise TrainingError(
            f"{run_dir}: the loss or the weights became NaN by step {guard.step}; stopped; {kept}"
        )
    return model, state


def _validation(data, batches: int):
    """A validation set Keras can pass over once per epoch: a `tf.data.Dataset`
    (cut to `batches`), or numpy batches held in a `keras.utils.PyDataset`."""
    import itertools

    import keras

    if hasattr(data, "take"):  # tf.data
        return data.take(batches) if batches else data
    held = list(itertools.islice(data, batches or None))
    if not held:
        return None

    class Held(keras.utils.PyDataset):
        def __len__(self):
            return len(held)

        def __getitem__(self, index):
            return held[index]

    return Held()


def _typed(train: TrainConfig | dict[str, Any]) -> TrainConfig:
    """`train` as the `TrainConfig` class whose fields its keys name."""
    if isinstance(train, TrainConfig):
        return train
    for kind in (TrainConfig, TransferTrainConfig, LMTrainConfig):
        if set(train) <= {f.name for f in dataclasses.fields(kind)}:
            return kind.from_dict(train)
    return TrainConfig.from_dict(train)  # (names the unknown keys)


def _optimizer(train: TrainConfig):
    import keras

    steps, warmup = train.steps, min(train.warmup_steps, train.steps - 1)
    lr = train.learning_rate
    schedule = keras.optimizers.schedules.CosineDecay(
        lr if not warmup else 0.0,
        decay_steps=steps - warmup,
        alpha=train.final_lr_fraction,
        warmup_target=lr if warmup else None,
        warmup_steps=warmup,
    )
    return keras.optimizers.Adam(schedule, clipnorm=train.clipnorm or None)


def _loss():
    import keras

    # PAD (id 0) is padding: the mean runs over real target tokens only.
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0)


def _tensorboard(log_dir: Path):
    import keras

    try:
        import tensorboard  # noqa: F401  (Keras writes its logs with tf.summary)
        import tensorflow  # noqa: F401
    except ImportError:
        return None
    return keras.callbacks.TensorBoard(str(log_dir), update_freq="epoch")


def _reconcile(model, state: dict[str, Any], run_dir: Path, every: int) -> None:
    """Make `state` (run.json) agree with the checkpoint a resumed run starts from.

    A checkpoint writes model.keras (when best), then last.keras, then run.json, each
    atomically. A run killed between the last two leaves last.keras one evaluation
    period ahead of run.json: the optimizer's step count tells. The run then goes on
    from the checkpoint's step, so no period is trained twice or lost, and says so:
    only that period's losses (and, had it been the best, its best-loss record) are
    missing from run.json and history.csv.
    """
    from keras import ops

    done = int(ops.convert_to_numpy(model.optimizer.iterations))
    if done == state["step"]:
        return
    if done < state["step"] or done % every:
        raise TrainingError(
            f"{run_dir}: last.keras is at step {done} but run.json at step {state['step']}; "
            "the run folder was changed by hand: start a new run"
        )
    warnings.warn(
        f"{run_dir}: the run was stopped while writing its step-{done} checkpoint "
        f"(last.keras is at step {done}, run.json at step {state['step']}); resuming from "
        f"step {done}, without that evaluation's losses in run.json and history.csv",
        GrooveWarning,
        stacklevel=3,
    )
    state["step"], state["epoch"] = done, done // every


def _save_full(model, path: Path):
    tmp = path.with_name(path.stem + ".tmp.keras")
    model.save(tmp)
    os.replace(tmp, path)


def _write_json(path: Path, value):
    with atomic_open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=1)
