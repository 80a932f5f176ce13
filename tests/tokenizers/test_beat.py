"""BeatTokenizer: beat grid, tempo independence, drums, decoding onto a tempo."""

from __future__ import annotations

import numpy as np
import pytest

from groove import example_path, midi
from groove.errors import ConfigError
from groove.midi import Track
from groove.tokenizers import BeatTokenizer
from tests.conftest import score_of

TOK = BeatTokenizer()


def test_vocabulary():
    v = TOK.vocab
    assert len(v) == 3 + 4 * 128 + 24 + 8
    for name in (
        "NOTE_ON_0",
        "NOTE_OFF_127",
        "DRUM_ON_36",
        "DRUM_OFF_42",
        "TIME_SHIFT_24",
        "VELOCITY_7",
    ):
        assert name in v
    assert len(BeatTokenizer(velocity_bins=0).vocab) == 3 + 4 * 128 + 24


def test_encoding_is_the_same_at_any_tempo_and_resolution():
    fast = score_of([(0, 240, 60, 80, 0), (480, 600, 64, 80, 0)], qpm=180, tpb=480)
    slow = score_of([(0, 48, 60, 80, 0), (96, 120, 64, 80, 0)], qpm=70, tpb=96)
    assert TOK.encode(fast).tolist() == TOK.encode(slow).tolist()
    assert TOK.ids_to_tokens(TOK.encode(fast))[1:4] == ["NOTE_ON_60", "TIME_SHIFT_6", "NOTE_OFF_60"]


def test_drum_tracks_use_drum_tokens():
    score = score_of(
        [(0, 60, 36, 100, 0), (0, 480, 36, 100, 1)],
        [Track(0, True, "Drums"), Track(33, False, "Bass")],
    )
    tokens = TOK.ids_to_tokens(TOK.encode(score))
    assert "DRUM_ON_36" in tokens and "NOTE_ON_36" in tokens
    decoded, _ = TOK.decode_score(TOK.encode(score))
    assert [t.is_drum for t in decoded.tracks] == [False, True]


def test_decode_uses_the_given_tempo():
    ids = TOK.encode(score_of([(0, 480, 60, 80, 0)]))  # one beat long
    score, _ = TOK.decode_score(ids, tempo=60.0)
    assert score.duration_seconds == pytest.approx(1.0)
    pm = TOK.decode(ids, tempo=150.0)
    assert pm.instruments[0].notes[0].end == pytest.approx(0.4)
    with pytest.raises(ConfigError):
        TOK.decode(ids, tempo=0)


def test_decode_reuses_a_reference_tempo_map():
    ref = midi.load(example_path("band.mid"))
    ref = ref.replace(tempos=np.array([(0, 100.0), (960, 50.0)], midi.TEMPO_DTYPE))
    ids = TOK.encode(score_of([(0, 1920, 60, 80, 0)]))  # four beats
    score, _ = TOK.decode_score(ids, reference=ref)
    assert score.ticks_per_beat == ref.ticks_per_beat
    assert score.tempos.tolist() == ref.tempos.tolist()
    assert score.time_signatures.tolist() == ref.time_signatures.tolist()
    # two beats at 100 qpm (1.2 s) + two beats at 50 qpm (2.4 s)
    assert score.duration_seconds == pytest.approx(3.6)


def test_transpose_leaves_drums_alone():
    score = score_of(
        [(0, 60, 36, 100, 0), (0, 480, 60, 100, 1)],
        [Track(0, True, "Drums"), Track(0, False, "Piano")],
    )
    decoded, _ = TOK.decode_score(TOK.transpose(TOK.encode(score), 3))
    got = {(bool(decoded.tracks[n["track"]].is_drum), int(n["pitch"])) for n in decoded.notes}
    assert got == {(True, 36), (False, 63)}


def test_without_velocity_decodes_a_default_velocity():
    tok = BeatTokenizer(velocity_bins=0)
    ids = tok.encode(score_of([(0, 480, 60, 5, 0)]))
    assert not any(t.startswith("VELOCITY") for t in tok.ids_to_tokens(ids))
    assert tok.decode_score(ids)[0].notes["velocity"].tolist() == [80]


def test_decode_never_raises_on_valid_ids():
    rng = np.random.default_rng(3)
    for _ in range(200):
        score, report = TOK.decode_score(rng.integers(0, len(TOK), size=rng.integers(0, 400)))
        assert (score.notes["end"] > score.notes["start"]).all()
        assert report.notes == len(score.notes)
