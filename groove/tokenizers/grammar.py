"""`EventGrammar`: which event tokens may come next, so generated ids always decode,
and the rules of music a decoder is held to.

It is tokenizer knowledge, built from an event tokenizer's public vocabulary
(`tokenizer.codes`), and serves every decode loop (`groove.models.sampling.decode`).
At each step it masks the ids that would make an invalid or unwanted stream for
`BeatTokenizer` / `PerformanceTokenizer` ids (NOTE_OFF) and `DurationTokenizer`
ids (DURATION):

- a NOTE_OFF for a silent key, or at its note's very onset (a zero-length note);
  a NOTE_ON with no DURATION after it, or a DURATION with no NOTE_ON before it;
- time past the sequence's end, and notes, durations or velocities that would
  sound past it: **no note sounds past the segment's end**;
- keys of the wrong family (drums for a bass part), outside the part's register
  (`keys`), or beyond `max_polyphony`; a pitch struck again while it sounds
  (DURATION streams, and NOTE_OFF streams with a `max_duration`);
- notes longer than `max_duration` steps (the style's longest, say);
- EOS while notes still sound, or before `eos_from` (**EOS only in the last bar**
  of a transfer segment);
- and, near `max_tokens`, anything that would leave a note unfinished when the
  sequence is cut: tokens are kept in reserve to switch every sounding note off.

`bias` adds the soft rules:

- the **harmony mask**: NOTE_ONs whose pitch class is not sounding in the content
  near the current time lose `harmony_strength` nats;
- the **note lengths** (DURATION streams): a DURATION that would give its note a
  length the row's table does not list (the lengths the style example plays, say)
  loses `lengths_strength` nats;
- the **rhythm**: a NOTE_ON at a grid step where the row's table does not list its
  key (the bar positions where the style example strikes, say) loses
  `rhythm_strength` nats, and so does a TIME_SHIFT that lands on a step where the
  table lists no key (before the end), unless no TIME_SHIFT can reach a listed step
  (then the longest is free): time moves from one listed step to the next, so the
  model is at the right places to strike, and not only kept from the wrong ones.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from groove.errors import ConfigError
from groove.tokenizers.events import DURATION, EOS, OFF, ON, SHIFT, VELOCITY, EventCodes

# A sequence with no end in time: the far future, still safe to add steps to.
NO_END = np.iinfo(np.int64).max // 2
# How strongly the note-length rule holds (nats from each DURATION that makes a
# length the table does not list): e^-2, about 7 times less likely. On 20
# validation pairs (issue 14; the 800-step Transformer): content 0.670 / 0.677 /
# 0.672 and style fit 0.413 / 0.429 / 0.434 at 0 / 2 / 4 nats; 2 keeps the content.
LENGTHS_STRENGTH = 2.0
# How strongly the harmony mask holds (nats taken from each off-harmony NOTE_ON's
# logit): e^-6 makes such a note about 400 times less likely than the model wants,
# without forbidding passing tones outright. `float("inf")` forbids them. On 20
# validation pairs with the shipped Transformer (issue 14, 1,100 steps): content
# 0.670 -> 0.721 and chord tones 0.853 -> 0.966 from 3 to 6 nats, style fit 0.455 ->
# 0.444. (3 was tuned for the GRU model shipped before it.)
HARMONY_STRENGTH = 6.0
# How strongly the rhythm rule holds (nats from each NOTE_ON at a step its table does
# not list, and from each TIME_SHIFT to a step it lists nothing at): e^-8, about
# 3,000 times less likely. On 20 validation pairs (issue 14; the shipped 1,700-step
# Transformer), content / style fit / bar phase / part continuity:
#   no rule:                    0.783 / 0.411 / 0.700 / 0.997
#   NOTE_ONs only, 2 / 4 / 8:   style fit 0.423 / 0.462 / 0.464, but continuity
#                               0.991 / 0.960 / 0.760 (parts fell silent) and
#                               content 0.781 / 0.763 / 0.653
#   and TIME_SHIFTs, 2:         0.793 / 0.489 / 0.784 / 0.995
#   and TIME_SHIFTs, 4:         0.799 / 0.516 / 0.802 / 0.986
#   and TIME_SHIFTs, 8:         0.793 / 0.547 / 0.810 / 0.986
#   and TIME_SHIFTs, inf:       0.799 / 0.540 / 0.797 / 0.955
# 8 keeps a rare note off the example's pattern, and every part going.
RHYTHM_STRENGTH = 8.0


def event_codes(tokenizer: Any) -> EventCodes:
    """The event vocabulary of a `BeatTokenizer`, `PerformanceTokenizer` or
    `DurationTokenizer`; a `ConfigError` for a tokenizer a grammar cannot follow."""
    codes = getattr(tokenizer, "codes", None)
    if not isinstance(codes, EventCodes):
        raise ConfigError(f"the model's tokenizer ({tokenizer.kind}) is not an event tokenizer")
    return codes


class EventGrammar:
    """Tracks a batch of event streams and says which ids may come next.

    Args:
        codes: The tokenizer's event vocabulary (`tokenizer.codes`).
        keys: Per sequence, the keys it may play: a boolean `(batch, num_keys)` table
            (e.g. only drum keys for a drum part, only its register for a bass).
        end_steps: Per sequence, the grid step at which it must end (segment length);
            `NO_END` for none.
        max_tokens: Tokens after which a sequence stops, whatever the model says.
        max_polyphony: Notes sounding at once, at most, per sequence.
        end_early: Whether EOS may come before `end_steps` (once nothing sounds).
        eos_from: Per sequence, the step from which EOS may come (overrides
            `end_early`): a transfer passes the start of the segment's last bar.
        max_duration: Per sequence, the longest note in steps; None for no limit but
            the end. (NOTE_OFF streams: a note that has sounded this long must be
            switched off before time moves on.)
        harmony: Per sequence, the pitch classes allowed at each step: a boolean
            `(batch, steps, 12)` table (a step past its end reads the last row; a
            row with no pitch class allowed constrains nothing); None for none.
        harmony_strength: Nats taken from an off-harmony NOTE_ON (see `bias`).
        lengths: (DURATION streams) Per sequence, the note lengths in steps it
            should play: a boolean `(batch, n)` table, column n-1 standing for every
            longer length too (a row with no length listed constrains nothing); None
            for none.
        lengths_strength: Nats taken from a DURATION that makes an unlisted length.
        onsets: Per sequence, the keys that may strike at each grid step: a boolean
            `(batch, steps, num_keys)` table (a step past its end reads the last row;
            a sequence with nothing listed at any step constrains nothing); None for
            none.
        rhythm_strength: Nats taken from a NOTE_ON whose key `onsets` does not list
            at the current step, and from a TIME_SHIFT to a step it lists no key at.

    `allowed` is computed once per step (until the next `update`): the decode loop
    and the soft rules share it. The array it returns is read-only.
    """

    def __init__(self, codes: EventCodes, keys: np.ndarray, end_steps: np.ndarray,
                 max_tokens: int, max_polyphony: int = 16, end_early: bool = True,
                 eos_from: np.ndarray | None = None, max_duration: np.ndarray | None = None,
                 harmony: np.ndarray | None = None,
                 harmony_strength: float = HARMONY_STRENGTH,
                 lengths: np.ndarray | None = None,
                 lengths_strength: float = LENGTHS_STRENGTH,
                 onsets: np.ndarray | None = None,
                 rhythm_strength: float = RHYTHM_STRENGTH):  # fmt: skip
        self.kind = codes.kind
        self.key = codes.key.astype(np.int64)
        self.value = codes.value.astype(np.int64)
        b = len(end_steps)
        self.keys = np.asarray(keys, bool)
        num_keys = self.keys.shape[1]
        self.end = np.asarray(end_steps, np.int64)
        if eos_from is None:
            eos_from = np.zeros(b, np.int64) if end_early else self.end
        self.eos_from = np.asarray(eos_from, np.int64)
        self.time = np.zeros(b, np.int64)
        # NOTE_OFF streams: how many notes of each key sound. DURATION streams: the
        # step each key's note ends (it sounds while its end is after the time).
        self.active = np.zeros((b, num_keys), np.int64)
        self.note_end = np.zeros((b, num_keys), np.int64)
        # Time of each key's latest NOTE_ON: its NOTE_OFF must come later, so no note
        # is zero steps long, and no drum is struck twice at one step.
        self.onset = np.full((b, num_keys), -1, np.int64)
        self.length = np.zeros(b, np.int64)
        self.last_velocity = np.zeros(b, bool)
        self.done = np.zeros(b, bool)
        self.max_tokens, self.max_polyphony = int(max_tokens), int(max_polyphony)
        self.durations = bool((self.kind == DURATION).any())
        self.max_step = int(self.value[self.kind == DURATION].max(initial=0))
        self.max_duration = (
            np.full(b, NO_END, np.int64) if max_duration is None
            else np.asarray(max_duration, np.int64)
        )  # fmt: skip
        # DURATION streams: the pitched note waiting for (more of) its duration: its
        # key (-1: none), whether it must have one (just switched on) and its length.
        self.pending = np.full(b, -1, np.int64)
        self.must_last = np.zeros(b, bool)
        self.pending_length = np.zeros(b, np.int64)
        self.harmony = None if harmony is None else np.asarray(harmony, bool)
        self.harmony_strength = float(harmony_strength)
        self.lengths_strength = float(lengths_strength)
        self.lengths = self.listed = None
        if lengths is not None and self.durations and self.lengths_strength:
            table = np.asarray(lengths, bool).copy()
            table[~table.any(axis=1)] = True  # nothing listed: nothing to follow
            self.lengths = table
            # listed[b, t]: how many listed lengths are t steps or shorter, so a
            # longest DURATION that another will follow fits while a listed length
            # longer than it still fits in the time left.
            self.listed = np.cumsum(table, axis=1)
        self.rhythm_strength = float(rhythm_strength)
        self.onsets = None
        if onsets is not None and self.rhythm_strength:
            table = np.asarray(onsets, bool).copy()
            table[~table.any(axis=(1, 2))] = True  # nothing listed: nothing to follow
            self.onsets = table
            self._any_onset = table.any(axis=2)  # (batch, steps): a step to land on
        self._allowed: np.ndarray | None = None  # this step's `allowed()`
        on, off = self.kind == ON, self.kind == OFF
        key = np.clip(self.key, 0, num_keys - 1)
        # (batch, vocab) tables that do not change: which ON / OFF ids each sequence may use.
        self._on_ok = on[None, :] & self.keys[:, key]
        self._off_id = off
        self._key = key
        self._pitched_on = on & (self.key < 128)
        self._pitch_class = np.where(self._pitched_on, self.key % 12, 0)

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
            self.eos_from = np.minimum(self.eos_from, self.end)
        self._allowed = None

    # ------------------------------------------------------------------ state

    def _sounding(self) -> np.ndarray:
        """`(batch, keys)`: which keys sound now."""
        if self.durations:
            return self.note_end > self.time[:, None]
        return self.active > 0

    def _reserve(self) -> np.ndarray:
        """Tokens each sequence needs to end cleanly from here (NOTE_OFF streams: one
        OFF per sounding note, and a shift first if one began at this step)."""
        if self.durations:
            return np.where(self.must_last, 1, 0)
        sounding = self.active.sum(axis=1)
        fresh = ((self.active > 0) & (self.onset == self.time[:, None])).any(axis=1)
        return sounding + fresh

    # ------------------------------------------------------------------ rules

    def allowed(self) -> np.ndarray:
        """Boolean `(batch, vocab)`: the ids each sequence may take next. A finished
        sequence may only repeat EOS. (Read-only; computed once per step.)"""
        if self._allowed is None:
            self._allowed = self._compute_allowed()
            self._allowed.setflags(write=False)
        return self._allowed

    def _compute_allowed(self) -> np.ndarray:
        kind = self.kind[None, :]
        room = (self.end - self.time)[:, None]
        velocity_ok = (kind == VELOCITY) & ~self.last_velocity[:, None] & (room > 0)
        left = (self.max_tokens - self.length)[:, None]  # tokens still allowed
        sounding = self._sounding()
        count = sounding.sum(axis=1, keepdims=True)
        free = ~self.must_last[:, None]  # no DURATION owed
        if self.durations:
            # A pitched note needs ON + DURATION; a drum hit is one token.
            need_on = np.where(self.key[None, :] < 128, 2, 1)
            struck = sounding | (self.onset == self.time[:, None])
            ok = self._on_ok & ~struck[:, self._key] & (left >= need_on)
            ok &= free & (room > 0) & (count < self.max_polyphony)
            ok |= self._duration_ok()
            ok |= (kind == SHIFT) & (self.value[None, :] <= room) & free
            ok |= velocity_ok & free & (left >= 3)
            eos_ok = free
        else:
            count = self.active.sum(axis=1, keepdims=True)  # notes, a key's repeats too
            reserve = self._reserve()[:, None]
            ok = self._on_ok & (room > 0) & (count < self.max_polyphony) & (left >= count + 3)
            # Under a length limit a sounding key may not be struck again: the decoder
            # ends a key's oldest note first, so a re-strike would stretch it past it.
            limited = (self.max_duration < NO_END)[:, None]
            ok &= ~(limited & (self.active > 0)[:, self._key])
            sounding_key = (self.active > 0) & (self.onset < self.time[:, None])
            ok |= self._off_id[None, :] & sounding_key[:, self._key]
            held = self.time[:, None] - self.onset >= self.max_duration[:, None]
            overdue = ((self.active > 0) & held).any(axis=1, keepdims=True)
            ok &= ~overdue | self._off_id[None, :]
            ok |= (kind == SHIFT) & (self.value[None, :] <= room) & (left >= count + 1) & ~overdue
            ok |= velocity_ok & (left >= count + 4)
            eos_ok = (count == 0) & (reserve == 0)
        eos_ok &= (self.time >= self.eos_from)[:, None] | (room <= 0)
        ok |= (kind == EOS) & eos_ok
        ok[self.done] = kind[0] == EOS
        return ok

    def _duration_ok(self) -> np.ndarray:
        """DURATION ids a pending note may take: at most what is left of the segment
        and of `max_duration`; a further one only after a longest DURATION."""
        waiting = self.pending >= 0
        onset = self.time  # a pitched note's duration is written at its onset
        room = np.minimum(self.end - onset, self.max_duration) - self.pending_length
        # The first DURATION is at least one step, even where the limit is shorter.
        room = np.where(self.must_last, np.maximum(room, 1), room)
        return (
            (self.kind == DURATION)[None, :]
            & waiting[:, None]
            & (self.value[None, :] <= room[:, None])
        )

    def bias(self) -> np.ndarray | None:
        """Additive logits `(batch, vocab)`: `-harmony_strength` on NOTE_ONs whose
        pitch class the harmony table does not allow now, `-lengths_strength` on
        DURATIONs that make an unlisted length, `-rhythm_strength` on NOTE_ONs the
        onset table does not list now and on TIME_SHIFTs that land where it lists
        nothing; None without any table."""
        parts = [self._harmony_bias(), self._lengths_bias(), self._rhythm_bias()]
        parts = [b for b in parts if b is not None]
        return sum(parts[1:], parts[0]) if parts else None

    def _rhythm_bias(self) -> np.ndarray | None:
        if self.onsets is None:
            return None
        steps = self.onsets.shape[1]
        now = self.onsets[np.arange(len(self.time)), np.minimum(self.time, steps - 1)]
        fits = now[:, self._key] | ~(self.kind == ON)[None, :]
        # TIME_SHIFTs land on a listed step, or at (or past) the end.
        shifts = np.flatnonzero(self.kind == SHIFT)
        land = self.time[:, None] + self.value[shifts][None, :]
        listed = self._any_onset[np.arange(len(self.time))[:, None], np.minimum(land, steps - 1)]
        listed |= land >= self.end[:, None]
        longest = self.value[shifts] == self.value[shifts].max(initial=0)
        listed |= ~listed.any(axis=1, keepdims=True) & longest[None, :]
        fits[:, shifts] = listed
        # Never a dead end (time can always move on, but cheap to make sure).
        fits |= ~(fits & self.allowed()).any(axis=1, keepdims=True)
        return np.where(fits, 0.0, -self.rhythm_strength)

    def _lengths_bias(self) -> np.ndarray | None:
        if self.lengths is None:
            return None
        n = self.lengths.shape[1]
        is_duration = (self.kind == DURATION)[None, :]
        total = np.clip(self.pending_length[:, None] + self.value[None, :], 0, n - 1)
        rows = np.arange(len(self.time))[:, None]
        fits = self.lengths[rows, total]
        # A longest DURATION that another may follow fits if a longer listed length
        # still fits before the segment's end and the length cap.
        room = np.minimum(self.end - self.time, self.max_duration)
        room = np.clip(room, 0, n - 1)[:, None]
        goes_on = self.value[None, :] == self.max_step
        fits |= goes_on & (self.listed[rows, room] > self.listed[rows, total])
        # After a longest DURATION the note may end: anything but a DURATION ends it,
        # which fits if its length so far is listed.
        ends = self.lengths[rows[:, 0], np.clip(self.pending_length, 0, n - 1)][:, None]
        fits = np.where(is_duration, fits, ends | self.must_last[:, None])
        fits |= (self.pending < 0)[:, None]
        # Never a dead end: a row none of whose allowed ids fits (too little time
        # left for any listed length, say) is not biased.
        fits |= ~(fits & self.allowed()).any(axis=1, keepdims=True)
        return np.where(fits, 0.0, -self.lengths_strength)

    def _harmony_bias(self) -> np.ndarray | None:
        if self.harmony is None or not self.harmony_strength:
            return None
        steps = self.harmony.shape[1]
        now = self.harmony[np.arange(len(self.time)), np.minimum(self.time, steps - 1)]  # (b, 12)
        free = ~now.any(axis=1, keepdims=True)  # no harmony to follow here
        fits = now[:, self._pitch_class] | free | ~self._pitched_on[None, :]
        return np.where(fits, 0.0, -self.harmony_strength)

    def update(self, ids: np.ndarray) -> None:
        """Advance every sequence by the chosen ids."""
        ids = np.asarray(ids, np.int64)
        kind, key, value = self.kind[ids], self._key[ids], self.value[ids]
        live = ~self.done
        if self.durations:
            self._update_durations(live, kind, key, value)
        else:
            rows = np.flatnonzero(live & (kind == ON))
            self.active[rows, key[rows]] += 1
            self.onset[rows, key[rows]] = self.time[rows]
            rows = np.flatnonzero(live & (kind == OFF))
            self.active[rows, key[rows]] = np.maximum(self.active[rows, key[rows]] - 1, 0)
        self.time += np.where(live & (kind == SHIFT), value, 0)
        self.last_velocity = kind == VELOCITY
        self._allowed = None
        self.length += live
        self.done |= (kind == EOS) | (self.length >= self.max_tokens)

    def _update_durations(self, live, kind, key, value) -> None:
        rows = np.flatnonzero(live & (kind == DURATION) & (self.pending >= 0))
        k = self.pending[rows]
        self.pending_length[rows] += value[rows]
        self.note_end[rows, k] = self.time[rows] + self.pending_length[rows]
        # Another DURATION may follow only a longest one.
        more = value[rows] == self.max_step
        others = np.flatnonzero(live & (kind != DURATION))
        self.pending[others] = -1
        self.pending[rows[~more]] = -1
        self.must_last[:] = False
        rows = np.flatnonzero(live & (kind == ON))
        self.onset[rows, key[rows]] = self.time[rows]
        pitched = rows[key[rows] < 128]
        self.pending[pitched] = key[pitched]
        self.pending_length[pitched] = 0
        self.must_last[pitched] = True
        self.note_end[pitched, key[pitched]] = self.time[pitched] + 1
