"""Musical checks of a style transfer: what a listener hears go wrong first.

Groove2Groove's metrics (`groove.eval.content`, `groove.eval.style`) compare
histograms over a whole piece, so a trivial system (the style example pasted on top
of the content) can score well on them. These checks look at the music moment by
moment, all timed in beats (quarter notes) and bars from the pieces' own time
signatures:

- `onset_phase_similarity`: where onsets fall within the beat (or within the bar),
  against the style example: the groove's placement;
- `chord_tone_rate`: the share of pitched notes whose pitch class sounds in the
  content around their onset: the harmony followed now, not somewhere in the piece;
- `held_note_rate`: the share of pitched notes held longer than the style holds its
  notes (`duration_limit`), by more than `HELD_TOLERANCE`: notes left hanging;
- `part_continuity`: per role, the share of the reference's playing bars in which
  the output plays that role too: parts that stop early.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from groove.errors import ConfigError
from groove.midi.notes import Notes, as_score, notes_of
from groove.midi.roles import ROLES

# Onset-phase histograms: bins per beat (12 resolves sixteenths and eighth triplets).
PHASE_BINS_PER_BEAT = 12
# A note counts as held only when it outlasts the style's limit by more than this
# many beats: one step of the transfer tokenizers' 1/12-beat grid. Without it a
# quantised output's two-step staccato (0.167 beats) counted as held against a
# style whose staccato sixteenths last 0.138 beats, so held-note rates of 1.0 came
# from timing 0.03 beats apart, not from notes left hanging (issue 14).
HELD_TOLERANCE = 1 / 12
# An onset this close below a bin edge (in bins) counts in the bin above: 1/3 beat
# is 3.9999999 bins after float division.
_EPS = 1e-6


def bar_lines(midi: Any, end_beats: float) -> tuple[np.ndarray, np.ndarray]:
    """`(starts, lengths)` of the bars up to `end_beats`, in beats, from the time
    signatures (4/4 without any)."""
    from groove.data.segments import downbeats  # (data owns the bar grid)

    score = as_score(midi)
    end_tick = max(int(np.ceil(end_beats * score.ticks_per_beat)), score.end_tick, 1)
    ticks, lengths = downbeats(score, end_tick)
    return ticks / score.ticks_per_beat, np.asarray(lengths, np.float64)


def _phase_histogram(notes: Notes, unit: str, midi: Any) -> np.ndarray:
    start = notes.start
    if unit == "beat":
        phase = (start % 1.0) * PHASE_BINS_PER_BEAT
        return np.bincount(np.floor(phase + _EPS).astype(np.int64) % PHASE_BINS_PER_BEAT,
                           minlength=PHASE_BINS_PER_BEAT).astype(np.float64)  # fmt: skip
    if unit != "bar":
        raise ConfigError(f"unit must be beat or bar, got {unit!r}")
    bars, lengths = bar_lines(midi, float(notes.end_beat))
    index = np.clip(np.searchsorted(bars, start + _EPS / PHASE_BINS_PER_BEAT, "right") - 1, 0,
                    len(bars) - 1)  # fmt: skip
    # Bins up to the longest bar; a 3/4 bar fills the first 36 of 48.
    size = int(np.rint(lengths.max() * PHASE_BINS_PER_BEAT))
    phase = (start - bars[index]) * PHASE_BINS_PER_BEAT
    return np.bincount(np.clip(np.floor(phase + _EPS).astype(np.int64), 0, size - 1),
                       minlength=size).astype(np.float64)  # fmt: skip


def onset_phase_similarity(output: Any, style: Any, unit: str = "beat",
                           role: str | None = None) -> float:  # fmt: skip
    """Cosine similarity of the onset-phase histograms of `output` and `style`.

    Args:
        output, style: Anything `groove.midi.load` reads.
        unit: "beat": onsets by position within the beat (1/12-beat bins); "bar":
            by position within the bar, bars from each piece's time signatures.
        role: Only this role's notes (see `groove.midi.roles.ROLES`); None: all.

    Returns:
        1 for the same placement of onsets, 0 for none in common; NaN when either
        piece has no onset.
    """
    hists = []
    for midi in (output, style):
        notes = notes_of(midi, role=role)
        if len(notes) == 0:
            return float("nan")
        hists.append(_phase_histogram(notes, unit, midi))
    a, b = hists
    n = max(len(a), len(b))
    a, b = np.pad(a, (0, n - len(a))), np.pad(b, (0, n - len(b)))
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def chord_tone_rate(output: Any, content: Any, window: float = 0.5) -> float:
    """The share of the output's pitched notes whose pitch class sounds in the
    content's pitched notes within `window` beats of their onset.

    Args:
        output: The transfer (anything `groove.midi.load` reads).
        content: The song it plays; its drums are ignored.
        window: Beats before and after each onset in which a content note counts.

    Returns:
        0 to 1; NaN when the output has no pitched note.
    """
    if window < 0:
        raise ConfigError(f"window must be >= 0 beats, got {window}")
    out = notes_of(output, drums=False)
    song = notes_of(content, drums=False)
    if len(out) == 0:
        return float("nan")
    if len(song) == 0:
        return 0.0
    # A content note [s, e) counts for an onset t when it overlaps [t - w, t + w]:
    # among the notes of that pitch class starting by t + w, the latest end is at
    # least t - w.
    order = np.argsort(song.start, kind="stable")
    starts, ends, pcs = song.start[order], song.end[order], song.pitch[order] % 12
    out_pcs = out.pitch % 12
    hits = np.zeros(len(out), bool)
    for pc in np.intersect1d(out_pcs, pcs).tolist():
        mine = np.flatnonzero(out_pcs == pc)
        same = pcs == pc
        latest_end = np.maximum.accumulate(ends[same])
        upto = np.searchsorted(starts[same], out.start[mine] + window, "right")
        began = upto > 0
        hits[mine[began]] = latest_end[upto[began] - 1] >= out.start[mine[began]] - window
    return float(hits.mean())


def duration_limit(style: Any, percentile: float = 95.0, factor: float = 1.0,
                   role: str | None = None) -> float:  # fmt: skip
    """`factor` times the `percentile`-th percentile of the style's pitched note
    durations, in beats (NaN without pitched notes): how long the style holds a note.
    With `role`, only that role's notes."""
    notes = notes_of(style, role=role, drums=False)
    durations = notes.end - notes.start
    if len(durations) == 0:
        return float("nan")
    return float(factor * np.percentile(durations, percentile))


