"""A score's notes in beats, with their instrument roles: what metrics and chord
recognition look at.

Every metric in `groove.eval` accepts what `groove.midi.load` accepts (a path, bytes,
a `pretty_midi.PrettyMIDI`, a music21 stream or a `Score`) and measures time in
**beats** (quarter notes), so a tempo change never changes a score.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from groove.errors import ConfigError
from groove.midi.roles import ROLES, role_of
from groove.midi.score import Score
from groove.midi.smf import load


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
