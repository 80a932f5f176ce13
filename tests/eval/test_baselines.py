"""The overlay baseline: the style example looped on top of the content."""

from __future__ import annotations

import numpy as np

from groove.eval.baselines import overlay
from groove.eval.musical import chord_tone_rate
from groove.midi import TIME_SIGNATURE_DTYPE, Track
from tests.conftest import score_of

BASS, KEYS = Track(33, False, "Bass"), Track(0, False, "Piano")


def note(start, beats, pitch, track=0, tpb=480):
    return (round(start * tpb), round((start + beats) * tpb), pitch, 100, track)


def test_the_example_is_looped_by_whole_bars_over_the_content():
    # 8 bars of 4/4 content (an F# major chord per bar), at 480 ticks per beat.
    content = score_of([note(4 * k, 4, p) for k in range(8) for p in (66, 70, 73)],
                       tracks=[KEYS])  # fmt: skip
    # A 2-bar 4/4 bass example at 96 ticks per beat: C on beat 1 of each bar, and a
    # note in bar 2 that would run past the content's end on the last loop.
    style = score_of([note(0, 1, 36, tpb=96), note(4, 1, 36, tpb=96), note(6, 3, 43, tpb=96)],
                     tracks=[BASS], tpb=96)  # fmt: skip
    out = overlay(content, style)
    assert [t.name for t in out.tracks] == ["Piano", "Bass"]
    keys = out.notes[out.notes["track"] == 0]
    assert np.array_equal(np.sort(keys, order=["start", "pitch"]),
                          np.sort(content.notes, order=["start", "pitch"]))  # fmt: skip
    bass = out.notes[out.notes["track"] == 1]
    assert sorted(bass["start"] // 480) == sorted([*range(0, 32, 4), *range(6, 32, 8)])
    assert bass["end"].max() == 32 * 480  # cut at the content's end
    assert out.tempos.tolist() == content.tempos.tolist()
    # The pasted bass does not follow the harmony: C and G are no F# major tones.
    assert chord_tone_rate(out, content) == 24 / 36  # only the content's own notes
    bass_only = out.replace(notes=bass)
    assert chord_tone_rate(bass_only, content) == 0.0


def test_a_three_four_example_loops_every_three_beats():
    content = score_of([note(0, 12, 60)], tracks=[KEYS])
    style = score_of([note(0, 0.5, 48), note(1, 0.5, 55)], tracks=[BASS])
    style.time_signatures = np.array([(0, 3, 4)], TIME_SIGNATURE_DTYPE)
    out = overlay(content, style)
    bass = out.notes[out.notes["track"] == 1]
    assert sorted(bass["start"] / 480) == [0, 1, 3, 4, 6, 7, 9, 10]


def test_an_empty_example_leaves_the_content():
    content = score_of([note(0, 4, 60)], tracks=[KEYS])
    out = overlay(content, score_of([], tracks=[BASS]))
    assert len(out.notes) == 1 and [t.name for t in out.tracks] == ["Piano", "Bass"]
