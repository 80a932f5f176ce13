"""One loader for groove's `.keras` models, the paths of the shipped ones, and the
saver that writes what ships.

A groove `.keras` file holds the network, its config and its tokenizer's spec, so
`load(path, kind)` gives back a `(model, tokenizer)` pair ready to run.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any

from groove.errors import ConfigError
from groove.tokenizers import Tokenizer

# kind -> (file shipped in groove/models/weights, what the user calls it, its class name)
KINDS = {
    "transfer": ("transfer.keras", "style-transfer model", "StyleTransferModel"),
    "music_transformer": ("music_transformer.keras", "Music Transformer", "MusicTransformer"),
}


def _kind(kind: str) -> tuple[str, str, str]:
    if kind not in KINDS:
        raise ConfigError(f"unknown model kind {kind!r}; choose from {', '.join(KINDS)}")
    return KINDS[kind]


def shipped_path(kind: str) -> Path:
    """Where the model of `kind` ("transfer", "music_transformer") shipped inside the
    package lives."""
    return Path(str(resources.files("groove") / "models" / "weights" / _kind(kind)[0]))


def _register(kind: str) -> None:
    """Import the model's layers, which registers them for deserialization."""
    import importlib

    importlib.import_module(f"groove.models.{kind}.backbone")


def load(path: str | os.PathLike | None, kind: str) -> tuple[Any, Tokenizer]:
    """The model of `kind` and its tokenizer from a `.keras` file (None: the shipped one).

    Raises:
        ConfigError: the file is missing, unreadable, or holds another kind of model;
            the message names the file.
    """
    import keras

    _, what, class_name = _kind(kind)
    _register(kind)
    shipped = shipped_path(kind)
    path = Path(path) if path is not None else shipped
    if not path.is_file():
        hint = ""
        if path == shipped:
            hint = "; the shipped model is missing from this install (reinstall groove)"
            hint += ", or pass one with --model" if kind == "transfer" else ""
        raise ConfigError(f"{path}: no such model file{hint}")
    try:
        model = keras.saving.load_model(path, compile=False)
        tokenizer = Tokenizer.from_spec(model.tokenizer_config)
    except (ValueError, OSError, KeyError, AttributeError, TypeError) as e:
        raise ConfigError(f"{path}: not a groove {what} ({e})") from None
    if type(model).__name__ != class_name:
        raise ConfigError(f"{path}: not a groove {what}")
    return model, tokenizer


def resolve(model: Any, kind: str) -> tuple[Any, Tokenizer]:
    """`(model, tokenizer)` from a loaded model, a `(model, tokenizer)` pair, a
    `.keras` path, or None for the shipped model of `kind`."""
    if isinstance(model, tuple):
        return model
    if model is None or isinstance(model, (str, os.PathLike)):
        return load(model, kind)
    return model, Tokenizer.from_spec(model.tokenizer_config)


def save_for_inference(model: Any, path: str | os.PathLike) -> None:
    """Save `model` without its optimizer state (a third of the size, and what ships),
    atomically."""
    import keras

    path = Path(path)
    clean = type(model).from_config(model.get_config())
    clean.set_weights(model.get_weights())
    tmp = path.with_name(path.stem + ".tmp.keras")
    keras.saving.save_model(clean, tmp)
    os.replace(tmp, path)
