"""Style profiles: 2-D histograms of how notes are played, and their similarity.

Groove2Groove (Cífka et al. 2020, section VI-B) measures style fit as the cosine
similarity between the style profiles of an output and of the style example. A
profile here is one of four 2-D histograms, all timed in beats (quarter notes), so
the tempo does not change it:

- `time_pitch_diff`: for every ordered pair of notes whose onsets lie 0 to 4 beats
  apart, the onset gap (1/6-beat bins) against the interval (-20..+20 semitones);
- `onset_duration`: onset position within a 4-beat bar (1/6-beat bins) against
  duration (1/6-beat bins up to 2 beats);
- `onset_velocity`: onset position against velocity (8 bins of 16 covering 0-127);
- `drums`: onset position against drum pitch (128 bins).

"Onset position" is Groove2Groove's: the onset modulo 4 beats, as if every bar were
in 4/4 (`bars="four"`, the default). With `bars="score"` it is the onset's position
in its own bar, bars from the piece's time signatures (a 3/4 bar fills the first
3 beats of an 8-beat axis).

Values beyond the last bin of an axis (intervals wider than 20 semitones, notes
longer than 2 beats) fall in that outer bin, and every bin includes its lower edge,
so each note or pair is counted exactly once: the mass of a profile is its number
of notes (or pairs). Groove2Groove's velocity bins dropped velocities of 112 and
above; these do not.

`style_profiles` and `style_fit` keep Groove2Groove's definitions, so numbers stay
comparable with the paper. `transfer_profiles` gives the fixed set that `groove eval
transfer` reports as style fit: only the roles a transfer model plays
(`TRANSFER_ROLES`; the notes of any other role are left out of every profile,
"all" included), the drum profile counted once (`drums/drums`; Groove2Groove's set
also has `all/drums`, the same histogram again), and onsets placed in the score's
own bars.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from groove.errors import ConfigError
from groove.eval.musical import bar_lines
from groove.midi import Score
from groove.midi.notes import Notes, as_score, notes_of
from groove.midi.roles import ROLES, TRANSFER_ROLES, role_of

KINDS = ("time_pitch_diff", "onset_duration", "onset_velocity", "drums")
# Which profiles `style_profiles` computes for each role. "all" pools every pitched
# track (every drum track for the `drums` kind).
ROLE_KINDS = {
    **{role: ("time_pitch_diff", "onset_duration", "onset_velocity") for role in ROLES},
    "drums": ("drums", "onset_velocity"),
    "all": ("time_pitch_diff", "onset_duration", "onset_velocity", "drums"),
}
# The fixed set of `transfer_profiles`: the roles a transfer model plays, and "all"
# without its drum profile (the drum role has it already).
TRANSFER_ROLE_KINDS = {
    **{role: ROLE_KINDS[role] for role in TRANSFER_ROLES},
    "all": ("time_pitch_diff", "onset_duration", "onset_velocity"),
}
BARS = ("four", "score")

STEPS_PER_BEAT = 6  # 1/6-beat bins resolve both sixteenths and eighth-note triplets
BAR_BEATS = 4
# With bars="score", the position axis spans this many beats; a longer bar wraps.
MAX_BAR_BEATS = 8
MAX_GAP_BEATS = 4
MAX_INTERVAL = 20
MAX_DURATION_BEATS = 2
VELOCITY_BIN = 16
# A dense piece has millions of note pairs within 4 beats; past this many, pairs are
# counted for a fixed random subset of anchor notes and scaled up (see `_pair_bins`).
MAX_PAIRS = 2_000_000
# Onsets at exactly k/6 beats can come out a hair below k after float division.
_EPS = 1e-6


@dataclasses.dataclass(frozen=True)
class StyleProfile:
    """A 2-D histogram of one kind of style feature.

    Attributes:
        kind: One of `KINDS`.
        counts: float64 array `(x bins, y bins)`; the sum is the number of notes
            (or note pairs) counted.
        x_edges, y_edges: Bin edges of each axis, in the axis's unit.
        x_label, y_label: Axis names with units, for plots.
    """

    kind: str
    counts: np.ndarray
    x_edges: np.ndarray
    y_edges: np.ndarray
    x_label: str
    y_label: str

    @property
    def total(self) -> float:
        """The number of notes (or note pairs) counted."""
        return float(self.counts.sum())

    @property
    def density(self) -> np.ndarray:
        """`counts` scaled to integrate to 1 over the bins' areas; zeros when empty."""
        area = np.outer(np.diff(self.x_edges), np.diff(self.y_edges))
        total = self.total
        return self.counts / (total * area) if total > 0 else np.zeros_like(self.counts)

    def __add__(self, other: StyleProfile) -> StyleProfile:
        """Pool two profiles of the same kind: their counts add up."""
        _check_same_kind(self, other)
        return dataclasses.replace(self, counts=self.counts + other.counts)


