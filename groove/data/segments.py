"""Cut music at downbeats into segments, pick roles, and make the content piano roll.

One implementation serves training (the synthetic corpus), inference (a user's song)
and evaluation, as `DESIGN.md` asks: a `Score` goes in, `Segment` windows come out,
and `cut` / `content_roll` / `role_score` turn a window into what a model reads.

Times: a `Segment` is a window in the score's **ticks**; a content roll has
`frames_per_beat` frames per beat (quarter note), whatever the tempo.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from groove.errors import ConfigError
from groove.midi import Score
from groove.midi.notes import as_score
from groove.midi.roles import parse_role, role_of

FRAMES_PER_BEAT = 4
# A note this close before a bar line (in beats) starts the next bar: a humanised
# or pushed downbeat belongs to the bar it pushes into.
ONSET_TOLERANCE = 1 / 24
# A score with more bars than this is refused rather than cut (about 2.7 hours of
# 4/4 at 120 qpm): a hostile time signature table could otherwise ask for millions.
MAX_BARS = 20_000


@dataclasses.dataclass(frozen=True)
class Segment:
    """A window of whole bars: ticks `[start, end)` of its score.

    Attributes:
        index: Position among the score's segments.
        start, end: The window in ticks; `start` is a downbeat.
        bars: Whole bars in the window (the last segment of a score may be shorter
            than asked, and may end on the score's last note rather than a bar line).
        beats_per_bar: Quarter notes per bar at `start` (4 for 4/4, 3 for 3/4, 6 for 12/8).
        ticks_per_beat: The score's resolution, so a segment knows its length in beats.
    """

    index: int
    start: int
    end: int
    bars: int
    beats_per_bar: float
    ticks_per_beat: int

    @property
    def beats(self) -> float:
        """Length in beats (quarter notes)."""
        return (self.end - self.start) / self.ticks_per_beat

    def frames(self, frames_per_beat: int = FRAMES_PER_BEAT) -> int:
        """Length of this segment's content roll."""
        return max(round(self.beats * frames_per_beat), 1)


def downbeats(score: Score, end: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Bar lines of `score` from its time signatures (4/4 when it has none).

    Args:
        score: The score.
        end: Last tick to cover; defaults to the last note offset.

    Returns:
        `(ticks, beats_per_bar)`: the tick of every bar line before `end` (the first
        is 0) and each bar's length in quarter notes.
    """
    end = score.end_tick if end is None else int(end)
    tpb = score.ticks_per_beat
    sigs = _sorted_by_tick(score.time_signatures)
    sigs = sigs[(sigs["numerator"] > 0) & (sigs["denominator"] > 0)]
    change_ticks = np.concatenate([[0], sigs["tick"]]).astype(np.int64)
    change_beats = np.concatenate(
        [[4.0], 4.0 * sigs["numerator"].astype(np.float64) / sigs["denominator"]]
    )
    # Each change k runs from the bar line `tick` where it takes effect (the first at
    # or after its tick) to the first bar line at or after the next change. A change
    # whose successor comes at or before `tick` never takes effect: one search skips
    # them all, so every step of this loop lays at least one bar, and the loop runs
    # at most MAX_BARS times however many changes there are.
    starts, bars, counts = [], [], []
    tick, k, total = 0.0, 0, 0
    while k < len(change_ticks):
        k = max(k, int(np.searchsorted(change_ticks, tick, side="right")) - 1)
        stop = int(change_ticks[k + 1]) if k + 1 < len(change_ticks) else max(end, 1)
        bar = float(change_beats[k]) * tpb
        n = max(math.ceil((stop - tick) / bar), 0)
        total += n
        if total > MAX_BARS:
            raise ConfigError(f"{score.source}: more than {MAX_BARS} bars; refusing to cut it")
        starts.append(tick)
        bars.append(k)
        counts.append(n)
        tick += bar * n
        k += 1
    counts = np.array(counts, np.int64)
    change = np.repeat(np.array(bars, np.int64), counts)
    within = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    ticks = np.repeat(np.array(starts), counts) + change_beats[change] * tpb * within
    bar_ticks = np.rint(ticks).astype(np.int64)
    keep = np.concatenate([[True], np.diff(bar_ticks) > 0]) if len(bar_ticks) else bar_ticks > 0
    bar_ticks, bar_beats = bar_ticks[keep], change_beats[change][keep]
    if len(bar_ticks) == 0:
        return np.zeros(1, np.int64), np.array([4.0])
    return bar_ticks, bar_beats


def segments(
    midi: Any, bars: int = 8, *, hop: int | None = None, min_bars: int = 1, end: int | None = None
) -> list[Segment]:
    """Cut `midi` at downbeats into windows of `bars` bars.

    Args:
        midi: Anything `groove.midi.load` reads, or a `Score`.
        bars: Bars per segment.
        hop: Bars between segment starts (default `bars`: back to back).
        min_bars: Drop a last, shorter segment with fewer bars than this (a score
            shorter than that still gives its one segment). With the default 1 the
            segments cover every note, as inference needs.
        end: Cut up to this tick instead of the last note's offset (a chart's length,
            so a final cymbal ringing past it makes no extra bar).

    Returns:
        The windows, in order; empty for a score without notes.
    """
    if bars < 1 or (hop is not None and hop < 1) or min_bars < 1:
        raise ConfigError("bars, hop and min_bars must be positive")
    score = as_score(midi)
    if len(score.notes) == 0:
        return []
    lines, lengths = downbeats(score, score.end_tick if end is None else end)
    hop = bars if hop is None else hop
    tpb = score.ticks_per_beat
    # The bar line after the last one, so every window has an end.
    last_end = round(float(lines[-1]) + float(lengths[-1]) * tpb)
    edges = np.append(lines, last_end)
    out = []
    for first in range(0, len(lines), hop):
        last = min(first + bars, len(lines))
        n_bars = last - first
        if n_bars < min(bars, min_bars) and first > 0:
            break
        out.append(
            Segment(
                index=len(out),
                start=int(edges[first]),
                end=int(edges[last]),
                bars=n_bars,
                beats_per_bar=float(lengths[first]),
                ticks_per_beat=tpb,
            )
        )
        if last == len(lines):
            break
    return out


def song_rolls(
    midi: Any, bars: int = 8, *, frames_per_beat: int = FRAMES_PER_BEAT, velocity: bool = False
) -> tuple[list[Segment], list[np.ndarray]]:
    """A whole song as model input: its segments and their content rolls.

    Inference calls this on a user's file, training on corpus renders: one path.
    """
    score = as_score(midi)
    windows = segments(score, bars)
    rolls = [
        content_roll(score, w, frames_per_beat=frames_per_beat, velocity=velocity) for w in windows
    ]
    return windows, rolls


def role_score(midi: Any, role: str | None, *, merge: bool = False) -> Score:
    """What `midi` plays in `role` (see `groove.midi.roles.role_of`); None keeps every track.

    A pitched role is one representative track: the track of that role that sounds
    the most (total note duration in beats; ties go to the most notes, then the
    lowest track index). A real song may give a role to several tracks (piano,
    organ and two harmonicas are all "keys"), and their merge is no part a player
    would play; groove's band, which trains the models, plays one track per role,
    so a style example or a target is one track too. Drums merge every drum track:
    a kit is often split over tracks (kick and snare on one, cymbals on another).

    Args:
        midi: Anything `groove.midi.load` reads, or a `Score`.
        role: One of `TRANSFER_ROLES` (or "piano"), or None.
        merge: Keep every track of a pitched role (for a measure over all of a
            role's notes rather than a part to imitate).
    """
    score = as_score(midi)
    if role is None:
        return score
    role = parse_role(role)
    keep = np.array([role_of(t) == role for t in score.tracks] + [False], bool)
    if role != "drums" and not merge and keep.sum() > 1:
        keep[:] = False
        keep[representative_track(score, role)] = True
    return _keep_tracks(score, keep)


def representative_track(midi: Any, role: str) -> int | None:
    """Index of the track of `role` that sounds the most, or None when none plays it.

    "Sounds the most" is the total duration of its notes (ticks, so beats); ties go
    to the track with more notes, then to the lower index. A track of the role with
    no notes is chosen only when no track of the role has any.
    """
    score = as_score(midi)
    role = parse_role(role)
    mine = [i for i, t in enumerate(score.tracks) if role_of(t) == role]
    if not mine:
        return None
    n = score.notes
    track = n["track"].astype(np.int64)
    duration = np.bincount(
        track, weights=(n["end"] - n["start"]).astype(np.float64), minlength=len(score.tracks)
    )
    count = np.bincount(track, minlength=len(score.tracks))
    return min(mine, key=lambda i: (-duration[i], -count[i], i))


def pitched_score(midi: Any) -> Score:
    """`midi` without its drum tracks: what a content roll reads."""
    score = as_score(midi)
    keep = np.array([not t.is_drum for t in score.tracks] + [False], bool)
    return _keep_tracks(score, keep)


def _keep_tracks(score: Score, keep: np.ndarray) -> Score:
    index = np.cumsum(keep) - 1
    notes = score.notes[keep[score.notes["track"]]].copy()
    notes["track"] = index[notes["track"]]
    tracks = [t for t, k in zip(score.tracks, keep[:-1], strict=True) if k]
    return score.replace(notes=notes, tracks=tracks)


def cut(midi: Any, segment: Segment) -> Score:
    """The notes that start in `segment`, on a timeline that starts at its downbeat.

    A note up to `ONSET_TOLERANCE` beats early counts as starting on the bar line; notes
    are cut at the segment's end. The tempo, time and key signatures in effect in the
    segment are carried over, so the cut plays as it did in place. This is what a
    target or a style example is tokenized from.
    """
    score = as_score(midi)
    tol = round(ONSET_TOLERANCE * score.ticks_per_beat)
    n = score.notes
    mask = (n["start"] >= segment.start - tol) & (n["start"] < segment.end - tol)
    notes = n[mask].copy()
    notes["start"] = np.maximum(notes["start"] - segment.start, 0)
    notes["end"] = np.clip(
        notes["end"] - segment.start, notes["start"], segment.end - segment.start
    )
    return score.replace(
        notes=notes,
        tempos=_shift_table(score.tempos, segment.start, segment.end),
        time_signatures=_shift_table(score.time_signatures, segment.start, segment.end),
        key_signatures=_shift_table(score.key_signatures, segment.start, segment.end),
        pedals=score.pedals[:0],
    )


def _shift_table(table: np.ndarray, start: int, end: int) -> np.ndarray:
    """Rows of a (tick, ...) table that hold within ticks `[start, end)`, moved by
    -start: the row in effect at `start` and those after it, before `end`.

    A cut carries only its own window's rows, so cutting every segment of a score
    with many tempo or signature changes costs their number once, not once per
    segment.
    """
    if len(table) == 0:
        return table
    table = _sorted_by_tick(table)
    ticks = table["tick"]
    first = max(int(np.searchsorted(ticks, start, side="right")) - 1, 0)
    last = max(int(np.searchsorted(ticks, end, side="left")), first + 1)
    table = table[first:last].copy()
    table["tick"] = np.maximum(table["tick"] - start, 0)
    return table


def _sorted_by_tick(table: np.ndarray) -> np.ndarray:
    """`table` sorted by tick (rows at one tick by their other fields); as it is when
    its ticks already increase, as `load` leaves them, without sorting."""
    ticks = table["tick"]
    if len(table) > 1 and (ticks[1:] <= ticks[:-1]).any():
        return np.sort(table, order="tick", kind="stable")
    return table


def content_roll(
    midi: Any,
    segment: Segment | None = None,
    *,
    frames_per_beat: int = FRAMES_PER_BEAT,
    velocity: bool = False,
) -> np.ndarray:
    """The content piano roll of `segment`: what sounds, drums left out.

    Frame `t` covers beats `[t, t + 1) / frames_per_beat` from the segment's start. A
    note sounds from the frame nearest its onset to the frame nearest its offset (at
    least one frame); notes held over from before the segment sound in it too.

    Args:
        midi: Anything `groove.midi.load` reads, or a `Score`.
        segment: The window; None takes the whole score from tick 0.
        frames_per_beat: Time resolution (4: sixteenth notes).
        velocity: Fill with the loudest sounding velocity / 127 instead of 1.

    Returns:
        float32 array of shape `(frames, 128)`, time first, values in [0, 1].
    """
    score = pitched_score(midi)
    if segment is None:
        segment = Segment(0, 0, max(score.end_tick, 1), 0, 4.0, score.ticks_per_beat)
    frames = segment.frames(frames_per_beat)
    roll = np.zeros((frames, 128), np.float32)
    n = score.notes
    n = n[(n["end"] > segment.start) & (n["start"] < segment.end)]
    if len(n) == 0:
        return roll
    per_tick = frames_per_beat / score.ticks_per_beat
    on = np.clip(np.rint((n["start"] - segment.start) * per_tick), 0, frames - 1).astype(np.int64)
    off = np.clip(np.rint((n["end"] - segment.start) * per_tick), on + 1, frames).astype(np.int64)
    value = n["velocity"] / 127.0 if velocity else np.ones(len(n))
    # Few notes per segment: a loop over notes is simpler than a scatter of ranges.
    for a, b, p, v in zip(
        on.tolist(), off.tolist(), n["pitch"].tolist(), value.tolist(), strict=True
    ):
        roll[a:b, p] = np.maximum(roll[a:b, p], v)
    return roll


__all__ = [
    "FRAMES_PER_BEAT",
    "Segment",
    "content_roll",
    "cut",
    "downbeats",
    "pitched_score",
    "representative_track",
    "role_score",
    "segments",
    "song_rolls",
]
