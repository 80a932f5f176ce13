"""Styles and the procedural band: determinism, serialisation, diversity, consistency."""

import numpy as np
import pytest

from groove.data.band import render, render_score, voicing
from groove.data.charts import Chord, parse_chart, random_chart
from groove.data.styles import GRIDS, Style
from groove.errors import ConfigError
from groove.eval import style_profiles, style_similarity
from groove.midi import load, to_bytes
from groove.midi.roles import PITCHED_ROLES

N_STYLES = 24


def test_styles_are_deterministic_and_distinct():
    assert Style.random(5) == Style.random(5)
    styles = [Style.random(seed) for seed in range(400)]
    assert len({s.to_json() for s in styles}) == 400
    assert len({s.name.split("-")[0].split("+")[0] for s in styles}) == 18  # every archetype
    assert {s.meter for s in styles} == set(GRIDS)


def test_style_json_round_trip():
    for seed in range(50):
        style = Style.random(seed)
        assert Style.from_json(style.to_json()) == style
    with pytest.raises(ConfigError, match="not a groove style"):
        Style.from_dict({"name": "x"})


def test_meter_filter():
    for seed in range(20):
        assert Style.random(seed, meter="3/4").meter == "3/4"
    with pytest.raises(ConfigError):
        Style.random(0, meter="7/8")


def test_render_is_deterministic_and_seeds_vary_the_take():
    style = Style.random(3)
    chart = random_chart(3, meter=style.meter, bars=8)
    a, b = render_score(chart, style, seed=1), render_score(chart, style, seed=1)
    assert to_bytes(a) == to_bytes(b)
    c = render_score(chart, style, seed=2)
    assert not np.array_equal(a.notes, c.notes)


def test_render_has_named_tracks_programs_tempo_and_meter():
    style = Style.random(1, meter="4/4")
    chart = random_chart(1, meter="4/4", bars=8)
    pm = render(chart, style, seed=0)
    names = [i.name for i in pm.instruments]
    expected = [
        n for r, n in zip(PITCHED_ROLES, ("Bass", "Piano", "Guitar", "Strings")) if r in style.parts
    ]
    assert names == expected + (["Drums"] if style.drums else [])
    for instrument in pm.instruments:
        assert instrument.notes, instrument.name
        if instrument.name == "Drums":
            assert instrument.is_drum
    tempo = pm.get_tempo_changes()[1][0]
    assert tempo == pytest.approx(style.tempo, rel=1e-3)
    assert pm.time_signature_changes[0].numerator == 4
    # The piece lasts the chart: 8 bars of 4 beats, give or take a held note.
    assert pm.get_end_time() == pytest.approx(32 * 60 / style.tempo, rel=0.05)
    score = load(pm)
    assert len(score.notes) == sum(len(i.notes) for i in pm.instruments)


def test_bass_plays_the_chart_roots_on_downbeats():
    chart = parse_chart("| C | F | G7 | Am |")
    for seed in range(10):
        style = Style.random(seed, meter="4/4")
        if "bass" not in style.parts or style.humanize_time > 0.02:
            continue
        score = render_score(chart, style, 0)
        bass = score.notes[score.notes["track"] == 0]
        beats = bass["start"] / score.ticks_per_beat
        for bar, root in enumerate((0, 5, 7, 9)):
            first = bass[np.abs(beats - 4 * bar) < 0.1]
            if len(first):
                assert first["pitch"][0] % 12 in (root, (root + 7) % 12, (root - 1) % 12), seed


def test_voicings_hold_the_chord_tones_in_register():
    chord = Chord(0, 4, 2, "m7", 2)  # Dm7
    for kind in ("close", "open", "spread", "shell"):
        pitches = voicing(chord, kind, (48, 76))
        assert {p % 12 for p in pitches} <= {2, 5, 9, 0}
        assert 2 in {p % 12 for p in pitches}
    rootless = voicing(chord, "rootless", (48, 76))
    assert 2 not in {p % 12 for p in rootless} and {5, 0} <= {p % 12 for p in rootless}
    assert voicing(chord, "power", (40, 64)) == [50, 57, 62]
    slash = voicing(Chord(0, 4, 0, "", 4), "close", (55, 76))
    assert min(slash) % 12 == 4  # C/E: E in the bass


@pytest.fixture(scope="module")
def profiles():
    """Profiles of 4 renders (different charts and seeds) of each of N_STYLES styles."""
    out = []
    for i in range(N_STYLES):
        style = Style.random(i)
        takes = []
        for k in range(4):
            chart = random_chart(1000 + 10 * i + k, meter=style.meter, bars=8)
            takes.append(style_profiles(render_score(chart, style, k), roles=("all", "drums")))
        out.append(takes)
    return out


def similarity(a, b) -> float:
    values = [style_similarity(a[k], b[k]) for k in a]
    return float(np.nanmean([v for v in values if not np.isnan(v)]))


def test_same_style_is_similar_and_different_styles_are_not(profiles):
    same = [similarity(t[a], t[b]) for t in profiles for a in range(4) for b in range(a + 1, 4)]
    different = [
        similarity(profiles[i][0], profiles[j][0])
        for i in range(N_STYLES)
        for j in range(i + 1, N_STYLES)
    ]
    assert np.mean(same) > 0.75
    assert np.mean(different) < 0.45
    assert np.mean(same) - np.mean(different) > 0.4


def test_nearest_neighbour_recognises_the_style_of_held_out_renders(profiles):
    correct = 0
    for i in range(N_STYLES):
        for take in range(1, 4):
            scores = [similarity(profiles[i][take], profiles[j][0]) for j in range(N_STYLES)]
            correct += int(np.argmax(scores) == i)
    accuracy = correct / (3 * N_STYLES)
    assert accuracy > 0.8  # chance is 1/24
