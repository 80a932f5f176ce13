"""The notes a metric looks at: beats, pitches and instrument roles.

Every metric in `groove.eval` accepts what `groove.midi.load` accepts (a path, bytes,
a `pretty_midi.PrettyMIDI`, a music21 stream or a `Score`) and measures time in
**beats** (quarter notes), so a tempo change never changes a score.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from groove.errors import ConfigError
from groove.midi import Score, Track, load

# Instrument roles by General MIDI program family (GM 1 sound set, MIDI Manufacturers
# Association 1991). Chromatic percussion (8-15) and organs (16-23) count as keys.
ROLES = ("bass", "keys", "guitar", "strings", "drums", "other")
_FAMILY_ROLE = {
    0: "keys",  # 0-7 piano
    1: "keys",  # 8-15 chromatic percussion
    2: "keys",  # 16-23 organ
    3: "guitar",  # 24-31
    4: "bass",  # 32-39
    5: "strings",  # 40-47 strings
    6: "strings",  # 48-55 ensemble
}


# A track named for its role keeps that role whatever its program: groove's band
# names its tracks so, and its string pads may use pad, choir, brass or organ sounds.
_NAME_ROLE = {"bass": "bass", "piano": "keys", "keys": "keys", "guitar": "guitar"}
_NAME_ROLE |= {"strings": "strings", "pad": "strings", "pads": "strings"}


def role_of(track: Track) -> str:
    """The role of a track: one of `ROLES`. Drum tracks are "drums"; a track named
    for a role ("Bass", "Piano", "Keys", "Guitar", "Strings", "Pad") has that role;
    any other takes the role of its GM program family."""
    if track.is_drum:
        return "drums"
    named = _NAME_ROLE.get(track.name.strip().lower())
    return named or _FAMILY_ROLE.get(int(track.program) // 8, "other")


def as_score(midi: Any) -> Score:
    """A `Score` from anything `groove.midi.load` reads; a `Score` passes through."""
    return midi if isinstance(midi, Score) else load(midi)


@dataclasses.dataclass(frozen=True)
class Notes:
    """Note columns in beats, sorted by onset.

    Attributes:
        start: Onsets in beats (float64).
        end: Offsets in beats (float64), never before `start`.
        pitch: MIDI pitches (int64).
        velocity: MIDI velocities 0-127 (int64).
        drum: True for notes on drum tracks.
        role: The role (index into `ROLES`) of each note's track.
    """

    start: np.ndarray
    end: np.ndarray
    pitch: np.ndarray
    velocity: np.ndarray
    drum: np.ndarray
    role: np.ndarray

    def __len__(self) -> int:
        return len(self.start)

    def select(self, mask: np.ndarray) -> Notes:
        return Notes(*(getattr(self, f.name)[mask] for f in dataclasses.fields(self)))

    @property
    def end_beat(self) -> float:
        """The last offset in beats; 0 without notes."""
        return float(self.end.max()) if len(self) else 0.0


def sounding(
    rows: np.ndarray, start: np.ndarray, end: np.ndarray, n_rows: int, frames: int
) -> np.ndarray:
    """How many notes sound in each (row, frame): note i fills row `rows[i]` over
    frames `[start[i], end[i])`. Running sums of +1 at onsets and -1 at offsets, so
    the cost is one pass over the roll whatever the note lengths.

    Returns:
        int64 array of shape `(n_rows, frames)`.
    """
    delta = np.zeros((n_rows, frames + 1), dtype=np.int64)
    np.add.at(delta, (rows, start), 1)
    np.add.at(delta, (rows, end), -1)
    return np.cumsum(delta, axis=1)[:, :frames]


def notes_of(midi: Any, role: str | None = None, drums: bool | None = None) -> Notes:
    """The notes of `midi` in beats.

    Args:
        midi: Anything `as_score` accepts.
        role: Keep only this role (see `ROLES`); None keeps all.
        drums: True keeps drum notes only, False pitched notes only, None both.
    """
    score = as_score(midi)
    n = score.notes
    roles = np.array([ROLES.index(role_of(t)) for t in score.tracks] or [0], dtype=np.int64)
    is_drum = np.array([t.is_drum for t in score.tracks] or [False], dtype=bool)
    track = n["track"].astype(np.int64)
    notes = Notes(
        start=n["start"] / score.ticks_per_beat,
        end=n["end"] / score.ticks_per_beat,
        pitch=n["pitch"].astype(np.int64),
        velocity=n["velocity"].astype(np.int64),
        drum=is_drum[track],
        role=roles[track],
    )
    mask = np.ones(len(notes), dtype=bool)
    if role is not None:
        if role not in ROLES:
            raise ConfigError(f"unknown role {role!r}; choose from {', '.join(ROLES)}")
        mask &= notes.role == ROLES.index(role)
    if drums is not None:
        mask &= notes.drum == drums
    order = np.argsort(notes.start[mask], kind="stable")
    return notes.select(np.flatnonzero(mask)[order])
