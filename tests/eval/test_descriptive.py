"""Descriptive metrics (muspy's, in beats) and overlapping areas, on hand-computed cases."""

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from groove.eval import (
    METRICS,
    descriptive_metrics,
    drum_pattern_consistency,
    empty_beat_rate,
    groove_consistency,
    intra_inter_overlap,
    overlapping_area,
    pitch_class_entropy,
    pitch_range,
    polyphony,
    polyphony_rate,
    scale_consistency,
)
from groove.midi import TEMPO_DTYPE, TIME_SIGNATURE_DTYPE, Track, load
from tests.conftest import score_of, shared_params

BEAT = 480
PIANO_AND_KIT = [Track(0, False, "piano"), Track(0, True, "kit")]


def note(start, beats=1.0, pitch=60, track=0):
    return (round(start * BEAT), round((start + beats) * BEAT), pitch, 100, track)


def test_pitch_range_ignores_drums():
    notes = [note(0, pitch=60), note(1, pitch=72), note(0, pitch=35, track=1)]
    assert pitch_range(score_of(notes, tracks=PIANO_AND_KIT)) == 12


def test_pitch_class_entropy_on_paper():
    # C, E, G, C: probabilities 1/2, 1/4, 1/4 -> 1.5 bits.
    notes = [note(i, pitch=p) for i, p in enumerate((60, 64, 67, 72))]
    assert pitch_class_entropy(score_of(notes)) == pytest.approx(1.5)
    assert pitch_class_entropy(score_of([note(0)])) == 0.0


def test_scale_consistency_on_paper():
    # The C major scale plus F#: 7 of 8 notes fit C major (or G major).
    notes = [note(i, pitch=p) for i, p in enumerate((60, 62, 64, 65, 66, 67, 69, 71))]
    assert scale_consistency(score_of(notes)) == pytest.approx(7 / 8)


def test_polyphony_and_polyphony_rate_on_paper():
    # A triad for one beat, then one note for one beat.
    notes = [note(0, pitch=p) for p in (60, 64, 67)] + [note(1, pitch=72)]
    score = score_of(notes)
    assert polyphony(score) == pytest.approx(2.0)  # (3 + 1) / 2
    assert polyphony_rate(score) == pytest.approx(0.5)  # more than 2 pitches half the time
    assert polyphony_rate(score, threshold=0) == pytest.approx(1.0)


def test_polyphony_counts_a_pitch_on_two_tracks_once():
    notes = [note(0, pitch=60), note(0, pitch=60, track=1)]
    assert polyphony(score_of(notes, tracks=[Track(0), Track(1)])) == 1.0


def test_empty_beat_rate_on_paper():
    # Notes in beat 0 and beat 3: beats 1 and 2 of 4 are empty. Drums count.
    notes = [note(0, beats=1), note(3, beats=1, pitch=36, track=1)]
    assert empty_beat_rate(score_of(notes, tracks=PIANO_AND_KIT)) == pytest.approx(0.5)


def test_groove_consistency_on_paper():
    same = [note(b) for b in (0, 1.5, 4, 5.5)]
    assert groove_consistency(score_of(same)) == 1.0
    # Bar 2 adds an onset at its beat 3: one of 48 grid steps differs.
    differ = [note(b) for b in (0, 4, 7)]
    assert groove_consistency(score_of(differ)) == pytest.approx(1 - 1 / 48)


def test_groove_consistency_uses_the_time_signature():
    # In 3/4 the onsets at beats 0, 3 and 6 start three identical bars. Read as 4/4,
    # bar 1 has onsets at steps 0 and 36, bar 2 at step 24: 3 of 48 steps differ.
    score = score_of([note(0), note(3), note(6)])
    assert groove_consistency(score) == pytest.approx(1 - 3 / 48)
    waltz = score.replace(time_signatures=np.array([(0, 3, 4)], TIME_SIGNATURE_DTYPE))
    assert groove_consistency(waltz) == 1.0


def test_empty_beat_rate_of_a_silent_note_on_the_last_beat():
    # A zero-length note where the piece ends sounds in no beat (it made an IndexError).
    notes = [note(0, beats=1), note(2, beats=0)]
    assert empty_beat_rate(score_of(notes)) == pytest.approx(0.5)


