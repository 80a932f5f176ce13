"""Training recipes: `groove train transfer` and `groove train lm`.

Each recipe reads a data folder and a config (a preset, or a TOML file with
`[model]` and `[train]` tables, see `load_config`), builds its model and its
`tf.data` pipelines through the model's preprocessor, and runs the one training
loop, `groove.trainer.fit` (run folder, checkpoints, resume, NaN guard).

- `train_transfer` reads the triplets of `groove data triplets` and trains a
  `StyleTransferModel`;
- `train_lm` reads a `groove data corpus` folder and trains a `MusicTransformer`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from groove.errors import ConfigError
from groove.trainer import LMTrainConfig, TrainConfig, TransferTrainConfig, fit

__all__ = [
    "LMTrainConfig",
    "TrainConfig",
    "TransferTrainConfig",
    "fit",
    "load_config",
    "train_lm",
    "train_transfer",
]


def load_config(
    spec: str, presets: dict[str, dict], kind: type[TrainConfig] = TransferTrainConfig
) -> dict[str, dict[str, Any]]:
    """`{"model": {"preset", **overrides}, "train": {...}}` from a preset name or a TOML file.

    A TOML file has a `[model]` table (`preset = "small"` plus any model settings to
    override) and a `[train]` table (any field of `kind`: `TransferTrainConfig` for
    the transfer model, `LMTrainConfig` for the Music Transformer). The "train"
    dict holds every setting, checked by `kind`.
    """
    if spec in presets:
        return {"model": {"preset": spec}, "train": kind().to_dict()}
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
    try:
        train = kind.from_dict(dict(raw.get("train", {})))
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None
    return {"model": model, "train": train.to_dict()}


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
    """Train a one-shot `StyleTransferModel`.

    Args:
        data: A triplets folder from `groove data triplets` (its "train" split is
            trained on, "val" validates, through `tf.data`), or a corpus folder from
            `groove data synth` (only its `manifest.json` is needed), whose
            triplets are then cut as training goes (`groove.data.stream`), with the
            `[train]` table's `tokenizer`, `bars`, `max_tokens` and `workers`: no
            stored triplets and no TensorFlow needed.
        config: A preset ("tiny", "small", "base") or a TOML file (see `load_config`).
        out: The run folder; the best model is `out/model.keras`.
        strategy, mixed_precision, resume, verbose, callbacks: As in `fit`.

    Returns:
        `(model, state)` as from `fit`.
    """
    from groove.data.pipeline import TRIPLETS
    from groove.models.transfer.backbone import build_model  # (registers it for --resume)
    from groove.models.transfer.config import PRESETS

    data = Path(data)
    settings = load_config(config, PRESETS, TransferTrainConfig)
    train = TransferTrainConfig.from_dict(settings["train"])
    if not (data / TRIPLETS).is_file() and (data / "manifest.json").is_file():
        pre, batches, has_val = _streamed(data, train)
    else:
        pre, batches, has_val = _stored(data, train)
    model_config = dict(settings["model"])
    tokenizer = pre.tokenizer
    spec = {"tokenizer": {"kind": tokenizer.kind, "config": tokenizer.get_config()},
            "data": pre.settings}  # fmt: skip
    preset = model_config.pop("preset")

    def build():
        return build_model(tokenizer.vocab_size, preset, **spec, **model_config)

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


def _stored(data: Path, train: TransferTrainConfig):
    """Preprocessor and batches of a `groove data triplets` folder (`tf.data`)."""
    from groove.data.pipeline import TRIPLETS, load_tokenizer
    from groove.models.transfer.config import TransferDataConfig
    from groove.models.transfer.preprocessor import TransferPreprocessor, transfer_dataset

    manifest = _manifest(data, TRIPLETS, "groove data triplets")
    if "train" not in manifest["splits"]:
        raise ConfigError(f"{data}: has no train split")
    settings = TransferDataConfig(bars=manifest["config"]["bars"],
                                  max_tokens=manifest["config"]["max_tokens"],
                                  style_tokens=train.style_tokens)  # fmt: skip
    pre = TransferPreprocessor(load_tokenizer(data), settings)

    def batches(split, batch, seed, repeat):
        return transfer_dataset(
            data, split, batch_size=batch, shuffle=repeat, repeat=repeat, seed=seed,
            drop_remainder=repeat, preprocessor=pre,
        )  # fmt: skip

    has_val = "val" in manifest["splits"] and manifest["splits"]["val"]["triplets"] > 0
    return pre, batches, has_val


def _for_backend(batches):
    """Numpy batches as the back end's `fit` takes them: under TensorFlow a
    `tf.data.Dataset` with variable lengths (Keras' own generator adapter fixes
    every length its first two batches share); under JAX the iterator itself."""
    import keras

    if keras.backend.backend() != "tensorflow":
        return batches
    import tensorflow as tf

    first = next(batches, None)
    if first is None:  # no full batch: nothing to validate on (`fit` skips it)
        return []

    def spec(x):  # batch and length vary; a roll's 128 pitches do not
        return tf.TensorSpec((None,) * min(x.ndim, 2) + x.shape[2:], tf.as_dtype(x.dtype))

    signature = ({k: spec(v) for k, v in first[0].items()}, spec(first[1]))

    def again():
        yield first
        yield from batches

    return tf.data.Dataset.from_generator(again, output_signature=signature)


def _streamed(data: Path, train: TransferTrainConfig):
    """Preprocessor and batches cut on the fly from a corpus (numpy, no `tf.data`)."""
    from groove.data.stream import stream_triplets
    from groove.data.triplets import read_manifest
    from groove.models.transfer.config import TransferDataConfig
    from groove.models.transfer.preprocessor import TransferPreprocessor
    from groove.tokenizers import get_tokenizer

    manifest = read_manifest(data)
    settings = TransferDataConfig(bars=train.bars, max_tokens=train.max_tokens,
                                  style_tokens=train.style_tokens)  # fmt: skip
    pre = TransferPreprocessor(get_tokenizer(train.tokenizer), settings)

    def batches(split, batch, seed, repeat):
        triplets = stream_triplets(
            manifest, split, tokenizer=pre.tokenizer, bars=train.bars,
            max_tokens=train.max_tokens, seed=seed, repeat=repeat, shuffle=repeat,
            workers=train.workers if repeat else 1,
        )  # fmt: skip
        out = _for_backend(pre.batches(triplets, batch))
        if repeat and isinstance(out, list):
            raise ConfigError(f"{data}: the train split makes no batch of {batch} triplets")
        return out

    has_val = any(item["split"] == "val" for item in manifest["items"])
    return pre, batches, has_val


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
    from groove.data.lm import MANIFEST, load_tokenizer
    from groove.models.music_transformer.backbone import build_music_transformer
    from groove.models.music_transformer.config import PRESETS
    from groove.models.music_transformer.preprocessor import lm_dataset

    data = Path(data)
    manifest = _manifest(data, MANIFEST, "groove data corpus")
    if not manifest["counts"].get("train", {}).get("files"):
        raise ConfigError(f"{data}: the train split holds no files")
    settings = load_config(config, PRESETS, LMTrainConfig)
    train = LMTrainConfig.from_dict(settings["train"])
    model_config = dict(settings["model"])
    preset = model_config.pop("preset")
    tokenizer = load_tokenizer(data)
    spec = {"kind": tokenizer.kind, "config": tokenizer.get_config()}
    context = int(model_config.get("context", PRESETS[preset]["context"]))
    transpose, stretch = train.transpose, train.stretch

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
