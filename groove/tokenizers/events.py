"""The event-grid engine behind `PerformanceTokenizer` and `BeatTokenizer`.

(`DurationTokenizer` shares its id tables, `EventCodes`, and `DecodeReport`, and
has its own engine in `groove.tokenizers.duration`: it writes durations, not OFFs.)

Both encodings are a stream of ON(key) / OFF(key) / TIME_SHIFT(n) / VELOCITY(b)
events on an integer time grid (10 ms steps for Performance, 1/12 beat for Beat).
The tokenizers differ only in how they turn ticks into grid steps and in their
keys (Beat has 256: 128 pitched notes, then 128 drum notes). These pure
functions build and read such streams with numpy, with no Python loop per note.

Conventions, shared by encode and decode:

- Events at the same time are ordered OFF before ON, then by key, so a note that
  ends where the same pitch starts again is encoded unambiguously.
- Same-key notes are paired first-in, first-out: an OFF ends the *oldest*
  sounding note of its key. Overlapping same-pitch notes therefore survive a
  round trip as the same set of onsets and the same set of offsets.
- A note is at least one step long. A note whose onset and offset round to the
  same step keeps the rounding that stays within one step of both.
"""

from __future__ import annotations

import dataclasses

import numpy as np

# Kinds of token in an `EventCodes.kind` table.
SPECIAL, BOS, EOS, ON, OFF, SHIFT, VELOCITY = range(7)
DURATION = 7  # the length of the note just switched on (`DurationTokenizer`)


@dataclasses.dataclass
class DecodeReport:
    """What `decode` repaired or skipped. All counts are numbers of tokens or notes.

    Attributes:
        notes: Notes decoded.
        unmatched_note_offs: NOTE_OFF tokens for a key that was not sounding (skipped).
        unterminated_notes: Notes never switched off, closed at the end of the sequence
            (for `DurationTokenizer`: NOTE_ONs with no DURATION, given one step).
        orphan_durations: DURATION tokens that follow no NOTE_ON (skipped).
        zero_length_notes: Notes switched off at their onset step, lengthened to one step.
        misplaced_specials: BOS or PAD tokens in the middle of a sequence (ignored).
        tokens_after_eos: Tokens after the first EOS (ignored).
        decoder_errors: Sequences the underlying decoder could not read (miditok only).
    """

    notes: int = 0
    unmatched_note_offs: int = 0
    unterminated_notes: int = 0
    orphan_durations: int = 0
    zero_length_notes: int = 0
    misplaced_specials: int = 0
    tokens_after_eos: int = 0
    decoder_errors: int = 0

    @property
    def repairs(self) -> int:
        """Everything that was not a clean decode."""
        return sum(v for k, v in dataclasses.asdict(self).items() if k != "notes")

    def __add__(self, other: DecodeReport) -> DecodeReport:
        a, b = dataclasses.asdict(self), dataclasses.asdict(other)
        return DecodeReport(**{k: a[k] + b[k] for k in a})

    def __str__(self) -> str:
        parts = [
            f"{v} {k.replace('_', ' ')}"
            for k, v in dataclasses.asdict(self).items()
            if v and k != "notes"
        ]
        return f"{self.notes} notes" + (f" (repaired: {', '.join(parts)})" if parts else "")


