"""groove's in-memory `Score`, its `Track`s and the `TempoMap`.

Times in a `Score` are integer **ticks**. `TempoMap` converts ticks, beats (quarter
notes) and seconds; those conversions live here and nowhere else.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

NOTE_DTYPE = np.dtype(
    [("start", "<i8"), ("end", "<i8"), ("pitch", "u1"), ("velocity", "u1"), ("track", "<i4")]
)
TEMPO_DTYPE = np.dtype([("tick", "<i8"), ("qpm", "<f8")])
TIME_SIGNATURE_DTYPE = np.dtype([("tick", "<i8"), ("numerator", "u1"), ("denominator", "u1")])
# `key` counts sharps (>0) or flats (<0), -7..7, as in the MIDI key-signature meta event.
KEY_SIGNATURE_DTYPE = np.dtype([("tick", "<i8"), ("key", "i1"), ("minor", "?")])
# Sustain pedal (CC64 >= 64) held down over [start, end) on `track`.
PEDAL_DTYPE = np.dtype([("start", "<i8"), ("end", "<i8"), ("track", "<i4")])

DEFAULT_QPM = 120.0


@dataclasses.dataclass(frozen=True)
class Track:
    """One instrument: a General MIDI program (0-127), a drum flag and a name.

    Tracks compare by value, so they serve as dictionary keys
    (`Tokenizer.encode_tracks` returns `dict[Track, ids]`).
    """

    program: int = 0
    is_drum: bool = False
    name: str = ""


class TempoMap:
    """Piecewise-constant tempo: converts ticks, beats and seconds, vectorised.

    Args:
        tempos: `TEMPO_DTYPE` array (tick, quarter notes per minute). An empty array
            means 120 qpm; a map that starts after tick 0 holds its first tempo from 0.
        ticks_per_beat: Ticks per quarter note.
    """

    def __init__(self, tempos: np.ndarray, ticks_per_beat: int):
        tempos = np.asarray(tempos, dtype=TEMPO_DTYPE)
        if len(tempos) == 0:
            tempos = np.array([(0, DEFAULT_QPM)], dtype=TEMPO_DTYPE)
        tempos = np.sort(tempos, order="tick", kind="stable")
        tempos["tick"][0] = 0
        self.ticks_per_beat = int(ticks_per_beat)
        self.ticks = tempos["tick"].astype(np.float64)
        self.seconds_per_tick = 60.0 / (tempos["qpm"] * self.ticks_per_beat)
        self.seconds = np.concatenate(
            [[0.0], np.cumsum(np.diff(self.ticks) * self.seconds_per_tick[:-1])]
        )

    def ticks_to_seconds(self, ticks: Any) -> np.ndarray:
        """Ticks (any real) to seconds (float64)."""
        ticks = np.asarray(ticks, dtype=np.float64)
        i = np.searchsorted(self.ticks, ticks, side="right") - 1
        i = np.clip(i, 0, None)
        return self.seconds[i] + (ticks - self.ticks[i]) * self.seconds_per_tick[i]

    def seconds_to_ticks(self, seconds: Any) -> np.ndarray:
        """Seconds to fractional ticks (float64); round them where integers are needed."""
        seconds = np.asarray(seconds, dtype=np.float64)
        i = np.clip(np.searchsorted(self.seconds, seconds, side="right") - 1, 0, None)
        return self.ticks[i] + (seconds - self.seconds[i]) / self.seconds_per_tick[i]

    def ticks_to_beats(self, ticks: Any) -> np.ndarray:
        """Ticks to beats (quarter notes), float64. Independent of tempo."""
        return np.asarray(ticks, dtype=np.float64) / self.ticks_per_beat

    def beats_to_ticks(self, beats: Any) -> np.ndarray:
        """Beats (quarter notes) to fractional ticks, float64."""
        return np.asarray(beats, dtype=np.float64) * self.ticks_per_beat

    def beats_to_seconds(self, beats: Any) -> np.ndarray:
        """Beats (quarter notes) to seconds."""
        return self.ticks_to_seconds(self.beats_to_ticks(beats))

    def seconds_to_beats(self, seconds: Any) -> np.ndarray:
        """Seconds to beats (quarter notes)."""
        return self.ticks_to_beats(self.seconds_to_ticks(seconds))


@dataclasses.dataclass
class Score:
    """groove's in-memory piece of music. All times are integer ticks.

    Attributes:
        notes: `NOTE_DTYPE` table (start, end, pitch, velocity, track), sorted by
            start, then track, then pitch. `track` indexes `tracks`.
        tracks: The instruments, one per index used in `notes["track"]`.
        ticks_per_beat: Ticks per quarter note.
        tempos: `TEMPO_DTYPE` table (tick, qpm); empty means 120 qpm.
        time_signatures: `TIME_SIGNATURE_DTYPE` table.
        key_signatures: `KEY_SIGNATURE_DTYPE` table.
        pedals: `PEDAL_DTYPE` table of sustain-pedal-down intervals.
        repairs: What `load` had to repair to read the source, in words.
        source: Where the score came from (a path or a description), for messages.
    """

    notes: np.ndarray
    tracks: list[Track]
    ticks_per_beat: int = 480
    tempos: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, TEMPO_DTYPE))
    time_signatures: np.ndarray = dataclasses.field(
        default_factory=lambda: np.zeros(0, TIME_SIGNATURE_DTYPE)
    )
    key_signatures: np.ndarray = dataclasses.field(
        default_factory=lambda: np.zeros(0, KEY_SIGNATURE_DTYPE)
    )
    pedals: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, PEDAL_DTYPE))
    repairs: list[str] = dataclasses.field(default_factory=list)
    source: str | None = None

    @property
    def tempo_map(self) -> TempoMap:
        return TempoMap(self.tempos, self.ticks_per_beat)

    @property
    def end_tick(self) -> int:
        """The last note offset (ticks), 0 for a score without notes."""
        return int(self.notes["end"].max()) if len(self.notes) else 0

    def seconds(self, ticks: Any) -> np.ndarray:
        """Ticks to seconds under this score's tempo map."""
        return self.tempo_map.ticks_to_seconds(ticks)

    def beats(self, ticks: Any) -> np.ndarray:
        """Ticks to beats (quarter notes)."""
        return np.asarray(ticks, dtype=np.float64) / self.ticks_per_beat

    @property
    def duration_seconds(self) -> float:
        return float(self.seconds(self.end_tick))

    def replace(self, **changes: Any) -> Score:
        """A copy with some fields changed (the arrays are shared, not copied)."""
        return dataclasses.replace(self, **changes)

    def resample(self, ticks_per_beat: int) -> Score:
        """The same music at another resolution; times are rounded to the new ticks."""
        f = ticks_per_beat / self.ticks_per_beat

        def scale(table: np.ndarray, *fields: str) -> np.ndarray:
            table = table.copy()
            for name in fields:
                table[name] = np.round(table[name] * f)
            return table

        return self.replace(
            notes=scale(self.notes, "start", "end"),
            ticks_per_beat=int(ticks_per_beat),
            tempos=scale(self.tempos, "tick"),
            time_signatures=scale(self.time_signatures, "tick"),
            key_signatures=scale(self.key_signatures, "tick"),
            pedals=scale(self.pedals, "start", "end"),
        )

    def __repr__(self) -> str:
        return (
            f"Score({len(self.notes)} notes, {len(self.tracks)} tracks, "
            f"{self.duration_seconds:.1f} s, ticks_per_beat={self.ticks_per_beat}, "
            f"source={self.source!r})"
        )


