"""Samplers (objects, as in KerasHub) and the one decode loop every model generates with.

Samplers work on numpy logits with a seeded `numpy.random.Generator`, so a seed gives
the same music under every Keras back end. `decode` runs a task's `step` (one token
per row in, the next logits out, over the task's own cache or recurrent state),
masks each step's logits with an `EventGrammar` (`groove.tokenizers.grammar`), samples,
forces EOS on finished rows, and strips what follows EOS. `compiled` keeps each
model's compiled step functions outside the Keras object, keyed weakly by the model.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from groove.errors import ConfigError

# Seeds are 0 to MAX_SEED (numpy's generators take any such integer).
MAX_SEED = 2**32 - 1
# At most 10 minutes of new music per sample: up to 48,000 tokens (80 a second, the
# Music Transformer's `TOKENS_PER_SECOND_CAP`), a few minutes of CPU for the shipped
# model; more would run for hours (100,000 s is 8 million steps). Longer pieces:
# continue the output with it as the primer.
MAX_GENERATE_SECONDS = 600.0
# New tokens per sample at most: as many as MAX_GENERATE_SECONDS may take.
MAX_GENERATE_TOKENS = 48_000
# Samples per call: they are decoded as one batch, each with its own key/value cache
# (about 1 MB each for the shipped model, more for larger ones; 10,000 asked for
# 10.5 GB). More samples: call again with another seed.
MAX_SAMPLES = 64


def seeded(seed: Any) -> np.random.Generator:
    """The sampling generator of `seed` (None: fresh entropy; a Generator is used as
    it is); a `ConfigError` for anything but an integer 0 to `MAX_SEED`."""
    if seed is None or isinstance(seed, np.random.Generator):
        return np.random.default_rng(seed)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ConfigError(f"seed must be an integer 0 to {MAX_SEED}, got {seed!r}")
    if not 0 <= seed <= MAX_SEED:
        raise ConfigError(f"seed must be 0 to {MAX_SEED}, got {seed}")
    return np.random.default_rng(int(seed))


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=-1, keepdims=True)


def _draw(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One index per row of `probs` (rows sum to 1) by inverse-CDF sampling."""
    cdf = np.cumsum(probs, axis=-1)
    u = rng.random((probs.shape[0], 1)) * cdf[:, -1:]
    return np.minimum((cdf < u).sum(axis=-1), probs.shape[1] - 1)


