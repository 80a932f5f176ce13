"""Musical checks against hand-computed values: onset phase, chord tones, held notes,
part continuity."""

from __future__ import annotations

import math

import numpy as np
import pytest

from groove.errors import ConfigError
from groove.eval.musical import (
    chord_tone_rate,
    duration_limit,
    held_note_rate,
    onset_phase_similarity,
    part_continuity,
)
from groove.midi import TIME_SIGNATURE_DTYPE, Track
from tests.conftest import score_of

BEAT = 480
BASS, KEYS, DRUMS = Track(33, False, "Bass"), Track(0, False, "Piano"), Track(0, True, "Drums")


def note(start, beats=0.5, pitch=60, track=0, velocity=100):
    return (round(start * BEAT), round((start + beats) * BEAT), pitch, velocity, track)


def test_onset_phase_within_the_beat():
    eighths = score_of([note(b / 2) for b in range(16)])  # on and off the beat
    quarters = score_of([note(b) for b in range(8)])  # on the beat only
    offbeats = score_of([note(b + 0.5) for b in range(8)])  # off the beat only
    assert onset_phase_similarity(eighths, eighths) == pytest.approx(1.0)
    assert onset_phase_similarity(quarters, offbeats) == 0.0
    # Histograms (8, 8) against (8, 0) over the two occupied bins: cos = 1 / sqrt(2).
    assert onset_phase_similarity(eighths, quarters) == pytest.approx(1 / math.sqrt(2))
    # Triplets land in bins 0, 4 and 8 exactly (no float slip into bins 3 and 7).
    triplets = score_of([note(b / 3, 1 / 3) for b in range(12)])
    straight_thirds = score_of([note(b + k / 3, 0.25) for b in range(4) for k in range(3)])
    assert onset_phase_similarity(triplets, straight_thirds) == pytest.approx(1.0)
    assert math.isnan(onset_phase_similarity(score_of([]), quarters))


def test_onset_phase_within_the_bar_uses_the_time_signature():
    backbeat = [note(b) for b in range(1, 16, 2)]  # beats 2 and 4 of each 4/4 bar
    four = score_of(backbeat)
    assert onset_phase_similarity(four, four, unit="bar") == pytest.approx(1.0)
    # The same onsets read in 3/4 fall on other beats of the bar: less alike.
    three = score_of(backbeat)
    three.time_signatures = np.array([(0, 3, 4)], TIME_SIGNATURE_DTYPE)
    assert onset_phase_similarity(four, three, unit="bar") < 0.8
    # Whatever the meter, the beat phase is the same.
    assert onset_phase_similarity(four, three, unit="beat") == pytest.approx(1.0)
    with pytest.raises(ConfigError, match="unit"):
        onset_phase_similarity(four, four, unit="bars")


def test_chord_tone_rate_follows_the_chord_of_the_moment():
    # Content: C major (C E G) for beats 0-4, then F major (F A C) for beats 4-8.
    content = score_of(
        [note(0, 4, p) for p in (60, 64, 67)] + [note(4, 4, p) for p in (65, 69, 72)]
    )
    # E and G in the first bar, A in the second: chord tones; E in the second: not
    # (it belongs to the piece, but not to the chord sounding then).
    out = score_of([note(1, 0.5, 52), note(2, 0.5, 43), note(5, 0.5, 57), note(6, 0.5, 40)])
    assert chord_tone_rate(out, content) == pytest.approx(3 / 4)
    # Within the window the next chord counts too: an A at beat 3.75 sounds against
    # C major, a quarter beat before F major comes in.
    early = score_of([note(3.75, 0.25, 57)])
    assert chord_tone_rate(early, content, window=0.5) == 1.0
    assert chord_tone_rate(early, content, window=0.0) == 0.0
    # Drums are not notes with a pitch class.
    drums = score_of([note(1, 0.1, 42, track=0)], tracks=[DRUMS])
    assert math.isnan(chord_tone_rate(drums, content))
    with pytest.raises(ConfigError, match="window"):
        chord_tone_rate(out, content, window=-1)


def test_held_notes_against_the_style_durations():
    style = score_of([note(b, 0.5) for b in range(19)] + [note(19, 2.0)])
    # 95th percentile of 19 x 0.5 and one 2.0: 0.5 + 0.05 * (2.0 - 0.5) = 0.575 beats.
    assert duration_limit(style) == pytest.approx(0.575)
    assert duration_limit(style, factor=1.5) == pytest.approx(0.8625)
    out = score_of([note(0, 0.5), note(1, 0.5), note(2, 8.0), note(10, 0.7)])
    assert held_note_rate(out, duration_limit(style)) == pytest.approx(2 / 4)
    assert held_note_rate(out, 10.0) == 0.0
    # Past the limit by less than a 1/12-beat grid step is timing, not a held note:
    # a quantised 2-step staccato against a style's 0.138-beat sixteenths.
    staccato = score_of([note(b / 2, 2 / 12) for b in range(8)])
    assert held_note_rate(staccato, 0.138) == 0.0
    assert held_note_rate(staccato, 0.138, tolerance=0.0) == 1.0
    assert held_note_rate(staccato, 0.08) == 1.0  # more than a step longer: held
    assert math.isnan(held_note_rate(score_of([]), 1.0))
    assert math.isnan(duration_limit(score_of([])))


def test_part_continuity_counts_the_bars_a_part_drops_out():
    # Reference: bass in all 4 bars of 4/4, drums in bars 1-2, keys in bar 4 only.
    reference = score_of(
        [note(4 * k, 1, 36, 0) for k in range(4)]
        + [note(4 * k + 1, 0.1, 38, 1) for k in range(2)]
        + [note(12.5, 1, 60, 2)],
        tracks=[BASS, DRUMS, KEYS],
    )
    # Output: bass stops after bar 2; drums play bars 1-4; a held keys note from bar
    # 3 sounds into bar 4; no guitar, and no role the reference lacks is scored.
    output = score_of(
        [note(0, 1, 36, 0), note(4, 1, 36, 0)]
        + [note(4 * k, 0.1, 42, 1) for k in range(4)]
        + [note(9, 6, 64, 2)],
        tracks=[BASS, DRUMS, KEYS],
    )
    assert part_continuity(output, reference) == {"bass": 0.5, "drums": 1.0, "keys": 1.0}
    assert part_continuity(reference, reference) == {"bass": 1.0, "drums": 1.0, "keys": 1.0}


def test_held_notes_and_limits_per_role():
    bass, keys = [note(b, 0.5, 36, 0) for b in range(8)], [note(b, 4.0, 60, 1) for b in (0, 4)]
    style = score_of(bass + keys, tracks=[BASS, KEYS])
    assert duration_limit(style, role="bass") == pytest.approx(0.5)
    assert duration_limit(style, role="keys") == pytest.approx(4.0)
    assert math.isnan(duration_limit(style, role="guitar"))
    # A 2-beat bass note is held against the bass's limit, not against the keys'.
    out = score_of([note(0, 2.0, 36, 0), note(2, 0.5, 36, 0), note(0, 2.0, 60, 1)],
                   tracks=[BASS, KEYS])  # fmt: skip
    assert held_note_rate(out, duration_limit(style, role="bass"), role="bass") == 0.5
    assert held_note_rate(out, duration_limit(style, role="keys"), role="keys") == 0.0
    assert math.isnan(held_note_rate(out, 1.0, role="guitar"))
    assert math.isnan(held_note_rate(out, float("nan")))  # no limit: no answer, not 0
