"""The shared interface: JSON persistence, lookup by name, decode_tracks, fidelity."""

from __future__ import annotations

import json

import numpy as np
import pytest

from groove import example_path, midi
from groove.errors import ConfigError, TokenError
from groove.tokenizers import (
    BeatTokenizer,
    DurationTokenizer,
    MidiTokTokenizer,
    PerformanceTokenizer,
    Tokenizer,
    get_tokenizer,
)
from groove.tokenizers.fidelity import compare
from tests.conftest import score_of

ALL = [
    PerformanceTokenizer(time_step=0.02, velocity_bins=16),
    BeatTokenizer(resolution=24),
    DurationTokenizer(resolution=24, velocity_bins=8),
    MidiTokTokenizer("REMI", {"num_velocities": 16}),
]


@pytest.mark.parametrize("tok", ALL, ids=lambda t: t.kind)
def test_save_and_load_json(tok, tmp_path):
    tok.save(tmp_path / "tok.json")
    again = Tokenizer.load(tmp_path / "tok.json")
    assert type(again) is type(tok) and again == tok
    assert again.vocab == tok.vocab
    payload = json.loads((tmp_path / "tok.json").read_text())
    assert payload["kind"] == tok.kind and payload["vocab"] == tok.vocab
    ids = tok.encode(example_path("band.mid"))
    assert again.encode(example_path("band.mid")).tolist() == ids.tolist()


def test_load_rejects_bad_files(tmp_path):
    (tmp_path / "junk.json").write_text("{not json")
    with pytest.raises(TokenError, match="not a groove tokenizer file"):
        Tokenizer.load(tmp_path / "junk.json")
    tok = BeatTokenizer()
    tok.save(tmp_path / "beat.json")
    payload = json.loads((tmp_path / "beat.json").read_text())
    payload["vocab"][5] = "SOMETHING_ELSE"
    (tmp_path / "beat.json").write_text(json.dumps(payload))
    with pytest.raises(TokenError, match="vocabulary differs"):
        Tokenizer.load(tmp_path / "beat.json")


def test_get_tokenizer_by_name(tmp_path):
    assert isinstance(get_tokenizer("performance"), PerformanceTokenizer)
    assert isinstance(get_tokenizer("beat"), BeatTokenizer)
    assert get_tokenizer("miditok:REMI").tokenization == "REMI"
    BeatTokenizer(resolution=6).save(tmp_path / "b.json")
    assert get_tokenizer(str(tmp_path / "b.json")).resolution == 6
    with pytest.raises(ConfigError, match="unknown tokenizer"):
        get_tokenizer("wavenet")


def test_encode_tracks_merges_identical_tracks_and_keeps_distinct_ones():
    piano = midi.Track(0, False, "Piano")
    score = score_of(
        [(0, 480, 60, 80, 0), (0, 480, 64, 80, 1), (0, 480, 67, 80, 2)],
        [piano, piano, midi.Track(0, False, "Piano 2")],
    )
    by_track = BeatTokenizer().encode_tracks(score)
    assert list(by_track) == [piano, midi.Track(0, False, "Piano 2")]
    decoded = BeatTokenizer().decode_tracks(by_track)
    assert [len(i.notes) for i in decoded.instruments] == [2, 1]


def test_decode_tracks_of_nothing_is_an_empty_midi():
    for tok in ALL:
        pm = tok.decode_tracks({})
        assert pm.instruments == []
        assert tok.decode([]).instruments == []


def test_fidelity_detects_changes():
    a = score_of([(0, 480, 60, 80, 0), (480, 960, 62, 80, 0)])
    assert compare(a, a).within(0, 0)
    moved = a.replace(notes=a.notes.copy())
    moved.notes["start"][1] += 48  # 0.05 s at 120 qpm
    assert compare(a, moved).onset_error == pytest.approx(0.05)
    assert not compare(a, moved).within(0.01, 0)
    other_pitch = a.replace(notes=a.notes.copy())
    other_pitch.notes["pitch"][0] = 61
    assert not compare(a, other_pitch).same_notes
    other_program = a.replace(tracks=[midi.Track(5, False, "x")])
    assert not compare(a, other_program).same_notes
    fewer = a.replace(notes=a.notes[:1])
    assert compare(a, fewer).notes == (2, 1)
    louder = a.replace(notes=a.notes.copy())
    louder.notes["velocity"] += 10
    assert compare(a, louder).velocity_error == 10
    np.testing.assert_equal(compare(a, fewer).onset_error, np.nan)
