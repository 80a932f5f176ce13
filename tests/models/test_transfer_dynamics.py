"""Dynamics from the style example (`groove.models.transfer.dynamics`): a transfer's
coarse velocity bins played at the example's own velocities, by bar position and
drum sound: within the bin the model chose where the example plays it there, else
at the nearest level the example plays there."""

from __future__ import annotations

import numpy as np
import pytest

import groove
from groove import midi
from groove.data.segments import segments
from groove.midi import TEMPO_DTYPE, TIME_SIGNATURE_DTYPE, Score, Track
from groove.models.transfer.dynamics import style_velocities
from groove.tokenizers.events import bin_to_velocity, velocity_to_bin

TPB, RES, BINS = 480, 12, 4  # ticks per beat; grid steps per beat; DurationTokenizer's bins
HAT, KICK = 42, 36
DRUMS, BASS = Track(0, True, "Drums"), Track(33, False, "Bass")


def score(notes: list[tuple], tracks: list[Track], meter=(4, 4)) -> Score:
    """A Score from (start beat, pitch, velocity, track) tuples, each a 16th long."""
    start, pitch, velocity, track = (np.array(c) for c in zip(*notes, strict=True))
    return Score(
        notes=midi.make_notes(
            np.rint(start * TPB), np.rint((start + 0.25) * TPB), pitch, velocity, track
        ),
        tracks=tracks,
        ticks_per_beat=TPB,
        tempos=np.array([(0, 120.0)], TEMPO_DTYPE),
        time_signatures=np.array([(0, *meter)], TIME_SIGNATURE_DTYPE),
        source="<test>",
    )


def centre(velocity: int) -> int:
    """What a decoded note of `velocity`'s bin plays at: its bin's centre."""
    return int(bin_to_velocity(velocity_to_bin(velocity, BINS), BINS))


def hats(bars: int, on: int, off: int, kick: int | None = None) -> list[tuple]:
    """Eighth-note hi-hats, `on` on the beat and `off` between, and a kick on 1."""
    notes = [(b * 4 + e / 2, HAT, on if e % 2 == 0 else off, 0) for b in range(bars)
             for e in range(8)]  # fmt: skip
    if kick is not None:
        notes += [(b * 4.0, KICK, kick, 0) for b in range(bars)]
    return sorted(notes)


def restyled(output: Score, style: Score) -> Score:
    return style_velocities(output, style, segments(output, 2), RES, BINS, 2)


def test_accents_come_from_the_style_by_bar_position_and_drum_sound():
    # 100 and 70 lie in bins 3 and 2 of 4; the kick (90) shares bin 3 with the
    # accented hats but plays its own level.
    style = score(hats(2, 100, 70, kick=90), [DRUMS])
    output = score(hats(4, centre(100), centre(70), kick=centre(90)), [DRUMS])
    out = restyled(output, style)
    n = out.notes
    hat, kick = n["pitch"] == HAT, n["pitch"] == KICK
    on_beat = n["start"] % TPB == 0
    assert set(n["velocity"][hat & on_beat]) == {100}
    assert set(n["velocity"][hat & ~on_beat]) == {70}
    assert set(n["velocity"][kick]) == {90}
    # Nothing but the velocities changes.
    for field in ("start", "end", "pitch", "track"):
        np.testing.assert_array_equal(n[field], output.notes[field])


def test_a_note_where_the_style_has_no_such_note_takes_the_nearest_level_played_there():
    style = score(hats(2, 100, 70), [DRUMS])
    # A hat of bin 3 off the beat (the style plays 70, bin 2, there), a kick of bin 3
    # on beat 2 (the style has no kick; its hat plays 100 there) and a hat of bin 0
    # on beat 3 (the style never plays that quietly; its hat plays 100 there).
    output = score([(0.5, HAT, centre(100), 0), (1.0, KICK, centre(100), 0),
                    (2.0, HAT, centre(10), 0)], [DRUMS])  # fmt: skip
    got = restyled(output, style).notes  # (in the order given: by onset)
    assert list(got["pitch"]) == [HAT, KICK, HAT]
    assert list(got["velocity"]) == [70, 100, 100]


def test_the_nearest_level_is_taken_among_those_the_style_plays_at_that_place():
    # On beat 1 the style's hats alternate bar by bar between 40 and 120 (bins 1 and
    # 3); a decoded hat of bin 2 there takes the nearer.
    notes = [(0.0, HAT, 40, 0), (4.0, HAT, 120, 0), (8.0, HAT, 44, 0), (12.0, HAT, 118, 0)]
    style = score(notes, [DRUMS])
    output = score([(0.0, HAT, 90, 0), (4.0, HAT, 70, 0)], [DRUMS])
    assert list(restyled(output, style).notes["velocity"]) == [118, 44]
    # A bin the style plays there keeps to its median.
    output = score([(0.0, HAT, 110, 0), (4.0, HAT, 35, 0)], [DRUMS])
    assert list(restyled(output, style).notes["velocity"]) == [119, 42]


