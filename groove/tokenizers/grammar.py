"""`EventGrammar`: which event tokens may come next, so generated ids always decode.

It is tokenizer knowledge, built from a grid tokenizer's public event vocabulary
(`tokenizer.codes`), and serves every decode loop (`groove.models.sampling.decode`).
At each step it masks the ids that would make an invalid event stream for
`BeatTokenizer` / `PerformanceTokenizer` ids:

- a NOTE_OFF for a silent key, or at its note's very onset (a zero-length note);
- time past the sequence's end, and notes or velocities with no time left;
- keys of the wrong family (drums for a bass part), or beyond `max_polyphony`;
- EOS while notes still sound, and with `end_early=False` EOS before the end.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from groove.errors import ConfigError
from groove.tokenizers.events import EOS, OFF, ON, SHIFT, VELOCITY, EventCodes

# A sequence with no end in time: the far future, still safe to add steps to.
NO_END = np.iinfo(np.int64).max // 2


def event_codes(tokenizer: Any) -> EventCodes:
    """The event vocabulary of a `BeatTokenizer` or `PerformanceTokenizer`; a
    `ConfigError` for a tokenizer a grammar cannot follow."""
    codes = getattr(tokenizer, "codes", None)
    if not isinstance(codes, EventCodes):
        raise ConfigError(f"the model's tokenizer ({tokenizer.kind}) is not an event tokenizer")
    return codes


class EventGrammar:
    """Tracks a batch of event streams and says which ids may come next.

    Args:
        codes: The tokenizer's event vocabulary (`tokenizer.codes`).
        keys: Per sequence, the keys it may play: a boolean `(batch, num_keys)` table
            (e.g. only drum keys for a drum part).
        end_steps: Per sequence, the grid step at which it must end (segment length);
            `NO_END` for none.
        max_tokens: Tokens after which a sequence stops, whatever the model says.
        max_polyphony: Notes sounding at once, at most, per sequence.
        end_early: Whether EOS may come before `end_steps` (once nothing sounds).
    """

    def __init__(self, codes: EventCodes, keys: np.ndarray, end_steps: np.ndarray,
                 max_tokens: int, max_polyphony: int = 16,
                 end_early: bool = True):  # fmt: skip
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
        self.end_early = bool(end_early)
        on, off = self.kind == ON, self.kind == OFF
        key = np.clip(self.key, 0, self.keys.shape[1] - 1)
        # (batch, vocab) tables that do not change: which ON / OFF ids each sequence may use.
        self._on_ok = on[None, :] & self.keys[:, key]
        self._off_id = off
        self._key = key

    @classmethod
    def for_tokenizer(cls, tokenizer: Any, keys: np.ndarray, end_steps: np.ndarray,
                      max_tokens: int, **options: Any) -> EventGrammar:  # fmt: skip
        """The grammar of `tokenizer`'s events (see `event_codes`)."""
        return cls(event_codes(tokenizer), keys, end_steps, max_tokens, **options)

    def prime(self, ids: np.ndarray, steps: int | None = None) -> None:
        """Play `ids` (a primer, the same for every sequence) without counting them
        toward `max_tokens`; then, with `steps`, end every sequence `steps` grid steps
        after the primer's end."""
        max_tokens, self.max_tokens = self.max_tokens, NO_END
        for token in np.asarray(ids, np.int64):
            self.update(np.full(len(self.done), token))
        self.length[:] = 0
        self.max_tokens = max_tokens
        if steps is not None:
            self.end = self.time + int(steps)

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
        eos_ok = sounding == 0
        if not self.end_early:
            eos_ok &= room <= 0
        ok |= (kind == EOS) & eos_ok
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
