"""`groove.generate`: compose, or continue a primer, with a Music Transformer.

Every sample of a batch is decoded in parallel, one token per step over a key/value
cache; when the cache is full the window slides (the last half of the context is
run again and generation goes on). `EventGrammar` masks, at every step, the tokens
that would make an invalid event stream, so the output always decodes: notes are
released before the end, no NOTE_OFF comes without its NOTE_ON, and a length cap
ends every sample whatever the model says.
"""

from __future__ import annotations

import math
import os
import warnings
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from groove.errors import ConfigError, MidiError
from groove.models.sampling import EventGrammar, Sampler, make_sampler, masked
from groove.tokenizers import Tokenizer

SHIPPED = "music_transformer.keras"
# Token cap per second of music when only `seconds` is given: the shipped corpus
# plays about 20 tokens a second, dense piano music about 60.
TOKENS_PER_SECOND_CAP = 80
DEFAULT_MAX_TOKENS = 1024


def shipped_model_path() -> Path:
    """Where the Music Transformer shipped inside the package lives."""
    return Path(str(resources.files("groove") / "models" / "weights" / SHIPPED))


def load_lm(path: str | os.PathLike | None = None) -> tuple[Any, Tokenizer]:
    """A `MusicTransformer` and its tokenizer from a `.keras` file (default: shipped)."""
    import keras

    from groove.models import music_transformer as _  # noqa: F401  (registers the layers)

    path = Path(path) if path is not None else shipped_model_path()
    if not path.is_file():
        hint = ""
        if path == shipped_model_path():
            hint = "; the shipped model is missing from this install (reinstall groove)"
        raise ConfigError(f"{path}: no such model file{hint}")
    try:
        model = keras.saving.load_model(path, compile=False)
        tokenizer = Tokenizer.from_spec(model.tokenizer_config)
    except (ValueError, OSError, KeyError, AttributeError, TypeError) as e:
        raise ConfigError(f"{path}: not a groove Music Transformer ({e})") from None
    if not hasattr(model, "call_with_cache"):
        raise ConfigError(f"{path}: not a groove Music Transformer")
    return model, tokenizer


def generate(
    primer: Any = None,
    model: Any = None,
    *,
    max_tokens: int | None = None,
    seconds: float | None = None,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
    num_samples: int = 1,
    sampler: Sampler | None = None,
    style: Any = None,
    program: int = 0,
) -> Any:
    """Compose music, or continue `primer`, with a Music Transformer.

    Args:
        primer: Music to continue (anything `groove.midi.load` reads: a path,
            PrettyMIDI, a music21 stream); None composes from scratch. The output
            starts with the primer as the model hears it (its non-drum notes on one
            track), then the continuation.
        model: A `MusicTransformer`, a path to its `.keras` file, a `(model,
            tokenizer)` pair, or None for the shipped model.
        max_tokens: New tokens per sample, at most (default: 1024, or
            80 per second of `seconds`).
        seconds: Music to add, in seconds after the primer's end: the model may not
            end the piece sooner, and notes still sounding are released there (the
            `max_tokens` cap still applies). None: stop at `max_tokens` or when the
            model ends the piece.
        temperature, top_k, top_p: The sampler (see `make_sampler`); temperature 0
            is greedy. Ignored when `sampler` is given.
        seed: Seeds the sampling; the same seed gives the same music.
        num_samples: Samples to draw, decoded together as one batch.
        sampler: A `groove.models.sampling.Sampler` to use instead.
        style: A style vector (`groove.style_embedding`) for a model trained with
            `style_dim`; None for an unconditioned model.
        program: General MIDI program of the output track (0: piano).

    Returns:
        A `pretty_midi.PrettyMIDI`, or a list of `num_samples` of them when
        `num_samples > 1`.
    """
    model, tokenizer = _resolve(model)
    if num_samples < 1:
        raise ConfigError(f"num_samples must be at least 1, got {num_samples}")
    if seconds is not None and not seconds > 0:
        raise ConfigError(f"seconds must be positive, got {seconds}")
    if max_tokens is None:
        max_tokens = (
            DEFAULT_MAX_TOKENS if seconds is None else math.ceil(seconds * TOKENS_PER_SECOND_CAP)
        )
    if max_tokens < 1:
        raise ConfigError(f"max_tokens must be at least 1, got {max_tokens}")
    if not hasattr(tokenizer, "_codes"):
        raise ConfigError(f"the model's tokenizer ({tokenizer.kind}) is not an event tokenizer")
    if seconds is not None and not hasattr(tokenizer, "time_step"):
        raise ConfigError(f"seconds needs a tokenizer timed in seconds, not {tokenizer.kind}")
    primer_ids = np.zeros(0, np.int32)
    if primer is not None:
        primer_ids = tokenizer.encode(tokenizer.prepare(primer))
        if not len(primer_ids):
            name = primer if isinstance(primer, (str, os.PathLike)) else "the primer"
            raise MidiError(str(name), "it has no notes to continue")
    sampler = sampler or make_sampler(temperature, top_k, top_p)
    new = generate_ids(
        model, tokenizer, primer_ids, max_tokens, sampler, seed=seed,
        num_samples=num_samples, seconds=seconds, style=style,
    )  # fmt: skip
    midis = [tokenizer.decode(np.concatenate([primer_ids, ids]), program=program) for ids in new]
    return midis if num_samples > 1 else midis[0]


