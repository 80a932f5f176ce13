"""The style example's feel (`groove.models.transfer.feel`): a transfer decoded on the
grid moved as the example plays each place in the bar (swing, push, lag), and its
notes given the example's exact lengths, never more than half a grid step away."""

from __future__ import annotations

import numpy as np
import pytest

import groove
from groove import midi
from groove.data.segments import segments
from groove.midi import TEMPO_DTYPE, TIME_SIGNATURE_DTYPE, Score, Track
from groove.models.transfer.feel import style_feel

TPB, RES = 480, 12  # ticks per beat; grid steps per beat (40 ticks a step)
STEP = TPB // RES
HAT, KICK = 42, 36
DRUMS, BASS = Track(0, True, "Drums"), Track(33, False, "Bass")


def score(notes: list[tuple], tracks: list[Track], meter=(4, 4)) -> Score:
    """A Score from (start tick, length in ticks, pitch, track) tuples."""
    start, length, pitch, track = (np.array(c) for c in zip(*notes, strict=True))
    return Score(
        notes=midi.make_notes(start, start + length, pitch, 90, track),
        tracks=tracks,
        ticks_per_beat=TPB,
        tempos=np.array([(0, 120.0)], TEMPO_DTYPE),
        time_signatures=np.array([(0, *meter)], TIME_SIGNATURE_DTYPE),
        source="<test>",
    )


def felt(output: Score, style: Score, tracks=None) -> Score:
    return style_feel(output, style, segments(output, 2), RES, 2, tracks)


