"""A chord chart from a MIDI file, by windowed chroma template matching (units: beats).

Each bar (counted from beat 0, so a pickup bar shifts the grid) is cut into equal
windows. A window's chroma is the time, in beats, that each pitch class sounds in it,
summed over the sounding pitches (drums left out, velocity ignored, a pitch doubled in
unison counted once), on a grid of `FRAMES_PER_BEAT` frames per beat with the rounding
of `groove.eval.content.chromagram`. Each chord (root 0-11 times a quality) scores the
cosine similarity of the chroma with its binary template, plus `ROOT_BASS_BONUS` times
the share of the window in which its root is the lowest note; the best names the window
(ties, within 1e-9, go to fewer tones, then to the earlier quality). The bass bonus
tells apart chords with the same tones (Am7 / C6). The slash bass is the pitch class
that is lowest for the longest time in the window, when it is a chord tone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from groove.data.charts import METERS, QUALITIES, Chart, Chord, merge_repeats
from groove.errors import ConfigError
from groove.midi.notes import as_score, notes_of, sounding

FRAMES_PER_BEAT = 12
# Ninths are left out: their five tones let a seventh chord with a passing note win.
DEFAULT_QUALITIES = (
    *("", "m", "dim", "aug", "sus2", "sus4", "6", "m6", "7", "maj7", "m7", "m7b5", "dim7"),
    *("mmaj7", "7sus4"),
)
# Score bonus for a chord whose root is the bass, times the share of the window in
# which the root is the lowest note: enough to split chords with the same tones
# (Am7 / C6), too little to turn an inversion into another chord (F#7/Bb, its bass
# doubled, scores 0.945 as F#7 and 0.873 as Bbdim; 0.1 here would flip it).
ROOT_BASS_BONUS = 0.05
_TIE = 1e-9
# Krumhansl & Kessler (1982), "Tracing the dynamic changes in perceived tonal
# organization in a spatial representation of musical keys", Psychological Review 89:
# probe-tone ratings of the 12 pitch classes above the tonic of a major and a minor key.
KK_MAJOR = (6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88)
KK_MINOR = (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17)
_METER_OF = {(4, 4): "4/4", (3, 4): "3/4", (12, 8): "12/8", (6, 8): "12/8"}


def chart_from_midi(
    midi: Any,
    *,
    chords_per_bar: int = 2,
    meter: str | None = None,
    qualities: Sequence[str] | None = None,
    max_bars: int = 512,
) -> Chart:
    """The chord chart of `midi`: one chord per window, repeats merged.

    Args:
        midi: Anything `groove.midi.notes.as_score` accepts (path, bytes, PrettyMIDI,
            music21 stream, `Score`).
        chords_per_bar: Windows per bar, 1 to 4; a bar of `b` beats gives windows of
            `b / chords_per_bar` beats (in 3/4, two windows of 1.5 beats each).
        meter: A key of `METERS`. When None it comes from the first time signature:
            4/4, 3/4, and 12/8 (6/8 too, two of its bars per chart bar); any other
            signature, or none, reads as "4/4" with bars of 4 beats.
        qualities: Keys of `QUALITIES` to choose from; `DEFAULT_QUALITIES` when None.
        max_bars: Only the first `max_bars` bars are read, so a hostile file cannot
            ask for unbounded work; notes after them are ignored.

    Returns:
        A `Chart` that tiles the bars from beat 0 to the last note offset (rounded up
        to a bar, at most `max_bars`). A window without notes holds the chord before
        it (the first chord heard, at the start). Key and mode are the best match of
        the Krumhansl-Kessler profiles to the chroma of the whole (read) piece.

    Raises:
        ConfigError: No pitched notes, or a bad option.
    """
    score = as_score(midi)
    meter = meter or _meter_of(score.time_signatures)
    if meter not in METERS:
        raise ConfigError(f"unknown meter {meter!r}; choose from {', '.join(METERS)}")
    if not 1 <= chords_per_bar <= 4:
        raise ConfigError(f"chords_per_bar must be 1 to 4, not {chords_per_bar}")
    if max_bars < 1:
        raise ConfigError(f"max_bars must be at least 1, not {max_bars}")
    qualities = tuple(DEFAULT_QUALITIES if qualities is None else qualities)
    unknown = [q for q in qualities if q not in QUALITIES]
    if unknown or not qualities:
        raise ConfigError(f"unknown chord qualities {unknown}; choose from {list(QUALITIES)}")
    notes = notes_of(score, drums=False)
    if len(notes) == 0:
        raise ConfigError(f"{score.source or 'the piece'} has no pitched notes to read chords from")

    bar_beats = METERS[meter]
    bars = min(max(math.ceil(notes.end_beat / bar_beats - 1e-9), 1), max_bars)
    window_frames = round(bar_beats * FRAMES_PER_BEAT) // chords_per_bar
    windows = bars * chords_per_bar
    frames = windows * window_frames
    start = np.round(notes.start * FRAMES_PER_BEAT).astype(np.int64)
    end = np.maximum(np.round(notes.end * FRAMES_PER_BEAT).astype(np.int64), start + 1)
    keep = start < frames
    start, end, pitch = start[keep], np.minimum(end[keep], frames), notes.pitch[keep]
    if not keep.any():
        raise ConfigError(f"no pitched note starts in the first {max_bars} bars (max_bars)")

    roll = sounding(pitch, start, end, 128, frames) > 0  # (128, frames)
    heard = roll.any(axis=0)
    lowest = np.argmax(roll, axis=0) % 12  # the lowest sounding pitch class per frame
    frame_window = np.arange(frames) // window_frames
    per_pitch = roll.reshape(128, windows, window_frames).sum(2) / FRAMES_PER_BEAT  # beats
    chroma = np.zeros((windows, 12))
    np.add.at(chroma.T, np.arange(128) % 12, per_pitch)
    bass = np.zeros((windows, 12))
    np.add.at(bass, (frame_window[heard], lowest[heard]), 1.0)
    bass /= np.maximum(bass.sum(1, keepdims=True), 1.0)  # share of the window, 0-1

    # Templates, simplest first so that argmax breaks ties toward fewer tones.
    order = sorted(range(len(qualities)), key=lambda i: len(set(QUALITIES[qualities[i]])))
    names = [qualities[i] for i in order for _ in range(12)]
    roots = np.tile(np.arange(12), len(order))
    templates = np.zeros((len(names), 12))
    for k, (root, quality) in enumerate(zip(roots, names)):
        templates[k, [(root + i) % 12 for i in QUALITIES[quality]]] = 1.0
    templates /= np.linalg.norm(templates, axis=1, keepdims=True)
    norms = np.linalg.norm(chroma, axis=1, keepdims=True)
    cosine = (chroma / np.maximum(norms, 1e-12)) @ templates.T  # (windows, chords)
    scores = cosine + ROOT_BASS_BONUS * bass[:, roots]
    best = np.argmax(scores >= scores.max(1, keepdims=True) - _TIE, axis=1)

    heard = np.flatnonzero(norms[:, 0] > 0)
    # Silent windows hold the chord before them; those before the first chord take it.
    source = np.maximum.accumulate(np.where(norms[:, 0] > 0, np.arange(windows), -1))
    source[source < 0] = heard[0]
    step = bar_beats / chords_per_bar
    chords = []
    for w, s in enumerate(source):
        root, quality = int(roots[best[s]]), names[best[s]]
        low = int(np.argmax(bass[s]))
        tones = {(root + i) % 12 for i in QUALITIES[quality]}
        chords.append(Chord(w * step, step, root, quality, low if low in tones else root))
    key, mode = estimate_key(chroma.sum(0))
    return Chart(tuple(merge_repeats(chords)), meter, key, mode)


def estimate_key(chroma: np.ndarray) -> tuple[int, str]:
    """`(tonic, mode)` of a 12-bin chroma (any non-negative weights, e.g. beats sounding).

    The Krumhansl-Schmuckler method: the Pearson correlation of the chroma with the
    Krumhansl-Kessler profile of each of the 24 keys; the highest wins (major first
    on a tie). A flat chroma gives C major.
    """
    chroma = np.asarray(chroma, dtype=np.float64).reshape(12)
    shift = (np.arange(12)[None, :] - np.arange(12)[:, None]) % 12  # [tonic, pitch class]
    profiles = np.concatenate([np.asarray(KK_MAJOR)[shift], np.asarray(KK_MINOR)[shift]])
    x = chroma - chroma.mean()
    p = profiles - profiles.mean(1, keepdims=True)
    corr = p @ x / np.maximum(np.linalg.norm(p, axis=1) * np.linalg.norm(x), 1e-12)
    best = int(np.argmax(corr))
    return best % 12, "major" if best < 12 else "minor"


def _meter_of(time_signatures: np.ndarray) -> str:
    """The chart meter of the first time signature; "4/4" for none or any other."""
    if len(time_signatures) == 0:
        return "4/4"
    first = np.sort(time_signatures, order="tick", kind="stable")[0]
    return _METER_OF.get((int(first["numerator"]), int(first["denominator"])), "4/4")
