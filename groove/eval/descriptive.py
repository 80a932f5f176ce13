"""Descriptive metrics of one piece, and the overlapping area of two sets of pieces.

The metrics follow the definitions of muspy (Dong et al., ISMIR 2020 late-breaking
demo, `muspy.metrics`) but count time in beats (quarter notes) on a grid of
`resolution` steps per beat, not in a file's ticks, so files of different
resolutions and tempos compare. Pitch metrics ignore drums, as muspy's do.

`overlapping_area` and `intra_inter_overlap` compare two sets of values of one
metric (Yang & Lerch, "On the evaluation of generative models in music", Neural
Computing and Applications 32, 2020).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from groove.midi import Score
from groove.midi.notes import as_score, notes_of

RESOLUTION = 12  # grid steps per beat
# Kernel density estimates cost samples x grid points; larger samples are thinned to
# this many values (a fixed random subset, seed 0), which changes the area by < 0.01.
MAX_KDE_SAMPLES = 4000


def pitch_range(midi: Any) -> float:
    """Highest minus lowest pitch (semitones) of the pitched notes; NaN without any."""
    notes = notes_of(midi, drums=False)
    return float(notes.pitch.max() - notes.pitch.min()) if len(notes) else math.nan


def pitch_class_entropy(midi: Any) -> float:
    """Shannon entropy (bits, 0 to log2 12) of the pitch-class histogram of the notes."""
    notes = notes_of(midi, drums=False)
    if len(notes) == 0:
        return math.nan
    p = np.bincount(notes.pitch % 12, minlength=12) / len(notes)
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum()) + 0.0


# Pitch classes of C major and C natural minor; rolled for the other 11 roots.
_MAJOR = np.array([1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1], dtype=bool)
_MINOR = np.array([1, 0, 1, 1, 0, 1, 0, 1, 1, 0, 1, 0], dtype=bool)
_SCALES = np.stack([np.roll(s, root) for s in (_MAJOR, _MINOR) for root in range(12)])


def scale_consistency(midi: Any) -> float:
    """The largest fraction of notes (0 to 1) inside one major or minor scale."""
    notes = notes_of(midi, drums=False)
    if len(notes) == 0:
        return math.nan
    histogram = np.bincount(notes.pitch % 12, minlength=12)
    return float((_SCALES @ histogram).max() / len(notes))


def _merged(start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The union of the spans `[start[i], end[i])` (each non-empty) as disjoint spans
    in time order."""
    order = np.argsort(start, kind="stable")
    start, end = start[order], end[order]
    reach = np.maximum.accumulate(end)
    new_run = np.ones(len(start), bool)
    new_run[1:] = start[1:] > reach[:-1]
    first = np.flatnonzero(new_run)
    last = np.append(first[1:], len(start)) - 1
    return start[first], reach[last]


def _pianoroll_runs(midi: Any, resolution: int) -> tuple[np.ndarray, np.ndarray, int]:
    """How many distinct pitches sound (drums ignored), as runs of grid steps.

    Returns:
        `(counts, lengths, steps)`: from step 0 to the last offset (`steps` steps),
        `lengths[i]` steps in a row have `counts[i]` pitches sounding. The memory
        grows with the notes, not with the steps.
    """
    notes = notes_of(midi, drums=False)
    if len(notes) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), 0
    start = np.round(notes.start * resolution).astype(np.int64)
    # At least one step each, as `chromagram` keeps them: a very short note sounds.
    end = np.maximum(np.round(notes.end * resolution).astype(np.int64), start + 1)
    steps = int(end.max())
    # A binary piano roll, as muspy's: one pitch on two tracks sounds once.
    spans = [
        _merged(start[notes.pitch == p], end[notes.pitch == p]) for p in np.unique(notes.pitch)
    ]
    on = np.concatenate([s for s, _ in spans])
    off = np.concatenate([e for _, e in spans])
    # Every step where the count changes, with 0 and the end; +1 at onsets, -1 at offsets.
    at, where = np.unique(np.concatenate([[0], on, off, [steps]]), return_inverse=True)
    delta = np.zeros(len(at), np.int64)
    np.add.at(delta, where[1 : 1 + len(on)], 1)
    np.add.at(delta, where[1 + len(on) : -1], -1)
    return np.cumsum(delta)[:-1], np.diff(at), steps


