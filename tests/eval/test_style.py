"""Style profiles and style similarity: bins, mass, tempo invariance, roles."""

import math

import numpy as np
import pytest

from groove.errors import ConfigError
from groove.eval import (
    KINDS,
    ROLE_KINDS,
    pool_profiles,
    role_of,
    style_fit,
    style_profile,
    style_profiles,
    style_similarity,
)
from groove.eval.style import (
    MAX_PAIRS,
    TRANSFER_ROLE_KINDS,
    excluded_roles,
    playable,
    transfer_profiles,
)
from groove.midi import TEMPO_DTYPE, TIME_SIGNATURE_DTYPE, Track, load
from tests.conftest import SHARED_MIDI, score_of, shared_params

BEAT = 480
STEP = BEAT // 6  # one 1/6-beat bin


def note(start_beats, beats=0.5, pitch=60, velocity=100, track=0):
    return (round(start_beats * BEAT), round((start_beats + beats) * BEAT), pitch, velocity, track)


def test_every_velocity_from_0_to_127_is_counted_in_its_bin():
    notes = [note(0, velocity=v) for v in range(128)]
    profile = style_profile(score_of(notes), "onset_velocity")
    assert profile.total == 128
    assert profile.y_edges[0] == 0 and profile.y_edges[-1] == 128
    # 16 velocities per bin; 112-127 (dropped by Groove2Groove's edges) in the last.
    np.testing.assert_array_equal(profile.counts[0], [16] * 8)