# Issue 15, item 2: a 36-minute drum file at 1 tick per beat and 1 us per beat is
# 2.16e9 beats; the onset grid and the beat array asked for 16 GiB and more.
LONG_DRUMS = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
from groove.eval import descriptive_metrics
from groove.midi import Track
from tests.conftest import score_of
beats = 2_160_000_000
notes = [(0, 1, 36, 100, 0), (beats, beats + 1, 36, 100, 0), (0, beats + 1, 60, 100, 1)]
score = score_of(notes, tracks=[Track(0, True, "kit"), Track(0, False, "piano")], tpb=1)
print(repr(descriptive_metrics(score)))
"""


def test_metrics_of_a_very_long_piece_need_little_memory():
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", LONG_DRUMS], capture_output=True, text=True,
                         cwd=root, timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    values = eval(out.stdout, {"nan": math.nan})
    beats = 2_160_000_000
    # Onsets at step 0 of the first and of the last bar (48 steps), none between.
    bars = beats * 12 // 48 + 1
    assert values["groove_consistency"] == pytest.approx(1 - 2 / (48 * (bars - 1)))
    assert values["empty_beat_rate"] == 0.0  # the piano holds every beat
    assert values["polyphony"] == 1.0 and values["polyphony_rate"] == 0.0


def test_drum_only_long_piece_counts_its_empty_beats():
    beats = 2_160_000_000
    kit = [Track(0, True, "kit")]
    score = score_of([(0, 1, 36, 100, 0), (beats, beats + 1, 36, 100, 0)], tracks=kit, tpb=1)
    assert empty_beat_rate(score) == pytest.approx(1 - 2 / (beats + 1))
    assert math.isnan(polyphony(score))


def test_drum_pattern_consistency_on_paper():
    # Sixteenths at 0, 1/4, 1/2 and a triplet at 1/3: duple 3/4, triple 2/4.
    notes = [note(b, beats=0.1, pitch=42, track=1) for b in (0, 0.25, 0.5, 1 / 3)]
    assert drum_pattern_consistency(score_of(notes, tracks=PIANO_AND_KIT)) == pytest.approx(0.75)


def test_undefined_metrics_are_nan():
    empty = score_of([])
    assert all(math.isnan(v) for v in descriptive_metrics(empty).values())
    drums_only = score_of([note(0, pitch=36)], tracks=[Track(0, True, "kit")])
    assert math.isnan(pitch_range(drums_only))
    assert math.isnan(groove_consistency(score_of([note(0)])))  # one bar


def test_metrics_do_not_depend_on_tempo_or_resolution():
    rng = np.random.default_rng(3)
    notes = [
        (int(s) * 40, int(s) * 40 + int(d) * 40, int(p), 90, int(t))
        for s, d, p, t in zip(
            rng.integers(0, 400, 150),
            rng.integers(1, 30, 150),
            rng.integers(30, 90, 150),
            rng.integers(0, 2, 150),
        )
    ]
    a = score_of(notes, tracks=PIANO_AND_KIT)
    b = a.resample(960).replace(tempos=np.array([(0, 50.0), (5000, 200.0)], TEMPO_DTYPE))
    for name, value in descriptive_metrics(a).items():
        assert descriptive_metrics(b)[name] == pytest.approx(value), name


def test_overlapping_area_of_same_near_and_far_sets():
    rng = np.random.default_rng(0)
    a = rng.normal(0, 1, 400)
    assert overlapping_area(a, a) == pytest.approx(1.0, abs=1e-6)
    assert overlapping_area(a, rng.normal(0, 1, 400)) > 0.85
    assert overlapping_area(a, rng.normal(50, 1, 400)) < 1e-3
    # Two normals one standard deviation apart overlap by 2 Phi(-1/2) = 0.617.
    assert overlapping_area(rng.normal(0, 1, 4000), rng.normal(1, 1, 4000)) == pytest.approx(
        0.617, abs=0.03
    )
    assert math.isnan(overlapping_area([], a))
    assert overlapping_area([1.0, 1.0, math.nan], [1.0, 1.0]) == pytest.approx(1.0, abs=1e-6)


def test_intra_inter_overlap_separates_populations():
    rng = np.random.default_rng(1)
    a = rng.normal(0, 1, 200)
    assert intra_inter_overlap(a, rng.normal(0, 1, 200)) > 0.85
    assert intra_inter_overlap(a, rng.normal(10, 1, 200)) < 0.05
    assert math.isnan(intra_inter_overlap([1.0], a))


RANGES = {
    "pitch_range": (0, 127),
    "pitch_class_entropy": (0, math.log2(12)),
    "scale_consistency": (0, 1),
    "polyphony": (1, 128),
    "polyphony_rate": (0, 1),
    "empty_beat_rate": (0, 1),
    "groove_consistency": (0, 1),
    "drum_pattern_consistency": (0, 1),
}


@pytest.mark.parametrize("path", shared_params("good"))
def test_real_files_give_values_in_range(path):
    values = descriptive_metrics(load(path))
    assert set(values) == set(METRICS) == set(RANGES)
    for name, value in values.items():
        lo, hi = RANGES[name]
        assert math.isnan(value) or lo <= value <= hi + 1e-9, (name, value)
    piece = load(path)
    if len(piece.notes):
        assert not math.isnan(values["empty_beat_rate"])
