"""`DurationTokenizer`: beat-grid events that state each note's length at its onset.

`BeatTokenizer` ends a note with a NOTE_OFF written later in the stream. A model
that never generates that NOTE_OFF leaves the note hanging for bars, and a
DRUM_OFF says nothing a listener hears. Here a pitched note is NOTE_ON followed by
its DURATION, so every note is closed the moment it starts; a drum hit is a
DRUM_ON alone. This is the "duration" idea of REMI (Huang & Yang 2020) and of
MidiTok's TSD, kept on `BeatTokenizer`'s grid, TIME_SHIFTs and velocity scheme so
the two encodings compare like for like.

The engine (`encode_durations`, `decode_durations`) is numpy with no Python loop
per note, like `groove.tokenizers.events`, whose id tables (`EventCodes`),
quantisation and velocity bins it shares.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from groove.errors import ConfigError, MidiError
from groove.midi import Score
from groove.tokenizers.base import SPECIAL_TOKENS, Tokenizer
from groove.tokenizers.beat import BeatTokenizer
from groove.tokenizers.events import (
    BOS,
    DURATION,
    EOS,
    ON,
    SHIFT,
    SPECIAL,
    VELOCITY,
    DecodeReport,
    EventCodes,
    bin_to_velocity,
    quantize,
    velocity_to_bin,
)
from groove.tokenizers.grid import DEFAULT_VELOCITY, MAX_STREAM_TOKENS, GridTokenizer

_DRUM_KEY = 128  # keys 0-127 are pitched notes, 128-255 drum hits


# ------------------------------------------------------------------------ encoding


def _runs(delta: np.ndarray, largest: int) -> np.ndarray:
    """How many tokens write each `delta` as full `largest` pieces and a remainder."""
    return -(-delta // largest)


def _fill_runs(out, start, delta, pieces, largest, ids) -> None:
    """Write item e's `delta[e]` as `pieces[e]` tokens from `out[start[e]]`: all
    `largest` but the last, which holds the rest (`ids[n - 1]` is the token of n)."""
    item = np.repeat(np.arange(len(delta)), pieces)
    within = np.arange(len(item)) - np.repeat(np.cumsum(pieces) - pieces, pieces)
    last = within == pieces[item] - 1
    amount = np.where(last, delta[item] - largest * (pieces[item] - 1), largest)
    out[start[item] + within] = ids[amount - 1]


def _layout(on, off, key, velocity_bin, codes: EventCodes) -> tuple[np.ndarray, ...]:
    """The layout `encode_durations` writes, per note in encoding order.

    Returns:
        order: The notes' encoding order (by onset, key, then duration).
        n_shift, need_velocity, n_duration: Tokens before and after each NOTE_ON.
    """
    on, off, key = (np.asarray(a, np.int64) for a in (on, off, key))
    drum = key >= _DRUM_KEY
    duration = np.where(drum, 0, off - on)
    order = np.lexsort((duration, key, on))
    n_shift = _runs(np.diff(on[order], prepend=0), codes.max_shift)
    need_velocity = np.zeros(len(on), bool)
    if velocity_bin is not None and len(on):
        b = np.asarray(velocity_bin, np.int64)[order]
        need_velocity = np.append(True, b[1:] != b[:-1])
    return order, n_shift, need_velocity, _runs(duration[order], codes.max_duration)


def encode_durations(
    on: np.ndarray,
    off: np.ndarray,
    key: np.ndarray,
    velocity_bin: np.ndarray | None,
    codes: EventCodes,
) -> np.ndarray:
    """Token ids for notes on the grid.

    Args:
        on, off: (N,) int steps, `0 <= on < off` for pitched notes; `off` of a drum
            hit (key >= 128) is ignored.
        key: (N,) int key (pitch, or 128 + pitch for a drum hit).
        velocity_bin: (N,) int bins, or None for no VELOCITY tokens.
        codes: The tokenizer's id tables.

    Returns:
        (T,) int32 ids without BOS/EOS: per note, TIME_SHIFTs from the previous
        onset, VELOCITY when the bin changes, NOTE_ON or DRUM_ON, then for a pitched
        note DURATIONs of `max_duration` steps and the rest.
    """
    if len(on) == 0:
        return np.zeros(0, np.int32)
    order, n_shift, need_velocity, n_duration = _layout(on, off, key, velocity_bin, codes)
    on, off, key = (np.asarray(a, np.int64)[order] for a in (on, off, key))
    counts = n_shift + need_velocity + 1 + n_duration
    first = np.cumsum(counts) - counts
    at_on = first + n_shift + need_velocity
    out = np.empty(int(counts.sum()), np.int32)
    out[at_on] = codes.on_ids[key]
    if velocity_bin is not None:
        vi = np.flatnonzero(need_velocity)
        out[first[vi] + n_shift[vi]] = codes.velocity_ids[np.asarray(velocity_bin)[order][vi]]
    _fill_runs(out, first, np.diff(on, prepend=0), n_shift, codes.max_shift, codes.shift_ids)
    _fill_runs(out, at_on + 1, off - on, n_duration, codes.max_duration, codes.duration_ids)
    return out


# ------------------------------------------------------------------------ decoding


def decode_durations(
    ids: np.ndarray, codes: EventCodes, drum_steps: int, default_bin: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, DecodeReport]:
    """Notes from token ids known to be in the vocabulary. Never raises.

    A pitched note lasts the sum of the DURATION tokens right after its NOTE_ON
    (one step without any); a drum hit lasts `drum_steps`. DURATIONs after anything
    else are skipped. Tokens after EOS, and PAD or BOS inside the sequence, are
    ignored (PAD after the last real token is padding, not a repair).

    Returns:
        on, off: (N,) int64 steps, `off > on`, in stream order.
        key: (N,) int64 keys.
        velocity_bin: (N,) int64 bins (`default_bin` before any VELOCITY token).
        report: What was repaired or skipped.
    """
    report = DecodeReport()
    ids = np.asarray(ids, np.int64)
    kind = codes.kind[ids]
    eos = np.flatnonzero(kind == EOS)
    if len(eos):
        report.tokens_after_eos = len(ids) - int(eos[0]) - 1
        ids, kind = ids[: eos[0]], kind[: eos[0]]
    # BOS anywhere but first, and PAD before the last real token, are misplaced.
    keep = (kind != SPECIAL) & (kind != BOS)  # SPECIAL is PAD
    position = np.arange(len(ids))
    last_real = position[keep][-1] if keep.any() else -1
    misplaced = ((kind == BOS) & (position > 0)) | ((kind == SPECIAL) & (position < last_real))
    report.misplaced_specials = int(np.count_nonzero(misplaced))
    ids, kind = ids[keep], kind[keep]

    position = np.arange(len(ids))
    time = np.cumsum(np.where(kind == SHIFT, codes.value[ids], 0))
    last_velocity = np.maximum.accumulate(np.where(kind == VELOCITY, position, -1))
    velocity = np.where(
        last_velocity >= 0, codes.value[ids[np.maximum(last_velocity, 0)]], default_bin
    )
    # Each DURATION belongs to the nearest token before it that is not a DURATION,
    # if that is a pitched NOTE_ON.
    is_duration = kind == DURATION
    owner = np.maximum.accumulate(np.where(is_duration, -1, position))
    owner_ok = (owner >= 0) & (kind[np.maximum(owner, 0)] == ON)
    attached = is_duration & owner_ok & (codes.key[ids[np.maximum(owner, 0)]] < _DRUM_KEY)
    report.orphan_durations = int(np.count_nonzero(is_duration & ~attached))
    length = np.bincount(owner[attached], codes.value[ids[attached]], len(ids)).astype(np.int64)

    notes = np.flatnonzero(kind == ON)
    key = codes.key[ids[notes]].astype(np.int64)
    drum = key >= _DRUM_KEY
    length = np.where(drum, drum_steps, length[notes])
    report.unterminated_notes = int(np.count_nonzero(length == 0))
    report.notes = len(notes)
    on = time[notes].astype(np.int64)
    return on, on + np.maximum(length, 1), key, velocity[notes].astype(np.int64), report


# ----------------------------------------------------------------------- tokenizer


class DurationTokenizer(Tokenizer):
    """NOTE_ON + DURATION on a grid of `resolution` steps per beat, drums as hits.

    Vocabulary: PAD, BOS, EOS, NOTE_ON_0..127, DRUM_ON_0..127,
    DURATION_1..resolution*max_duration_beats, TIME_SHIFT_1..resolution*max_shift_beats
    (both in grid steps), and VELOCITY_0..velocity_bins-1 when `velocity_bins` > 0.

    A pitched note is [VELOCITY] NOTE_ON then DURATIONs that add up to its length
    (full `max_duration_beats` pieces, then the rest), so every length is exact. A
    drum hit is [VELOCITY] DRUM_ON and decodes `drum_steps` long: drum lengths carry
    no music. Time moves only by TIME_SHIFT, between onsets; notes at one step come
    in key order (pitched before drums), then by duration. Like `BeatTokenizer`, it
    ignores tempo, and `decode` takes a tempo or a reference file.

    Same-pitch notes that overlap keep their own lengths (no first-in first-out
    pairing of offs as in `BeatTokenizer`), so they round-trip note for note.

    Args:
        resolution: Grid steps per beat (12 covers 16ths and 8th-note triplets).
        max_shift_beats: Longest single TIME_SHIFT, in beats.
        max_duration_beats: Longest single DURATION, in beats.
        velocity_bins: Velocity bins (1-127 split evenly), or 0 for no velocity.
        drum_steps: Length of a decoded drum hit in steps (default a 16th note).
    """

    kind = "duration"
    _key_families: ClassVar[dict[str, int]] = {"NOTE": 0, "DRUM": _DRUM_KEY}

    def __init__(
        self,
        resolution: int = 12,
        max_shift_beats: int = 2,
        max_duration_beats: int = 4,
        velocity_bins: int = 4,
        drum_steps: int | None = None,
    ):
        if (
            resolution < 1
            or max_shift_beats < 1
            or max_duration_beats < 1
            or not 0 <= velocity_bins <= 127
            or (drum_steps is not None and drum_steps < 1)
        ):
            raise ConfigError(
                "need resolution, max_shift_beats, max_duration_beats >= 1, "
                "0 <= velocity_bins <= 127 and drum_steps >= 1 (or None)"
            )
        self.resolution = int(resolution)
        self.max_shift_beats = int(max_shift_beats)
        self.max_duration_beats = int(max_duration_beats)
        self.velocity_bins = int(velocity_bins)
        self._drum_steps = None if drum_steps is None else int(drum_steps)
        self.drum_steps = self._drum_steps or max(self.resolution // 4, 1)
        vocab = [*SPECIAL_TOKENS]
        vocab += [f"NOTE_ON_{p}" for p in range(128)]
        vocab += [f"DRUM_ON_{p}" for p in range(128)]
        vocab += [f"DURATION_{d}" for d in range(1, self.resolution * self.max_duration_beats + 1)]
        vocab += [f"TIME_SHIFT_{s}" for s in range(1, self.resolution * self.max_shift_beats + 1)]
        vocab += [f"VELOCITY_{b}" for b in range(self.velocity_bins)]
        super().__init__(vocab)
        # The event vocabulary, as `groove.tokenizers.grammar.event_codes` reads it.
        self.codes = EventCodes.from_vocab(self.vocab, self._key_families)

    def get_config(self) -> dict[str, Any]:
        return {
            "resolution": self.resolution,
            "max_shift_beats": self.max_shift_beats,
            "max_duration_beats": self.max_duration_beats,
            "velocity_bins": self.velocity_bins,
            "drum_steps": self._drum_steps,
        }

    # ------------------------------------------------------------------ encoding

    def encode(self, midi: Any) -> np.ndarray:
        """Every track in one stream, drum tracks as DRUM_ON."""
        score = self.prepare(midi)
        return self._encode_notes(score, score.notes)

    # One stream per track through `_note_steps` and `_encode_steps`, as the grid
    # tokenizers do (each note put on the grid once: linear in notes and tracks).
    encode_tracks = GridTokenizer.encode_tracks
    _encode_notes = GridTokenizer._encode_notes
    _token_limit: ClassVar[int] = MAX_STREAM_TOKENS

    def _note_steps(self, score: Score, notes: np.ndarray) -> tuple[np.ndarray, ...]:
        """(on, off, key, velocity) of `notes`: grid steps (a drum hit's onset
        rounded alone), event keys and MIDI velocities; MidiError if absurdly long."""
        if len(notes) == 0:
            empty = np.zeros(0, np.int64)
            return empty, empty, empty, notes["velocity"]
        start = score.beats(notes["start"]) * self.resolution
        end = score.beats(notes["end"]) * self.resolution
        drum = np.array([t.is_drum for t in score.tracks], bool)[notes["track"]]
        if not np.isfinite(end).all() or end.max() > MAX_STREAM_TOKENS * self.codes.max_shift:
            raise MidiError(score.source, "the score is too long to tokenize (a corrupt time?)")
        on, off = quantize(start, end)
        on[drum] = np.rint(start[drum]).astype(np.int64)
        key = notes["pitch"].astype(np.int64) + _DRUM_KEY * drum
        return on, off, key, notes["velocity"]

    def _token_count(self, on: np.ndarray, off: np.ndarray, key: np.ndarray, velocity) -> int:
        """At most: per note a shift, a velocity, an ON and its DURATION pieces, and
        the full shifts up to the last onset. A bound, so nothing is sorted first."""
        if len(on) == 0:
            return 0
        pitched = key < _DRUM_KEY
        n_duration = _runs(off[pitched] - on[pitched], self.codes.max_duration)
        return 3 * len(on) + int(on.max()) // self.codes.max_shift + int(n_duration.sum())

    def _encode_steps(self, on, off, key, velocity, source) -> np.ndarray:
        """`encode_durations` of MIDI velocities, refusing absurd lengths first."""
        if len(on) == 0:
            return np.zeros(0, np.int32)
        if self._token_count(on, off, key, velocity) > MAX_STREAM_TOKENS:
            raise MidiError(source, "the score is too long to tokenize (a corrupt time?)")
        bins = velocity_to_bin(velocity, self.velocity_bins) if self.velocity_bins else None
        return encode_durations(on, off, key, bins, self.codes)

    # ------------------------------------------------------------------ decoding

    def _decode_steps(self, ids: Any) -> tuple[np.ndarray, ...]:
        """(on, off, key, velocity, report) for `ids`; velocity is MIDI 1-127."""
        ids = self.check_ids(ids)
        if not self.velocity_bins:
            on, off, key, _, report = decode_durations(ids, self.codes, self.drum_steps)
            return on, off, key, np.full(len(on), DEFAULT_VELOCITY), report
        default = int(velocity_to_bin(DEFAULT_VELOCITY, self.velocity_bins))
        on, off, key, bins, report = decode_durations(ids, self.codes, self.drum_steps, default)
        return on, off, key, bin_to_velocity(bins, self.velocity_bins), report

    # Pitched keys on the melodic track, drum keys (>= 128) on a "Drums" track.
    _tracks_score = GridTokenizer._tracks_score

    def decode_score(
        self,
        ids: Any,
        *,
        tempo: float = 120.0,
        reference: Any = None,
        ticks_per_beat: int = 480,
        program: int = 0,
        name: str = "",
    ) -> tuple[Score, DecodeReport]:
        """Ids to a `Score`: pitched notes on one track, drums on another.

        Exactly `BeatTokenizer.decode_score` (which this calls), on this decoder.

        Args:
            ids: Token ids; any sequence of ids in the vocabulary decodes.
            tempo: Quarter notes per minute, used when there is no `reference`.
            reference: A MIDI source (path, PrettyMIDI, Score...) whose tempo map,
                resolution, time and key signatures the output reuses.
            ticks_per_beat: Output resolution without a `reference`.
            program, name: The instrument of the pitched track.
        """
        return BeatTokenizer.decode_score(
            self, ids, tempo=tempo, reference=reference, ticks_per_beat=ticks_per_beat,
            program=program, name=name,
        )  # fmt: skip

    # -------------------------------------------------------------- augmentation

    def transpose(self, ids: Any, semitones: int) -> np.ndarray:
        """Shift every pitched note by `semitones`; drums stay. Notes pushed outside
        0-127 are dropped, with the DURATION tokens that follow them."""
        ids = self.check_ids(ids)
        codes = self.codes
        kind, key = codes.kind[ids], codes.key[ids].astype(np.int64)
        pitched = (kind == ON) & (key < _DRUM_KEY)
        moved = key + int(semitones)
        dropped = pitched & ((moved < 0) | (moved > 127))
        # A DURATION goes with the nearest non-DURATION token before it.
        position = np.arange(len(ids))
        owner = np.maximum.accumulate(np.where(kind == DURATION, -1, position))
        gone = dropped | ((kind == DURATION) & (owner >= 0) & dropped[np.maximum(owner, 0)])
        out = np.where(pitched, codes.on_ids[np.clip(moved, 0, 127)], ids)
        return out[~gone].astype(np.int32)

    def time_stretch(self, ids: Any, factor: float) -> np.ndarray:
        """Play `factor` times as long (2.0 is half speed), re-quantised to the grid.
        Drum hits keep their onsets only."""
        if not factor > 0:
            raise ValueError(f"time_stretch factor must be positive, got {factor}")
        ids = self.check_ids(ids)
        on, off, key, velocity, _ = self._decode_steps(ids)
        drum = key >= _DRUM_KEY
        new_on, new_off = quantize(on * float(factor), off * float(factor))
        new_on[drum] = np.rint(on[drum] * float(factor)).astype(np.int64)
        return self._encode_steps(new_on, new_off, key, velocity, "<time_stretch>")
