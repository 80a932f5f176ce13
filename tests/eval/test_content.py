"""Chroma similarity (content preservation) on hand-computed cases and real files."""

import math

import numpy as np
import pytest

from groove.errors import GrooveWarning
from groove.eval import chroma_similarity, chromagram
from groove.midi import TEMPO_DTYPE, Track, load
from tests.conftest import SHARED_MIDI, score_of, shared_params

BEAT = 480


def chord(pitches, start=0.0, beats=4.0, velocity=100, track=0, **kwargs):
    """Notes of one chord held from `start` for `beats` beats."""
    return [
        (round(start * BEAT), round((start + beats) * BEAT), p, velocity, track) for p in pitches
    ]


C_MAJOR = (60, 64, 67)


def test_identical_pieces_score_one():
    a = score_of(chord(C_MAJOR) + chord((62, 65, 69), start=4))
    assert chroma_similarity(a, a) == pytest.approx(1.0)


def test_major_triad_against_minor_triad_is_two_thirds():
    # Every column holds C, E, G against C, Eb, G: two shared pitch classes of three,
    # so each normalised dot product is 2/3, and so is their mean.
    major = score_of(chord(C_MAJOR))
    minor = score_of(chord((60, 63, 67)))
    assert chroma_similarity(major, minor) == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    ("semitones", "expected"),
    [
        (0, 1.0),
        (12, 1.0),  # an octave keeps every pitch class
        (4, 1 / 3),  # E G# B shares only E with C E G
        (7, 1 / 3),  # G B D shares only G
        (2, 0.0),  # D F# A shares nothing
        (1, 0.0),
    ],
)
def test_triad_against_transposed_copy(semitones, expected):
    a = score_of(chord(C_MAJOR))
    b = score_of(chord([p + semitones for p in C_MAJOR]))
    assert chroma_similarity(a, b) == pytest.approx(expected)


def test_disjoint_pitch_classes_score_zero():
    a = score_of(chord((60, 62, 64)) + chord((65,), start=4))
    b = score_of(chord((61, 63, 66)) + chord((68, 70), start=4))
    assert chroma_similarity(a, b) == 0.0


def test_time_shift_on_paper():
    # The same chord over beats 0-4 and 4-8. With 12 frames per beat, a 24-frame
    # box and stride 12, the first is non-zero in smoothed columns 0, 12, ..., 60, the
    # second in 48, 60, ..., 108: 10 columns in all, 2 shared, each dot product 1.
    a = score_of(chord(C_MAJOR, start=0))
    b = score_of(chord(C_MAJOR, start=4))
    assert chroma_similarity(a, b) == pytest.approx(2 / 10)


def test_window_and_stride_are_parameters():
    a = score_of(chord(C_MAJOR, start=0))
    b = score_of(chord(C_MAJOR, start=4))
    # A 1-frame window and stride 1 compare frames directly: 48 + 48 frames, none shared.
    assert chroma_similarity(a, b, window=1, stride=1) == 0.0
    # One frame per beat, a 4-beat window: columns 0..6 vs 4..10, 3 shared of 11.
    assert chroma_similarity(a, b, frames_per_beat=1, window=4, stride=1) == pytest.approx(3 / 11)


def test_drums_and_velocity_are_ignored():
    a = score_of(chord(C_MAJOR, velocity=100))
    drums = [(i * BEAT, i * BEAT + 60, 36 + i, 90, 1) for i in range(4)]
    b = score_of(
        chord(C_MAJOR, velocity=20) + drums,
        tracks=[Track(0, False, "piano"), Track(0, True, "drums")],
    )
    assert chroma_similarity(a, b) == pytest.approx(1.0)


def test_tempo_and_resolution_do_not_change_the_score():
    notes = chord(C_MAJOR) + chord((62, 65, 69), start=4, beats=2)
    a = score_of(notes)
    b = score_of(notes, qpm=73.0).resample(96)
    b = b.replace(tempos=np.array([(0, 73.0), (96 * 3, 190.0)], TEMPO_DTYPE))
    c = score_of(chord((60, 64, 67, 71), beats=6))
    assert chroma_similarity(a, c) == pytest.approx(chroma_similarity(b, c))


def test_silence_in_one_piece_scores_zero_and_in_both_is_nan():
    a = score_of(chord(C_MAJOR))
    empty = score_of([])
    assert chroma_similarity(a, empty) == 0.0
    with pytest.warns(GrooveWarning, match="undefined"):
        assert math.isnan(chroma_similarity(empty, empty))


def test_chromagram_counts_notes_per_pitch_class_and_frame():
    # C4 and C5 both sound over beat 0 (12 frames); E4 for half a beat from beat 1.
    notes = [(0, BEAT, 60, 100, 0), (0, BEAT, 72, 100, 0), (BEAT, BEAT + BEAT // 2, 64, 1, 0)]
    chroma = chromagram(score_of(notes))
    assert chroma.shape == (12, 18)
    assert (chroma[0, :12] == 2).all() and (chroma[0, 12:] == 0).all()
    assert (chroma[4, 12:18] == 1).all() and chroma[4, :12].sum() == 0
    assert chroma.sum() == 2 * 12 + 6


def test_a_very_short_note_still_sounds_one_frame():
    chroma = chromagram(score_of([(0, 1, 61, 100, 0)]))
    assert chroma.shape == (12, 1) and chroma[1, 0] == 1


@pytest.mark.parametrize("path", shared_params("good"))
def test_real_files_score_in_range(path):
    piece = load(path)
    other = load(SHARED_MIDI / "miditok/multitrack/Funkytown.mid")
    if chromagram(piece).sum() == 0:  # the shared empty and drum-only files
        with pytest.warns(GrooveWarning):
            assert math.isnan(chroma_similarity(piece, piece))
        assert chroma_similarity(piece, other) == 0.0
        return
    assert chroma_similarity(piece, piece) == pytest.approx(1.0)
    value = chroma_similarity(piece, other)
    assert 0.0 <= value <= 1.0
    assert value == pytest.approx(chroma_similarity(other, piece))