def polyphony(midi: Any, resolution: int = RESOLUTION) -> float:
    """Mean number of pitches sounding, over the grid steps where at least one sounds."""
    counts, lengths, _ = _pianoroll_runs(midi, resolution)
    sounding = counts > 0
    if not sounding.any():
        return math.nan
    return float((counts * lengths)[sounding].sum() / lengths[sounding].sum())


def polyphony_rate(midi: Any, threshold: int = 2, resolution: int = RESOLUTION) -> float:
    """Fraction of grid steps, from 0 to the last offset, with over `threshold` pitches."""
    counts, lengths, steps = _pianoroll_runs(midi, resolution)
    return float(lengths[counts > threshold].sum() / steps) if steps else math.nan


def empty_beat_rate(midi: Any) -> float:
    """Fraction of beats, from 0 to the last offset, in which no note (drums too) sounds.

    A note fills each beat it sounds in; unlike muspy, a note that ends exactly on a
    beat does not fill the beat that starts there. Computed from the notes' beat
    spans (merged in time order), so the memory grows with the notes, not the beats.
    """
    notes = notes_of(midi)
    n_beats = math.ceil(notes.end_beat) if len(notes) else 0
    if n_beats == 0:
        return math.nan
    first = np.floor(notes.start).astype(np.int64)
    last = np.minimum(np.maximum(np.ceil(notes.end).astype(np.int64), first + 1), n_beats)
    keep = first < last
    first, last = first[keep], last[keep]
    if len(first) == 0:
        return 1.0
    runs_start, runs_end = _merged(first, last)
    filled = int((runs_end - runs_start).sum())
    return float((n_beats - filled) / n_beats)


def _bar_beats(score: Score) -> float:
    """Beats per bar of the first time signature (4 without one)."""
    ts = score.time_signatures
    if len(ts) == 0:
        return 4.0
    first = ts[np.argmin(ts["tick"])]
    return 4.0 * int(first["numerator"]) / max(int(first["denominator"]), 1)


def groove_consistency(midi: Any, resolution: int = RESOLUTION) -> float:
    """1 minus the mean Hamming distance (as a fraction of the bar) of neighbouring bars' onsets.

    Each bar becomes a binary onset pattern on a grid of `resolution` steps per beat,
    every track (drums too) counted; the bar length comes from the first time
    signature (4/4 without one). 1 means every bar has the same onsets.
    NaN for a piece shorter than two bars. Computed from the distinct onset steps,
    so the memory grows with the notes, not the bars.
    """
    score = as_score(midi)
    notes = notes_of(score)
    bar = round(_bar_beats(score) * resolution)
    if len(notes) == 0 or bar < 1:
        return math.nan
    step = np.unique(np.round(notes.start * resolution).astype(np.int64))
    n_bars = int(step[-1]) // bar + 1
    if n_bars < 2:
        return math.nan
    # The distance of bars b and b + 1 is |A_b| + |A_b+1| - 2 |A_b & A_b+1|; summed over
    # the neighbours, every onset counts twice except in the first and last bar, and
    # an onset shared with the next bar is one step s with s + bar an onset too.
    bars = step // bar
    in_ends = np.count_nonzero(bars == 0) + np.count_nonzero(bars == n_bars - 1)
    shared = np.count_nonzero(np.isin(step + bar, step, assume_unique=True))
    distance = 2 * len(step) - in_ends - 2 * shared
    return float(1.0 - distance / (bar * (n_bars - 1)))


