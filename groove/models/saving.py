"""One loader for groove's `.keras` models, the paths of the shipped ones, and the
saver that writes what ships.

A groove `.keras` file holds the network, its config and its tokenizer's spec, so
`load(path, kind)` gives back a `(model, tokenizer)` pair ready to run.

A model file is data from anywhere: before Keras builds anything, `load` reads its
config (at most `MAX_CONFIG_BYTES`), checks that it is the kind asked for, and
checks every size against the limits below (`check_config`), so that a hostile
file cannot ask for gigabytes (a vocabulary of 10^8 strings, 10^9 frames per beat,
layers that exhaust memory). The limits are far above every preset ("base" is the
largest) and the shipped models.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import zipfile
from importlib import resources
from pathlib import Path
from typing import Any

from groove.errors import ConfigError
from groove.tokenizers import Tokenizer

# ---- limits on what a loaded model file may ask for --------------------------
# config.json inside the .keras archive (the shipped ones are under 1 KB).
MAX_CONFIG_BYTES = 1 << 20
# Token vocabulary (and the rows of any other embedding table: styles, roles). The
# shipped models have 391 and 547 tokens. A tokenizer's integer settings multiplied
# together are held to it too, which bounds the vocabulary it builds (its token
# families are products of them).
MAX_VOCAB_SIZE = 1 << 16
# Any one layer width: units, filters, embedding and hidden sizes (shipped: 1024).
MAX_WIDTH = 8192
# Decoder blocks, or conv blocks of an encoder.
MAX_LAYERS = 64
# Token positions: context, relative distances, tokens per segment, style tokens.
MAX_CONTEXT = 8192
# Estimated weights of the whole model: 2**28 is 1 GiB of float32 (the "base"
# presets have about 20 million, the shipped models 2 and 4 million).
MAX_PARAMETERS = 1 << 28
# Floats of the key/value cache of one generated sequence (2 x blocks x positions x
# hidden size): 64 MiB of float32 ("base": 6.3 million).
MAX_CACHE_FLOATS = 1 << 24
# Style-transfer data settings: content frames per beat and bars per segment.
MAX_FRAMES_PER_BEAT = 96
MAX_BARS = 64

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
    saved = read_config(path, what)
    found = saved.get("class_name")
    if found != class_name:
        other = {c: w for _, w, c in KINDS.values()}.get(found)
        holds = f"it holds a {other}" if other else f"it holds {str(found)[:80]!r}"
        raise ConfigError(f"{path}: not a groove {what}; {holds}")
    try:
        check_config(kind, saved.get("config"))
    except ConfigError as e:
        raise ConfigError(f"{path}: refused, {e}") from None
    try:
        model = keras.saving.load_model(path, compile=False)
        tokenizer = Tokenizer.from_spec(model.tokenizer_config)
    except (ValueError, OSError, KeyError, AttributeError, TypeError) as e:
        raise ConfigError(f"{path}: not a groove {what} ({e})") from None
    if type(model).__name__ != class_name:
        raise ConfigError(f"{path}: not a groove {what}")
    return model, tokenizer


def read_config(path: str | os.PathLike, what: str = "model") -> dict[str, Any]:
    """The `config.json` of a `.keras` archive, read with at most `MAX_CONFIG_BYTES`."""
    try:
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo("config.json")
            with archive.open(info) as f:
                raw = f.read(MAX_CONFIG_BYTES + 1)
    except (zipfile.BadZipFile, KeyError, OSError, RuntimeError, EOFError) as e:
        raise ConfigError(f"{path}: not a groove {what} (not a .keras archive: {e})") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"{path}: refused, its config.json is larger than {MAX_CONFIG_BYTES} bytes"
        )
    try:
        config = json.loads(raw)
    except ValueError as e:
        raise ConfigError(f"{path}: not a groove {what} (config.json: {e})") from None
    if not isinstance(config, dict):
        raise ConfigError(f"{path}: not a groove {what} (config.json is not an object)")
    return config


def _int(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be a whole number, got {value!r:.40}")
    if not low <= value <= high:
        raise ConfigError(f"{name} is {value}, outside {low}..{high}")
    return value


def _typed(cls: type, raw: Any, prefix: str = "") -> None:
    """A `ConfigError` unless each setting of `raw` has its dataclass field's type."""
    import dataclasses

    if not isinstance(raw, dict):
        raise ConfigError(f"the {prefix or 'model '}settings are not a table")
    for field in dataclasses.fields(cls):
        if field.name not in raw:
            continue
        value, kind = raw[field.name], str(field.type)
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        ok = {
            "int": isinstance(value, int) and not isinstance(value, bool),
            "float": number,
            "bool": isinstance(value, bool),
            "str": isinstance(value, str),
        }.get(kind)
        if kind.startswith("tuple[int"):
            ok = isinstance(value, list) and all(
                isinstance(v, int) and not isinstance(v, bool) for v in value
            )
        if ok is False:
            raise ConfigError(f"{prefix}{field.name} must be of type {kind}, got {value!r:.40}")