def held_note_rate(
    output: Any, limit: float, role: str | None = None, tolerance: float = HELD_TOLERANCE
) -> float:
    """The share of the output's pitched notes (of `role` only, when given) longer
    than `limit` beats (see `duration_limit`) by more than `tolerance` beats; NaN
    when it has no such note or the limit is NaN."""
    notes = notes_of(output, role=role, drums=False)
    if len(notes) == 0 or np.isnan(limit):
        return float("nan")
    return float(np.mean(notes.end - notes.start > limit + tolerance))


def _bars_played(midi: Any, role: str, bars: np.ndarray) -> np.ndarray:
    notes = notes_of(midi, role=role)
    played = np.zeros(len(bars), bool)
    if len(notes):
        # A note plays in every bar it sounds in.
        first = np.clip(np.searchsorted(bars, notes.start, "right") - 1, 0, len(bars) - 1)
        last = np.clip(np.searchsorted(bars, notes.end - _EPS, "right") - 1, 0, len(bars) - 1)
        delta = np.zeros(len(bars) + 1, np.int64)
        np.add.at(delta, first, 1)
        np.add.at(delta, last + 1, -1)
        played = np.cumsum(delta)[:-1] > 0
    return played


def part_continuity(output: Any, reference: Any) -> dict[str, float]:
    """Per role the reference plays: the share of its playing bars in which the
    output plays that role too (1: the part never drops out where it should play).

    Bars come from the reference's time signatures, over the reference's length.

    Returns:
        `{role: share}` for each role of `groove.midi.roles.ROLES` that the
        reference plays (drums included).
    """
    ref = as_score(reference)
    end = max(notes_of(ref).end_beat, 1e-9)
    bars, _ = bar_lines(ref, end)
    out = {}
    for role in ROLES:
        wanted = _bars_played(ref, role, bars)
        if wanted.any():
            got = _bars_played(output, role, bars)
            out[role] = float((got & wanted).sum() / wanted.sum())
    return out