def drum_pattern_consistency(midi: Any, resolution: int = RESOLUTION) -> float:
    """The larger of the duple and triple drum-in-pattern rates (0 to 1).

    A drum onset is in the duple pattern when it falls on a sixteenth note (beat
    quarters), in the triple pattern when it falls on an eighth-note triplet (beat
    thirds), after rounding to `resolution` steps per beat. NaN without drums.
    """
    notes = notes_of(midi, drums=True)
    if len(notes) == 0:
        return math.nan
    position = np.round(notes.start * resolution).astype(np.int64) % resolution
    rates = []
    for division in (4, 3):
        grid = np.round(np.arange(division) * resolution / division).astype(np.int64)
        rates.append(np.isin(position, grid).mean())
    return float(max(rates))


METRICS: dict[str, Callable[[Any], float]] = {
    "pitch_range": pitch_range,
    "pitch_class_entropy": pitch_class_entropy,
    "scale_consistency": scale_consistency,
    "polyphony": polyphony,
    "polyphony_rate": polyphony_rate,
    "empty_beat_rate": empty_beat_rate,
    "groove_consistency": groove_consistency,
    "drum_pattern_consistency": drum_pattern_consistency,
}


def descriptive_metrics(midi: Any) -> dict[str, float]:
    """Every metric of `METRICS` for one piece (parsed once). NaN where undefined."""
    score = as_score(midi)
    return {name: fn(score) for name, fn in METRICS.items()}


def _kde_overlap(x: np.ndarray, y: np.ndarray, points: int = 2000) -> float:
    """Overlapping area of the Gaussian kernel density estimates of two samples."""
    from scipy.integrate import trapezoid
    from scipy.stats import gaussian_kde

    rng = np.random.default_rng(0)
    x, y = (
        rng.choice(s, MAX_KDE_SAMPLES, replace=False) if len(s) > MAX_KDE_SAMPLES else s
        for s in (x, y)
    )
    lo, hi = min(x.min(), y.min()), max(x.max(), y.max())
    spread = max(np.std(np.concatenate([x, y])), 1e-3 * max(abs(lo), abs(hi), 1.0))

    def density(sample: np.ndarray):
        """(density function, kernel width) of one sample."""
        if len(sample) < 2 or np.ptp(sample) == 0:
            # scipy's estimate is undefined for a constant sample; use a narrow bump.
            width = 0.05 * spread
            bump = lambda t: np.exp(-0.5 * ((t[:, None] - sample) / width) ** 2).mean(1)  # noqa: E731
            return (lambda t: bump(t) / (width * math.sqrt(2 * math.pi))), width
        kde = gaussian_kde(sample)  # Scott's rule
        return kde, float(np.sqrt(kde.covariance[0, 0]))

    (fx, wx), (fy, wy) = density(x), density(y)
    margin = 6 * max(wx, wy)  # past 6 kernel widths, less than 1e-8 of the mass is left
    grid = np.linspace(lo - margin, hi + margin, points)
    return float(np.clip(trapezoid(np.minimum(fx(grid), fy(grid)), grid), 0.0, 1.0))


def overlapping_area(a: Sequence[float], b: Sequence[float]) -> float:
    """Overlapping area (0 to 1) of the estimated distributions of two sets of values.

    Each set is smoothed with a Gaussian kernel density estimate (Scott's rule);
    the result is the integral of the smaller of the two densities. NaN values are
    ignored; NaN when either set has no finite value.
    """
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    x, y = x[np.isfinite(x)], y[np.isfinite(y)]
    if len(x) == 0 or len(y) == 0:
        return math.nan
    return _kde_overlap(x, y)


def intra_inter_overlap(a: Sequence[float], b: Sequence[float]) -> float:
    """Yang & Lerch's overlapping area of intra-set and inter-set distances.

    The intra-set distances are |a_i - a_j| for i < j; the inter-set distances are
    |a_i - b_j| for all i, j. The result is the overlapping area of their estimated
    distributions: near 1 when `b` looks like a sample of the same population as
    `a`. NaN when `a` has fewer than two finite values or `b` none.
    """
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    x, y = x[np.isfinite(x)], y[np.isfinite(y)]
    if len(x) < 2 or len(y) == 0:
        return math.nan
    i, j = np.triu_indices(len(x), k=1)
    intra = np.abs(x[i] - x[j])
    inter = np.abs(x[:, None] - y[None, :]).ravel()
    return _kde_overlap(intra, inter)
