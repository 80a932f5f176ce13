"""The style example's feel: micro-timing and note lengths off the decoder's grid.

The transfer tokenizers place every onset and length on a grid (`DurationTokenizer`:
1/12 beat). A style example is rarely on it: a swung or laid-back part strikes a
few ticks late, a staccato bass holds 96% of an eighth, strummed chords spread over
a few ticks. Decoded on the grid, such a part keeps the example's rhythm but loses
its feel, and a length of 0.32 beat comes back as 0.33. The model is asked only for
the grid step; the exact place within it is a fact of the style example, read from
it at decoding time, as a DAW's groove template supplies timing and length (and
`groove.models.transfer.dynamics` supplies the velocity).

`style_feel` moves each decoded note by the median offset from the grid of the style
part's notes at the same grid position in a bar of the same length (drums: of the
same sound where the part has it there), and gives a pitched note the median exact
length of the part's notes of the same grid length, at the same position where the
part has such notes there:

    timing:  (bar, position, sound) -> (bar, position) -> (beat phase, sound)
             -> (beat phase)
    length:  (grid length, bar, position) -> (grid length)

A note with no match keeps its time or length. With a seed (`draw`;
`groove.transfer` passes one when it samples), each offset and length is drawn from
those notes instead of taking their median, so the example's own spread comes back
too: a seeded humanisation that the model is never asked to predict (issue 14 moved
the jitter out of what the model learns). Each (segment, track) draws from its own
generator (`groove.models.transfer.dynamics.cell_generator`), so a change in one
part leaves every other part's draws as they were. Every offset and length lies
within half a grid step of the decoded one (each value rounds to it), so the step
never overrides a choice the model made. A note stays inside its segment and ends
before the next note of its pitch in its track starts: the decoding rules'
guarantees (no note sounds past the segment's end, none overlaps itself) still hold.

Plain table look-up, written here for the reason `dynamics` is: no MIDI library
offers "take the feel of this example" (pretty_midi, symusic and miditok quantise;
none transfers a groove).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np

from groove.data.segments import Segment, role_score, segments
from groove.midi import Score, sort_notes
from groove.midi.roles import role_of
from groove.models.transfer.dynamics import cell_generator, grid_steps


def _timing_keys(bar: int, position: int, sound: int | None, resolution: int) -> tuple:
    """The timing look-up keys of a note, most specific first."""
    phase = position % resolution
    return (("bar", bar, position, sound), ("bar", bar, position, None),
            ("beat", phase, sound), ("beat", phase, None))  # fmt: skip


def _pick(values: np.ndarray, rng: np.random.Generator | None) -> float:
    """The median of `values`, or with `rng` one of them drawn at random."""
    if rng is None:
        return float(np.median(values))
    return float(values[rng.integers(len(values))])


def feel_tables(
    part: Score, resolution: int, bars: int
) -> tuple[dict[tuple, np.ndarray], dict[tuple, np.ndarray]]:
    """`(timing, length)` look-up tables of a style part: the offsets from the grid
    (in steps, within half a step) and the exact lengths (in steps) of its notes
    under every key of the module docstring."""
    notes = part.notes
    if not len(notes):
        return {}, {}
    drums = bool(part.tracks and part.tracks[0].is_drum)
    tpb = part.ticks_per_beat
    windows = segments(part, bars)
    _, steps, bar = grid_steps(notes["start"].astype(np.int64), windows, tpb, resolution)
    step = np.rint(steps).astype(np.int64)
    offset = steps - step
    position = step % bar
    exact = (notes["end"] - notes["start"]).astype(np.float64) * resolution / tpb
    grid_length = np.maximum(np.rint(exact), 1).astype(np.int64)
    timing: dict[tuple, list[float]] = defaultdict(list)
    length: dict[tuple, list[float]] = defaultdict(list)
    for b, q, o, g, e, p in zip(bar, position, offset, grid_length, exact, notes["pitch"],
                                strict=True):  # fmt: skip
        sound = int(p) if drums else None
        for key in set(_timing_keys(b, q, sound, resolution)):
            timing[key].append(o)
        length[g, b, q].append(e)
        length[g, None, None].append(e)
    return ({key: np.asarray(v) for key, v in timing.items()},
            {key: np.asarray(v) for key, v in length.items()})  # fmt: skip


def style_feel(
    output: Score,
    style: Score,
    windows: Sequence[Segment],
    resolution: int,
    bars: int,
    tracks: Iterable[int] | None = None,
    draw: int | None = None,
) -> Score:
    """`output` with the micro-timing and note lengths of `style` (see above).

    Args:
        output: A transfer, decoded on the grid, on the timeline cut into `windows`.
        style: The style example the transfer imitates.
        windows: The segments `output` was decoded in (the content's).
        resolution: Grid steps per beat of the tokenizer.
        bars: Bars per segment of the style example, as the model cuts it.
        tracks: Output tracks to change (default: every one whose role the style
            example plays); a kept melody is left out by the caller.
        draw: A seed (0 or more): draw each offset and length from the example's
            notes under the note's key (so the example's own spread comes back, a
            seeded humanisation) in place of their median.
    """
    if not len(output.notes) or not windows:
        return output
    notes = output.notes.copy()
    tpb = output.ticks_per_beat
    tick = tpb / resolution  # ticks per grid step
    seg_start = np.array([w.start for w in windows], np.int64)
    seg_end = np.array([w.end for w in windows], np.int64)
    changed = False
    for i in range(len(output.tracks)) if tracks is None else tracks:
        role = role_of(output.tracks[i])
        timing, length = feel_tables(role_score(style, role), resolution, bars)
        mine = np.flatnonzero(notes["track"] == i)
        if not timing or not len(mine):
            continue
        drums = output.tracks[i].is_drum
        k, steps, bar = grid_steps(notes["start"][mine].astype(np.int64), windows, tpb, resolution)
        position = np.rint(steps).astype(np.int64) % bar
        shift = np.zeros(len(mine))
        cells: dict[int, np.random.Generator] = {}
        new_length = (notes["end"][mine] - notes["start"][mine]).astype(np.float64) / tick
        for n, (j, b, q, seg) in enumerate(zip(mine, bar, position, k, strict=True)):
            rng = None
            if draw is not None:
                if seg not in cells:
                    cells[seg] = cell_generator(draw, 2, int(seg), int(i))
                rng = cells[seg]
            sound = int(notes["pitch"][j]) if drums else None
            for key in _timing_keys(b, q, sound, resolution):
                if key in timing:
                    shift[n] = _pick(timing[key], rng)
                    break
            if drums:
                continue
            g = max(round(new_length[n]), 1)
            for key in ((g, b, q), (g, None, None)):
                if key in length:
                    new_length[n] = _pick(length[key], rng)
                    break
        lo, hi = seg_start[k], seg_end[k]
        start = np.clip(notes["start"][mine] + np.rint(shift * tick).astype(np.int64), lo, hi - 1)
        end = np.clip(start + np.maximum(np.rint(new_length * tick), 1).astype(np.int64),
                      start + 1, hi)  # fmt: skip
        notes["start"][mine], notes["end"][mine] = start, end
        changed = True
    if not changed:
        return output
    notes = sort_notes(notes)
    _no_self_overlap(notes)
    return output.replace(notes=notes)


def _no_self_overlap(notes: np.ndarray) -> None:
    """End each note (in place) by the next onset of its pitch in its track, as
    decoding had it: a move of a fraction of a step must not make a note overlap
    the next one of the same key."""
    order = np.lexsort((notes["start"], notes["pitch"], notes["track"]))
    same = (notes["track"][order][1:] == notes["track"][order][:-1]) & (
        notes["pitch"][order][1:] == notes["pitch"][order][:-1]
    )
    first, nxt = order[:-1][same], order[1:][same]
    limit = np.maximum(notes["start"][nxt], notes["start"][first] + 1)
    notes["end"][first] = np.minimum(notes["end"][first], limit)