def make_notes(start: Any, end: Any, pitch: Any, velocity: Any = 100, track: Any = 0) -> np.ndarray:
    """Build a sorted `NOTE_DTYPE` table from columns (ticks); scalars broadcast."""
    start = np.asarray(start, dtype=np.int64).reshape(-1)
    notes = np.zeros(len(start), NOTE_DTYPE)
    notes["start"] = start
    notes["end"] = np.maximum(np.asarray(end, dtype=np.int64), start)
    notes["pitch"] = np.clip(pitch, 0, 127)
    notes["velocity"] = np.clip(velocity, 0, 127)
    notes["track"] = track
    return sort_notes(notes)


def sort_notes(notes: np.ndarray) -> np.ndarray:
    """Notes sorted by (start, track, pitch, end): the order every table in groove keeps."""
    order = np.lexsort((notes["end"], notes["pitch"], notes["track"], notes["start"]))
    return notes[order]


def apply_sustain(score: Score) -> Score:
    """Lengthen notes held by the sustain pedal, as Performance RNN does.

    A note released while the pedal is down sounds until the pedal is released, or
    until the same pitch is struck again on the same track, whichever is first
    (Oore et al. 2018, section 3.2). The pedal table of the result is empty.
    """
    if len(score.pedals) == 0 or len(score.notes) == 0:
        return score.replace(pedals=np.zeros(0, PEDAL_DTYPE))
    notes = score.notes.copy()
    end = notes["end"].copy()
    for index in np.unique(score.pedals["track"]):
        ped = np.sort(score.pedals[score.pedals["track"] == index], order="start")
        mine = np.flatnonzero(notes["track"] == index)
        k = np.searchsorted(ped["start"], notes["end"][mine], side="right") - 1
        held = (k >= 0) & (notes["end"][mine] < ped["end"][np.maximum(k, 0)])
        end[mine[held]] = ped["end"][k[held]]
    # Cut at the next onset of the same pitch on the same track.
    order = np.lexsort((notes["start"], notes["pitch"], notes["track"]))
    s = notes[order]
    same = (s["track"][1:] == s["track"][:-1]) & (s["pitch"][1:] == s["pitch"][:-1])
    next_onset = np.where(same, s["start"][1:], np.iinfo(np.int64).max)
    next_onset = np.append(next_onset, np.iinfo(np.int64).max)
    limit = np.empty_like(next_onset)
    limit[order] = next_onset
    notes["end"] = np.maximum(notes["end"], np.minimum(end, limit))
    return score.replace(notes=notes, pedals=np.zeros(0, PEDAL_DTYPE))
