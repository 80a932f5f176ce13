"""MidiTokTokenizer: miditok encodings behind groove's interface."""

from __future__ import annotations

import numpy as np
import pytest

from groove import example_path, midi
from groove.errors import ConfigError, TokenError
from groove.tokenizers import MidiTokTokenizer
from groove.tokenizers.fidelity import compare


@pytest.mark.parametrize("tokenization", ["MIDILike", "REMI", "TSD"])
def test_miditok_tokenizations_round_trip_the_band(tokenization):
    tok = MidiTokTokenizer(tokenization)
    score = midi.load(example_path("band.mid"))
    ids = tok.encode(score)
    assert ids.dtype == np.int32 and len(ids) > 100
    decoded, _report = tok.decode_tracks_score(tok.encode_tracks(score))
    fid = compare(score, decoded, "beats")
    assert fid.same_notes and fid.onset_error <= 1 / 12 + 1e-9
    assert decoded.tracks == score.tracks  # names, programs and the drum kit kept


def test_special_ids_and_eos_handling():
    tok = MidiTokTokenizer()
    ids = tok.encode(example_path("band.mid"))
    full, _ = tok.decode_score(ids)
    cut, report = tok.decode_score(np.concatenate([[tok.bos_id], ids, [tok.eos_id], ids[:50]]))
    assert report.tokens_after_eos == 50
    assert len(cut.notes) == len(full.notes)


def test_decode_never_raises_on_valid_ids():
    tok = MidiTokTokenizer("REMI")
    rng = np.random.default_rng(11)
    for _ in range(100):
        tok.decode_score(rng.integers(0, len(tok), size=rng.integers(0, 300)))
    with pytest.raises(TokenError):
        tok.decode([len(tok)])


def test_bad_tokenization_name_is_a_config_error():
    with pytest.raises(ConfigError, match="no tokenization named 'Nope'"):
        MidiTokTokenizer("Nope")
