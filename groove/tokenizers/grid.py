"""`GridTokenizer`: what the Performance and Beat encodings share.

Each subclass says how ticks become grid steps (`_steps`), which tracks the merged
stream holds (`_include`) and how decoded steps become a `Score`
(`decode_score`); encoding, decoding and augmentation live here once.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from groove import midi as gmidi
from groove.errors import MidiError
from groove.midi import Score, Track
from groove.tokenizers.base import Tokenizer, track_groups
from groove.tokenizers.events import (
    OFF,
    ON,
    EventCodes,
    bin_to_velocity,
    decode_events,
    encode_events,
    quantize,
    velocity_to_bin,
)

DEFAULT_VELOCITY = 80
# More tokens than this in one file's streams (all of them together) means a corrupt
# time, not music (about 115 days of 1 s shifts); refused before they are allocated.
MAX_STREAM_TOKENS = 10_000_000


class GridTokenizer(Tokenizer):
    """Base of the NOTE_ON / NOTE_OFF / TIME_SHIFT / VELOCITY tokenizers."""

    _key_families: ClassVar[dict[str, int]] = {"NOTE": 0}

    def __init__(self, vocab: list[str], velocity_bins: int):
        super().__init__(vocab)
        self.velocity_bins = int(velocity_bins)
        # The event vocabulary (`EventCodes`): which id is which NOTE_ON / NOTE_OFF /
        # TIME_SHIFT / VELOCITY, as `groove.tokenizers.grammar.EventGrammar` reads it.
        self.codes = EventCodes.from_vocab(self.vocab, self._key_families)

    # ------------------------------------------------------------ subclass hooks

    def _steps(self, score: Score, ticks: np.ndarray) -> np.ndarray:
        """Ticks to fractional grid steps."""
        raise NotImplementedError

    def _include(self, track: Track) -> bool:
        """Whether `encode` puts this track in its merged stream."""
        return True

    # ------------------------------------------------------------------ encoding

    def encode(self, midi: Any) -> np.ndarray:
        score = self.prepare(midi)
        keep = np.array([self._include(t) for t in score.tracks] + [False], bool)
        return self._encode_notes(score, score.notes[keep[score.notes["track"]]])

    def encode_tracks(self, midi: Any) -> dict[Track, np.ndarray]:
        # Every note goes on the grid once (one tempo map, one drum lookup), then each
        # group of tracks is encoded from its slice: linear in notes and tracks.
        score = self.prepare(midi)
        steps = self._note_steps(score, score.notes)
        groups = track_groups(score)
        shifts = sum(self._token_count(*(a[i] for a in steps)) for i in groups.values())
        if shifts > self._token_limit:
            raise MidiError(
                score.source,
                f"its {len(groups)} tracks together are too long to tokenize "
                f"(over {self._token_limit} tokens; a corrupt time?)",
            )
        return {
            track: self._encode_steps(*(a[i] for a in steps), score.source)
            for track, i in groups.items()
        }

    def _encode_notes(self, score: Score, notes: np.ndarray) -> np.ndarray:
        return self._encode_steps(*self._note_steps(score, notes), score.source)

    def _note_steps(self, score: Score, notes: np.ndarray) -> tuple[np.ndarray, ...]:
        """(on, off, key, velocity) of `notes`: grid steps, event keys (drums offset
        by their family) and MIDI velocities; MidiError if absurdly long."""
        if len(notes) == 0:
            empty = np.zeros(0, np.int64)
            return empty, empty, empty, notes["velocity"]
        on, off = quantize(self._steps(score, notes["start"]), self._steps(score, notes["end"]))
        if int(off.max()) > MAX_STREAM_TOKENS * self.codes.max_shift:
            raise MidiError(score.source, "the score is too long to tokenize (a corrupt time?)")
        drum = np.array([t.is_drum for t in score.tracks], bool)[notes["track"]]
        key = notes["pitch"].astype(np.int64) + self._key_families.get("DRUM", 0) * drum
        return on, off, key, notes["velocity"]

    # What `encode_tracks` limits over all its streams together: the TIME_SHIFT
    # tokens each stream needs at least, as `_note_steps` limits one stream.
    _token_limit: ClassVar[int] = MAX_STREAM_TOKENS

    def _token_count(self, on: np.ndarray, off: np.ndarray, key: np.ndarray, velocity) -> int:
        return int(off.max()) // self.codes.max_shift if len(off) else 0

    def _encode_steps(self, on, off, key, velocity, source) -> np.ndarray:
        """Ids of notes given by `_note_steps`."""
        if len(on) == 0:
            return np.zeros(0, np.int32)
        bins = velocity_to_bin(velocity, self.velocity_bins) if self.velocity_bins else None
        return encode_events(on, off, key, bins, self.codes)

    # ------------------------------------------------------------------ decoding

    def _decode_steps(self, ids: Any) -> tuple[np.ndarray, ...]:
        """(on, off, key, velocity, report) for `ids`; velocity is MIDI 1-127."""
        ids = self.check_ids(ids)
        if self.velocity_bins:
            default = int(velocity_to_bin(DEFAULT_VELOCITY, self.velocity_bins))
            on, off, key, bins, report = decode_events(ids, self.codes, default)
            velocity = bin_to_velocity(bins, self.velocity_bins)
        else:
            on, off, key, _, report = decode_events(ids, self.codes)
            velocity = np.full(len(on), DEFAULT_VELOCITY)
        return on, off, key, velocity, report

    def _tracks_score(
        self, on, off, key, velocity, ticks_per_step, template: Score, melodic: Track
    ) -> Score:
        """Notes in ticks on `template`'s timeline: melodic keys on `melodic`, drum
        keys (>= 128) on a drum track."""
        drum = key >= 128
        tracks = []
        track_of = np.zeros(len(key), np.int64)
        for is_drum, track in ((False, melodic), (True, Track(0, True, "Drums"))):
            mask = drum == is_drum
            if mask.any():
                track_of[mask] = len(tracks)
                tracks.append(track)
        notes = gmidi.make_notes(
            np.rint(on * ticks_per_step),
            np.rint(off * ticks_per_step),
            key % 128,
            velocity,
            track_of,
        )
        return template.replace(notes=notes, tracks=tracks)

    # -------------------------------------------------------------- augmentation

    def transpose(self, ids: Any, semitones: int) -> np.ndarray:
        """Shift every pitched note by `semitones`; drums stay. Notes pushed outside
        0-127 are dropped (their ON and OFF alike)."""
        ids = self.check_ids(ids)
        codes = self.codes
        kind, key = codes.kind[ids], codes.key[ids].astype(np.int64)
        pitched = ((kind == ON) | (kind == OFF)) & (key < 128)
        moved = key + int(semitones)
        keep = ~pitched | ((moved >= 0) & (moved <= 127))
        moved = np.clip(moved, 0, 127)
        out = np.where(
            pitched & (kind == ON),
            codes.on_ids[moved],
            np.where(pitched, codes.off_ids[moved], ids),
        )
        return out[keep].astype(np.int32)

    def time_stretch(self, ids: Any, factor: float) -> np.ndarray:
        """Play `factor` times as long (2.0 is half speed), re-quantised to the grid."""
        if not factor > 0:
            raise ValueError(f"time_stretch factor must be positive, got {factor}")
        ids = self.check_ids(ids)
        on, off, key, bins, _ = decode_events(ids, self.codes)
        on, off = quantize(on * float(factor), off * float(factor))
        return encode_events(on, off, key, bins if self.velocity_bins else None, self.codes)
