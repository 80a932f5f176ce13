"""Measuring how faithfully a tokenizer round trip keeps the notes."""

from __future__ import annotations

import dataclasses

import numpy as np

from groove.midi import Score


@dataclasses.dataclass
class Fidelity:
    """How `decoded` differs from `original`, note by note.

    Notes are compared per instrument (program and drum flag) and pitch. Within
    one, sorted onsets are compared with sorted onsets, and sorted offsets with
    sorted offsets: the pairing of same-pitch notes that overlap is ambiguous in
    MIDI itself, so only the sets of onsets and offsets are well defined.

    Attributes:
        notes: (original, decoded) note counts.
        same_notes: Same count of every (program, drum flag, pitch).
        onset_error, offset_error: Largest time difference, in `unit`; NaN unless
            `same_notes`.
        velocity_error: Largest velocity difference; NaN unless `same_notes`.
        unit: "seconds" or "beats".
    """

    notes: tuple[int, int]
    same_notes: bool
    onset_error: float
    offset_error: float
    velocity_error: float
    unit: str

    def within(self, time_tolerance: float, velocity_tolerance: float) -> bool:
        return (
            self.same_notes
            and self.onset_error <= time_tolerance
            and self.offset_error <= time_tolerance
            and self.velocity_error <= velocity_tolerance
        )


def _canonical(score: Score, unit: str) -> dict[str, np.ndarray]:
    program = np.array([t.program for t in score.tracks] + [0], np.int64)
    drum = np.array([t.is_drum for t in score.tracks] + [False], bool)
    notes = score.notes
    convert = score.seconds if unit == "seconds" else score.beats
    # Drum kits share the drum flag; their program is the kit, kept as well.
    group = program[notes["track"]] + 128 * drum[notes["track"]]
    on, off = convert(notes["start"]), convert(notes["end"])
    key = group * 128 + notes["pitch"].astype(np.int64)
    by_on = np.lexsort((on, key))
    by_off = np.lexsort((off, key))
    return {
        "key": key[by_on],
        "on": on[by_on],
        "velocity": notes["velocity"][by_on],
        "off": off[by_off],
    }


def compare(original: Score, decoded: Score, unit: str = "seconds") -> Fidelity:
    """Compare two scores' notes (see `Fidelity`). `unit` is "seconds" or "beats"."""
    if unit not in ("seconds", "beats"):
        raise ValueError(f"unit must be 'seconds' or 'beats', not {unit!r}")
    a, b = _canonical(original, unit), _canonical(decoded, unit)
    same = len(a["key"]) == len(b["key"]) and bool((a["key"] == b["key"]).all())
    nan = float("nan")
    if not same:
        return Fidelity((len(a["key"]), len(b["key"])), False, nan, nan, nan, unit)

    def worst(x: np.ndarray, y: np.ndarray) -> float:
        return float(np.abs(x.astype(np.float64) - y).max()) if len(x) else 0.0

    # Notes that quantise to one onset may swap places: compare their velocities
    # as sets, within each run of equal decoded (key, onset).
    block = np.cumsum((np.diff(b["key"], prepend=-1) != 0) | (np.diff(b["on"], prepend=-1) != 0))
    va = a["velocity"][np.lexsort((a["velocity"], block))]
    vb = b["velocity"][np.lexsort((b["velocity"], block))]

    return Fidelity(
        notes=(len(a["key"]), len(b["key"])),
        same_notes=True,
        onset_error=worst(a["on"], b["on"]),
        offset_error=worst(a["off"], b["off"]),
        velocity_error=worst(va, vb),
        unit=unit,
    )