def _check_same_kind(a: StyleProfile, b: StyleProfile) -> None:
    if a.kind != b.kind or a.counts.shape != b.counts.shape:
        raise ConfigError(f"cannot compare a {a.kind} profile with a {b.kind} profile")


def _step_index(beats: np.ndarray) -> np.ndarray:
    """Absolute 1/6-beat bin of each time, robust to float error at the edges."""
    return np.floor(beats * STEPS_PER_BEAT + _EPS).astype(np.int64)


def _axes(kind: str, bars: str = "four") -> tuple[np.ndarray, str, np.ndarray, str]:
    if bars not in BARS:
        raise ConfigError(f"bars must be one of {', '.join(BARS)}, got {bars!r}")
    steps = np.arange(MAX_GAP_BEATS * STEPS_PER_BEAT + 1) / STEPS_PER_BEAT
    bar = BAR_BEATS if bars == "four" else MAX_BAR_BEATS
    position = np.arange(bar * STEPS_PER_BEAT + 1) / STEPS_PER_BEAT
    if kind == "time_pitch_diff":
        intervals = np.arange(-MAX_INTERVAL, MAX_INTERVAL + 2) - 0.5
        return steps, "onset gap (beats)", intervals, "interval (semitones)"
    if kind == "onset_duration":
        durations = np.arange(MAX_DURATION_BEATS * STEPS_PER_BEAT + 1) / STEPS_PER_BEAT
        return position, "onset in bar (beats)", durations, "duration (beats)"
    if kind == "onset_velocity":
        velocities = np.arange(0, 128 + VELOCITY_BIN, VELOCITY_BIN).astype(np.float64)
        return position, "onset in bar (beats)", velocities, "velocity"
    if kind == "drums":
        return position, "onset in bar (beats)", np.arange(129) - 0.5, "drum pitch"
    raise ConfigError(f"unknown style profile kind {kind!r}; choose from {', '.join(KINDS)}")


