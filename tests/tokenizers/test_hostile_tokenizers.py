"""Regression tests for issue 15 item 5a: `encode_tracks` on a file of thousands of
tracks is linear in tracks and notes (it built a tracks x notes mask: 30,000
one-note tracks took 55 s), and bounded in the tokens all its streams hold."""

from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
import pytest

from groove import midi
from groove.errors import GrooveWarning, MidiError
from groove.midi import Track
from groove.tokenizers import BeatTokenizer, DurationTokenizer, PerformanceTokenizer
from groove.tokenizers.base import track_groups
from tests.conftest import smf, smf_track

pytestmark = pytest.mark.timeout(120)

TOKENIZERS = [PerformanceTokenizer, BeatTokenizer, DurationTokenizer]


def many_tracks_file(n: int) -> bytes:
    """`n` tracks of one note each, all named differently (no two merge), on four
    programs, every seventh a drum track; the note's time and pitch vary."""
    tracks = []
    for i in range(n):
        name = b"t%d" % i
        channel = 9 if i % 7 == 0 else i % 9
        events = [
            (0, b"\xff\x03" + bytes([len(name)]) + name),
            (0, bytes([0xC0 | channel, i % 4])),
            (i % 50 * 10, bytes([0x90 | channel, 40 + i % 40, 100])),
            (120 + i % 3 * 60, bytes([0x80 | channel, 40 + i % 40, 0])),
        ]
        tracks.append(smf_track(events))
    return smf(tracks)


@pytest.fixture(scope="module")
def many_tracks():
    return midi.load(many_tracks_file(3000))


def test_track_groups_are_note_indices_in_order(many_tracks):
    groups = track_groups(many_tracks)
    assert list(groups) == many_tracks.tracks
    for index, (track, picks) in enumerate(groups.items()):
        assert np.array_equal(picks, np.flatnonzero(many_tracks.notes["track"] == index)), track


def test_equal_tracks_share_a_group_in_note_order():
    tracks = [Track(0, False, "a"), Track(1, False, "b"), Track(0, False, "a")]
    notes = midi.make_notes([0, 10, 20, 30], [5, 15, 25, 35], 60, track=[2, 1, 0, 2])
    score = midi.Score(notes=notes, tracks=tracks)
    groups = track_groups(score)
    assert list(groups) == [Track(0, False, "a"), Track(1, False, "b")]
    assert groups[Track(0, False, "a")].tolist() == [0, 2, 3]
    assert groups[Track(1, False, "b")].tolist() == [1]


def test_track_groups_memory_is_linear_not_tracks_times_notes():
    # 20,000 one-note tracks: one mask per track held 20,000 x 20,000 bytes (400 MB).
    n = 20_000
    tracks = [Track(i % 128, False, str(i)) for i in range(n)]
    notes = midi.make_notes(np.arange(n), np.arange(n) + 1, 60, track=np.arange(n))
    score = midi.Score(notes=notes, tracks=tracks)
    tracemalloc.start()
    try:
        groups = track_groups(score)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(groups) == n
    assert peak < 20 * 2**20, f"{peak / 2**20:.0f} MiB"


@pytest.mark.parametrize("cls", TOKENIZERS, ids=lambda c: c.__name__)
def test_encode_tracks_of_thousands_of_tracks_equals_each_track_alone(many_tracks, cls):
    tok = cls()
    streams = tok.encode_tracks(many_tracks)
    assert list(streams) == many_tracks.tracks
    notes = many_tracks.notes
    for index in range(0, 3000, 97):
        # What the per-track masks gave: this track's notes encoded on their own.
        alone = tok._encode_notes(many_tracks, notes[notes["track"] == index])
        assert np.array_equal(streams[many_tracks.tracks[index]], alone), index
    assert sum(len(s) > 0 for s in streams.values()) == 3000


@pytest.mark.parametrize("cls", TOKENIZERS, ids=lambda c: c.__name__)
def test_encode_tracks_keeps_empty_tracks_and_ids_dtype(cls):
    tracks = [Track(0, False, "empty"), Track(0, False, "full")]
    notes = midi.make_notes([0], [480], [60], track=[1])
    streams = cls().encode_tracks(midi.Score(notes=notes, tracks=tracks))
    assert len(streams[tracks[0]]) == 0 and len(streams[tracks[1]]) > 0
    assert all(s.dtype == np.int32 for s in streams.values())


def late_notes_file(n_tracks: int, beat: int) -> bytes:
    """`n_tracks` tracks, each one note at `beat` (1 tick per beat, 1 microsecond per
    beat, so 9 million beats last 9 s and pass the 6-hour limit)."""
    tempo = smf_track([(0, b"\xff\x51\x03\x00\x00\x01")])
    tracks = [
        smf_track([(0, b"\xff\x03\x01" + bytes([65 + i])), (beat, bytes([0x90, 60 + i, 100])),
                   (1, bytes([0x80, 60 + i, 0]))])
        for i in range(n_tracks)
    ]  # fmt: skip
    return smf([tempo, *tracks], tpb=1)


def test_encode_tracks_refuses_streams_that_together_are_too_long():
    # Each stream needs 4.5 million shifts (under the 10 million limit of one stream);
    # the three together need 13.5 million: refused before any is allocated.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GrooveWarning)
        score = midi.load(late_notes_file(3, 9_000_000))
    with pytest.raises(MidiError, match="its 3 tracks together are too long to tokenize"):
        BeatTokenizer().encode_tracks(score)
    with pytest.raises(MidiError, match="its 3 tracks together are too long to tokenize"):
        DurationTokenizer().encode_tracks(score)
