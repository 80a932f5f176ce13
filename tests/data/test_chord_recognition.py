"""Chord charts read back from MIDI: rendered charts, key estimation, real files."""

import itertools
import math

import numpy as np
import pytest

import groove
from groove.data.charts import METERS, QUALITIES, Chart, parse_chart, random_chart
from groove.data.chord_recognition import chart_from_midi, estimate_key
from groove.errors import ConfigError
from groove.midi import TIME_SIGNATURE_DTYPE, Track
from groove.midi.notes import notes_of
from groove.midi.score import Score
from tests.conftest import SHARED_MIDI, score_of

TPB = 480


def render(chart: Chart) -> Score:
    """Block chords: the chord tones in close position upward from the root above
    middle C, and the bass (the slash note, else the root) an octave below middle C."""
    notes = []
    for chord in chart.chords:
        start = round(chord.start_beat * TPB)
        end = round((chord.start_beat + chord.duration_beats) * TPB)
        for interval in sorted({i % 12 for i in QUALITIES[chord.quality]}):
            notes.append((start, end, 60 + chord.root + interval, 80, 0))
        notes.append((start, end, 48 + chord.bass, 80, 0))
    return score_of(notes)


def with_meter(score: Score, numerator: int, denominator: int) -> Score:
    signature = np.array([(0, numerator, denominator)], TIME_SIGNATURE_DTYPE)
    return score.replace(time_signatures=signature)


def root_accuracy(truth: Chart, found: Chart, step: float = 0.25) -> float:
    """The share of time (sampled every `step` beats) where the roots agree."""
    beats = np.arange(0, truth.duration_beats, step) + step / 2
    return float(np.mean([truth.chord_at(b).root == found.chord_at(b).root for b in beats]))


def assert_valid(chart: Chart, bars: int) -> None:
    assert chart.bars == bars and chart.meter in METERS
    assert chart.mode in ("major", "minor") and 0 <= chart.key < 12
    position = 0.0
    for chord in chart.chords:
        assert chord.start_beat == pytest.approx(position) and chord.duration_beats > 0
        assert chord.quality in QUALITIES and 0 <= chord.root < 12
        assert chord.bass in chord.pitch_classes
        position += chord.duration_beats
    names = [(c.root, c.quality, c.bass) for c in chart.chords]
    assert all(a != b for a, b in itertools.pairwise(names)), "repeats are merged"


def test_a_rendered_chart_with_a_slash_chord_and_a_split_bar_is_recovered_exactly():
    truth = parse_chart("| C | Am7 | Dm7 G7 | C/E - |")
    found = chart_from_midi(render(truth))
    assert found.chords == truth.chords
    assert found.to_text() == "| C | Am7 | Dm7 G7 | C/E |"
    assert (found.meter, found.key, found.mode) == ("4/4", 0, "major")
    assert chart_from_midi(render(truth), chords_per_bar=1).chords[:2] == truth.chords[:2]


def test_same_tones_are_told_apart_by_the_bass():
    truth = parse_chart("| C6 | Am7 | Bm7b5 | Dm6 |")
    assert chart_from_midi(render(truth)).chords == truth.chords


def test_random_charts_are_recovered_with_the_right_root_most_of_the_time():
    accuracies, exact = [], []
    for seed in range(30):
        truth = random_chart(seed, meter="4/4")
        found = chart_from_midi(render(truth))
        assert_valid(found, truth.bars)
        accuracies.append(root_accuracy(truth, found))
        exact.append(found.chords == truth.chords)
    print(f"root accuracy {np.mean(accuracies):.3f}, worst {min(accuracies):.3f}")
    print(f"charts recovered exactly: {sum(exact)} / {len(exact)}")
    assert np.mean(accuracies) >= 0.9 and min(accuracies) >= 0.7


@pytest.mark.parametrize(("meter", "signature"), [("3/4", (3, 4)), ("12/8", (12, 8))])
def test_other_meters_come_from_the_time_signature(meter, signature):
    truth = random_chart(3, meter=meter, bars=8)
    found = chart_from_midi(with_meter(render(truth), *signature), chords_per_bar=1)
    assert found.meter == meter and found.bars == 8
    assert root_accuracy(truth, found) >= 0.75


