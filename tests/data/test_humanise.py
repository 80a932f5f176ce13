"""humanise: seeded, bounded timing and velocity jitter that keeps every note and its order."""

from __future__ import annotations

import numpy as np
import pytest

from groove.data import Style, random_chart, render_score
from groove.data.humanise import humanise
from groove.errors import ConfigError
from groove.midi import Track
from tests.conftest import score_of

TPB = 480


def band_take():
    style = Style.random(4, meter="4/4")
    return render_score(random_chart(4, bars=8, meter="4/4"), style, 0, humanise=False)


def per_track(score):
    """Each track's (onset order) pitch sequence."""
    n = score.notes
    out = {}
    for track in np.unique(n["track"]).tolist():
        mine = n[n["track"] == track]
        out[track] = mine[np.lexsort((mine["pitch"], mine["start"]))]
    return out


def test_the_same_seed_gives_the_same_take_and_another_seed_another():
    score = band_take()
    a, b, c = humanise(score, 1), humanise(score, 1), humanise(score, 2)
    assert np.array_equal(a.notes, b.notes)
    assert not np.array_equal(a.notes["start"], c.notes["start"])
    assert not np.array_equal(a.notes["velocity"], c.notes["velocity"])
    assert not np.array_equal(a.notes, score.notes)


def test_every_onset_and_velocity_moves_within_the_stated_amount():
    score = band_take()
    before = per_track(score)
    timing, velocity = 0.03, 10
    after = per_track(humanise(score, 7, timing=timing, velocity=velocity))
    assert sum(map(len, after.values())) == len(score.notes)
    moved = 0
    for track, old in before.items():
        new = after[track]
        # Same notes, same order of pitches within the track; drums and pitched alike.
        assert new["pitch"].tolist() == old["pitch"].tolist()
        shift = new["start"].astype(int) - old["start"].astype(int)
        assert np.abs(shift).max() <= timing * TPB
        assert np.abs(new["velocity"].astype(int) - old["velocity"].astype(int)).max() <= velocity
        assert ((new["velocity"] >= 1) & (new["velocity"] <= 127)).all()
        moved += int((shift != 0).sum())
        assert (shift != 0).any(), track
    assert moved > 0.5 * len(score.notes)


def test_a_chord_moves_as_one_and_no_two_notes_of_a_track_swap():
    # A C major triad on every 16th: chord notes share an onset, neighbours are 120 ticks apart.
    notes = [(k * 120, k * 120 + 100, p, 80, 0) for k in range(32) for p in (60, 64, 67)]
    notes += [(k * 120, k * 120 + 60, 42, 90, 1) for k in range(32)]
    score = score_of(notes, tracks=[Track(0, False, "Piano"), Track(0, True, "Drums")])
    out = humanise(score, 3, timing=0.5, velocity=0)  # far more than half a 16th
    chords = out.notes[out.notes["track"] == 0]
    starts = chords["start"].reshape(32, 3)
    assert (starts == starts[:, :1]).all()
    assert (np.diff(starts[:, 0].astype(int)) > 0).all()  # still in order
    assert sorted(out.notes["velocity"].tolist()) == sorted(score.notes["velocity"].tolist())
    hats = out.notes[out.notes["track"] == 1]["start"].astype(int)
    assert (np.diff(hats) > 0).all()


def test_no_note_moves_before_zero_or_overlaps_its_next_repeat_or_gets_too_short():
    # Legato repeats of one pitch (each ends where the next starts) and a note at 0.
    notes = [(k * TPB, (k + 1) * TPB, 62, 80, 0) for k in range(16)]
    notes += [(0, 20, 70, 80, 0)]  # shorter than min_duration already
    score = score_of(notes)
    for seed in range(20):
        out = humanise(score, seed, timing=0.2, min_duration=0.25)
        n = out.notes
        assert n["start"].min() >= 0
        repeats = n[n["pitch"] == 62]
        assert (repeats["end"][:-1] <= repeats["start"][1:]).all()
        assert ((repeats["end"] - repeats["start"]) >= 0.25 * TPB).all()
        short = n[n["pitch"] == 70]
        assert short["end"][0] - short["start"][0] == 20  # kept its own length


def test_zero_amounts_change_nothing_and_bad_amounts_are_refused():
    score = band_take()
    assert np.array_equal(humanise(score, 5, timing=0, velocity=0).notes, score.notes)
    assert len(humanise(score_of([]), 0).notes) == 0
    with pytest.raises(ConfigError):
        humanise(score, 0, timing=-0.1)


def test_render_humanise_option_keeps_the_old_takes_and_renders_clean_ones():
    style = Style.random(3)
    chart = random_chart(3, meter=style.meter, bars=8)
    old, clean = render_score(chart, style, 1), render_score(chart, style, 1, humanise=False)
    assert np.array_equal(render_score(chart, style, 1, humanise=True).notes, old.notes)
    assert len(old.notes) == len(clean.notes)
    # Clean: drums on the grid (16ths here, or the style's swung 8ths), velocities as written.
    assert style.swing == 0.5 and style.humanize_time > 0
    drums = clean.notes[clean.notes["track"] == len(clean.tracks) - 1]
    assert (drums["start"] % (TPB // 4) == 0).all()
    assert not (old.notes["start"] % (TPB // 4) == 0).all()