@dataclasses.dataclass(frozen=True)
class EventCodes:
    """How events map to token ids, and back.

    Attributes:
        on_ids, off_ids: (num_keys,) token id of ON(key) and OFF(key).
        shift_ids: (max_shift,) id of a shift by `n` steps at index `n - 1`.
        velocity_ids: (num_bins,) id of VELOCITY(bin), or empty without velocity.
        kind, key, value: per-token-id tables used by decode: the kind of token,
            its key (ON/OFF) and its value (steps for SHIFT and DURATION, bin for
            VELOCITY).
        duration_ids: (max_duration,) id of a duration of `n` steps at index `n - 1`;
            empty for a vocabulary without DURATION tokens.
    """

    on_ids: np.ndarray
    off_ids: np.ndarray
    shift_ids: np.ndarray
    velocity_ids: np.ndarray
    kind: np.ndarray
    key: np.ndarray
    value: np.ndarray
    duration_ids: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, np.int32))

    @property
    def max_shift(self) -> int:
        return len(self.shift_ids)

    @property
    def max_duration(self) -> int:
        return len(self.duration_ids)

    @classmethod
    def from_vocab(cls, vocab: list[str], key_families: dict[str, int]) -> EventCodes:
        """Build the tables from token names `FAMILY_N`.

        `key_families` maps the ON/OFF family names to a key offset, e.g.
        {"NOTE": 0, "DRUM": 128} gives keys 0-127 for NOTE_ON_p, 128-255 for DRUM_ON_p.
        """
        n = len(vocab)
        kind = np.full(n, SPECIAL, np.int8)
        key = np.zeros(n, np.int32)
        value = np.zeros(n, np.int32)
        num_keys = max(key_families.values()) + 128
        on_ids = np.zeros(num_keys, np.int32)
        off_ids = np.zeros(num_keys, np.int32)
        shifts, velocities, durations = {}, {}, {}
        for i, token in enumerate(vocab):
            family, _, number = token.rpartition("_")
            if token == "BOS":
                kind[i] = BOS
            elif token == "EOS":
                kind[i] = EOS
            elif family == "TIME_SHIFT":
                kind[i], value[i] = SHIFT, int(number)
                shifts[int(number)] = i
            elif family == "VELOCITY":
                kind[i], value[i] = VELOCITY, int(number)
                velocities[int(number)] = i
            elif family == "DURATION":
                kind[i], value[i] = DURATION, int(number)
                durations[int(number)] = i
            else:
                base, _, on_off = family.rpartition("_")
                if base in key_families:
                    k = key_families[base] + int(number)
                    kind[i], key[i] = (ON, k) if on_off == "ON" else (OFF, k)
                    (on_ids if on_off == "ON" else off_ids)[k] = i
        return cls(
            on_ids=on_ids,
            off_ids=off_ids,
            shift_ids=np.array([shifts[s] for s in sorted(shifts)], np.int32),
            velocity_ids=np.array([velocities[b] for b in sorted(velocities)], np.int32),
            kind=kind,
            key=key,
            value=value,
            duration_ids=np.array([durations[d] for d in sorted(durations)], np.int32),
        )


# ------------------------------------------------------------------------ velocity


def velocity_to_bin(velocity: np.ndarray, num_bins: int) -> np.ndarray:
    """MIDI velocity (1-127; 0 counts as 1) to one of `num_bins` equal-width bins."""
    v = np.clip(np.asarray(velocity, np.int64), 1, 127)
    return (v - 1) * num_bins // 127


def bin_to_velocity(bins: np.ndarray, num_bins: int) -> np.ndarray:
    """The velocity at the centre of each bin (within half a bin of any member)."""
    b = np.asarray(bins, np.float64)
    return (1 + np.floor((b + 0.5) * 127 / num_bins)).astype(np.int64)


# ---------------------------------------------------------------------- quantising


