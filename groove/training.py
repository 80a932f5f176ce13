"""Training runs: configs, distribution, checkpoints, resume and a NaN guard.

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

`train_transfer` is `groove train transfer`: it reads the triplets of
`groove data triplets` and trains a `StyleTransferModel`.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from groove.distribute import Distribution, precision
from groove.errors import ConfigError, TrainingError
from groove.fileio import atomic_open

# Training settings, in a TOML file's [train] table (a preset's are these).
TRAIN_DEFAULTS: dict[str, Any] = {
    "batch_size": 32,
    "steps": 2000,  # optimizer steps in all
    "learning_rate": 1e-3,
    "warmup_steps": 100,  # linear warmup, then cosine decay to final_lr_fraction * lr
    "final_lr_fraction": 0.05,
    "clipnorm": 1.0,
    "eval_every": 200,  # steps between validations and checkpoints
    "val_batches": 0,  # batches per validation; 0 = the whole split
    "seed": 0,
    "style_tokens": 512,  # style examples are cut to this many tokens
}

# `groove train lm`'s [train] settings: the shared ones, and on-the-fly augmentation.
LM_TRAIN_DEFAULTS: dict[str, Any] = {
    **{k: v for k, v in TRAIN_DEFAULTS.items() if k != "style_tokens"},
    "batch_size": 16,
    "learning_rate": 5e-4,
    "warmup_steps": 200,
    "transpose": 3,  # each window is transposed by -3 .. +3 semitones
    "stretch": 0.05,  # and played 5% slower .. 5% faster
}


def load_config(
    spec: str, presets: dict[str, dict], defaults: dict[str, Any] = TRAIN_DEFAULTS
) -> dict[str, dict[str, Any]]:
    """`{"model": {"preset", **overrides}, "train": {...}}` from a preset name or a TOML file.

    A TOML file has a `[model]` table (`preset = "small"` plus any model settings to
    override) and a `[train]` table (any of `defaults`: `TRAIN_DEFAULTS` for the
    transfer model, `LM_TRAIN_DEFAULTS` for the Music Transformer).
    """
    if spec in presets:
        return {"model": {"preset": spec}, "train": dict(defaults)}
    path = Path(spec)
    if path.suffix.lower() != ".toml":
        raise ConfigError(f"{spec}: not a preset ({', '.join(presets)}) nor a .toml file")
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror or e}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    unknown = set(raw) - {"model", "train"}
    if unknown:
        raise ConfigError(
            f"{path}: unknown table(s) {', '.join(sorted(unknown))}; use [model] and [train]"
        )
    model = dict(raw.get("model", {}))
    model.setdefault("preset", "small")
    if model["preset"] not in presets:
        raise ConfigError(
            f"{path}: unknown preset {model['preset']!r}; choose from {', '.join(presets)}"
        )
    train = dict(raw.get("train", {}))
    unknown = set(train) - set(defaults)
    if unknown:
        raise ConfigError(f"{path}: unknown [train] setting(s) {', '.join(sorted(unknown))}")
    return {"model": model, "train": {**defaults, **train}}


# ---------------------------------------------------------------- the run itself


class _NanGuard:
    """Stops the run at the first non-finite training loss (see `fit`)."""

    def __init__(self):
        self.step = None


def _callbacks(run_dir: Path, state: dict, guard: _NanGuard, eval_every: int):
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

    return [NanGuard(), Checkpoints()]


def fit(
    build: Callable[[], Any],
    train_data: Callable[[int, int], Any],
    val_data: Callable[[int], Any] | None,
    run_dir: str | os.PathLike,
    *,
    train: dict[str, Any],
    strategy: str = "auto",
    mixed_precision: bool = False,
    resume: bool = False,
    info: dict[str, Any] | None = None,
    verbose: str | int = "auto",
    callbacks: list | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Train, validating and checkpointing every `train["eval_every"]` steps.

    Args:
        build: Makes the (uncompiled) model; called inside the strategy's scope.
        train_data: `(global_batch, seed) -> tf.data.Dataset` repeating forever.
        val_data: `global_batch -> tf.data.Dataset` of one pass, or None.
        run_dir: The run folder (see the module docstring).
        train: Training settings (`TRAIN_DEFAULTS` keys).
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

    extra = callbacks or []
    run_dir = Path(run_dir)
    state_path = run_dir / "run.json"
    settings = {
        "train": train,
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
    every, steps = int(train["eval_every"]), int(train["steps"])
    if every < 1 or steps < 1 or steps % every:
        raise ConfigError(f"steps ({steps}) must be a positive multiple of eval_every ({every})")

    keras.utils.set_random_seed(int(train["seed"]) + state["epoch"])
    dist = Distribution(strategy)
    state["replicas"] = dist.replicas
    try:
        with precision(mixed_precision), dist.scope():
            if resume:
                model = keras.saving.load_model(run_dir / "last.keras")
            else:
                model = build()
                model.compile(_optimizer(train), _loss(), jit_compile=False)
        train_ds = train_data(int(train["batch_size"]), int(train["seed"]) + state["epoch"])
        val_ds = None
        if val_data is not None:
            val_ds = val_data(int(train["batch_size"]))
            if train["val_batches"]:
                val_ds = val_ds.take(int(train["val_batches"]))
        guard = _NanGuard()
        callbacks = _callbacks(run_dir, state, guard, every)
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


def _optimizer(train):
    import keras

    steps, warmup = int(train["steps"]), min(int(train["warmup_steps"]), int(train["steps"]) - 1)
    lr = float(train["learning_rate"])
    schedule = keras.optimizers.schedules.CosineDecay(
        lr if not warmup else 0.0,
        decay_steps=steps - warmup,
        alpha=float(train["final_lr_fraction"]),
        warmup_target=lr if warmup else None,
        warmup_steps=warmup,
    )
    return keras.optimizers.Adam(schedule, clipnorm=float(train["clipnorm"]) or None)


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


def _save_full(model, path: Path):
    tmp = path.with_name(path.stem + ".tmp.keras")
    model.save(tmp)
    os.replace(tmp, path)


def save_for_inference(model, path: str | os.PathLike):
    """Save `model` without its optimizer state (a third of the size, and what ships),
    atomically."""
    import keras

    path = Path(path)
    clean = type(model).from_config(model.get_config())
    clean.set_weights(model.get_weights())
    tmp = path.with_name(path.stem + ".tmp.keras")
    keras.saving.save_model(clean, tmp)
    os.replace(tmp, path)


def _write_json(path: Path, value):
    with atomic_open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=1)


def _manifest(data: Path, name: str, made_by: str) -> dict[str, Any]:
    """The data folder's manifest, or a `ConfigError` saying which command makes it."""
    path = data / name
    if not path.is_file():
        raise ConfigError(f"{data}: no {name}; make one with '{made_by}'")
    return json.loads(path.read_text(encoding="utf-8"))


