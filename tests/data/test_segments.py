"""Segmentation at downbeats and the content piano roll: one path for training and inference."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from groove import midi
from groove.data import Style, random_chart, render_score
from groove.data.segments import (
    content_roll,
    cut,
    downbeats,
    parse_role,
    representative_track,
    role_score,
    segments,
    song_rolls,
)
from groove.errors import ConfigError
from groove.midi import TEMPO_DTYPE, TIME_SIGNATURE_DTYPE, Track
from groove.midi.roles import role_of
from tests.conftest import SHARED_MIDI, manifest, score_of

TPB = 480


def with_meter(score, *signatures):
    return score.replace(time_signatures=np.array(list(signatures), TIME_SIGNATURE_DTYPE))


def test_downbeats_follow_the_time_signatures():
    score = score_of([(0, 40 * TPB, 60, 90, 0)])
    ticks, lengths = downbeats(score)  # no signature: 4/4
    assert ticks[:3].tolist() == [0, 4 * TPB, 8 * TPB] and len(ticks) == 10
    assert set(lengths.tolist()) == {4.0}
    ticks, lengths = downbeats(with_meter(score, (0, 12, 8)))
    assert ticks[:3].tolist() == [0, 6 * TPB, 12 * TPB] and lengths[0] == 6.0
    # 4/4 for two bars, then 3/4: bars of 4, 4, 3, 3, ...
    ticks, lengths = downbeats(with_meter(score, (0, 4, 4), (8 * TPB, 3, 4)))
    assert ticks[:5].tolist() == [0, 4 * TPB, 8 * TPB, 11 * TPB, 14 * TPB]
    assert lengths[:4].tolist() == [4.0, 4.0, 3.0, 3.0]


def test_segments_cover_the_song_in_whole_bars():
    # 10 bars of 4/4 with one note per bar.
    score = score_of([(b * 4 * TPB, b * 4 * TPB + TPB, 60 + b, 90, 0) for b in range(10)])
    windows = segments(score, 4)
    assert [(w.start, w.end, w.bars) for w in windows] == [
        (0, 16 * TPB, 4),
        (16 * TPB, 32 * TPB, 4),
        (32 * TPB, 40 * TPB, 2),
    ]
    assert [w.beats for w in windows] == [16.0, 16.0, 8.0]
    assert sum(len(cut(score, w).notes) for w in windows) == 10
    # A short tail is dropped on request, and `end` stops the cut at a chart's length.
    assert len(segments(score, 4, min_bars=3)) == 2
    assert [w.bars for w in segments(score, 4, end=24 * TPB)] == [4, 2]
    assert [w.start for w in segments(score, 4, hop=2)][:3] == [0, 8 * TPB, 16 * TPB]
    assert segments(score_of([]), 4) == []
    with pytest.raises(ConfigError):
        segments(score, 0)


def test_cut_moves_notes_to_the_segment_and_keeps_pushed_downbeats():
    bar = 4 * TPB
    score = score_of(
        [
            (bar - 10, bar + 100, 40, 90, 0),  # pushed 10 ticks early: starts bar 2
            (bar - 200, bar + 300, 41, 90, 0),  # an eighth early: stays in bar 1
            (2 * bar - TPB, 3 * bar, 42, 90, 0),  # crosses the segment end: cut there
        ]
    ).replace(tempos=np.array([(0, 100.0), (bar + TPB, 140.0)], TEMPO_DTYPE))
    first, second = segments(score, 1)[:2]
    a, b = cut(score, first), cut(score, second)
    assert a.notes["pitch"].tolist() == [41]
    assert a.notes["end"].tolist() == [bar]
    assert sorted(b.notes["pitch"].tolist()) == [40, 42]
    assert b.notes["start"].tolist() == [0, bar - TPB]
    assert b.notes["end"].max() == bar
    # The tempo in force at the cut and the change after it come along.
    assert b.tempos.tolist() == [(0, 100.0), (TPB, 140.0)]


def test_content_roll_is_time_by_pitch_without_drums():
    tracks = [Track(0, False, "Piano"), Track(0, True, "Drums")]
    score = score_of(
        [
            (0, TPB, 60, 127, 0),  # frames 0-3
            (TPB // 2, TPB, 64, 64, 0),  # frames 2-3
            (0, TPB, 36, 100, 1),  # a kick: left out
        ],
        tracks=tracks,
    )
    window = segments(score, 1)[0]
    roll = content_roll(score, window)
    assert roll.shape == (16, 128) and roll.dtype == np.float32
    assert np.flatnonzero(roll[:, 60]).tolist() == [0, 1, 2, 3]
    assert np.flatnonzero(roll[:, 64]).tolist() == [2, 3]
    assert roll.sum() == 6 and roll[:, 36].sum() == 0
    loud = content_roll(score, window, velocity=True)
    assert loud[0, 60] == 1.0 and loud[2, 64] == pytest.approx(64 / 127)
    # A note held over the bar line sounds at the start of the next segment.
    held = score_of([(3 * TPB, 5 * TPB, 50, 90, 0), (6 * TPB, 7 * TPB, 52, 90, 0)])
    second = segments(held, 1)[1]
    assert np.flatnonzero(content_roll(held, second)[:, 50]).tolist() == [0, 1, 2, 3]
    # A very short note still takes one frame.
    blip = score_of([(0, 10, 70, 90, 0)])
    assert content_roll(blip, segments(blip, 1)[0])[:, 70].sum() == 1


def test_roles_by_name_and_alias():
    assert parse_role("Piano") == "keys" and parse_role("drums") == "drums"
    with pytest.raises(ConfigError, match="flute"):
        parse_role("flute")
    chart = random_chart(4, bars=8, meter="4/4")
    style = Style.random(21, meter="4/4")
    score = render_score(chart, style, 0)
    for role in ("bass", "keys", "guitar", "strings", "drums"):
        part = role_score(score, role)
        assert len(part.tracks) == int(
            role in style.parts or (role == "drums" and bool(style.drums))
        )
        assert len(part.notes) > 0 or not part.tracks


def test_a_pitched_role_keeps_its_busiest_track_and_drums_keep_every_kit_track():
    tracks = [
        Track(0, False, "Piano"),  # keys: 8 short notes, 4 beats in all
        Track(33, False, "Bass"),
        Track(16, False, "Organ"),  # keys: 2 long notes, 8 beats in all
        Track(0, True, "Kick"),
        Track(0, True, "Hats"),
    ]
    piano = [(k * TPB, k * TPB + TPB // 2, 72, 80, 0) for k in range(8)]
    organ = [(0, 4 * TPB, 60, 70, 2), (4 * TPB, 8 * TPB, 62, 70, 2)]
    drums = [(0, 60, 36, 100, 3), (TPB, TPB + 60, 42, 80, 4)]
    score = score_of([*piano, (0, TPB, 36, 90, 1), *organ, *drums], tracks=tracks)
    keys = role_score(score, "keys")
    assert keys.tracks == [tracks[2]]
    assert keys.notes["pitch"].tolist() == [60, 62] and set(keys.notes["track"]) == {0}
    assert representative_track(score, "piano") == 2
    assert len(role_score(score, "keys", merge=True).notes) == 10
    kit = role_score(score, "drums")
    assert kit.tracks == tracks[3:] and sorted(kit.notes["pitch"].tolist()) == [36, 42]
    assert role_score(score, "bass").notes["pitch"].tolist() == [36]
    assert representative_track(score, "guitar") is None
    assert role_score(score, "guitar").tracks == []
    # Ties: the same total duration goes to more notes, then to the lower index.
    split = [(0, 2 * TPB, 64, 70, 1), (2 * TPB, 4 * TPB, 65, 70, 1)]
    tie = score_of([(0, 4 * TPB, 60, 70, 0), *split], tracks=[tracks[0], tracks[2]])
    assert role_score(tie, "keys").notes["pitch"].tolist() == [64, 65]
    same = score_of([(0, TPB, 60, 70, 0), (0, TPB, 67, 70, 1)], tracks=[tracks[2], tracks[0]])
    assert role_score(same, "keys").tracks == [tracks[2]]


def test_one_track_per_role_in_band_renders_is_kept_whole():
    # Training targets and style examples come from band renders: nothing changes there.
    for seed in range(6):
        style = Style.random(seed)
        score = render_score(random_chart(seed, bars=8, meter=style.meter), style, seed)
        for role in ("bass", "keys", "guitar", "strings", "drums"):
            one, every = role_score(score, role), role_score(score, role, merge=True)
            assert one.tracks == every.tracks and np.array_equal(one.notes, every.notes)


def test_a_real_multitrack_song_keeps_the_track_that_sounds_most():
    folder = SHARED_MIDI / "miditok" / "multitrack"
    path = folder / "What a Fool Believes.mid"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    checked = 0
    for path in sorted(folder.glob("*.mid")):
        score = midi.load(path)
        for role in ("bass", "keys", "guitar", "strings"):
            mine = [i for i, t in enumerate(score.tracks) if role_of(t) == role]
            if len(mine) < 2:
                continue
            # The busiest track, counted note by note in beats.
            sounding = {}
            for i in mine:
                notes = score.notes[score.notes["track"] == i]
                beats = sum((e - s) / score.ticks_per_beat for s, e in notes[["start", "end"]])
                sounding[i] = (round(beats, 6), len(notes), -i)
            busiest = max(sounding, key=sounding.get)
            kept = role_score(score, role)
            assert kept.tracks == [score.tracks[busiest]], (path.name, role)
            assert (
                len(kept.notes)
                == sounding[busiest][1]
                < len(role_score(score, role, merge=True).notes)
            )
            checked += 1
    assert checked >= 10
    # Piano (576 beats of notes) over the rock organ (121 beats).
    fool = role_score(midi.load(folder / "What a Fool Believes.mid"), "keys")
    assert [t.name for t in fool.tracks] == ["Piano"]


@pytest.mark.parametrize("meter", ["4/4", "3/4", "12/8"])
def test_band_renders_cut_into_the_charts_bars(meter):
    chart = random_chart(9, bars=12, meter=meter)
    score = render_score(chart, Style.random(3, meter=meter), 1)
    bar_ticks = round(chart.beats_per_bar * TPB)
    end = chart.bars * bar_ticks
    windows = segments(score, 8, end=end)
    assert [w.bars for w in windows] == [8, 4]
    assert windows[1].start == 8 * bar_ticks and windows[1].end == end
    assert windows[0].frames() == round(8 * chart.beats_per_bar * 4)


def good_shared_files():
    rows = [r for r in manifest() if r["category"] == "good" and int(r["notes"] or 0) > 0]
    if not rows:
        pytest.skip(f"{SHARED_MIDI} is absent")
    return [SHARED_MIDI / r["file"] for r in rows]


def test_real_songs_become_rolls_that_cover_every_pitched_note():
    # Pop songs, piano performances, meter changes (2/4-3/4-4/4, 1/8-2/8-3/8, ...).
    for path in good_shared_files():
        score = midi.load(path)
        windows, rolls = song_rolls(score, 8)
        assert windows[0].start == 0 and len(windows) == len(rolls), path.name
        assert all(a.end == b.start for a, b in itertools.pairwise(windows)), path.name
        assert windows[-1].end >= score.end_tick
        drum = np.array([t.is_drum for t in score.tracks] + [False])[score.notes["track"]]
        pitched = score.notes[~drum]
        if len(pitched) == 0:
            continue
        # Every pitched note sounds in its segment's roll at its onset frame.
        k = np.searchsorted([w.start for w in windows], pitched["start"], side="right") - 1
        for i, (w, roll) in enumerate(zip(windows, rolls, strict=True)):
            mine = pitched[k == i]
            frame = np.rint((mine["start"] - w.start) / score.ticks_per_beat * 4).astype(int)
            frame = np.clip(frame, 0, len(roll) - 1)
            assert (roll[frame, mine["pitch"]] > 0).all(), path.name


def test_a_bach_chorale_segments_at_its_bar_lines():
    music21 = pytest.importorskip("music21")
    chorale = music21.corpus.parse("bach/bwv66.6")
    score = midi.load(chorale)
    windows, rolls = song_rolls(score, 2)
    bar = round(score.time_signatures["numerator"][0] * 4 / score.time_signatures["denominator"][0])
    assert all(r.shape[1] == 128 for r in rolls)
    assert all(w.beats == 2 * bar for w in windows[:-1])
    assert sum(r.sum() > 0 for r in rolls) == len(rolls)
