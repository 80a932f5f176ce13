"""decode(encode(x)) keeps every note, for every tokenizer, on real and edge-case MIDI.

"Keeps" means: the same number of notes of every (program, drum flag, pitch);
onsets and offsets within one time quantum; velocities within one bin. Same-pitch
notes that overlap are compared as sets of onsets and sets of offsets, since MIDI
itself cannot say which note-off ends which of them.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from groove import midi
from groove.errors import GrooveWarning, MidiError
from groove.midi import Track
from groove.tokenizers import BeatTokenizer, MidiTokTokenizer, PerformanceTokenizer
from groove.tokenizers.fidelity import compare
from tests.conftest import score_of, shared_params

EPS = 1e-9
# DurationTokenizer is not here: its drum hits decode `drum_steps` long whatever
# their length was, so the offset guarantee below does not hold for drums. Its own
# round trips (tests/tokenizers/test_duration.py) are stricter everywhere else:
# every note, same-pitch overlaps included, comes back exactly as quantised, on
# these same shared files.
CASES = {
    # tokenizer, time unit, one quantum in that unit, one velocity bin
    "performance": (PerformanceTokenizer(), "seconds", 0.01, 127 / 32),
    "beat": (BeatTokenizer(), "beats", 1 / 12, 127 / 8),
    "miditok": (MidiTokTokenizer("MIDILike"), "beats", 1 / 12, 127 / 32),
}


def assert_round_trip(name: str, score: midi.Score) -> None:
    tok, unit, quantum, bin_width = CASES[name]
    reference = midi.apply_sustain(score) if name == "performance" else score
    decoded, report = tok.decode_tracks_score(tok.encode_tracks(score))
    fid = compare(reference, decoded, unit)
    assert fid.same_notes, f"note counts differ: {fid.notes}"
    assert fid.onset_error <= quantum + EPS, fid
    assert fid.offset_error <= quantum + EPS, fid
    assert fid.velocity_error < bin_width, fid
    assert report.repairs == 0, report
    assert {(t.program, t.is_drum) for t in decoded.tracks} == {
        (t.program, t.is_drum) for t in score.tracks
    }


def load_readable(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GrooveWarning)
        try:
            return midi.load(path)
        except MidiError:
            pytest.skip("not readable (covered by the bad-input tests)")


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("path", shared_params())
def test_shared_files(name, path):
    assert_round_trip(name, load_readable(path))


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize(
    "piece", ["bach/bwv66.6", "bach/bwv4.8", "palestrina/agnus_0", "essenFolksong/altdeu10"]
)
def test_music21_corpus(name, piece):
    from music21 import corpus

    parsed = corpus.parse(piece)
    if hasattr(parsed, "scores"):  # an Opus of folk songs: take the first
        parsed = parsed.scores[0]
    score = midi.load(parsed)
    assert len(score.notes) > 10
    assert_round_trip(name, score)


def _edge_cases() -> dict[str, midi.Score]:
    piano, drums = Track(0, False, "Piano"), Track(0, True, "Drums")
    return {
        "overlapping same pitch": score_of(
            [(0, 960, 60, 80, 0), (480, 1440, 60, 100, 0), (600, 700, 60, 40, 0)]
        ),
        "zero-length notes": score_of(
            [(0, 0, 60, 80, 0), (100, 100, 62, 80, 0), (479, 479, 64, 80, 0), (7, 9, 65, 80, 0)]
        ),
        "longer than the largest shift": score_of(
            [
                (0, 480 * 50, 48, 80, 0),
                (480 * 40, 480 * 41, 50, 80, 0),
                (480 * 200, 480 * 201, 52, 80, 0),
            ]
        ),
        "no notes": score_of([]),
        "all 128 pitches": score_of(
            [(i * 100, i * 100 + 90, i, 1 + i % 127, 0) for i in range(128)]
        ),
        "drums only": score_of(
            [(i * 120, i * 120 + 30, 35 + i % 20, 100, 0) for i in range(64)], [drums]
        ),
        "chord of identical notes": score_of(
            [(0, 480, 60, 80, 0), (0, 480, 60, 90, 0), (0, 240, 60, 70, 0)]
        ),
        "two tracks, same pitch": score_of(
            [(0, 480, 60, 80, 0), (240, 720, 60, 80, 1)], [piano, Track(33, False, "Bass")]
        ),
        "extreme velocities": score_of(
            [(0, 100, 60, 1, 0), (0, 100, 61, 127, 0), (0, 100, 62, 0, 0)]
        ),
    }


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("case", list(_edge_cases()))
def test_edge_cases(name, case):
    score = _edge_cases()[case]
    if case == "extreme velocities":  # velocity 0 is a note-off in MIDI: read as 1
        score.notes["velocity"] = np.maximum(score.notes["velocity"], 1)
    assert_round_trip(name, score)


@pytest.mark.parametrize("name", CASES)
def test_merged_stream_keeps_pitches(name):
    from groove import example_path

    tok = CASES[name][0]
    score = midi.load(example_path("band.mid"))
    decoded, _ = tok.decode_score(tok.encode(score))
    kept = score.notes if name != "performance" else score.notes[score.notes["track"] != 2]
    # Performance merges the pitched tracks (drums are left out); the others merge all.
    assert sorted(decoded.notes["pitch"].tolist()) == sorted(kept["pitch"].tolist())
    assert {t.is_drum for t in decoded.tracks} == (
        {False} if name == "performance" else {False, True}
    )