def _tokenizer_sizes(spec: Any) -> None:
    """Bounds on a tokenizer spec `{"kind", "config"}` before it is built: every
    number is finite and at most `MAX_VOCAB_SIZE` in size, every list and string at
    most that long, and the product of the top-level integer settings (the token
    families of groove's tokenizers are products of them), like the beat ranges of a
    miditok config, at most `MAX_VOCAB_SIZE`."""
    if not isinstance(spec, dict) or not isinstance(spec.get("config"), dict):
        raise ConfigError("the tokenizer description is missing")

    def walk(value: Any, where: str) -> None:
        if isinstance(value, bool) or value is None:
            return
        if isinstance(value, int):
            _int(where, abs(value), 0, MAX_VOCAB_SIZE)
        elif isinstance(value, float):
            if not math.isfinite(value) or abs(value) > MAX_VOCAB_SIZE:
                raise ConfigError(
                    f"{where} is {value}, outside -{MAX_VOCAB_SIZE}..{MAX_VOCAB_SIZE}"
                )
        elif isinstance(value, (str, list, dict)):
            if len(value) > MAX_VOCAB_SIZE:
                raise ConfigError(f"{where} has {len(value)} entries, over {MAX_VOCAB_SIZE}")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            if not isinstance(value, str):
                for key, item in items:
                    walk(item, f"{where}.{key}")
        else:
            raise ConfigError(f"{where} is not a number, text, list or table")

    config = spec["config"]
    walk(config, "tokenizer")
    product = math.prod(v for v in config.values() if type(v) is int and v > 0)
    if product > MAX_VOCAB_SIZE:
        raise ConfigError(
            f"the tokenizer's settings multiply to {product}, over {MAX_VOCAB_SIZE} (a "
            "vocabulary that large)"
        )
    inner = config.get("config") if isinstance(config.get("config"), dict) else {}
    for key in ("beat_res", "beat_res_rest"):
        ranges = inner.get(key) or []
        try:
            steps = sum((int(b) - int(a)) * int(r) for a, b, r in ranges)
        except (TypeError, ValueError):
            raise ConfigError(
                f"tokenizer.config.{key} must hold [start, end, resolution] triples"
            ) from None
        if steps > MAX_VOCAB_SIZE:
            raise ConfigError(f"tokenizer.config.{key} spans {steps} steps, over {MAX_VOCAB_SIZE}")


def _tokenizer_resolution(spec: dict[str, Any]) -> int:
    value = spec["config"].get("resolution", 1)
    return value if type(value) is int and value > 0 else 1


def _lm_sizes(c: Any) -> tuple[int, int]:
    """(estimated weights, cache floats per sequence) of a Music Transformer."""
    h, f, v, r = c.hidden_dim, c.ff_dim, c.vocab_size, c.max_relative_position
    block = 4 * h * h + 2 * h * f + r * h + c.style_dim * h + 8 * h + f
    return 2 * v * h + c.num_layers * block, 2 * c.num_layers * c.context * h