def _pair_bins(notes: Notes, max_pairs: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Gap bins and intervals of every ordered pair with onsets 0 to 4 beats apart.

    Returns (gap bins, intervals, weight). When there are more than `max_pairs`
    pairs, only the pairs of a fixed (seed 0) random subset of anchor notes are
    listed, and `weight` scales their counts back to the full number of pairs.
    """
    start = notes.start
    n = len(start)
    lo = np.searchsorted(start, start, side="left")
    hi = np.searchsorted(start, start + MAX_GAP_BEATS, side="right")
    size = hi - lo  # candidates per anchor, itself included
    anchors = np.arange(n)
    weight = 1.0
    total = int(size.sum()) - n
    if total > max_pairs:
        anchors = np.random.default_rng(0).permutation(n)
        keep = np.cumsum(size[anchors] - 1) <= max_pairs
        anchors = np.sort(anchors[keep])
        weight = total / max(int(size[anchors].sum()) - len(anchors), 1)
    counts = size[anchors]
    first = np.repeat(anchors, counts)
    offset = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    second = lo[first] + offset
    keep = second != first
    first, second = first[keep], second[keep]
    gap = _step_index(start[second] - start[first])
    inside = gap < MAX_GAP_BEATS * STEPS_PER_BEAT
    interval = notes.pitch[second[inside]] - notes.pitch[first[inside]]
    return gap[inside], interval, weight


def _bar_positions(start: np.ndarray, bar_starts: np.ndarray) -> np.ndarray:
    """Each onset's time since the last bar line at or before it, in beats."""
    index = np.searchsorted(bar_starts, start + _EPS / STEPS_PER_BEAT, "right") - 1
    return start - bar_starts[np.clip(index, 0, len(bar_starts) - 1)]


def profile_of_notes(
    notes: Notes, kind: str, max_pairs: int = MAX_PAIRS, bar_starts: np.ndarray | None = None
) -> StyleProfile:
    """The `kind` profile of exactly these notes (see `style_profile`).

    Args:
        bar_starts: Bar lines in beats, ascending from 0: onsets are placed in these
            bars (`bars="score"`); None places them modulo 4 beats (Groove2Groove).
    """
    bars = "four" if bar_starts is None else "score"
    x_edges, x_label, y_edges, y_label = _axes(kind, bars)
    nx, ny = len(x_edges) - 1, len(y_edges) - 1
    weight = 1.0
    if kind == "time_pitch_diff":
        x, interval, weight = _pair_bins(notes, max_pairs)
        y = np.clip(interval, -MAX_INTERVAL, MAX_INTERVAL) + MAX_INTERVAL
    else:
        start = notes.start if bar_starts is None else _bar_positions(notes.start, bar_starts)
        x = _step_index(start) % nx
        if kind == "onset_duration":
            y = np.minimum(_step_index(notes.end - notes.start), ny - 1)
        elif kind == "onset_velocity":
            y = np.clip(notes.velocity, 0, 127) // VELOCITY_BIN
        else:
            y = np.clip(notes.pitch, 0, 127)
    counts = np.bincount(x * ny + y, minlength=nx * ny).astype(np.float64) * weight
    return StyleProfile(kind, counts.reshape(nx, ny), x_edges, y_edges, x_label, y_label)


def style_profile(
    midi: Any,
    kind: str,
    role: str | None = None,
    *,
    max_pairs: int = MAX_PAIRS,
    bars: str = "four",
) -> StyleProfile:
    """The style profile of one kind for one role of a piece (all times in beats).

    Args:
        midi: Anything `groove.midi.load` reads, or a `Score`.
        kind: One of `KINDS` (see the module docstring for the axes).
        role: One of `ROLES`, or None (or "all") for every pitched track, or every
            drum track when `kind` is "drums".
        max_pairs: For `time_pitch_diff`, the most note pairs counted exactly before
            a fixed random subset of anchor notes stands in for all (scaled up).
        bars: "four": onset positions modulo 4 beats (Groove2Groove); "score":
            within the piece's own bars, from its time signatures.

    Returns:
        A `StyleProfile`; an empty one (total 0) when the role does not play.
    """
    _axes(kind, bars)  # validate early
    score = as_score(midi)
    if role in (None, "all"):
        notes = notes_of(score, drums=kind == "drums")
    else:
        notes = notes_of(score, role=role)
    bar_starts = None
    if bars == "score" and kind != "time_pitch_diff":
        bar_starts, _ = bar_lines(score, float(notes.start.max()) if len(notes) else 0.0)
    return profile_of_notes(notes, kind, max_pairs, bar_starts)


def style_profiles(
    midi: Any,
    roles: Iterable[str] = (*ROLES, "all"),
    *,
    max_pairs: int = MAX_PAIRS,
    bars: str = "four",
) -> dict[tuple[str, str], StyleProfile]:
    """Every profile of `ROLE_KINDS` for the given roles: `{(role, kind): profile}`.

    Roles that do not play in `midi` get empty profiles, so profiles of several
    pieces always pool key by key. With the defaults, this is Groove2Groove's set.
    """

    score = as_score(midi)  # parse once for all roles
    out = {}
    for role in roles:
        if role not in ROLE_KINDS:
            raise ConfigError(f"unknown role {role!r}; choose from {', '.join(ROLE_KINDS)}")
        for kind in ROLE_KINDS[role]:
            out[role, kind] = style_profile(score, kind, role, max_pairs=max_pairs, bars=bars)
    return out


def playable(midi: Any) -> Score:
    """`midi` with only the tracks of the roles a transfer model plays (`TRANSFER_ROLES`)."""
    score = as_score(midi)
    keep = np.array([role_of(t) in TRANSFER_ROLES for t in score.tracks] + [False], bool)
    if keep[:-1].all():
        return score
    index = np.cumsum(keep) - 1
    notes = score.notes[keep[score.notes["track"]]].copy()
    notes["track"] = index[notes["track"]]
    tracks = [t for t, k in zip(score.tracks, keep[:-1], strict=True) if k]
    return score.replace(notes=notes, tracks=tracks)


def excluded_roles(midi: Any) -> list[str]:
    """The roles that play in `midi` (with at least one note) and that no transfer model
    plays: what `transfer_profiles` leaves out."""
    score = as_score(midi)
    playing = {role_of(score.tracks[t]) for t in np.unique(score.notes["track"])}
    return [role for role in ROLES if role in playing and role not in TRANSFER_ROLES]


def transfer_profiles(
    midi: Any, *, max_pairs: int = MAX_PAIRS
) -> dict[tuple[str, str], StyleProfile]:
    """The profiles of the fixed style fit: `{(role, kind): profile}` for
    `TRANSFER_ROLE_KINDS`, over the tracks of `TRANSFER_ROLES` only (`playable`),
    with onsets placed in the piece's own bars (`bars="score"`). The drum profile
    is the drum role's alone: "all" has no drum profile here."""
    score = playable(midi)
    return {
        (role, kind): style_profile(score, kind, role, max_pairs=max_pairs, bars="score")
        for role, kinds in TRANSFER_ROLE_KINDS.items()
        for kind in kinds
    }


def pool_profiles(
    profiles: Iterable[Mapping[tuple[str, str], StyleProfile]],
) -> dict[tuple[str, str], StyleProfile]:
    """Pool the profiles of several pieces key by key (counts add up): "macro" style."""
    pooled: dict[tuple[str, str], StyleProfile] = {}
    for item in profiles:
        for key, profile in item.items():
            pooled[key] = pooled[key] + profile if key in pooled else profile
    return pooled


def style_similarity(a: StyleProfile, b: StyleProfile) -> float:
    """Cosine similarity of two profiles of the same kind, flattened.

    Returns:
        A float in [0, 1]; 0 when exactly one profile is empty (one piece plays
        what the other does not); NaN when both are empty.
    """
    _check_same_kind(a, b)
    x, y = a.density.ravel(), b.density.ravel()
    nx, ny = np.linalg.norm(x), np.linalg.norm(y)
    if nx == 0 and ny == 0:
        return math.nan
    if nx == 0 or ny == 0:
        return 0.0
    return float(np.clip(x @ y / (nx * ny), 0.0, 1.0))


def style_fit(
    output: Mapping[tuple[str, str], StyleProfile],
    style: Mapping[tuple[str, str], StyleProfile],
) -> dict[tuple[str, str], float]:
    """Style similarity key by key, for every (role, kind) that the style example plays.

    A role the style plays and the output does not scores 0. A role only the output
    plays is not scored: a style example says nothing about it.
    """
    return {
        key: style_similarity(output[key], profile)
        for key, profile in style.items()
        if profile.total > 0 and key in output
    }
