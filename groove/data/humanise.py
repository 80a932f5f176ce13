"""Humanise a score: seeded timing and velocity jitter, as a step of its own.

groove's band plays on its grid, and a model learns to play on that grid too: jitter
in a training target is noise the model is asked to predict, and it cannot. So
corpora render clean targets, and `humanise` adds the small deviations of a human
player afterwards, to a band render or to a transfer's decoded output alike.

Each onset moves by at most `timing` beats (a normal draw cut at that bound: the
spread of a human player's timing around a beat is roughly normal, with a
standard deviation of a few tens of milliseconds; Repp 2005, "Sensorimotor
synchronization: a review of the tapping literature", Psychon. Bull. Rev. 12(6)).
The notes of a track that start together move together, so a chord or a strum
keeps its shape. An onset also moves by less than half the gap to its track's
previous and next onsets, so no two notes of a track ever swap, and no note moves
before the start of the piece. A note keeps its length, unless that would make it
run into the next note of the same pitch on its track: then it ends there, but
never shorter than `min_duration` (or its own length, if that was shorter).
"""

from __future__ import annotations

import numpy as np

from groove.errors import ConfigError
from groove.midi import Score
from groove.midi.score import sort_notes

# Defaults: about 10 ms of spread at 120 qpm, and a velocity spread a listener hears
# as evenness rather than accents.
TIMING = 0.02
VELOCITY = 8.0
MIN_DURATION = 1 / 32


def humanise(
    score: Score,
    seed: int,
    *,
    timing: float = TIMING,
    velocity: float = VELOCITY,
    min_duration: float = MIN_DURATION,
) -> Score:
    """`score` with seeded timing and velocity jitter, drums and pitched tracks alike.

    Args:
        score: Any `Score` (a band render, a transfer's output, a loaded file).
        seed: Random seed: the same seed gives the same result.
        timing: The largest onset shift, in beats (quarter notes). Shifts are drawn
            from a normal distribution with standard deviation `timing / 2`, cut at
            `±timing`, one per (track, onset): the notes of a chord move together.
        velocity: The largest velocity change, drawn the same way per note; the
            result stays in 1..127.
        min_duration: No note ends up shorter than this (beats), unless it was
            shorter to begin with (then it keeps its length).

    Returns:
        A new `Score` with as many notes, each track's notes in the same order.
    """
    if timing < 0 or velocity < 0 or min_duration < 0:
        raise ConfigError("timing, velocity and min_duration must be zero or more")
    rng = np.random.default_rng(seed)
    notes = sort_notes(score.notes.copy())
    if len(notes) == 0:
        return score.replace(notes=notes)
    tpb = score.ticks_per_beat
    start = notes["start"].astype(np.int64)
    end = notes["end"].astype(np.int64)
    track = notes["track"].astype(np.int64)

    # One shift per (track, onset), bounded by timing and by half the gaps around it.
    keys = np.stack([track, start], axis=1)
    groups, group_of = np.unique(keys, axis=0, return_inverse=True)
    group_of = group_of.reshape(-1)
    g_track, g_start = groups[:, 0], groups[:, 1]
    same_before = np.concatenate([[False], g_track[1:] == g_track[:-1]])
    same_after = np.concatenate([g_track[:-1] == g_track[1:], [False]])
    gap_before = np.where(same_before, np.diff(g_start, prepend=0), np.iinfo(np.int64).max)
    gap_after = np.where(same_after, np.diff(g_start, append=0), np.iinfo(np.int64).max)
    limit = np.minimum(timing * tpb, (np.minimum(gap_before, gap_after) - 1) // 2)
    limit = np.maximum(limit, 0)
    draw = rng.normal(0.0, 0.5, len(groups))
    shift = np.rint(np.clip(draw, -1.0, 1.0) * limit).astype(np.int64)
    shift = np.maximum(shift, -g_start)  # never before the start of the piece
    moved = shift[group_of]
    new_start = start + moved
    new_end = end + moved

    # A note that ended by the next onset of its pitch on its track still does.
    order = np.lexsort((start, notes["pitch"], track))
    nxt = order[1:]
    cur = order[:-1]
    same = (track[cur] == track[nxt]) & (notes["pitch"][cur] == notes["pitch"][nxt])
    ended = same & (end[cur] <= start[nxt])
    clip = cur[ended]
    new_end[clip] = np.minimum(new_end[clip], new_start[nxt[ended]])
    shortest = np.minimum(round(min_duration * tpb), end - start)
    new_end = np.maximum(new_end, new_start + shortest)

    change = np.clip(rng.normal(0.0, 0.5, len(notes)), -1.0, 1.0) * velocity
    new_velocity = np.clip(np.rint(notes["velocity"] + change), 1, 127)

    notes["start"] = new_start
    notes["end"] = new_end
    notes["velocity"] = new_velocity
    return score.replace(notes=sort_notes(notes))
