"""groove.midi: loading every kind of source, saving, and conversions."""

from __future__ import annotations

import io
from pathlib import Path

import mido
import numpy as np
import pretty_midi
import pytest

from groove import example_path, midi
from groove.errors import MidiError
from groove.midi import Score, TempoMap, Track
from tests.conftest import (
    SHARED_MIDI,
    manifest,
    note_events,
    score_of,
    shared_params,
    smf,
    smf_track,
)


def test_load_path_bytes_and_pretty_midi_agree():
    path = example_path("band.mid")
    a = midi.load(path)
    b = midi.load(Path(path).read_bytes())
    c = midi.load(pretty_midi.PrettyMIDI(path))
    assert len(a.notes) == 100 and [t.name for t in a.tracks] == ["Piano", "Bass", "Drums"]
    assert a.tracks[2].is_drum and a.tracks[1].program == 33
    np.testing.assert_array_equal(a.notes, b.notes)
    np.testing.assert_array_equal(a.notes, c.notes)
    assert a.tracks == c.tracks
    assert a.source == path and b.source == "<bytes>"


def test_load_music21_corpus_chorale():
    from music21 import corpus

    score = midi.load(corpus.parse("bach/bwv66.6"))
    assert len(score.tracks) == 4  # SATB
    assert len(score.notes) > 100
    assert score.notes["pitch"].min() >= 36 and score.notes["pitch"].max() <= 84


def test_unknown_source_type_is_a_midi_error():
    with pytest.raises(MidiError, match="cannot read MIDI from a float"):
        midi.load(3.14)


def test_tempo_map_conversions_are_inverse_and_piecewise():
    tempos = np.array([(0, 120.0), (960, 60.0)], midi.TEMPO_DTYPE)
    tmap = TempoMap(tempos, 480)
    # 2 beats at 120 qpm = 1 s; then one beat at 60 qpm = 1 s more.
    np.testing.assert_allclose(tmap.ticks_to_seconds([0, 480, 960, 1440]), [0, 0.5, 1.0, 2.0])
    np.testing.assert_allclose(tmap.seconds_to_ticks([0, 0.5, 1.0, 2.0]), [0, 480, 960, 1440])
    np.testing.assert_allclose(tmap.beats_to_seconds([3.0]), [2.0])
    np.testing.assert_allclose(tmap.seconds_to_beats([1.5]), [2.5])
    # An empty map means 120 qpm.
    np.testing.assert_allclose(TempoMap(tempos[:0], 96).ticks_to_seconds(96), 0.5)


def test_meta_events_are_read_from_every_track():
    conductor = smf_track([(0, b"\xff\x51\x03\x07\xa1\x20")])  # 120 qpm in track 0
    music = smf_track(
        [
            (0, b"\x90\x3c\x64"),
            (960, b"\xff\x51\x03\x03\xd0\x90"),  # 240 qpm, in the second track
            (0, b"\xff\x58\x04\x03\x02\x18\x08"),  # 3/4
            (0, b"\xff\x59\x02\xfe\x01"),  # 2 flats, minor (G minor)
            (960, b"\x80\x3c\x00"),
        ]
    )
    score = midi.load(smf([conductor, music]))
    assert score.tempos.tolist() == [(0, 120.0), (960, 240.0)]
    assert score.time_signatures.tolist() == [(960, 3, 4)]
    assert score.key_signatures.tolist() == [(960, -2, True)]
    assert score.duration_seconds == pytest.approx(1.5)
    pm = midi.to_pretty_midi(score)
    assert pm.key_signature_changes[0].key_number == pretty_midi.key_name_to_key_number("G minor")
    assert pm.instruments[0].notes[0].end == pytest.approx(1.5)
    np.testing.assert_allclose(pm.get_tempo_changes()[1], [120.0, 240.0])


def test_save_writes_one_channel_per_track_and_drums_on_channel_10(tmp_path):
    tracks = [Track(p, p == 3, f"t{p}") for p in range(5)]
    score = score_of([(i * 10, i * 10 + 100, 60, 90, i) for i in range(5)], tracks)
    midi.save(score, tmp_path / "out.mid")
    mf = mido.MidiFile(tmp_path / "out.mid")
    channels, programs = [], []
    for track in mf.tracks:
        notes = [m for m in track if m.type == "note_on"]
        if notes:
            channels.append(notes[0].channel)
            programs.append(next(m.program for m in track if m.type == "program_change"))
    assert len(set(channels)) == 5
    assert channels[3] == 9  # the drum track
    assert 9 not in channels[:3] + channels[4:]
    assert programs == [0, 1, 2, 3, 4]
    again = midi.load(tmp_path / "out.mid")
    np.testing.assert_array_equal(again.notes, score.notes)
    assert again.tracks == tracks


