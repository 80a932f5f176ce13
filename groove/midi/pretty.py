"""Conversion between `Score` and `pretty_midi.PrettyMIDI`, the user's MIDI object."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from groove.midi.score import (
    DEFAULT_QPM,
    KEY_SIGNATURE_DTYPE,
    NOTE_DTYPE,
    PEDAL_DTYPE,
    TEMPO_DTYPE,
    TIME_SIGNATURE_DTYPE,
    Score,
    TempoMap,
    Track,
    make_notes,
    sort_notes,
)

# pretty_midi keeps one float per tick up to the last event; above this many ticks
# `to_pretty_midi` lowers the resolution instead of allocating gigabytes.
_PRETTY_MIDI_MAX_TICKS = 2**24


def from_pretty_midi(pm: Any) -> Score:
    """Convert a `pretty_midi.PrettyMIDI` to a `Score` (times rounded to its ticks)."""
    tpb = int(pm.resolution)
    change_times, qpms = pm.get_tempo_changes()
    # Tempo-change ticks, integrated from the seconds pretty_midi reports.
    ticks = np.zeros(len(qpms), np.int64)
    for i in range(1, len(qpms)):
        dt = change_times[i] - change_times[i - 1]
        ticks[i] = ticks[i - 1] + round(dt * qpms[i - 1] * tpb / 60.0)
    tempos = np.zeros(len(qpms), TEMPO_DTYPE)
    tempos["tick"], tempos["qpm"] = ticks, qpms
    tmap = TempoMap(tempos, tpb)

    def to_ticks(seconds: Any) -> np.ndarray:
        return np.round(tmap.seconds_to_ticks(seconds)).astype(np.int64)

    tracks, tables, pedals = [], [], []
    for inst in pm.instruments:
        if not inst.notes:
            continue
        index = len(tracks)
        tracks.append(Track(int(inst.program), bool(inst.is_drum), inst.name or ""))
        arr = np.array([(n.start, n.end, n.pitch, n.velocity) for n in inst.notes], np.float64)
        tables.append(
            make_notes(to_ticks(arr[:, 0]), to_ticks(arr[:, 1]), arr[:, 2], arr[:, 3], index)
        )
        cc = sorted((c.time, c.value) for c in inst.control_changes if c.number == 64)
        pedals.extend(_pedal_intervals(cc, index, to_ticks))

    time_sigs = np.array(
        [
            (t, ts.numerator, ts.denominator)
            for ts, t in zip(
                pm.time_signature_changes, to_ticks([ts.time for ts in pm.time_signature_changes])
            )
        ],
        TIME_SIGNATURE_DTYPE,
    )
    key_sigs = np.array(
        [
            (t, *_key_number_to_sharps(k.key_number))
            for k, t in zip(
                pm.key_signature_changes, to_ticks([k.time for k in pm.key_signature_changes])
            )
        ],
        KEY_SIGNATURE_DTYPE,
    )
    notes = sort_notes(np.concatenate(tables)) if tables else np.zeros(0, NOTE_DTYPE)
    return Score(
        notes=notes,
        tracks=tracks,
        ticks_per_beat=tpb,
        tempos=tempos,
        time_signatures=time_sigs.reshape(-1),
        key_signatures=key_sigs.reshape(-1),
        pedals=np.array(pedals, PEDAL_DTYPE).reshape(-1),
        source="<PrettyMIDI>",
    )


def _pedal_intervals(cc: Sequence[tuple[float, int]], track: int, to_ticks: Any) -> list:
    intervals, down = [], None
    for time, value in cc:
        if value >= 64 and down is None:
            down = time
        elif value < 64 and down is not None:
            intervals.append((down, time))
            down = None
    if not intervals:
        return []
    ticks = to_ticks(np.array(intervals))
    return [(int(s), int(e), track) for s, e in ticks]


def _key_number_to_sharps(key_number: int) -> tuple[int, bool]:
    """pretty_midi key number (0-11 major, 12-23 minor tonic) -> (sharps, minor)."""
    minor = key_number >= 12
    major_tonic = (key_number % 12 + (3 if minor else 0)) % 12
    sharps = (major_tonic * 7) % 12  # 7 is its own inverse mod 12: fifths <-> semitones
    return (sharps - 12 if sharps > 6 else sharps), minor


def _sharps_to_key_number(sharps: int, minor: bool) -> int:
    tonic = (sharps * 7) % 12
    return 12 + (tonic - 3) % 12 if minor else tonic


def to_pretty_midi(score: Score) -> Any:
    """Convert a `Score` to a `pretty_midi.PrettyMIDI` with the same tempo map."""
    import pretty_midi

    if score.end_tick > _PRETTY_MIDI_MAX_TICKS:
        # pretty_midi allocates one float per tick: keep that bounded.
        tpb = max(1, int(score.ticks_per_beat * _PRETTY_MIDI_MAX_TICKS / score.end_tick))
        score = score.resample(tpb)
    tmap = score.tempo_map
    tempos = score.tempos if len(score.tempos) else np.array([(0, DEFAULT_QPM)], TEMPO_DTYPE)
    pm = pretty_midi.PrettyMIDI(resolution=score.ticks_per_beat, initial_tempo=tempos["qpm"][0])
    # pretty_midi has no public setter for tempo changes; `_tick_scales` is the list
    # its own MIDI reader fills, and `_update_tick_to_time` is how it then indexes it.
    pm._tick_scales = [(int(t), float(s)) for t, s in zip(tmap.ticks, tmap.seconds_per_tick)]
    pm._update_tick_to_time(score.end_tick + 1)

    seconds = tmap.ticks_to_seconds
    for index, track in enumerate(score.tracks):
        inst = pretty_midi.Instrument(program=track.program, is_drum=track.is_drum, name=track.name)
        mine = score.notes[score.notes["track"] == index]
        starts, ends = seconds(mine["start"]).tolist(), seconds(mine["end"]).tolist()
        inst.notes = [
            pretty_midi.Note(velocity=v, pitch=p, start=s, end=e)
            for v, p, s, e in zip(mine["velocity"].tolist(), mine["pitch"].tolist(), starts, ends)
        ]
        for ped in score.pedals[score.pedals["track"] == index]:
            t0, t1 = seconds([ped["start"], ped["end"]])
            inst.control_changes += [
                pretty_midi.ControlChange(64, 127, float(t0)),
                pretty_midi.ControlChange(64, 0, float(t1)),
            ]
        pm.instruments.append(inst)
    pm.time_signature_changes = [
        pretty_midi.TimeSignature(
            int(ts["numerator"]), int(ts["denominator"]), float(seconds(ts["tick"]))
        )
        for ts in score.time_signatures
    ]
    pm.key_signature_changes = [
        pretty_midi.KeySignature(
            _sharps_to_key_number(int(k["key"]), bool(k["minor"])), float(seconds(k["tick"]))
        )
        for k in score.key_signatures
    ]
    return pm