# ------------------------------------------------------------ groove train transfer


def train_transfer(
    data: str | os.PathLike,
    config: str,
    out: str | os.PathLike,
    *,
    strategy: str = "auto",
    mixed_precision: bool = False,
    resume: bool = False,
    verbose: str | int = "auto",
    callbacks: list | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Train a one-shot `StyleTransferModel` on `groove data triplets` output.

    Args:
        data: The triplets folder (its "train" split is trained on, "val" validates).
        config: A preset ("tiny", "small", "base") or a TOML file (see `load_config`).
        out: The run folder; the best model is `out/model.keras`.
        strategy, mixed_precision, resume, verbose, callbacks: As in `fit`.

    Returns:
        `(model, state)` as from `fit`.
    """
    from groove.data.pipeline import TRIPLETS, load_tokenizer, transfer_dataset
    from groove.models.transfer import PRESETS, build_model

    data = Path(data)
    manifest = _manifest(data, TRIPLETS, "groove data triplets")
    if "train" not in manifest["splits"]:
        raise ConfigError(f"{data}: has no train split")
    settings = load_config(config, PRESETS)
    train, model_config = settings["train"], dict(settings["model"])
    tokenizer = load_tokenizer(data)
    style_tokens = int(train["style_tokens"])
    spec = {
        "tokenizer": {"kind": tokenizer.kind, "config": tokenizer.get_config()},
        "data": {
            "bars": manifest["config"]["bars"],
            "frames_per_beat": 4,
            "velocity": False,
            "max_tokens": manifest["config"]["max_tokens"],
            "style_tokens": style_tokens,
        },
    }
    preset = model_config.pop("preset")

    def build():
        return build_model(tokenizer.vocab_size, preset, **spec, **model_config)

    def batches(split, batch, seed, repeat):
        return transfer_dataset(
            data, split, batch_size=batch, shuffle=repeat, repeat=repeat, seed=seed,
            max_style_tokens=style_tokens, drop_remainder=repeat,
        )  # fmt: skip

    has_val = "val" in manifest["splits"] and manifest["splits"]["val"]["triplets"] > 0
    return fit(
        build,
        lambda batch, seed: batches("train", batch, seed, True),
        (lambda batch: batches("val", batch, 0, False)) if has_val else None,
        out,
        train=train,
        strategy=strategy,
        mixed_precision=mixed_precision,
        resume=resume,
        info={"data": str(data.resolve()), "model": settings["model"]},
        verbose=verbose,
        callbacks=callbacks,
    )


# ------------------------------------------------------------------ groove train lm


def train_lm(
    data: str | os.PathLike,
    config: str,
    out: str | os.PathLike,
    *,
    strategy: str = "auto",
    mixed_precision: bool = False,
    resume: bool = False,
    verbose: str | int = "auto",
    callbacks: list | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Train a `MusicTransformer` on `groove data corpus` output.

    Training windows of the model's `context` tokens are cut at random from every
    file, each file transposed and time-stretched afresh (the `transpose` and
    `stretch` settings); validation reads the "val" split once, unaugmented.

    Args:
        data: The corpus folder (its "train" split is trained on, "val" validates).
        config: A preset ("tiny", "small", "base") or a TOML file (see `load_config`).
        out: The run folder; the best model is `out/model.keras`.
        strategy, mixed_precision, resume, verbose, callbacks: As in `fit`.

    Returns:
        `(model, state)` as from `fit`.
    """
    from groove.data.lm import MANIFEST, lm_dataset, load_tokenizer
    from groove.models.music_transformer import PRESETS, build_music_transformer

    data = Path(data)
    manifest = _manifest(data, MANIFEST, "groove data corpus")
    if not manifest["counts"].get("train", {}).get("files"):
        raise ConfigError(f"{data}: the train split holds no files")
    settings = load_config(config, PRESETS, LM_TRAIN_DEFAULTS)
    train, model_config = settings["train"], dict(settings["model"])
    preset = model_config.pop("preset")
    tokenizer = load_tokenizer(data)
    spec = {"kind": tokenizer.kind, "config": tokenizer.get_config()}
    context = int(model_config.get("context", PRESETS[preset]["context"]))
    transpose, stretch = int(train["transpose"]), float(train["stretch"])
    if transpose < 0 or not 0 <= stretch < 1:
        raise ConfigError(
            f"transpose must be >= 0 and stretch in [0, 1), got {transpose} and {stretch}"
        )

    def build():
        return build_music_transformer(tokenizer.vocab_size, preset, tokenizer=spec, **model_config)

    def train_data(batch, seed):
        return lm_dataset(
            data, "train", length=context, batch_size=batch, seed=seed, drop_remainder=True,
            transpose=(-transpose, transpose) if transpose else None,
            stretch=(1 - stretch, 1 + stretch) if stretch else None, crop="random",
        )  # fmt: skip

    def val_data(batch):
        return lm_dataset(
            data, "val", length=context, batch_size=batch, transpose=None, stretch=None,
            shuffle=False, repeat=False,
        )  # fmt: skip

    has_val = manifest["counts"].get("val", {}).get("files", 0) > 0
    return fit(
        build,
        train_data,
        val_data if has_val else None,
        out,
        train=train,
        strategy=strategy,
        mixed_precision=mixed_precision,
        resume=resume,
        info={"data": str(data.resolve()), "model": settings["model"]},
        verbose=verbose,
        callbacks=callbacks,
    )
