"""Properties of every groove tokenizer, over any sequence of ids (Hypothesis).

- **Decoding never fails** on ids inside the vocabulary (README, "Guarantees"):
  `decode_score` and `decode` return, whatever the order of the tokens, and every
  decoded note is at least one quantum long.
- **encode . decode is a fixed point on decoded output**: decoding ids gives a
  score; encoding that score and decoding again gives the same notes, compared as
  tests/tokenizers/test_roundtrip.py compares round trips (`fidelity.compare`: the
  same count of every (program, drum flag, pitch), onsets and offsets within one
  quantum, velocities within one bin; same-pitch overlaps as sets of onsets and
  offsets, since MIDI cannot say which off ends which of them).

The examples are derandomized (the same ones on every run, chosen by a hash of each
test), so CI is deterministic; the database is off, so nothing is written.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from groove.tokenizers import BeatTokenizer, DurationTokenizer, PerformanceTokenizer
from groove.tokenizers.fidelity import compare

EPS = 1e-9
# tokenizer, time unit of `compare`, one quantum in that unit, one quantum in the
# decoded score's ticks, one velocity bin (the decoders' defaults: 480 ticks per
# beat for the beat grids, 1 ms ticks for performance)
CASES = {
    "beat": (BeatTokenizer(), "beats", 1 / 12, 480 // 12, 127 / 8),
    "duration": (DurationTokenizer(), "beats", 1 / 12, 480 // 12, 127 / 4),
    "performance": (PerformanceTokenizer(), "seconds", 0.01, 10, 127 / 32),
}

PROPERTY = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def id_lists(name: str):
    """Lists of in-vocabulary ids, up to 400 long: short free-form lists (which
    shrink well), and lists of a drawn length up to 400 (Hypothesis alone draws
    lists of a few dozen). Half the ids are uniform over the vocabulary, the other
    half time shifts, so that notes overlap across shifts (uniform ids are mostly
    NOTE tokens)."""
    tok = CASES[name][0]
    shifts = [i for i, t in enumerate(tok.vocab) if t.startswith("TIME_SHIFT_")]
    one = st.one_of(st.integers(0, tok.vocab_size - 1), st.sampled_from(shifts))
    short = st.lists(one, max_size=400)
    long = st.integers(0, 400).flatmap(lambda n: st.lists(one, min_size=n, max_size=n))
    return st.one_of(short, long).map(lambda ids: np.array(ids, np.int64))


def note_summary(score) -> str:
    n = score.notes
    rows = zip(n["start"].tolist(), n["end"].tolist(), n["pitch"].tolist(),
               n["velocity"].tolist(), n["track"].tolist())  # fmt: skip
    return f"{len(n)} notes: {list(rows)[:12]}"


def check_decodes(name: str, ids: np.ndarray) -> None:
    tok, _, _, quantum_ticks, _ = CASES[name]
    score, report = tok.decode_score(ids)
    n = score.notes
    assert (n["end"] - n["start"] >= quantum_ticks).all(), note_summary(score)
    assert ((n["pitch"] >= 0) & (n["pitch"] <= 127)).all()
    assert ((n["velocity"] >= 1) & (n["velocity"] <= 127)).all(), note_summary(score)
    assert ((n["track"] >= 0) & (n["track"] < len(score.tracks))).all()
    assert report.notes == len(n), report
    pm = tok.decode(ids)
    assert sum(len(i.notes) for i in pm.instruments) == len(n)


def check_fixed_point(name: str, ids: np.ndarray) -> None:
    tok, unit, quantum, _, bin_width = CASES[name]
    first, _ = tok.decode_score(ids)
    again = tok.encode(first)
    second, report = tok.decode_score(again)
    fid = compare(first, second, unit)
    where = f"{tok.ids_to_tokens(ids)}\n-> {tok.ids_to_tokens(again)}\n{fid}"
    assert fid.same_notes, where
    assert fid.onset_error <= quantum + EPS, where
    assert fid.offset_error <= quantum + EPS, where
    assert fid.velocity_error < bin_width, where
    assert report.repairs == 0, f"re-encoded output needed repairs: {report}\n{where}"


@pytest.mark.parametrize("name", CASES)
@PROPERTY
@given(data=st.data())
def test_decode_never_fails(name, data):
    check_decodes(name, data.draw(id_lists(name), label="ids"))


@pytest.mark.parametrize("name", CASES)
@PROPERTY
@given(data=st.data())
def test_encode_decode_is_a_fixed_point_on_decoded_output(name, data):
    check_fixed_point(name, data.draw(id_lists(name), label="ids"))


@pytest.mark.parametrize("name", CASES)
def test_the_empty_and_the_special_sequences(name):
    """The smallest inputs, by hand: nothing, and only PAD/BOS/EOS."""
    tok = CASES[name][0]
    for tokens in ([], ["PAD"], ["BOS", "EOS"], ["EOS", "EOS", "PAD"]):
        ids = tok.tokens_to_ids(tokens)
        check_decodes(name, ids)
        check_fixed_point(name, ids)
