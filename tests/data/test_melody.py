"""The band's lead melody: content only, over the chords, in phrases, on the style's grid."""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import pytest

from groove.data import Style, parse_chart, random_chart, render_score
from groove.data.melody import MELODY_PROGRAMS, MELODY_TRACK, REGISTER, beat_steps, chord_scale
from groove.data.segments import content_roll, role_score
from groove.midi.roles import TRANSFER_ROLES, role_of

TPB = 480
# The mix of a new corpus (`groove.data.corpus.STYLE_MIX`).
STYLE_MIX = {"archetype": 0.4, "recombined": 0.3, "generated": 0.3}


def melody_of(score):
    index = [t.name for t in score.tracks].index(MELODY_TRACK)
    notes = score.notes[score.notes["track"] == index]
    return score.tracks[index], notes[np.argsort(notes["start"], kind="stable")]


@pytest.fixture(scope="module")
def takes():
    """60 clean takes of styles with a melody, each over its own chart."""
    out = []
    for seed in range(60):
        style = Style.random(seed, mix=STYLE_MIX, melody=1.0)
        chart = random_chart(500 + seed, meter=style.meter)
        out.append((style, chart, render_score(chart, style, seed, humanise=False)))
    return out


def test_the_melody_is_a_lead_track_that_no_transfer_role_plays(takes):
    for style, _, score in takes:
        track, notes = melody_of(score)
        assert role_of(track) == "other" and track.program in MELODY_PROGRAMS.values()
        assert track.program == style.melody.program and len(notes) > 0
        assert [t.name for t in score.tracks][-1] == "Drums" or not style.drums
        for role in TRANSFER_ROLES:
            assert MELODY_TRACK not in [t.name for t in role_score(score, role).tracks]
    # It is content: the content roll hears it.
    _, notes = melody_of(takes[0][2])
    roll = content_roll(takes[0][2])
    first = notes[0]
    assert roll[round(first["start"] / TPB * 4), first["pitch"]] > 0


def test_beats_hold_chord_tones_and_other_notes_move_by_step(takes):
    on_beat = off_chord = 0
    for style, chart, score in takes:
        _, notes = melody_of(score)
        beat = beat_steps(style.meter) * (0.5 if style.meter == "12/8" else 0.25)
        start = notes["start"] / TPB
        pitch = notes["pitch"].astype(int)
        assert REGISTER[0] <= pitch.min() and pitch.max() <= REGISTER[1]
        assert (notes["start"][1:] >= notes["end"][:-1]).all()  # one note at a time
        for i in range(len(notes)):
            chord = chart.chord_at(start[i])
            tone = pitch[i] % 12 in chord.pitch_classes
            assert pitch[i] % 12 in chord_scale(chart, chord)
            if abs(start[i] / beat - round(start[i] / beat)) < 1e-6:
                assert tone, (style.name, start[i])
                on_beat += 1
            elif not tone:
                # A passing or neighbour tone: a step from the note before it.
                assert i > 0 and abs(pitch[i] - pitch[i - 1]) <= 3, (style.name, start[i])
                off_chord += 1
    assert on_beat > 1000 and off_chord > 100


def test_phrases_breathe_and_some_bars_are_silent(takes):
    silent = bars = breaths = 0
    for _, chart, score in takes:
        _, notes = melody_of(score)
        played = set((notes["start"] / TPB // chart.beats_per_bar).astype(int).tolist())
        assert 0 in played  # the tune starts with the song
        silent += chart.bars - len(played)
        bars += chart.bars
        # A phrase ends on a long note, then rests at least half a bar.
        gaps = (notes["start"][1:] - notes["end"][:-1]) / TPB
        breaths += int((gaps >= chart.beats_per_bar / 2 - 1e-6).sum())
    assert 0.05 < silent / bars < 0.35
    assert breaths > bars / 8  # phrases of 2 or 4 bars


def test_straight_styles_play_the_melody_on_their_grid(takes):
    straight = [(s, sc) for s, _, sc in takes if s.swing == 0.5]
    assert len(straight) > 20
    for style, score in straight:
        step = TPB // 2 if style.meter == "12/8" else TPB // 4
        _, notes = melody_of(score)
        assert (notes["start"] % step == 0).all(), style.name


def test_the_melody_leaves_the_accompaniment_as_it_was():
    chart = parse_chart("| C | Am7 | Dm7 G7 | C |")
    for seed in range(8):
        with_melody = Style.random(seed, mix=STYLE_MIX, melody=1.0)
        without = Style.random(seed, mix=STYLE_MIX)
        assert dataclasses.replace(with_melody, melody=None) == without
        a = render_score(chart, with_melody, 3, humanise=False)
        b = render_score(chart, without, 3, humanise=False)
        keep = a.notes["track"] != [t.name for t in a.tracks].index(MELODY_TRACK)
        assert len(b.notes) == keep.sum()
        assert np.array_equal(a.notes[keep][["start", "end", "pitch", "velocity"]],
                              b.notes[["start", "end", "pitch", "velocity"]])  # fmt: skip


def test_melody_chance_and_json_round_trip():
    styles = [Style.random(seed, mix=STYLE_MIX, melody=0.7) for seed in range(300)]
    share = np.mean([s.melody is not None for s in styles])
    assert 0.62 < share < 0.78
    assert all(Style.random(seed).melody is None for seed in range(50))  # the default: none
    for style in styles[:40]:
        assert Style.from_json(style.to_json()) == style


# Notes and style JSON of old renders, from the code before melodies and clean takes.
OLD_RENDERS = {
    (3, "4/4"): ("414bb6be2793fc4e", "fb8493791ae6b6e6"),
    (5, "3/4"): ("afb8e8a071786cb6", "282eddcb17253020"),
    (8, "12/8"): ("a3c08894b79c5132", "2a3f11a96e11534b"),
}


def test_old_styles_load_and_render_exactly_as_before():
    for (seed, meter), (notes_hash, json_hash) in OLD_RENDERS.items():
        style = Style.random(seed, meter=meter)
        text = style.to_json()
        assert "melody" not in text
        assert hashlib.sha256(text.encode()).hexdigest()[:16] == json_hash
        loaded = Style.from_json(text)
        assert loaded.melody is None
        score = render_score(random_chart(seed, bars=8, meter=meter), loaded, seed + 1)
        assert hashlib.sha256(score.notes.tobytes()).hexdigest()[:16] == notes_hash