def quantize(onsets: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Round onsets and offsets (in fractional grid steps) to whole steps.

    Every note comes out at least one step long and within one step of where it
    was: where both ends round to the same step `m`, the note becomes
    [m, m + 1) if it ends at or after `m`, else [m - 1, m).
    """
    on = np.rint(onsets).astype(np.int64)
    off = np.rint(np.maximum(offsets, onsets)).astype(np.int64)
    collapsed = off <= on
    late = collapsed & (offsets >= on)
    off[late] = on[late] + 1
    early = collapsed & ~late
    on[early] -= 1
    return on, off


# ------------------------------------------------------------------------ encoding


def encode_events(
    on: np.ndarray,
    off: np.ndarray,
    key: np.ndarray,
    velocity_bin: np.ndarray | None,
    codes: EventCodes,
) -> np.ndarray:
    """Token ids for notes given as grid steps `[on, off)` with `off > on >= 0`.

    Args:
        on, off: (N,) int onset and offset steps.
        key: (N,) int key of each note (an index into `codes.on_ids`).
        velocity_bin: (N,) int bin of each note, or None to emit no VELOCITY tokens.
        codes: The tokenizer's id tables.

    Returns:
        (T,) int32 ids, without BOS/EOS.
    """
    n = len(on)
    if n == 0:
        return np.zeros(0, np.int32)
    # Each note gives an OFF and an ON event; sort by (time, OFF before ON, key).
    times = np.concatenate([off, on]).astype(np.int64)
    is_on = np.concatenate([np.zeros(n, bool), np.ones(n, bool)])
    keys = np.concatenate([key, key]).astype(np.int64)
    order = np.lexsort((keys, is_on, times))
    times, is_on, keys = times[order], is_on[order], keys[order]

    delta = np.diff(times, prepend=0)
    n_shift = -(-delta // codes.max_shift)  # ceil: shifts of max_shift, then the rest
    need_velocity = np.zeros(2 * n, bool)
    if velocity_bin is not None:
        velocities = np.concatenate([velocity_bin, velocity_bin]).astype(np.int64)[order]
        on_index = np.flatnonzero(is_on)
        on_vel = velocities[on_index]
        need_velocity[on_index] = np.append(True, on_vel[1:] != on_vel[:-1])

    counts = n_shift + need_velocity + 1
    first = np.cumsum(counts) - counts
    out = np.empty(int(counts.sum()), np.int32)
    out[first + counts - 1] = np.where(is_on, codes.on_ids[keys], codes.off_ids[keys])
    vi = np.flatnonzero(need_velocity)
    if len(vi):
        out[first[vi] + n_shift[vi]] = codes.velocity_ids[velocities[vi]]
    # Shift tokens: event e gets n_shift[e] of them, all full but the last.
    event = np.repeat(np.arange(2 * n), n_shift)
    within = np.arange(len(event)) - np.repeat(np.cumsum(n_shift) - n_shift, n_shift)
    last = within == n_shift[event] - 1
    amount = np.where(last, delta[event] - codes.max_shift * (n_shift[event] - 1), codes.max_shift)
    out[first[event] + within] = codes.shift_ids[amount - 1]
    return out


# ------------------------------------------------------------------------ decoding


def decode_events(
    ids: np.ndarray, codes: EventCodes, default_bin: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, DecodeReport]:
    """Notes from token ids that are known to be in the vocabulary. Never raises.

    Returns:
        on, off: (N,) int64 steps, `off > on`.
        key: (N,) int64 keys.
        velocity_bin: (N,) int64 bins (`default_bin` before any VELOCITY token).
        report: What was repaired or skipped.
    """
    report = DecodeReport()
    kind = codes.kind[ids]
    eos = np.flatnonzero(kind == EOS)
    if len(eos):
        report.tokens_after_eos = len(ids) - int(eos[0]) - 1
        ids, kind = ids[: eos[0]], kind[: eos[0]]
    report.misplaced_specials = int(np.count_nonzero(kind[1:] == BOS))

    steps = np.where(kind == SHIFT, codes.value[ids], 0)
    time = np.cumsum(steps)
    end_time = int(time[-1]) if len(time) else 0
    # Velocity in force at each token: the value of the last VELOCITY token before it.
    last_velocity = np.maximum.accumulate(np.where(kind == VELOCITY, np.arange(len(ids)), -1))
    velocity = np.where(
        last_velocity >= 0, codes.value[ids[np.maximum(last_velocity, 0)]], default_bin
    )

    event = np.flatnonzero((kind == ON) | (kind == OFF))
    # Sort events by key, then by position (flatnonzero is already by position).
    event = event[np.argsort(codes.key[ids[event]], kind="stable")]
    ev_key = codes.key[ids[event]].astype(np.int64)
    ev_on = kind[event] == ON
    step = np.where(ev_on, 1, -1)

    # Per key, a running count of sounding notes that cannot go below zero: an OFF
    # that would take it below zero finds no sounding note and is skipped. With S
    # the unclipped count, that OFF is the one where S reaches a new low under 0.
    group_start = np.append(True, ev_key[1:] != ev_key[:-1]) if len(event) else np.zeros(0, bool)
    group = np.cumsum(group_start) - 1
    csum = np.cumsum(step)
    s = csum - (csum - step)[group_start][group]
    # Running minimum restarted per group: lift earlier groups above later ones.
    big = 2 * len(event) + 2
    low = np.minimum(np.minimum.accumulate(s - group * big) + group * big, 0)
    low_before = np.append(0, low[:-1])
    low_before[group_start] = 0
    unmatched = ~ev_on & (s < low_before)
    report.unmatched_note_offs = int(np.count_nonzero(unmatched))

    # FIFO pairing: the k-th valid OFF of a key ends the k-th ON of that key.
    ons = np.flatnonzero(ev_on)
    offs = np.flatnonzero(~ev_on & ~unmatched)
    n_groups = int(group[-1]) + 1 if len(group) else 0
    offs_per_group = np.bincount(group[offs], minlength=n_groups)
    on_group = group[ons]
    on_first = np.append(True, on_group[1:] != on_group[:-1]) if len(ons) else np.zeros(0, bool)
    first_pos = np.maximum.accumulate(np.where(on_first, np.arange(len(ons)), 0))
    on_rank = np.arange(len(ons)) - first_pos
    matched = on_rank < offs_per_group[on_group]

    on_step = time[event[ons]]
    off_step = np.full(len(ons), end_time, np.int64)
    off_step[matched] = time[event[offs]]
    report.unterminated_notes = int(np.count_nonzero(~matched))
    short = off_step <= on_step
    report.zero_length_notes = int(np.count_nonzero(short & matched))
    off_step = np.maximum(off_step, on_step + 1)
    report.notes = len(ons)
    return (
        on_step.astype(np.int64),
        off_step,
        ev_key[ons],
        velocity[event[ons]].astype(np.int64),
        report,
    )