def test_values_on_bin_edges_are_counted_once_in_the_upper_bin():
    # Onsets exactly on 1/6-beat edges, with a resolution where 1/6 beat is not a
    # whole number of ticks in binary floating point (tpb 96: 16 ticks; 1/6 = 0.1666...).
    tpb = 96
    starts = [k * tpb // 6 for k in range(24)]
    notes = [(s, s + tpb // 6, 60, 100, 0) for s in starts]
    profile = style_profile(score_of(notes, tpb=tpb), "onset_duration")
    assert profile.total == 24
    # Each onset in its own position bin, each duration (exactly 1/6 beat) in bin 1.
    np.testing.assert_array_equal(profile.counts[:, 1], np.ones(24))


def test_durations_past_two_beats_land_in_the_last_bin():
    notes = [note(0, beats=b) for b in (0, 1 / 6, 1.99, 2.0, 7.5)]
    profile = style_profile(score_of(notes), "onset_duration")
    assert profile.total == 5
    np.testing.assert_array_equal(profile.counts[0], [1, 1] + [0] * 9 + [3])


def test_onset_position_wraps_every_four_beats():
    notes = [note(b) for b in (0, 4, 8, 1.5, 5.5)]
    profile = style_profile(score_of(notes), "onset_velocity")
    assert profile.counts[0].sum() == 3 and profile.counts[9].sum() == 2  # 1.5 beats = bin 9


def test_time_pitch_diff_counts_ordered_pairs_on_paper():
    # C4 at 0, E4 at beat 1, G4 at beat 1, C5 at beat 4.
    notes = [note(0, pitch=60), note(1, pitch=64), note(1, pitch=67), note(4, pitch=72)]
    profile = style_profile(score_of(notes), "time_pitch_diff")
    counts = profile.counts
    interval = lambda semitones: semitones + 20  # noqa: E731
    # C4->E4 and C4->G4 one beat later (bin 6); E4<->G4 both ways at gap 0;
    # E4->C5 and G4->C5 three beats later (bin 18). C4->C5 is 4 beats: outside [0, 4).
    assert profile.total == 6
    assert counts[6, interval(4)] == 1 and counts[6, interval(7)] == 1
    assert counts[0, interval(3)] == 1 and counts[0, interval(-3)] == 1
    assert counts[18, interval(8)] == 1 and counts[18, interval(5)] == 1


def test_wide_intervals_land_in_the_outer_bins():
    notes = [note(0, pitch=30), note(0.5, pitch=90), note(1, pitch=40)]
    profile = style_profile(score_of(notes), "time_pitch_diff")
    assert profile.total == 3
    assert profile.counts[3, 40] == 1  # +60 semitones -> +20
    assert profile.counts[3, 0] == 1  # -50 semitones -> -20
    assert profile.counts[6, 30] == 1  # +10


def test_drum_profile_counts_drum_pitches_and_ignores_pitched_tracks():
    tracks = [Track(0, False, "piano"), Track(0, True, "kit")]
    notes = [note(0, pitch=36, track=1), note(1, pitch=38, track=1), note(0, pitch=60, track=0)]
    profile = style_profile(score_of(notes, tracks=tracks), "drums")
    assert profile.total == 2
    assert profile.counts[0, 36] == 1 and profile.counts[6, 38] == 1
    melodic = style_profile(score_of(notes, tracks=tracks), "onset_duration")
    assert melodic.total == 1  # the pitched note only


@pytest.mark.parametrize("kind", KINDS)
def test_tempo_and_resolution_leave_profiles_unchanged(kind):
    rng = np.random.default_rng(1)
    starts = np.sort(rng.integers(0, 64 * 6, 200)) * STEP
    notes = [
        (int(s), int(s + STEP * rng.integers(1, 20)), int(p), int(v), int(t))
        for s, p, v, t in zip(
            starts, rng.integers(30, 90, 200), rng.integers(1, 128, 200), rng.integers(0, 2, 200)
        )
    ]
    tracks = [Track(33, False, "bass"), Track(0, True, "kit")]
    a = score_of(notes, tracks=tracks)
    b = score_of(notes, tracks=tracks).resample(96)
    b = b.replace(tempos=np.array([(0, 61.0), (960, 187.5), (3000, 99.0)], TEMPO_DTYPE))
    np.testing.assert_array_equal(style_profile(a, kind).counts, style_profile(b, kind).counts)


def test_similarity_of_identical_disjoint_and_hand_computed_profiles():
    a = style_profile(score_of([note(0, velocity=10)]), "onset_velocity")
    b = style_profile(score_of([note(0, velocity=10), note(0, velocity=100)]), "onset_velocity")
    c = style_profile(score_of([note(2, velocity=100)]), "onset_velocity")
    assert style_similarity(a, a) == pytest.approx(1.0)
    assert style_similarity(a, b) == pytest.approx(1 / math.sqrt(2))  # (1,0) vs (1,1)
    assert style_similarity(a, c) == 0.0
    empty = style_profile(score_of([]), "onset_velocity")
    assert style_similarity(a, empty) == 0.0
    assert math.isnan(style_similarity(empty, empty))
    with pytest.raises(ConfigError, match="cannot compare"):
        style_similarity(a, style_profile(score_of([note(0)]), "onset_duration"))


def test_roles_follow_general_midi_families():
    assert role_of(Track(0)) == "keys"
    assert role_of(Track(19)) == "keys"  # church organ
    assert role_of(Track(25)) == "guitar"
    assert role_of(Track(33)) == "bass"
    assert role_of(Track(48)) == "strings"
    assert role_of(Track(56)) == "other"  # trumpet
    assert role_of(Track(0, is_drum=True)) == "drums"


def test_a_track_named_for_its_role_keeps_it():
    # The band's string pads may use a synth pad, brass or organ sound.
    assert role_of(Track(89, False, "Strings")) == "strings"
    assert role_of(Track(61, False, " strings ")) == "strings"
    assert role_of(Track(16, False, "Strings")) == "strings"
    assert role_of(Track(4, False, "Piano")) == "keys"
    assert role_of(Track(0, True, "Bass")) == "drums"  # the drum flag wins
    assert role_of(Track(56, False, "Lead")) == "other"


def test_style_fit_scores_the_roles_the_style_plays():
    tracks = [Track(33, False, "bass"), Track(0, True, "kit"), Track(0, False, "piano")]
    bass = [note(b, pitch=36, track=0) for b in range(8)]
    kit = [note(b / 2, pitch=42, track=1) for b in range(16)]
    piano = [note(b, pitch=60, track=2) for b in range(0, 8, 2)]
    style = style_profiles(score_of(bass + kit, tracks=tracks))
    output = style_profiles(score_of(bass + piano, tracks=tracks))
    fit = style_fit(output, style)
    assert set(fit) == {
        *(("bass", kind) for kind in ROLE_KINDS["bass"]),
        *(("drums", kind) for kind in ROLE_KINDS["drums"]),
        ("all", "time_pitch_diff"),
        ("all", "onset_duration"),
        ("all", "onset_velocity"),
        ("all", "drums"),
    }
    assert fit["bass", "onset_duration"] == pytest.approx(1.0)
    assert fit["drums", "drums"] == 0.0  # the style has drums, the output none
    assert ("keys", "onset_duration") not in fit  # only the output plays keys


def test_pooling_adds_counts_key_by_key():
    a = style_profiles(score_of([note(0), note(1)]))
    b = style_profiles(score_of([note(2, velocity=5)]))
    pooled = pool_profiles([a, b])
    assert set(pooled) == set(a)
    for key in pooled:
        np.testing.assert_array_equal(pooled[key].counts, a[key].counts + b[key].counts)


def test_dense_pieces_are_subsampled_with_their_mass_kept():
    # 3000 notes within 4 beats: about 9 million pairs.
    notes = [note(i / 1000, pitch=40 + i % 40) for i in range(3000)]
    score = score_of(notes)
    exact = style_profile(score, "time_pitch_diff", max_pairs=10**8)
    sampled = style_profile(score, "time_pitch_diff")
    assert exact.total > MAX_PAIRS
    assert sampled.total == pytest.approx(exact.total, rel=0.01)
    assert style_similarity(exact, sampled) > 0.99
    np.testing.assert_array_equal(sampled.counts, style_profile(score, "time_pitch_diff").counts)


def test_unknown_kind_and_role_are_refused():
    with pytest.raises(ConfigError, match="kind"):
        style_profile(score_of([note(0)]), "loudness")
    with pytest.raises(ConfigError, match="role"):
        style_profile(score_of([note(0)]), "onset_duration", role="kazoo")


@pytest.mark.parametrize("path", shared_params("good"))
def test_real_files_have_finite_profiles_and_self_similarity_one(path):
    piece = load(path)
    profiles = style_profiles(piece)
    other = style_profiles(load(SHARED_MIDI / "miditok/multitrack/Funkytown.mid"))
    for profile in profiles.values():
        assert np.isfinite(profile.counts).all() and (profile.counts >= 0).all()
        if profile.total > 0:
            assert style_similarity(profile, profile) == pytest.approx(1.0)
            assert np.sum(
                profile.density * np.outer(np.diff(profile.x_edges), np.diff(profile.y_edges))
            ) == pytest.approx(1.0)
    for value in style_fit(profiles, other).values():
        assert 0.0 <= value <= 1.0
    # Mass: one count per note for the per-note kinds.
    n_pitched = sum(1 for n in piece.notes if not piece.tracks[n["track"]].is_drum)
    assert profiles["all", "onset_duration"].total == n_pitched


def three_four(notes, tracks=None):
    score = score_of(notes, tracks=tracks)
    score.time_signatures = np.array([(0, 3, 4)], TIME_SIGNATURE_DTYPE)
    return score


def test_score_bars_place_onsets_in_the_real_bars():
    # A waltz: a note on beats 1 and 2 of each of six 3/4 bars.
    waltz = three_four([note(3 * bar + beat) for bar in range(6) for beat in (0, 1)])
    real = style_profile(waltz, "onset_velocity", bars="score")
    assert real.x_edges[-1] == 8  # the position axis spans 8 beats
    by_position = real.counts.sum(axis=1)
    assert by_position[0] == 6 and by_position[6] == 6 and by_position.sum() == 12
    # Groove2Groove's 4-beat bars put the downbeats of bars 2, 3 and 4 on beats
    # 4, 3 and 2 of a 4/4 bar: the waltz (onsets 0 1 3 4 6 7 9 10 12 13 15 16,
    # modulo 4: 0 1 3 0 2 3 1 2 0 1 3 0) is smeared over every beat.
    four = style_profile(waltz, "onset_velocity").counts.sum(axis=1)
    np.testing.assert_array_equal(four[::6], [4, 3, 2, 3])
    assert four.sum() == 12
    # A change of meter moves the bar lines: 4/4, then 3/4 from beat 4.
    mixed = score_of([note(b) for b in (0, 4, 7, 10)])
    mixed.time_signatures = np.array([(0, 4, 4), (4 * BEAT, 3, 4)], TIME_SIGNATURE_DTYPE)
    counts = style_profile(mixed, "onset_duration", bars="score").counts.sum(axis=1)
    assert counts[0] == 4
    # In 4/4 both binnings agree; pair gaps do not depend on bars at all.
    straight = score_of([note(b / 2) for b in range(32)])
    np.testing.assert_array_equal(
        style_profile(straight, "onset_duration", bars="score").counts[:24],
        style_profile(straight, "onset_duration").counts,
    )
    np.testing.assert_array_equal(
        style_profile(waltz, "time_pitch_diff", bars="score").counts,
        style_profile(waltz, "time_pitch_diff").counts,
    )
    with pytest.raises(ConfigError, match="bars"):
        style_profile(waltz, "onset_duration", bars="waltz")


def test_transfer_profiles_count_drums_once_and_leave_out_other_roles():
    tracks = [Track(33, False, "bass"), Track(0, True, "kit"), Track(56, False, "trumpet")]
    notes = [note(b, pitch=36, track=0) for b in range(4)]
    notes += [note(b / 2, pitch=42, track=1) for b in range(8)]
    notes += [note(b + 0.5, pitch=72, track=2) for b in range(4)]
    score = score_of(notes, tracks=tracks)
    assert excluded_roles(score) == ["other"]
    assert [t.name for t in playable(score).tracks] == ["bass", "kit"]
    profiles = transfer_profiles(score)
    assert set(profiles) == {(r, k) for r, kinds in TRANSFER_ROLE_KINDS.items() for k in kinds}
    drum_keys = [key for key, p in profiles.items() if p.kind == "drums"]
    assert drum_keys == [("drums", "drums")]  # Groove2Groove's set also has all/drums
    assert ("all", "drums") in style_profiles(score)
    # "all" pools the bass alone: the trumpet is no role a model plays.
    assert profiles["all", "onset_duration"].total == 4
    assert style_profiles(score)["all", "onset_duration"].total == 8
    assert excluded_roles(playable(score)) == []