def eighths(bars: int, lag: int, pitch=HAT, length=STEP) -> list[tuple]:
    """Eighth notes, the off-beats `lag` ticks late."""
    return [(b * 4 * TPB + e * TPB // 2 + (lag if e % 2 else 0), length, pitch, 0)
            for b in range(bars) for e in range(8)]  # fmt: skip


def test_off_beats_are_moved_by_the_styles_lag_and_on_beats_stay():
    style = score(eighths(2, 14), [DRUMS])  # laid back by 14 ticks: off the 40-tick grid
    output = score(eighths(4, 0), [DRUMS])
    out = felt(output, style).notes
    off_beat = (output.notes["start"] % TPB) != 0
    np.testing.assert_array_equal(out["start"] - output.notes["start"], np.where(off_beat, 14, 0))
    # Drum hits keep their lengths.
    np.testing.assert_array_equal(out["end"] - out["start"], STEP)


def test_the_median_offset_of_each_place_is_taken():
    # Off-beat lags of 4, 14 and 18 ticks over three bars: the median, 14.
    notes = [n for bar, lag in enumerate((4, 14, 18)) for n in eighths(1, lag)]
    notes = [(s + i // 8 * 4 * TPB, n, p, t) for i, (s, n, p, t) in enumerate(notes)]
    style = score(notes, [DRUMS])
    out = felt(score(eighths(2, 0), [DRUMS]), style).notes
    assert set((out["start"] % (TPB // 2)).tolist()) == {0, 14}


def test_drawn_feel_plays_the_styles_own_spread_of_offsets_and_lengths_seeded():
    # Off-beat lags of 4, 14 and 18 ticks, and eighths held 222, 230 or 238 ticks
    # (each 6 grid steps, rounded).
    lags, holds = (4, 14, 18), (222, 230, 238)
    notes = [(b * 4 * TPB + e * TPB // 2 + (lags[b % 3] if e % 2 else 0), holds[(b + e) % 3],
              40, 0) for b in range(6) for e in range(8)]  # fmt: skip
    style = score(notes, [BASS])
    # (Two pitches in turn, so no note is cut short by the next of its pitch.)
    output = score([(s, 240, 40 + 3 * (i % 2), 0) for i, (s, _, _, _) in
                    enumerate(eighths(8, 0))], [BASS])  # fmt: skip

    def drawn(seed):
        windows = segments(output, 2)
        return style_feel(output, style, windows, RES, 2, draw=seed).notes

    out = drawn(0)
    off_beat = (out["start"] % (TPB // 2)) != 0
    lag = out["start"] % (TPB // 2)
    assert set(lag[off_beat].tolist()) == set(lags)  # each one the style plays, all of them
    assert set(lag[~off_beat].tolist()) == {0}
    # (An off-beat note may be cut at its segment's end.)
    assert set((out["end"] - out["start"])[~off_beat].tolist()) == set(holds)
    np.testing.assert_array_equal(drawn(0), out)  # the same seed, the same feel
    assert not np.array_equal(drawn(1), out)


def test_each_segment_and_track_draws_on_its_own():
    # Drawn feel of a 4-bar output (two 2-bar segments); then the same with the
    # first segment's notes changed: the second segment's draws stay as they were.
    lags = (4, 14, 18)
    notes = [(b * 4 * TPB + e * TPB // 2 + (lags[(b + e) % 3] if e % 2 else 0), STEP, HAT, 0)
             for b in range(6) for e in range(8)]  # fmt: skip
    style = score(notes, [DRUMS])
    first = score(eighths(4, 0), [DRUMS])
    other = score(eighths(2, 0)[::2] + eighths(4, 0)[16:], [DRUMS])  # fewer notes in segment 1
    a = style_feel(first, style, segments(first, 2), RES, 2, draw=5).notes
    b = style_feel(other, style, segments(other, 2), RES, 2, draw=5).notes
    second = 8 * TPB
    np.testing.assert_array_equal(a[a["start"] >= second], b[b["start"] >= second])
    assert len(set((a["start"] % (TPB // 2)).tolist())) > 2  # lags were drawn


def test_a_drum_sound_takes_its_own_timing_and_falls_back_to_the_place():
    # The hats push the off-beats 10 ticks early; the snare (38) plays late there.
    notes = eighths(2, -10) + [(b * 4 * TPB + TPB + TPB // 2 + 12, STEP, 38, 0) for b in range(2)]
    style = score(sorted(notes), [DRUMS])
    output = score([(TPB // 2, STEP, HAT, 0), (TPB + TPB // 2, STEP, 38, 0),
                    (2 * TPB + TPB // 2, STEP, KICK, 0)], [DRUMS])  # fmt: skip
    out = felt(output, style).notes
    # hat: its own -10; snare: its own +12; kick: never played, the place's (hats') -10
    assert sorted(zip(out["pitch"].tolist(), (out["start"] - output.notes["start"]).tolist())) \
        == [(KICK, -10), (38, 12), (HAT, -10)]  # fmt: skip


def test_pitched_notes_take_the_styles_exact_length_for_their_grid_length():
    # A staccato bass: eighths held 96% (230 ticks; the grid rounds it to 240), and
    # a half note on beat 3 held 890 ticks (the grid: 880).
    notes = [(b * 4 * TPB + q * TPB // 2, 230, 40, 0) for b in range(2) for q in range(4)]
    notes += [(b * 4 * TPB + 2 * TPB, 890, 40, 0) for b in range(2)]
    style = score(sorted(notes), [BASS])
    output = score([(0, 240, 45, 0), (TPB, 240, 47, 0), (2 * TPB, 880, 45, 0),
                    (4 * TPB, 7 * STEP, 43, 0)], [BASS])  # fmt: skip
    out = felt(output, style).notes
    # The eighths and the half note take the style's lengths; 7 steps (a length the
    # style never plays) keeps its own.
    np.testing.assert_array_equal(out["end"] - out["start"], [230, 230, 890, 7 * STEP])
    np.testing.assert_array_equal(out["start"], output.notes["start"])  # all on the grid


def test_no_note_moves_more_than_half_a_step_leaves_its_segment_or_overlaps_its_pitch():
    rng = np.random.default_rng(1)
    # A busy, humanised style, and an output of the same pitch struck back to back.
    style_notes = [(int(s * STEP + rng.integers(-19, 20)) + 100, int(rng.integers(20, 200)),
                    int(rng.integers(40, 44)), 0) for s in range(0, 384, 3)]  # fmt: skip
    style = score(sorted(style_notes), [BASS])
    output = score([(s * STEP, 3 * STEP, 40, 0) for s in range(0, 384, 3)], [BASS])
    windows = segments(output, 2)
    out = felt(output, style).notes
    assert len(out) == len(output.notes)
    moved = out["start"] - output.notes["start"]
    assert moved.any() and np.abs(moved).max() <= STEP // 2
    length = out["end"] - out["start"]
    assert (length >= 1).all() and (np.abs(length - 3 * STEP) <= STEP).all()
    starts, ends = np.array([w.start for w in windows]), np.array([w.end for w in windows])
    k = np.searchsorted(starts, output.notes["start"], side="right") - 1
    assert (out["start"] >= starts[k]).all() and (out["end"] <= ends[k]).all()
    assert (out["end"][:-1] <= out["start"][1:]).all()  # one pitch: never overlapping


def test_tracks_left_out_and_roles_the_style_lacks_keep_their_times():
    style = score(eighths(2, 14), [DRUMS])
    output = score([(TPB // 2, STEP, HAT, 0), (TPB // 2, 240, 40, 1)], [DRUMS, BASS])
    out = felt(output, style, tracks=[1])
    np.testing.assert_array_equal(out.notes, output.notes)
    out = felt(output, style)  # the bass: the style plays no bass
    assert sorted(out.notes["start"].tolist()) == [TPB // 2, TPB // 2 + 14]


# ------------------------------------------------------------- through a transfer


@pytest.fixture(scope="module")
def both():
    pytest.importorskip("keras")
    from groove.models.transfer.task import transfer_score

    song, style = groove.example_path("song.mid"), groove.example_path("style.mid")
    kwargs = {"roles": ["bass", "drums"], "seed": 3}
    return (transfer_score(song, style, **kwargs),
            transfer_score(song, style, feel=False, **kwargs))  # fmt: skip


def test_a_transfer_with_feel_moves_notes_by_less_than_half_a_step(both):
    on, off = both
    assert len(on.notes) == len(off.notes)
    order_on = np.lexsort((on.notes["start"], on.notes["pitch"], on.notes["track"]))
    order_off = np.lexsort((off.notes["start"], off.notes["pitch"], off.notes["track"]))
    a, b = on.notes[order_on], off.notes[order_off]
    np.testing.assert_array_equal(a["pitch"], b["pitch"])
    np.testing.assert_array_equal(a["velocity"], b["velocity"])
    step = on.ticks_per_beat // RES
    assert (a["start"] != b["start"]).any() or (a["end"] != b["end"]).any()
    assert np.abs(a["start"] - b["start"]).max() <= step // 2


def test_a_greedy_transfer_takes_the_median_feel_whatever_the_seed():
    pytest.importorskip("keras")
    from groove.models.transfer.task import transfer_score

    song, style = groove.example_path("song.mid"), groove.example_path("style.mid")
    kwargs = {"roles": ["drums"], "temperature": 0}
    a, b = (transfer_score(song, style, seed=s, **kwargs) for s in (0, 1))
    np.testing.assert_array_equal(a.notes, b.notes)
    assert (a.notes["start"] % (a.ticks_per_beat // RES) != 0).any()  # off the grid