def _resolve(model: Any) -> tuple[Any, Tokenizer]:
    if isinstance(model, tuple):
        return model
    if model is None or isinstance(model, (str, os.PathLike)):
        return load_lm(model)
    return model, Tokenizer.from_spec(model.tokenizer_config)


def generate_ids(
    model: Any,
    tokenizer: Tokenizer,
    primer_ids: np.ndarray,
    max_tokens: int,
    sampler: Sampler,
    *,
    seed: int | None = None,
    num_samples: int = 1,
    seconds: float | None = None,
    style: Any = None,
) -> list[np.ndarray]:
    """The new token ids of each sample (EOS dropped), decoded over a cache.

    Args:
        model, tokenizer: A `MusicTransformer` and its tokenizer.
        primer_ids: Ids to continue (without BOS); may be empty.
        max_tokens: New tokens per sample, at most.
        sampler: Picks each token.
        seed, num_samples, seconds, style: As in `generate`.
    """
    rng = np.random.default_rng(seed)
    batch = int(num_samples)
    prompt = np.concatenate([[tokenizer.bos_id], primer_ids]).astype(np.int32)
    codes = tokenizer._codes
    keys = np.ones((batch, len(codes.on_ids)), bool)
    never = np.iinfo(np.int64).max // 2
    grammar = EventGrammar(codes, keys, np.full(batch, never), max_tokens=never)
    for token in primer_ids:  # the primer's sounding notes and time, with no cap yet
        grammar.update(np.full(batch, token))
    grammar.length[:] = 0
    grammar.max_tokens = int(max_tokens)
    if seconds is not None:  # (rounded first: 0.56 / 0.01 is 56.00000000000001)
        grammar.end = grammar.time + math.ceil(round(seconds / tokenizer.time_step, 6))
    style = _style_batch(model, style, batch)
    decoder = CachedDecoder(model, batch, style)
    logits = decoder.start(np.tile(prompt, (batch, 1)))
    out = []
    while True:
        logits = np.asarray(logits, np.float64)
        allowed = grammar.allowed()
        if seconds is not None:  # asked for `seconds` of music: the model may not end early
            allowed[~grammar.done & (grammar.time < grammar.end), tokenizer.eos_id] = False
        token = sampler(masked(logits, allowed), rng).astype(np.int32)
        token = np.where(grammar.done, tokenizer.eos_id, token).astype(np.int32)
        grammar.update(token)
        out.append(token)
        if grammar.done.all():
            break
        logits = decoder.step(token)
    result = []
    for row in np.stack(out, axis=1):
        stop = np.flatnonzero(row == tokenizer.eos_id)
        result.append(row[: stop[0]] if len(stop) else row)
    return result