def test_six_eight_reads_as_twelve_eight_and_odd_meters_as_four_four():
    score = render(parse_chart("| C | G7 |"))
    assert chart_from_midi(with_meter(score, 6, 8)).meter == "12/8"
    odd = chart_from_midi(with_meter(score, 5, 4))
    assert odd.meter == "4/4" and odd.bars == 2


def test_key_of_a_major_scale_and_cadence_and_of_a_minor_piece():
    def piece(scale, cadence):
        notes = [(i * TPB, (i + 1) * TPB, 60 + p, 80, 0) for i, p in enumerate(scale)]
        offset = len(scale) * TPB
        for k, chord in enumerate(cadence):
            start = offset + k * 2 * TPB
            notes += [(start, start + 2 * TPB, p, 80, 0) for p in chord]
        return score_of(notes)

    tonic, subdominant, dominant = (48, 64, 67, 72), (53, 65, 69, 72), (55, 62, 67, 71)
    c_major = piece((0, 2, 4, 5, 7, 9, 11, 12), (tonic, subdominant, dominant, tonic))
    i, iv, v = (45, 64, 69, 72), (50, 65, 69, 74), (52, 64, 68, 71)
    a_minor = piece((9, 11, 12, 14, 16, 17, 20, 21), (i, iv, v, i))  # harmonic minor
    major, minor = chart_from_midi(c_major), chart_from_midi(a_minor)
    assert (major.key, major.mode) == (0, "major")
    assert (minor.key, minor.mode) == (9, "minor")
    assert [c.name for c in minor.chords[-4:]] == ["Am", "Dm", "E", "Am"]


def test_estimate_key_of_profiles_and_of_silence():
    assert estimate_key(np.eye(12)[[2, 6, 9]].sum(0)) == (2, "major")  # D major triad
    assert estimate_key(np.zeros(12)) == (0, "major")


def test_the_bach_chorale_gives_a_chart_in_f_sharp_minor_or_a_major():
    path = groove.example_path("chorale.mid")
    bars = math.ceil(notes_of(path, drums=False).end_beat / 4)
    for chords_per_bar in (1, 2):
        chart = chart_from_midi(path, chords_per_bar=chords_per_bar)
        assert_valid(chart, bars)
        assert (chart.key, chart.mode) in {(6, "minor"), (9, "major")}


def test_a_shared_multitrack_song_gives_a_chart():
    path = SHARED_MIDI / "miditok" / "multitrack" / "Funkytown.mid"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    chart = chart_from_midi(path)
    assert chart.chords and all(c.quality in QUALITIES for c in chart.chords)
    assert chart_from_midi(path, max_bars=8).bars == 8


def test_silent_windows_hold_the_chord_around_them():
    notes = [(4 * TPB, 6 * TPB, p, 80, 0) for p in (57, 60, 64)]  # Am on beats 4-6 only
    notes += [(10 * TPB, 12 * TPB, p, 80, 0) for p in (55, 59, 62, 65)]  # G7 on beats 10-12
    chart = chart_from_midi(score_of(notes))
    assert [(c.start_beat, c.duration_beats, c.name) for c in chart.chords] == [
        (0.0, 10.0, "Am"),
        (10.0, 2.0, "G7"),
    ]


def test_no_pitched_notes_and_bad_options_raise_config_error():
    with pytest.raises(ConfigError, match="no pitched notes"):
        chart_from_midi(score_of([]))
    drums = score_of([(0, 480, 36, 100, 0), (480, 960, 38, 100, 0)], [Track(0, True, "kit")])
    with pytest.raises(ConfigError, match="no pitched notes"):
        chart_from_midi(drums)
    score = render(parse_chart("| C |"))
    for options in (
        {"chords_per_bar": 0},
        {"meter": "7/8"},
        {"qualities": ["m", "weird"]},
        {"max_bars": 0},
    ):
        with pytest.raises(ConfigError):
            chart_from_midi(score, **options)


def test_a_huge_offset_reads_only_max_bars():
    notes = [(0, 4 * TPB, p, 80, 0) for p in (48, 64, 67)] + [(10**9, 10**9 + TPB, 60, 80, 0)]
    chart = chart_from_midi(score_of(notes), max_bars=16)
    assert chart.bars == 16 and [c.name for c in chart.chords] == ["C"]
    with pytest.raises(ConfigError, match="max_bars"):
        chart_from_midi(score_of([(10**9, 10**9 + TPB, 60, 80, 0)]), max_bars=4)