def test_save_is_atomic_and_leaves_nothing_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "song.mid"
    target.write_bytes(b"old")
    score = midi.load(example_path("band.mid"))

    def boom(self, path):
        with open(path, "wb") as f:
            f.write(b"half")
        raise RuntimeError("disk full")

    import symusic

    monkeypatch.setattr(type(symusic.Score(480)), "dump_midi", boom)
    with pytest.raises(RuntimeError):
        midi.save(score, target)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["song.mid"]


def test_pretty_midi_round_trip_keeps_tempo_changes_and_pedals():
    pm = pretty_midi.PrettyMIDI(resolution=480, initial_tempo=100)
    inst = pretty_midi.Instrument(program=5, name="EP")
    inst.notes = [pretty_midi.Note(80, 60 + i, i * 0.3, i * 0.3 + 0.25) for i in range(10)]
    inst.control_changes = [
        pretty_midi.ControlChange(64, 127, 0.5),
        pretty_midi.ControlChange(64, 0, 1.5),
    ]
    pm.instruments.append(inst)
    score = midi.load(pm)
    assert score.pedals.tolist() == [(400, 1200, 0)]  # 100 qpm: 0.5 s = 400 ticks
    back = midi.to_pretty_midi(score)
    got = back.instruments[0].notes
    assert [n.pitch for n in got] == [n.pitch for n in inst.notes]
    np.testing.assert_allclose([n.start for n in got], [n.start for n in inst.notes], atol=1e-3)
    assert [(c.number, c.value) for c in back.instruments[0].control_changes] == [
        (64, 127),
        (64, 0),
    ]


def test_apply_sustain_extends_until_release_or_restrike():
    # Pedal down over ticks [100, 1000). Note A (60) released inside it -> held to 1000.
    # Note B (62) released inside, but 62 is struck again at 600 -> held to 600.
    # Note C (64) ends before the pedal -> unchanged.
    score = score_of(
        [(0, 200, 60, 80, 0), (0, 300, 62, 80, 0), (600, 700, 62, 80, 0), (0, 50, 64, 80, 0)]
    )
    score.pedals = np.array([(100, 1000, 0)], midi.PEDAL_DTYPE)
    out = midi.apply_sustain(score)
    ends = {(n["pitch"], n["start"]): n["end"] for n in out.notes}
    assert ends == {(60, 0): 1000, (62, 0): 600, (62, 600): 1000, (64, 0): 50}
    assert len(out.pedals) == 0


def test_to_pretty_midi_bounds_memory_for_huge_tick_values():
    # A legal but extreme score: one note at 100 M ticks. pretty_midi would build a
    # 100 M-entry tick table; groove lowers the resolution instead.
    score = score_of([(100_000_000, 100_000_480, 60, 90, 0)], tpb=32767, qpm=60_000_000 / 1)
    pm = midi.to_pretty_midi(score)
    assert pm.resolution < 32767
    note = pm.instruments[0].notes[0]
    assert note.start == pytest.approx(float(score.seconds(100_000_000)), rel=1e-3)


@pytest.mark.parametrize("path", shared_params("good"))
def test_shared_file_save_load_round_trip(path, tmp_path):
    score = midi.load(path)
    midi.save(score, tmp_path / "x.mid")
    again = midi.load(tmp_path / "x.mid")
    np.testing.assert_array_equal(again.notes, score.notes)
    assert again.tracks == score.tracks
    assert again.tempos["tick"].tolist() == score.tempos["tick"].tolist()
    np.testing.assert_allclose(again.tempos["qpm"], score.tempos["qpm"], rtol=1e-6)


def test_shared_manifest_note_counts_match():
    rows = [r for r in manifest() if r["category"] == "good"]
    if not rows:
        pytest.skip(f"{SHARED_MIDI} is absent")
    for r in rows:
        assert len(midi.load(SHARED_MIDI / r["file"]).notes) == int(r["notes"]), r["file"]


def test_to_bytes_is_a_readable_midi_file():
    data = midi.to_bytes(midi.load(example_path("chorale.mid")))
    assert mido.MidiFile(file=io.BytesIO(data)).type == 1
    assert isinstance(midi.load(data), Score)


def test_note_on_without_off_is_dropped_and_single_note_loads():
    score = midi.load(smf([smf_track(note_events(64, 240))]))
    assert score.notes[["start", "end", "pitch"]].tolist() == [(0, 240, 64)]