class CachedDecoder:
    """Runs a `MusicTransformer` one token at a time over a key/value cache.

    The cache starts at the smallest power-of-two length (from 128) that holds the
    prompt and doubles when full, up to the model's context, so early steps attend
    over a short cache (a step's cost grows with the cache's length; each length is
    compiled once). When the context is full the window slides: the last half of
    the context is run again into a fresh cache.

    Args:
        model: A `MusicTransformer`.
        batch: Rows decoded together.
        style: `(batch, style_dim)` style vectors, or None.
    """

    MIN_CACHE = 128

    def __init__(self, model: Any, batch: int, style: Any = None):
        self.model, self.batch, self.style = model, int(batch), style
        self.context = int(model.config.context)
        self.prefill, self.step_fn = _compiled(model)
        self.history = np.zeros((self.batch, 0), np.int32)
        self.cache, self.position = None, 0

    def start(self, tokens: np.ndarray) -> np.ndarray:
        """Run a prompt `(batch, P)`; the logits `(batch, vocab)` for what follows it."""
        self.history = np.asarray(tokens, np.int32)
        return self._restart(min(self.history.shape[1], self.context // 2 or 1))

    def _restart(self, window: int) -> np.ndarray:
        from keras import ops

        tokens = ops.convert_to_tensor(self.history[:, -window:])
        length = min(self.context, max(self.MIN_CACHE, 1 << (window - 1).bit_length()))
        with warnings.catch_warnings():  # Keras warns of a softmax over one key (BOS alone)
            warnings.filterwarnings("ignore", "You are using a softmax over axis", UserWarning)
            logits, self.cache = self.prefill(
                tokens, self.model.init_cache(self.batch, length), self.style
            )
        self.position = window
        return ops.convert_to_numpy(logits[:, -1])

    def step(self, token: np.ndarray) -> np.ndarray:
        """Feed one token per row `(batch,)`; the logits `(batch, vocab)` for the next."""
        from keras import ops

        token = np.asarray(token, np.int32)
        # Only the context's worth of tokens can ever be run again.
        self.history = np.concatenate([self.history[:, -self.context :], token[:, None]], axis=1)
        if self.position >= self.context:  # the context is full: slide the window by half
            return self._restart(self.context // 2)
        length = self.cache.shape[-2]
        if self.position >= length:  # the cache is full: double it
            grow = min(2 * length, self.context) - length
            pad = [[0, 0]] * (len(self.cache.shape) - 2) + [[0, grow], [0, 0]]
            self.cache = ops.pad(self.cache, pad)
        index = ops.convert_to_tensor(np.int32(self.position))
        logits, self.cache = self.step_fn(
            ops.convert_to_tensor(token[:, None]), self.cache, index, self.style
        )
        self.position += 1
        return ops.convert_to_numpy(logits[:, 0])


def _style_batch(model, style, batch):
    """`style` as a `(batch, style_dim)` float32 array, checked against the model."""
    style_dim = int(model.config.style_dim)
    if style is None:
        if style_dim:
            raise ConfigError(f"this model is conditioned on a style: pass a {style_dim}-d style")
        return None
    if not style_dim:
        raise ConfigError("this model takes no style vector")
    style = np.asarray(style, np.float32)
    if (
        style.shape[-1:] != (style_dim,)
        or style.ndim > 2
        or style.size // style_dim not in (1, batch)
    ):
        raise ConfigError(
            f"style must be {style_dim} values (or one row of them per sample), got {style.shape}"
        )
    return np.ascontiguousarray(np.broadcast_to(style.reshape(-1, style_dim), (batch, style_dim)))


def _compiled(model):
    """`(prefill, step)`, compiled once per model: eager ops cost about a millisecond
    each. The step has fixed shapes, so XLA compiles it once; it updates the cache in
    place, which halves a step's time on CPU under TensorFlow (5 against 9 ms for the
    small preset at batch 1). Under JAX the weights are baked in as constants, which
    is right for inference; other back ends call the methods as they are."""
    import keras

    cached = getattr(model, "_groove_generate", None)
    if cached is not None:
        return cached
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        cached = (
            tf.function(model.prefill, reduce_retracing=True),
            tf.function(model.call_with_cache, jit_compile=True),
        )
    elif backend == "jax":
        import jax

        cached = (jax.jit(model.prefill), jax.jit(model.call_with_cache))
    else:
        cached = (model.prefill, model.call_with_cache)
    model._groove_generate = cached
    return cached