def _transfer_sizes(c: Any, data: Any, resolution: int) -> tuple[int, int]:
    """(estimated weights, cache floats per sequence) of a style-transfer model."""
    v, memory, cond = c.vocab_size, 2 * c.content_units, c.style_dim + c.role_dim
    n, channels, pitches = 0, 1, 128
    for f in c.conv_filters:  # 3x3 convs, pitch pooled by 4
        n, channels, pitches = n + 9 * channels * f + f, f, -(-pitches // 4)
    gru = lambda x, u: 3 * (x + u + 2) * u  # noqa: E731
    n += 2 * gru(channels * pitches, c.content_units)
    if c.styles:
        n += c.styles * c.style_dim
    else:
        n += v * c.embed_dim
        channels = c.embed_dim
        for f in c.style_filters:  # width-5 convs
            n, channels = n + 5 * channels * f + f, f
        n += gru(channels, c.style_units) + c.style_units * c.style_dim
    n += c.roles * c.role_dim
    if c.decoder == "gru":
        u, a = c.decoder_units, c.attention_units
        n += v * c.embed_dim + gru(c.embed_dim + memory + cond, u) + (memory + u + 1) * a
        n += (cond + memory) * u + (u + memory) * v
        return n, u
    h, ff = c.hidden_dim, c.ff_dim
    n += 2 * v * h + (memory + cond + c.content_units) * h + (9 * resolution + 65) * h
    n += c.num_layers * (6 * h * h + 2 * h * ff + c.max_relative_position * h + cond * h + 12 * h)
    return n, 2 * c.num_layers * (data.max_tokens + 1) * h


def check_config(kind: str, saved: Any) -> None:
    """A `ConfigError` unless a saved model config (the "config" of `config.json`:
    sizes, tokenizer and, for style transfer, data settings) is within the limits
    of this module. Nothing is built."""
    if not isinstance(saved, dict) or not isinstance(saved.get("config"), dict):
        raise ConfigError("the model config is missing")
    try:
        if kind == "music_transformer":
            from groove.models.music_transformer.config import TransformerConfig

            _typed(TransformerConfig, saved["config"])
            c = TransformerConfig.from_dict(saved["config"])
            widths = {"hidden_dim": c.hidden_dim, "ff_dim": c.ff_dim, "style_dim": c.style_dim}
            positions = {"context": c.context, "max_relative_position": c.max_relative_position}
            layers = {"num_layers": c.num_layers}
        else:
            from groove.models.transfer.config import TransferConfig, TransferDataConfig

            _typed(TransferConfig, saved["config"])
            _typed(TransferDataConfig, saved.get("data") or {}, "data.")
            c = TransferConfig.from_dict(saved["config"])
            data = TransferDataConfig.from_dict(saved.get("data") or {})
            widths = {name: getattr(c, name) for name in (
                "content_units", "embed_dim", "style_units", "style_dim", "role_dim",
                "decoder_units", "attention_units", "hidden_dim", "ff_dim")}  # fmt: skip
            widths.update({f"conv_filters[{i}]": f for i, f in enumerate(c.conv_filters)})
            widths.update({f"style_filters[{i}]": f for i, f in enumerate(c.style_filters)})
            positions = {"max_relative_position": c.max_relative_position,
                         "data.max_tokens": data.max_tokens,
                         "data.style_tokens": data.style_tokens}  # fmt: skip
            layers = {"num_layers": c.num_layers, "conv blocks": len(c.conv_filters),
                      "style conv blocks": len(c.style_filters)}  # fmt: skip
            _int("roles", c.roles, 1, MAX_VOCAB_SIZE)
            _int("styles", c.styles, 0, MAX_VOCAB_SIZE)
            _int("data.bars", data.bars, 1, MAX_BARS)
            _int("data.frames_per_beat", data.frames_per_beat, 1, MAX_FRAMES_PER_BEAT)
    except (TypeError, ValueError) as e:  # a missing or mistyped setting
        raise ConfigError(f"a bad model config ({str(e)[:200]})") from None
    _int("vocab_size", c.vocab_size, 4, MAX_VOCAB_SIZE)
    _int("num_heads", c.num_heads, 1, MAX_WIDTH)
    for name, value in widths.items():
        _int(name, value, 0 if name == "style_dim" else 1, MAX_WIDTH)
    for name, value in positions.items():
        _int(name, value, 1, MAX_CONTEXT)
    for name, value in layers.items():
        _int(name, value, 0, MAX_LAYERS)
    _tokenizer_sizes(saved.get("tokenizer"))
    if kind == "music_transformer":
        weights, cache = _lm_sizes(c)
    else:
        weights, cache = _transfer_sizes(c, data, _tokenizer_resolution(saved["tokenizer"]))
    if weights > MAX_PARAMETERS:
        raise ConfigError(f"about {weights:,} weights, over {MAX_PARAMETERS:,}")
    if cache > MAX_CACHE_FLOATS:
        raise ConfigError(
            f"a generation cache of {cache:,} floats per sequence, over {MAX_CACHE_FLOATS:,}"
        )


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
    # Keras wants a name ending in .keras, so the temporary file is the target's own
    # name in a private folder beside it (two saves at once never share a temporary).
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".groove-save-") as folder:
        tmp = Path(folder) / path.name
        keras.saving.save_model(clean, tmp)
        os.replace(tmp, path)
