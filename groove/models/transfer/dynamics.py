"""Dynamics from the style example: exact velocities for the decoder's coarse bins.

The transfer tokenizers carry velocity as a few coarse bins (`DurationTokenizer`:
4), and a decoded note gets its bin's centre. A style whose notes all play at
velocity 100 then comes back at 112 (the centre of the top bin of 4), and an accent
pattern inside a bin (a hi-hat at 70 on the beat, 60 off it) is flattened. The
model is asked only for the bin; the level within it is a fact of the style
example, read from it at decoding time, as a drummer copies a groove's accents.

`style_velocities` plays each decoded note at the median velocity of the style
part's notes that share its velocity bin and, as far as the example has such
notes, its position in the bar (and, for drums, its drum sound). Where the example
never plays that bin at that place, the note takes the level the example plays
there that is nearest to the decoded one, as a groove template's accents would:

    drums:   (bin, sound, position) -> (sound, position)* -> (bin, position)
             -> (position)* -> (bin, sound) -> (bin)
    pitched: (bin, position) -> (position)* -> (bin)

(* nearest level, not median). With a seed (`draw`; `groove.transfer` passes one
when it samples), each level is drawn from the example's levels under the key
(under a * key, those in the nearest level's bin) instead, so an example's spread
of levels comes back, not one level per place; each (segment, track) draws from its
own generator (`cell_generator`). A note whose position and bin the style part
never plays keeps its decoded velocity. Positions are grid steps of the tokenizer's
resolution, counted from each bar line of the segments that both pieces are cut
into. Leaving the bin where the example plays the place at another level was
measured on 20 validation pairs (issue 14, the shipped 2,700-step model): see
`groove/models/weights/README.md`.

This is plain table look-up, written here because no MIDI library offers "take the
accents of this example" (pretty_midi, symusic and miditok only read and write
velocities).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np

from groove.data.segments import Segment, role_score, segments
from groove.midi import Score
from groove.midi.roles import role_of
from groove.tokenizers.events import velocity_to_bin


def grid_steps(start: np.ndarray, windows: Sequence[Segment], tpb: int, resolution: int):
    """`(segment, steps, bar)` of each onset: its segment's index, its time from the
    segment's start in grid steps (exact, not rounded) and that segment's bar length
    in steps."""
    starts = np.array([w.start for w in windows], np.int64)
    k = np.clip(np.searchsorted(starts, start, side="right") - 1, 0, len(windows) - 1)
    bar = np.array([max(round(w.beats_per_bar * resolution), 1) for w in windows], np.int64)
    return k, (start - starts[k]) * resolution / tpb, bar[k]


def cell_generator(draw: int, stream: int, segment: int, track: int) -> np.random.Generator:
    """The generator of one (segment, track) for the draws of `stream` (1: levels,
    2: feel) under the seed `draw`."""
    return np.random.default_rng([draw, stream, segment, track])


def _positions(start: np.ndarray, windows: Sequence[Segment], tpb: int, resolution: int):
    """Each onset's grid step within its bar, bars counted from its segment's start."""
    _, steps, bar = grid_steps(start, windows, tpb, resolution)
    return np.rint(steps).astype(np.int64) % bar


def _keys(bins, pitches, positions, drums: bool) -> list[list[tuple]]:
    """The look-up keys of each note, most specific first (a key with bin None
    stands for every bin: the nearest level is taken)."""
    if drums:
        return [
            [(b, p, q), (None, p, q), (b, None, q), (None, None, q), (b, p, None),
             (b, None, None)]
            for b, p, q in zip(bins, pitches, positions, strict=True)
        ]  # fmt: skip
    return [
        [(b, None, q), (None, None, q), (b, None, None)]
        for b, q in zip(bins, positions, strict=True)
    ]


def velocity_table(
    part: Score, role: str, resolution: int, num_bins: int, bars: int
) -> dict[tuple, np.ndarray]:
    """The sorted velocities of the style part's notes under every look-up key."""
    notes = part.notes
    if not len(notes):
        return {}
    windows = segments(part, bars)
    bins = velocity_to_bin(notes["velocity"], max(num_bins, 1))
    pos = _positions(notes["start"].astype(np.int64), windows, part.ticks_per_beat, resolution)
    groups: dict[tuple, list[int]] = defaultdict(list)
    velocity = notes["velocity"].astype(np.int64)
    for keys, v in zip(_keys(bins, notes["pitch"], pos, role == "drums"), velocity, strict=True):
        for key in keys:
            groups[key].append(int(v))
    return {key: np.sort(vs) for key, vs in groups.items()}


def _level(levels: np.ndarray, key: tuple, decoded: int, num_bins: int, rng) -> int:
    """A level of `levels` (sorted): under a key with a bin, their median, or with
    `rng` one drawn from them; under a key without, the one nearest `decoded` (the
    lower of two), or with `rng` one drawn from the levels in that one's bin."""
    if key[0] is None:
        nearest = levels[np.argmin(np.abs(levels - decoded))]
        if rng is None:
            return int(nearest)
        bins = velocity_to_bin(levels, num_bins)
        levels = levels[bins == velocity_to_bin(nearest, num_bins)]
    if rng is None:
        return int(np.median(levels))
    return int(levels[rng.integers(len(levels))])


def style_velocities(
    output: Score,
    style: Score,
    windows: Sequence[Segment],
    resolution: int,
    num_bins: int,
    bars: int,
    tracks: Iterable[int] | None = None,
    draw: int | None = None,
) -> Score:
    """`output` with the velocities of its role tracks taken from `style` (see above).

    Args:
        output: A transfer, on the timeline cut into `windows`.
        style: The style example the transfer imitates.
        windows: The segments `output` was decoded in (the content's).
        resolution: Grid steps per beat of the tokenizer.
        num_bins: The tokenizer's velocity bins (0: it has none, so one bin).
        bars: Bars per segment of the style example, as the model cuts it.
        tracks: Output tracks to change (default: every one whose role the style
            example plays); a kept melody is left out by the caller.
        draw: A seed (0 or more): draw each level from the example's levels under
            the note's key (so the example's own spread of levels at a place comes
            back, a seeded humanisation) in place of their median.
    """
    if not len(output.notes) or not windows:
        return output
    notes = output.notes.copy()
    chosen = range(len(output.tracks)) if tracks is None else tracks
    tpb = output.ticks_per_beat
    for i in chosen:
        role = role_of(output.tracks[i])
        part = role_score(style, role)
        table = velocity_table(part, role, resolution, num_bins, bars)
        mine = np.flatnonzero(notes["track"] == i)
        if not table or not len(mine):
            continue
        # The style's grid is in its own ticks; positions are steps, so both agree.
        seg, steps, bar = grid_steps(notes["start"][mine].astype(np.int64), windows, tpb,
                                     resolution)  # fmt: skip
        pos = np.rint(steps).astype(np.int64) % bar
        bins = velocity_to_bin(notes["velocity"][mine], max(num_bins, 1))
        keys = _keys(bins, notes["pitch"][mine], pos, role == "drums")
        cells: dict[int, np.random.Generator] = {}
        for j, options, k in zip(mine, keys, seg, strict=True):
            rng = None
            if draw is not None:
                if k not in cells:
                    cells[k] = cell_generator(draw, 1, int(k), int(i))
                rng = cells[k]
            for key in options:
                if key in table:
                    notes["velocity"][j] = _level(table[key], key, int(notes["velocity"][j]),
                                                  max(num_bins, 1), rng)  # fmt: skip
                    break
    return output.replace(notes=notes)
