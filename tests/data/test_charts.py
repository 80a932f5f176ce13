"""Chord charts: the generator's range and determinism, and the text format."""

import collections

import pytest

from groove.data.charts import (
    METERS,
    QUALITIES,
    Chart,
    Chord,
    parse_chart,
    parse_chord_name,
    random_chart,
)
from groove.errors import ConfigError

SEEDS = range(600)


@pytest.fixture(scope="module")
def charts():
    return [random_chart(seed) for seed in SEEDS]


def test_same_seed_same_chart_and_different_seeds_differ(charts):
    assert random_chart(17) == random_chart(17)
    assert len({c.to_text() for c in charts}) > 0.95 * len(charts)


def test_charts_cover_keys_modes_meters_and_lengths(charts):
    assert {c.meter for c in charts} == set(METERS)
    assert {c.mode for c in charts} == {"major", "minor"}
    assert {c.key for c in charts} == set(range(12))
    assert {c.bars for c in charts} == {8, 12, 16, 24, 32}


def test_charts_use_many_qualities_slash_chords_and_two_harmonic_rhythms(charts):
    qualities = collections.Counter(ch.quality for c in charts for ch in c.chords)
    for quality in ("", "m", "7", "maj7", "m7", "6", "9", "sus2", "7sus4", "dim", "aug", "m7b5"):
        assert qualities[quality] > 0, quality
    assert any(ch.bass != ch.root for c in charts for ch in c.chords)
    half_bar = [
        c for c in charts if any(ch.duration_beats == c.beats_per_bar / 2 for ch in c.chords)
    ]
    assert half_bar and any(c.meter == "4/4" for c in half_bar)


def test_chords_tile_the_chart_and_end_on_the_tonic(charts):
    for c in charts:
        position = 0.0
        for chord in c.chords:
            assert chord.start_beat == pytest.approx(position) and chord.duration_beats > 0
            position += chord.duration_beats
        assert position == pytest.approx(c.bars * c.beats_per_bar)
        last = c.chords[-1]
        assert last.root == c.key
        assert (QUALITIES[last.quality][1] == 3) == (c.mode == "minor")


def test_blues_form_on_paper():
    blues = [
        c
        for c in (random_chart(s, bars=12, meter="4/4", mode="major") for s in range(200))
        if all(ch.quality in ("7", "9") for ch in c.chords[:-1])
    ]
    assert blues, "no twelve-bar blues among 200 charts"
    chart = blues[0]
    # Bar 5 is the IV chord of the key in both blues forms.
    assert chart.chord_at(4 * 4 + 0.5).root == (chart.key + 5) % 12


def test_text_round_trip(charts):
    for c in charts:
        assert parse_chart(c.to_text(), c.meter, c.key, c.mode) == c


def test_text_format_on_paper():
    chart = parse_chart("| C | Am7 | Dm7 G7 | C/E - | % |")
    assert chart.chords == (
        Chord(0, 4, 0, "", 0),
        Chord(4, 4, 9, "m7", 9),
        Chord(8, 2, 2, "m7", 2),
        Chord(10, 2, 7, "7", 7),
        Chord(12, 4, 0, "", 4),
        Chord(16, 4, 0, "", 4),
    )
    assert chart.bars == 5 and chart.chords[4].name == "C/E"
    assert chart.chords[4].pitch_classes == (4, 0, 7)
    waltz = parse_chart("| F#m | Bbmaj7 |", meter="3/4")
    assert waltz.chords[1] == Chord(3, 3, 10, "maj7", 10)
    assert isinstance(waltz, Chart)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("C", (0, "", 0)),
        ("F#m7", (6, "m7", 6)),
        ("Bbmaj7/D", (10, "maj7", 2)),
        ("Ebø", (3, "m7b5", 3)),
    ],
)
def test_chord_names(name, expected):
    assert parse_chord_name(name) == expected


@pytest.mark.parametrize("text", ["| C | H7 |", "| C || G |", "| - | C |", "| Cxyz |"])
def test_bad_text_is_a_clear_error(text):
    with pytest.raises(ConfigError):
        parse_chart(text)


def test_bad_arguments_are_refused():
    with pytest.raises(ConfigError, match="meter"):
        random_chart(0, meter="5/4")
    with pytest.raises(ConfigError, match="mode"):
        random_chart(0, mode="dorian")
