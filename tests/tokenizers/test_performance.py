"""PerformanceTokenizer: vocabulary, exact encodings, sustain, augmentation, repairs."""

from __future__ import annotations

import numpy as np
import pytest

from groove import midi
from groove.errors import TokenError
from groove.tokenizers import PerformanceTokenizer
from tests.conftest import score_of

TOK = PerformanceTokenizer()


def names(ids):
    return TOK.ids_to_tokens(ids)


def test_vocabulary_is_the_music_transformer_one():
    v = TOK.vocab
    assert len(v) == 3 + 128 + 128 + 100 + 32
    assert v[:3] == ["PAD", "BOS", "EOS"]
    assert v[3] == "NOTE_ON_0" and v[3 + 128] == "NOTE_OFF_0"
    assert "TIME_SHIFT_1" in v and "TIME_SHIFT_100" in v and "TIME_SHIFT_101" not in v
    assert "VELOCITY_31" in v and "VELOCITY_32" not in v
    assert TOK.token_to_id(TOK.id_to_token(200)) == 200


def test_exact_encoding_of_two_notes():
    # 120 qpm: 480 ticks = 0.5 s = 50 steps. Note 60 [0, 0.5 s) v=100, note 64 [0.25, 1.75 s).
    score = score_of([(0, 480, 60, 100, 0), (240, 1680, 64, 100, 0)])
    assert names(TOK.encode(score)) == [
        "VELOCITY_24",
        "NOTE_ON_60",
        "TIME_SHIFT_25",
        "NOTE_ON_64",
        "TIME_SHIFT_25",
        "NOTE_OFF_60",
        "TIME_SHIFT_100",
        "TIME_SHIFT_25",
        "NOTE_OFF_64",
    ]


def test_velocity_token_only_when_the_bin_changes():
    score = score_of([(0, 100, 60, 100, 0), (200, 300, 62, 98, 0), (400, 500, 64, 30, 0)])
    tokens = names(TOK.encode(score))
    assert [t for t in tokens if t.startswith("VELOCITY")] == ["VELOCITY_24", "VELOCITY_7"]


def test_time_follows_the_tempo_map():
    slow = score_of([(0, 480, 60, 80, 0)], qpm=60)  # one beat = 1 s
    assert names(TOK.encode(slow))[-2:] == ["TIME_SHIFT_100", "NOTE_OFF_60"]


def test_sustain_pedal_extends_notes():
    score = score_of([(0, 240, 60, 80, 0)])
    score.pedals = np.array([(120, 960, 0)], midi.PEDAL_DTYPE)  # down until 1 s
    held, _ = TOK.decode_score(TOK.encode(score))
    assert held.seconds(held.notes["end"][0]) == pytest.approx(1.0)
    dry, _ = PerformanceTokenizer(sustain=False).decode_score(
        PerformanceTokenizer(sustain=False).encode(score)
    )
    assert dry.seconds(dry.notes["end"][0]) == pytest.approx(0.25)
    # `prepare` says what a round trip gives back: the pedal applied, or not.
    assert TOK.prepare(score).notes["end"].tolist() == [960]
    assert PerformanceTokenizer(sustain=False).prepare(score).notes["end"].tolist() == [240]


def test_encode_leaves_out_drums_but_encode_tracks_keeps_them():
    score = score_of(
        [(0, 480, 60, 80, 0), (0, 60, 36, 80, 1)],
        [midi.Track(0, False, "Piano"), midi.Track(0, True, "Drums")],
    )
    assert "NOTE_ON_36" not in names(TOK.encode(score))
    by_track = TOK.encode_tracks(score)
    assert "NOTE_ON_36" in names(by_track[midi.Track(0, True, "Drums")])


def test_transpose_moves_pitches_and_drops_what_leaves_the_range():
    score = score_of([(0, 480, 60, 80, 0), (0, 480, 125, 80, 0)])
    ids = TOK.transpose(TOK.encode(score), 5)
    decoded, report = TOK.decode_score(ids)
    assert decoded.notes["pitch"].tolist() == [65]  # 130 is out of range: dropped
    assert report.repairs == 0
    assert TOK.decode_score(TOK.transpose(ids, -5))[0].notes["pitch"].tolist() == [60]


def test_time_stretch_scales_times():
    score = score_of([(0, 480, 60, 80, 0), (480, 960, 62, 80, 0)])  # 0.5 s notes
    stretched, _ = TOK.decode_score(TOK.time_stretch(TOK.encode(score), 1.5))
    seconds = stretched.seconds(stretched.notes["start"]), stretched.seconds(stretched.notes["end"])
    np.testing.assert_allclose(seconds[0], [0.0, 0.75])
    np.testing.assert_allclose(seconds[1], [0.75, 1.5])
    with pytest.raises(ValueError):
        TOK.time_stretch([], 0)


def test_decode_repairs_impossible_events_and_counts_them():
    t = TOK.token_to_id
    ids = [
        t("BOS"),
        t("NOTE_OFF_60"),  # off for a silent pitch: skipped
        t("NOTE_ON_62"),
        t("NOTE_OFF_62"),  # zero length: one step
        t("NOTE_ON_64"),
        t("TIME_SHIFT_50"),  # never switched off: closed at the end
        t("BOS"),
        t("EOS"),
        t("NOTE_ON_70"),
    ]  # misplaced BOS; tokens after EOS ignored
    score, report = TOK.decode_score(ids)
    assert report.unmatched_note_offs == 1
    assert report.zero_length_notes == 1
    assert report.unterminated_notes == 1
    assert report.misplaced_specials == 1
    assert report.tokens_after_eos == 1
    assert report.notes == 2
    ends = dict(zip(score.notes["pitch"].tolist(), score.seconds(score.notes["end"]).tolist()))
    assert ends == pytest.approx({62: 0.01, 64: 0.5})


def test_decode_never_raises_on_any_sequence_of_valid_ids():
    rng = np.random.default_rng(7)
    for _ in range(300):
        ids = rng.integers(0, len(TOK), size=rng.integers(0, 500))
        score, report = TOK.decode_score(ids)
        assert report.notes == len(score.notes)
        assert (score.notes["end"] > score.notes["start"]).all()
    pm = TOK.decode(rng.integers(0, len(TOK), size=1000))
    assert pm.instruments  # a PrettyMIDI that plays


def test_ids_outside_the_vocabulary_raise_token_error():
    for bad in ([len(TOK)], [-1], [3, 4, 10_000]):
        with pytest.raises(TokenError, match="outside the vocabulary"):
            TOK.decode(bad)
    with pytest.raises(TokenError):
        TOK.decode([1.5])
    with pytest.raises(TokenError):
        TOK.id_to_token(len(TOK))
    with pytest.raises(TokenError):
        TOK.token_to_id("NOTE_ON_128")