class Sampler:
    """Picks one token id per row of logits `(batch, vocab)`; -inf marks forbidden ids."""

    def __call__(self, logits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError


class GreedySampler(Sampler):
    """The most likely token."""

    def __call__(self, logits, rng):
        return logits.argmax(axis=-1)


class TemperatureSampler(Sampler):
    """Sample from softmax(logits / temperature); lower is more conservative."""

    def __init__(self, temperature: float = 1.0):
        if not 0 < temperature < float("inf"):
            raise ConfigError(f"temperature must be a finite number above 0, got {temperature}")
        self.temperature = float(temperature)

    def _filter(self, logits: np.ndarray) -> np.ndarray:
        return logits

    def __call__(self, logits, rng):
        return _draw(_softmax(self._filter(logits / self.temperature)), rng)


class TopKSampler(TemperatureSampler):
    """Sample among the `k` most likely tokens."""

    def __init__(self, k: int, temperature: float = 1.0):
        super().__init__(temperature)
        if k < 1:
            raise ConfigError(f"top_k must be at least 1, got {k}")
        self.k = int(k)

    def _filter(self, logits):
        k = min(self.k, logits.shape[-1])
        kth = np.partition(logits, -k, axis=-1)[:, -k][:, None]
        return np.where(logits >= kth, logits, -np.inf)


class TopPSampler(TemperatureSampler):
    """Nucleus sampling (Holtzman et al., ICLR 2020): the smallest set of tokens whose
    probability reaches `p`."""

    def __init__(self, p: float, temperature: float = 1.0):
        super().__init__(temperature)
        if not 0 < p <= 1:
            raise ConfigError(f"top_p must be in (0, 1], got {p}")
        self.p = float(p)

    def _filter(self, logits):
        order = np.argsort(-logits, axis=-1)
        probs = np.take_along_axis(_softmax(logits), order, axis=-1)
        # Keep a token if the mass before it is below p (so the first always stays).
        keep_sorted = np.cumsum(probs, axis=-1) - probs < self.p
        keep = np.zeros_like(keep_sorted)
        np.put_along_axis(keep, order, keep_sorted, axis=-1)
        return np.where(keep, logits, -np.inf)


def make_sampler(
    temperature: float | None = 1.0, top_k: int | None = None, top_p: float | None = None
) -> Sampler:
    """The sampler for the usual knobs: temperature 0 or None is greedy."""
    if top_k is not None and top_p is not None:
        raise ConfigError("choose top_k or top_p, not both")
    if not temperature:
        return GreedySampler()
    if top_k is not None:
        return TopKSampler(top_k, temperature)
    if top_p is not None:
        return TopPSampler(top_p, temperature)
    return TemperatureSampler(temperature)


def masked(logits: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """`logits` with forbidden ids at -inf (float64, so nothing underflows)."""
    return np.where(allowed, logits.astype(np.float64), -np.inf)


def decode(
    step: Callable[[np.ndarray], Any],
    first_logits: Any,
    grammar: Any,
    sampler: Sampler,
    rng: np.random.Generator,
    eos_id: int,
) -> list[np.ndarray]:
    """Sample every row until the grammar says it is done; one id array per row.

    Args:
        step: Feeds one token per row `(batch,)` int32 and returns the logits
            `(batch, vocab)` for the next token (the task owns its cache or state).
        first_logits: The logits `(batch, vocab)` for the first token.
        grammar: An `EventGrammar` (or anything with `allowed`, `update`, `done`,
            and optionally `bias`: additive logits, e.g. the harmony mask).
        sampler: Picks each token.
        rng: The sampling's random generator.
        eos_id: The end token: forced on finished rows, and cut off the result.

    Returns:
        Each row's ids before its first EOS.
    """
    out = []
    logits = first_logits
    while not grammar.done.all():
        logits = np.asarray(logits, np.float64)
        bias = grammar.bias() if hasattr(grammar, "bias") else None
        if bias is not None:
            logits = logits + bias
        token = sampler(masked(logits, grammar.allowed()), rng).astype(np.int32)
        token = np.where(grammar.done, eos_id, token).astype(np.int32)
        grammar.update(token)
        out.append(token)
        if grammar.done.all():
            break
        logits = step(token)
    seqs = np.stack(out, axis=1) if out else np.zeros((len(grammar.done), 0), np.int32)
    result = []
    for row in seqs:
        stop = np.flatnonzero(row == eos_id)
        result.append(row[: stop[0]] if len(stop) else row)
    return result


_COMPILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def compiled(model: Any, name: str, fn: Callable, *, xla: bool = False, jax_jit: bool = True):
    """`fn` (a bound method of `model` or of one of its layers) compiled once per
    model and name: eager ops cost about a millisecond each. Under TensorFlow a
    `tf.function` (XLA-compiled with `xla`, for fixed shapes); under JAX `jax.jit`
    when `jax_jit`; other back ends call `fn` as it is. The cache holds the model
    weakly and the method through a `weakref.WeakMethod`, so a model that is no
    longer used is freed with its compiled functions."""
    import keras

    per_model = _COMPILED.setdefault(model, {})
    if name in per_model:
        return per_model[name]
    method = weakref.WeakMethod(fn)

    def call(*args):  # (a strong reference to the method would keep the model alive)
        return method()(*args)

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        if xla:
            result = tf.function(call, jit_compile=True)
        else:
            result = tf.function(call, reduce_retracing=True)
    elif backend == "jax" and jax_jit:
        import jax

        result = jax.jit(call)
    else:
        result = call
    per_model[name] = result
    return result
