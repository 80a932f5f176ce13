"""Samplers (objects, as in KerasHub) and the grammar that keeps generated events valid.

Samplers work on numpy logits with a seeded `numpy.random.Generator`, so a seed gives
the same music under every Keras back end. `EventGrammar` masks, at each step, the
tokens that would make an invalid event stream for `BeatTokenizer` /
`PerformanceTokenizer` ids: a NOTE_OFF for a silent key or at its note's very onset
(a zero-length note), time past the segment's end,
keys of the wrong family (drums for a bass part), and EOS while notes still sound.
"""

from __future__ import annotations

import numpy as np

from groove.errors import ConfigError
from groove.tokenizers.events import EOS, OFF, ON, SHIFT, VELOCITY


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
        if not temperature > 0:
            raise ConfigError(f"temperature must be positive, got {temperature}")
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


class EventGrammar:
    """Tracks a batch of event streams and says which ids may come next.

    Args:
        codes: The tokenizer's `EventCodes` (`tokenizer._codes`).
        keys: Per sequence, the keys it may play: a boolean `(batch, num_keys)` table
            (e.g. only drum keys for a drum part).
        end_steps: Per sequence, the grid step at which it must end (segment length).
        max_tokens: Tokens after which a sequence stops, whatever the model says.
        max_polyphony: Notes sounding at once, at most, per sequence.
    """

    def __init__(self, codes, keys: np.ndarray, end_steps: np.ndarray, max_tokens: int,
                 max_polyphony: int = 16):  # fmt: skip
        self.kind = codes.kind
        self.key = codes.key.astype(np.int64)
        self.value = codes.value.astype(np.int64)
        b = len(end_steps)
        self.keys = np.asarray(keys, bool)
        self.end = np.asarray(end_steps, np.int64)
        self.time = np.zeros(b, np.int64)
        self.active = np.zeros((b, self.keys.shape[1]), np.int64)
        # Time of each key's latest NOTE_ON: its NOTE_OFF must come later, so no note
        # is zero steps long (the decoder would have to lengthen it).
        self.onset = np.full((b, self.keys.shape[1]), -1, np.int64)
        self.length = np.zeros(b, np.int64)
        self.last_velocity = np.zeros(b, bool)
        self.done = np.zeros(b, bool)
        self.max_tokens, self.max_polyphony = int(max_tokens), int(max_polyphony)
        on, off = self.kind == ON, self.kind == OFF
        key = np.clip(self.key, 0, self.keys.shape[1] - 1)
        # (batch, vocab) tables that do not change: which ON / OFF ids each sequence may use.
        self._on_ok = on[None, :] & self.keys[:, key]
        self._off_id = off
        self._key = key

    def allowed(self) -> np.ndarray:
        """Boolean `(batch, vocab)`: the ids each sequence may take next. A finished
        sequence may only repeat EOS."""
        kind = self.kind[None, :]
        room = (self.end - self.time)[:, None]
        sounding = self.active.sum(axis=1, keepdims=True)
        ok = self._on_ok & (room > 0) & (sounding < self.max_polyphony)
        sounding_key = (self.active > 0) & (self.onset < self.time[:, None])
        ok |= self._off_id[None, :] & sounding_key[:, self._key]
        ok |= (kind == SHIFT) & (self.value[None, :] <= room)
        ok |= (kind == VELOCITY) & ~self.last_velocity[:, None] & (room > 0)
        ok |= (kind == EOS) & (sounding == 0)
        ok[self.done] = kind[0] == EOS
        return ok

    def update(self, ids: np.ndarray) -> None:
        """Advance every sequence by the chosen ids."""
        ids = np.asarray(ids, np.int64)
        kind, key, value = self.kind[ids], self._key[ids], self.value[ids]
        live = ~self.done
        rows = np.flatnonzero(live & (kind == ON))
        self.active[rows, key[rows]] += 1
        self.onset[rows, key[rows]] = self.time[rows]
        rows = np.flatnonzero(live & (kind == OFF))
        self.active[rows, key[rows]] = np.maximum(self.active[rows, key[rows]] - 1, 0)
        self.time += np.where(live & (kind == SHIFT), value, 0)
        self.last_velocity = kind == VELOCITY
        self.length += live
        self.done |= (kind == EOS) | (self.length >= self.max_tokens)


def masked(logits: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """`logits` with forbidden ids at -inf (float64, so nothing underflows)."""
    return np.where(allowed, logits.astype(np.float64), -np.inf)
