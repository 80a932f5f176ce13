"""Trivial systems every style-transfer model must beat.

`overlay` pastes the style example, looped bar by bar, on top of the content's own
notes. An audit of the shipped model's test pairs found that this system scores
0.84 content preservation and 0.90 style fit against the targets, far above the
model: Groove2Groove's histogram metrics cannot tell it from a real transfer, so
it is reported beside every model, and the musical checks of `groove.eval.musical`
(chord-tone rate, held notes, continuity) must separate the two. `loop` is the
style example alone, looped the same way.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from groove.midi import Score, make_notes, sort_notes
from groove.midi.notes import as_score


def loop(style: Any, content: Any) -> Score:
    """The style example alone, looped as `overlay` loops it over the content.

    Returns:
        A `Score` on the content's tempo map and time signatures, with the style
        example's tracks and their looped notes only: what the style example would
        play over the whole content (`groove eval transfer` measures part continuity
        against it when there is no ground truth).
    """
    from groove.data.segments import downbeats  # (data owns the bar grid)

    song, example = as_score(content), as_score(style)
    end = song.beats(song.end_tick)
    notes = example.notes
    base = song.replace(notes=notes[:0], tracks=list(example.tracks), repairs=[],
                        source=f"<{example.source} looped over {song.source}>")  # fmt: skip
    if not len(notes) or end <= 0:
        return base
    # Whole bars, up to the end of the bar of the last onset (a note held past it
    # overlaps the next loop, as a tie would).
    bars, lengths = downbeats(example, int(notes["start"].max()) + 1)
    period = float(example.beats(bars[-1]) + lengths[-1])
    start, stop = example.beats(notes["start"]), example.beats(notes["end"])
    loops = np.arange(int(np.ceil(end / period)))[:, None] * period
    start, stop = (start[None, :] + loops).ravel(), (stop[None, :] + loops).ravel()
    keep = start < end
    tpb = song.ticks_per_beat
    looped = make_notes(
        np.rint(start[keep] * tpb),
        np.rint(np.minimum(stop[keep], end) * tpb),
        np.tile(notes["pitch"], len(loops))[keep],
        np.tile(notes["velocity"], len(loops))[keep],
        np.tile(notes["track"], len(loops))[keep],
    )
    return base.replace(notes=sort_notes(looped))


def overlay(content: Any, style: Any) -> Score:
    """The content with the style example played on top of it, looped to its length.

    The example is looped by whole bars (up to the bar line after its last onset,
    from its time signatures) from the content's first beat until the content's
    last note ends; notes that would run past that end are cut there. Times are
    in beats, so the two pieces' resolutions and tempos do not matter.

    Args:
        content, style: Anything `groove.midi.load` reads.

    Returns:
        A `Score` on the content's tempo map: the content's tracks, then the
        style example's tracks.
    """
    song, example = as_score(content), as_score(style)
    if not len(example.notes) or song.end_tick <= 0:
        return song.replace(tracks=[*song.tracks, *example.tracks])
    pasted = loop(example, song)
    notes = pasted.notes.copy()
    notes["track"] += len(song.tracks)
    return song.replace(
        notes=sort_notes(np.concatenate([song.notes, notes])),
        tracks=[*song.tracks, *pasted.tracks],
        repairs=[],
        source=f"<{example.source} overlaid on {song.source}>",
    )