def test_drawn_levels_are_the_styles_own_at_that_place_and_in_that_bin():
    # On beat 1 the style's hats play 100, 104 and 110 (bin 3) and 40 (bin 1).
    levels = (100, 104, 110, 40)
    style = score([(b * 4.0, HAT, levels[b % 4], 0) for b in range(8)], [DRUMS])
    output = score([(b * 4.0, HAT, centre(100) if b % 2 else centre(70), 0) for b in range(40)],
                   [DRUMS])  # fmt: skip
    out = style_velocities(output, style, segments(output, 2), RES, BINS, 2,
                           draw=0).notes["velocity"]  # fmt: skip
    # Bin 3: drawn from the style's bin-3 levels there, each of them in turn.
    assert set(out[1::2].tolist()) == {100, 104, 110}
    # Bin 2, which the style never plays there: the nearest level's bin (100: bin 3).
    assert set(out[0::2].tolist()) <= {100, 104, 110}


def test_pitched_parts_take_levels_by_position_whatever_the_pitch():
    style = score([(b * 4 + q, 40 + q, 96 if q == 0 else 72, 0) for b in range(2)
                   for q in range(4)], [BASS])  # fmt: skip
    output = score([(q, 52 + 3 * q, centre(96 if q == 0 else 72), 0) for q in range(4)], [BASS])
    np.testing.assert_array_equal(restyled(output, style).notes["velocity"], [96, 72, 72, 72])


def test_every_new_velocity_is_a_level_of_the_style_at_that_place_or_of_that_bin():
    rng = np.random.default_rng(0)
    style = score([(s / 4, int(p), int(v), 0) for s, p, v in
                   zip(range(64), rng.integers(35, 60, 64), rng.integers(1, 128, 64),
                       strict=True)], [DRUMS])  # fmt: skip
    output = score([(s / 4, int(p), int(v), 0) for s, p, v in
                    zip(range(128), rng.integers(35, 60, 128), rng.integers(1, 128, 128),
                        strict=True)], [DRUMS])  # fmt: skip
    out = restyled(output, style)
    before, after = output.notes["velocity"], out.notes["velocity"]
    assert (after != before).mean() > 0.5  # most notes did take a level from the style
    levels = style.notes["velocity"]
    same_bin = velocity_to_bin(after, BINS) == velocity_to_bin(before, BINS)
    # Within its bin: a median of the style's levels of that bin.
    for v in after[(after != before) & same_bin]:
        same = levels[velocity_to_bin(levels, BINS) == velocity_to_bin(v, BINS)]
        assert same.min() <= v <= same.max()
    # Out of it: a level the style plays, at that place (the style's 16ths repeat
    # every 4 beats, so each output place is played).
    moved = ~same_bin
    assert moved.any()
    assert set(after[moved].tolist()) <= set(levels.tolist())


def test_tracks_left_out_and_roles_the_style_lacks_keep_their_velocities():
    style = score(hats(2, 100, 70), [DRUMS])
    output = score([(0.0, HAT, centre(100), 0), (0.0, 40, centre(100), 1)], [DRUMS, BASS])
    out = style_velocities(output, style, segments(output, 2), RES, BINS, 2, tracks=[1])
    np.testing.assert_array_equal(out.notes["velocity"], output.notes["velocity"])
    out = restyled(output, style)  # the bass: the style plays no bass
    assert list(out.notes["velocity"]) == [100, centre(100)]


# ------------------------------------------------------------- through a transfer


@pytest.fixture(scope="module")
def both():
    pytest.importorskip("keras")
    from groove.models.transfer.task import transfer_score

    song, style = groove.example_path("song.mid"), groove.example_path("style.mid")
    kwargs = {"roles": ["bass", "drums"], "seed": 3, "feel": False}
    return (transfer_score(song, style, **kwargs),
            transfer_score(song, style, dynamics=False, **kwargs), midi.load(style))  # fmt: skip


def test_a_transfer_with_dynamics_differs_only_in_velocity_and_plays_the_styles_levels(both):
    on, off, style = both
    for field in ("start", "end", "pitch", "track"):
        np.testing.assert_array_equal(on.notes[field], off.notes[field])
    changed = on.notes["velocity"] != off.notes["velocity"]
    assert changed.any()
    # A changed note plays a level the style example plays, or a median of them.
    levels = style.notes["velocity"]
    assert all(levels.min() <= v <= levels.max() for v in on.notes["velocity"][changed])
