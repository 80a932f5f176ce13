"""DurationTokenizer: vocabulary layout, exact round trips, repairs, augmentation.

A round trip must give back `tokenizer.prepare(score)` on the grid exactly: pitched
notes with their quantised onset, offset, pitch and velocity bin; drum hits with
their rounded onset, pitch and velocity bin, `drum_steps` long.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from groove import example_path, midi
from groove.errors import ConfigError, GrooveWarning, MidiError, TokenError
from groove.midi import Track
from groove.tokenizers import (
    BeatTokenizer,
    DurationTokenizer,
    Tokenizer,
    duration,
    events,
    get_tokenizer,
)
from groove.tokenizers.events import DecodeReport, quantize, velocity_to_bin
from groove.tokenizers.fidelity import compare
from groove.tokenizers.grammar import event_codes
from tests.conftest import SHARED_MIDI, manifest, score_of, shared_params

TOK = DurationTokenizer()
PIANO, BASS, DRUMS = Track(0, False, "Piano"), Track(33, False, "Bass"), Track(0, True, "Drums")


def ids(tokens: str) -> np.ndarray:
    return TOK.tokens_to_ids(tokens.split())


def names(encoded: np.ndarray, tok: DurationTokenizer = TOK) -> str:
    return " ".join(tok.ids_to_tokens(encoded))


def _track(track: Track) -> tuple:
    return track.program, track.is_drum, track.name


def expected(tok: DurationTokenizer, score: midi.Score, by_track: bool = False) -> list[tuple]:
    """(track, pitch, on, off, velocity bin) of every note after a round trip, in
    steps. `track` is (program, drum flag, name) with `by_track`, else the drum flag."""
    s = tok.prepare(score)
    n = s.notes
    drum = np.array([t.is_drum for t in s.tracks] + [False], bool)[n["track"]]
    start = s.beats(n["start"]) * tok.resolution
    on, off = quantize(start, s.beats(n["end"]) * tok.resolution)
    on[drum] = np.rint(start[drum])
    off[drum] = on[drum] + tok.drum_steps
    bins = velocity_to_bin(n["velocity"], max(tok.velocity_bins, 1))
    track = [_track(s.tracks[t]) for t in n["track"]] if by_track else drum.tolist()
    return sorted(zip(track, n["pitch"].tolist(), on.tolist(), off.tolist(), bins.tolist()))


def got(tok: DurationTokenizer, decoded: midi.Score, by_track: bool = False) -> list[tuple]:
    """The same tuples read back from a decoded score (times must be whole steps)."""
    n = decoded.notes
    on = decoded.beats(n["start"]) * tok.resolution
    off = decoded.beats(n["end"]) * tok.resolution
    np.testing.assert_allclose(on, np.rint(on), atol=1e-9)
    np.testing.assert_allclose(off, np.rint(off), atol=1e-9)
    track = [_track(t) if by_track else t.is_drum for t in decoded.tracks]
    tracks = [track[t] for t in n["track"]]
    bins = velocity_to_bin(n["velocity"], max(tok.velocity_bins, 1)).tolist()
    on, off = np.rint(on).astype(int).tolist(), np.rint(off).astype(int).tolist()
    return sorted(zip(tracks, n["pitch"].tolist(), on, off, bins))


def assert_exact_round_trip(tok: DurationTokenizer, score: midi.Score) -> None:
    decoded, report = tok.decode_score(tok.encode(score))
    assert report.repairs == 0, report
    assert got(tok, decoded) == expected(tok, score)
    decoded, report = tok.decode_tracks_score(tok.encode_tracks(score))
    assert report.repairs == 0, report
    assert got(tok, decoded, by_track=True) == expected(tok, score, by_track=True)


# ----------------------------------------------------------------------- vocabulary


def test_vocabulary_layout():
    v = TOK.vocab
    assert v[:3] == ["PAD", "BOS", "EOS"]
    assert v[3:131] == [f"NOTE_ON_{p}" for p in range(128)]
    assert v[131:259] == [f"DRUM_ON_{p}" for p in range(128)]
    assert v[259:307] == [f"DURATION_{d}" for d in range(1, 49)]
    assert v[307:331] == [f"TIME_SHIFT_{s}" for s in range(1, 25)]
    assert v[331:] == [f"VELOCITY_{b}" for b in range(4)]
    tok = DurationTokenizer(resolution=4, max_shift_beats=3, max_duration_beats=2, velocity_bins=0)
    assert len(tok) == 3 + 256 + 8 + 12 and tok.vocab[-1] == "TIME_SHIFT_12"


def test_config_is_validated_and_drum_steps_defaults_to_a_16th():
    zero = [{k: 0} for k in ("resolution", "max_shift_beats", "max_duration_beats", "drum_steps")]
    for bad in [*zero, {"velocity_bins": 128}, {"velocity_bins": -1}]:
        with pytest.raises(ConfigError):
            DurationTokenizer(**bad)
    assert TOK.drum_steps == 3
    assert DurationTokenizer(resolution=24).drum_steps == 6
    assert DurationTokenizer(resolution=2).drum_steps == 1
    assert DurationTokenizer(drum_steps=5).drum_steps == 5


def test_event_codes_know_durations_and_drums_without_offs():
    codes = TOK.codes
    assert event_codes(TOK) is codes
    assert events.DURATION == 7
    assert (events.SPECIAL, events.BOS, events.EOS, events.ON) == (0, 1, 2, 3)
    assert (events.OFF, events.SHIFT, events.VELOCITY) == (4, 5, 6)
    assert (codes.max_duration, codes.max_shift, codes.duration_ids.dtype) == (48, 24, np.int32)
    assert TOK.ids_to_tokens(codes.duration_ids[[0, 47]]) == ["DURATION_1", "DURATION_48"]
    d7 = TOK.token_to_id("DURATION_7")
    assert (codes.kind[d7], codes.value[d7]) == (events.DURATION, 7)
    drum = TOK.token_to_id("DRUM_ON_36")
    assert (codes.kind[drum], codes.key[drum]) == (events.ON, 128 + 36)
    assert codes.on_ids[128 + 36] == drum and codes.on_ids[60] == TOK.token_to_id("NOTE_ON_60")
    beat = BeatTokenizer().codes  # vocabularies without durations are unchanged
    assert beat.max_duration == 0 and beat.duration_ids.dtype == np.int32
    assert not (beat.kind == events.DURATION).any()


# ------------------------------------------------------------------------- encoding


def test_exact_encoding_of_notes_chords_and_drums():
    score = score_of(
        [
            (0, 480, 60, 100, 0),  # one beat = 12 steps
            (0, 240, 60, 100, 0),  # same pitch, same onset, shorter: comes first
            (0, 240, 64, 100, 0),
            (0, 60, 36, 20, 1),  # a drum hit: its length is not written
            (960, 1000, 62, 100, 0),  # two beats later: one full TIME_SHIFT
        ],
        [PIANO, DRUMS],
    )
    assert names(TOK.encode(score)) == (
        "VELOCITY_3 NOTE_ON_60 DURATION_6 NOTE_ON_60 DURATION_12 NOTE_ON_64 "
        "DURATION_6 VELOCITY_0 DRUM_ON_36 TIME_SHIFT_24 VELOCITY_3 NOTE_ON_62 "
        "DURATION_1"
    )


def test_long_notes_and_gaps_split_into_full_tokens_and_a_rest():
    # 10 beats = 120 steps = 48 + 48 + 24; a gap of 5 beats = 60 steps = 24 + 24 + 12.
    score = score_of([(0, 4800, 48, 80, 0), (2400, 2440, 50, 80, 0)])
    assert names(TOK.encode(score)) == (
        "VELOCITY_2 NOTE_ON_48 DURATION_48 DURATION_48 DURATION_24 "
        "TIME_SHIFT_24 TIME_SHIFT_24 TIME_SHIFT_12 NOTE_ON_50 DURATION_1"
    )


def test_encoding_is_the_same_at_any_tempo_and_resolution():
    fast = score_of([(0, 240, 60, 80, 0), (480, 600, 64, 80, 0)], qpm=180, tpb=480)
    slow = score_of([(0, 48, 60, 80, 0), (96, 120, 64, 80, 0)], qpm=70, tpb=96)
    assert TOK.encode(fast).tolist() == TOK.encode(slow).tolist()


def test_without_velocity_there_are_no_velocity_tokens_and_a_default_velocity():
    tok = DurationTokenizer(velocity_bins=0)
    encoded = tok.encode(score_of([(0, 480, 60, 5, 0)]))
    assert names(encoded, tok) == "NOTE_ON_60 DURATION_12"
    assert tok.decode_score(encoded)[0].notes["velocity"].tolist() == [80]


def test_absurdly_long_scores_are_refused(monkeypatch):
    huge = score_of([(0, 480 * 10**12, 60, 80, 0)])
    with pytest.raises(MidiError, match=r"<test>.*too long"):
        TOK.encode(huge)
    # The token bound counts DURATION pieces too, not only the time span.
    monkeypatch.setattr(duration, "MAX_STREAM_TOKENS", 400)
    # A chord of ten notes of 7200 steps: 1500 DURATION_48 tokens, 150 of DURATION_480.
    many = score_of([(0, 480 * 600, p, 80, 0) for p in range(60, 70)])
    assert len(DurationTokenizer(max_duration_beats=40).encode(many)) == 1 + 10 + 150
    with pytest.raises(MidiError, match="too long"):
        TOK.encode(many)


# ---------------------------------------------------------------------- round trips


# Drums (track 0, a zero-length hit at 480), a bass note, same-pitch piano notes.
BAND = [(0, 40, 36, 120, 0), (0, 40, 42, 60, 0), (240, 280, 42, 60, 0), (480, 480, 38, 100, 0),
        (0, 1920, 40, 90, 1), (0, 960, 60, 70, 2), (480, 960, 60, 70, 2)]  # fmt: skip


def _edge_cases() -> dict[str, midi.Score]:
    return {
        "same-pitch overlaps": score_of(
            [(0, 960, 60, 80, 0), (480, 1440, 60, 100, 0), (600, 700, 60, 40, 0)]
        ),
        "identical notes": score_of([(0, 480, 60, 80, 0), (0, 480, 60, 80, 0)]),
        "chords at time 0": score_of([(0, 480, p, 90, 0) for p in (48, 55, 60, 64, 67)]),
        "longer than max_duration_beats": score_of(
            [(0, 480 * 50, 48, 80, 0), (480 * 40, 480 * 41, 50, 80, 0), (480, 480 * 9, 52, 1, 0)]
        ),
        "zero-length notes": score_of([(0, 0, 60, 80, 0), (100, 100, 62, 80, 0)]),
        "drums and pitched, several tracks": score_of(BAND, [DRUMS, BASS, PIANO]),
        "all 128 pitches, all velocities": score_of(
            [(i * 40, i * 40 + 80, i, 1 + i % 127, 0) for i in range(128)]
        ),
        "no notes": score_of([]),
    }


@pytest.mark.parametrize("case", list(_edge_cases()))
def test_exact_round_trip_on_the_grid(case):
    assert_exact_round_trip(TOK, _edge_cases()[case])


@pytest.mark.parametrize("tok", [TOK, DurationTokenizer(24, 1, 1, 0, drum_steps=2)], ids=str)
def test_exact_round_trip_of_random_scores_off_the_grid(tok):
    rng = np.random.default_rng(7)
    for tpb in (480, 96, 7):
        n = 300
        start = rng.integers(0, 40 * tpb, n)
        length = np.where(
            rng.random(n) < 0.1, rng.integers(0, 20 * tpb, n), rng.integers(0, tpb, n)
        )
        notes = np.stack(
            [start, start + length, rng.integers(20, 100, n), rng.integers(1, 128, n),
             rng.integers(0, 3, n)], axis=1,
        )  # fmt: skip
        assert_exact_round_trip(tok, score_of(notes.tolist(), [PIANO, DRUMS, BASS], tpb=tpb))


def _load(path) -> midi.Score:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GrooveWarning)
        return midi.load(path)


def _pitched(score: midi.Score) -> midi.Score:
    keep = np.array([not t.is_drum for t in score.tracks] + [False])[score.notes["track"]]
    return score.replace(notes=score.notes[keep])


@pytest.mark.parametrize("path", shared_params("good"))
def test_real_midi_round_trips(path):
    score = _load(path)
    assert_exact_round_trip(TOK, score)
    # And the notes are within one grid step of the file's own: pitched offsets too.
    decoded, _ = TOK.decode_tracks_score(TOK.encode_tracks(score))
    fid = compare(_pitched(score), _pitched(decoded), "beats")
    assert fid.within(1 / 12 + 1e-9, 127 / 4), fid


def _files_with_drums() -> list:
    rows = [r for r in manifest() if r["category"] == "good" and r["has_drums"] == "1"]
    if not rows:
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"{SHARED_MIDI} is absent"))]
    return [pytest.param(SHARED_MIDI / r["file"], id=r["file"]) for r in rows]


@pytest.mark.parametrize("path", _files_with_drums())
def test_fewer_tokens_than_beat_tokenizer_on_music_with_drums(path):
    score = _load(path)
    assert len(score.notes) > 0 and any(t.is_drum for t in score.tracks)
    n = len(TOK.encode(score))
    # Against the default BeatTokenizer, and like for like (the same velocity bins).
    assert n < len(BeatTokenizer().encode(score))
    assert n < len(BeatTokenizer(velocity_bins=TOK.velocity_bins).encode(score))
    by_track = TOK.encode_tracks(score)
    beat_tracks = BeatTokenizer(velocity_bins=TOK.velocity_bins).encode_tracks(score)
    for track in (t for t in by_track if t.is_drum):  # drum parts shrink the most
        assert len(by_track[track]) < len(beat_tracks[track])


# ------------------------------------------------------------------------- decoding


def test_decode_puts_drums_on_a_drum_track_at_the_given_tempo():
    encoded = TOK.encode(score_of([(0, 480, 60, 80, 0), (0, 60, 36, 80, 1)], [PIANO, DRUMS]))
    score, report = TOK.decode_score(encoded, tempo=60.0, program=33, name="Bass")
    assert report == DecodeReport(notes=2)
    assert score.tracks == [Track(33, False, "Bass"), Track(0, True, "Drums")]
    assert score.duration_seconds == pytest.approx(1.0)
    assert TOK.decode(encoded, tempo=150.0).instruments[0].notes[0].end == pytest.approx(0.4)
    with pytest.raises(ConfigError):
        TOK.decode(encoded, tempo=0)


def test_decode_reuses_a_reference_tempo_map():
    ref = midi.load(example_path("band.mid"))
    ref = ref.replace(tempos=np.array([(0, 100.0), (960, 50.0)], midi.TEMPO_DTYPE))
    score, _ = TOK.decode_score(TOK.encode(score_of([(0, 1920, 60, 80, 0)])), reference=ref)
    assert score.ticks_per_beat == ref.ticks_per_beat
    assert score.duration_seconds == pytest.approx(3.6)


R = DecodeReport


@pytest.mark.parametrize(
    "tokens, steps, report",
    [
        ("NOTE_ON_60 DURATION_48 DURATION_10", [(0, 58)], R(1)),
        ("DURATION_5 NOTE_ON_60 DURATION_2", [(0, 2)], R(1, orphan_durations=1)),
        ("NOTE_ON_60 TIME_SHIFT_3 DURATION_2", [(0, 1)], R(1, 0, 1, orphan_durations=1)),
        ("NOTE_ON_60 VELOCITY_1 DURATION_3", [(0, 1)], R(1, 0, 1, orphan_durations=1)),
        ("DRUM_ON_36 DURATION_4 DURATION_4", [(0, 3)], R(1, orphan_durations=2)),
        (
            "BOS NOTE_ON_60 DURATION_3 BOS PAD NOTE_ON_62 EOS NOTE_ON_64 PAD",
            [(0, 3), (0, 1)],
            R(2, unterminated_notes=1, misplaced_specials=2, tokens_after_eos=2),
        ),
        ("NOTE_ON_60 DURATION_3 PAD PAD", [(0, 3)], R(1)),  # trailing padding is fine
        ("PAD BOS TIME_SHIFT_2 DURATION_1", [], R(orphan_durations=1, misplaced_specials=2)),
        ("", [], R()),
    ],
)
def test_decode_repairs_malformed_sequences_and_counts_them(tokens, steps, report):
    on, off, _, _, got_report = TOK._decode_steps(ids(tokens))
    assert list(zip(on.tolist(), off.tolist())) == steps
    assert got_report == report


def test_report_sums_and_prints_orphan_durations():
    total = DecodeReport(notes=2, orphan_durations=3) + DecodeReport(notes=1, orphan_durations=1)
    assert total.orphan_durations == 4 and total.repairs == 4
    assert str(total) == "3 notes (repaired: 4 orphan durations)"


def test_decode_never_raises_on_random_valid_ids():
    rng = np.random.default_rng(11)
    for _ in range(500):
        random_ids = rng.integers(0, len(TOK), size=rng.integers(0, 400))
        score, report = TOK.decode_score(random_ids)
        assert (score.notes["end"] > score.notes["start"]).all()
        assert report.notes == len(score.notes)


def test_ids_outside_the_vocabulary_raise_token_error():
    for bad in ([len(TOK)], [-1], [[3, 4]], [0.5]):
        with pytest.raises(TokenError):
            TOK.decode_score(bad)


# ---------------------------------------------------------------- persist and name


def test_save_load_and_get_tokenizer(tmp_path):
    tok = DurationTokenizer(resolution=24, max_duration_beats=2, velocity_bins=8, drum_steps=4)
    tok.save(tmp_path / "d.json")
    again = Tokenizer.load(tmp_path / "d.json")
    assert type(again) is DurationTokenizer and again == tok and again.drum_steps == 4
    assert Tokenizer.from_spec({"kind": "duration", "config": tok.get_config()}) == tok
    assert get_tokenizer(str(tmp_path / "d.json")) == tok
    assert get_tokenizer("duration") == DurationTokenizer()
    assert DurationTokenizer().get_config()["drum_steps"] is None  # follows resolution


# ----------------------------------------------------------------------- augmentation


def test_transpose_moves_pitched_notes_and_leaves_drums():
    score = score_of([(0, 60, 36, 100, 0), (0, 480, 60, 100, 1)], [DRUMS, PIANO])
    decoded, _ = TOK.decode_score(TOK.transpose(TOK.encode(score), 3))
    notes = {(decoded.tracks[n["track"]].is_drum, int(n["pitch"])) for n in decoded.notes}
    assert notes == {(True, 36), (False, 63)}
    encoded = TOK.encode(score)
    assert TOK.transpose(TOK.transpose(encoded, 5), -5).tolist() == encoded.tolist()


def test_transpose_drops_notes_out_of_range_with_their_durations():
    tokens = ids(
        "NOTE_ON_120 DURATION_48 DURATION_5 DURATION_7 NOTE_ON_60 DURATION_3 "
        "DRUM_ON_120 DURATION_2 TIME_SHIFT_2 NOTE_ON_10"
    )
    up = TOK.transpose(tokens, 10)
    assert up.dtype == np.int32
    assert names(up) == "NOTE_ON_70 DURATION_3 DRUM_ON_120 DURATION_2 TIME_SHIFT_2 NOTE_ON_20"
    assert names(TOK.transpose(tokens, -11)) == (
        "NOTE_ON_109 DURATION_48 DURATION_5 DURATION_7 NOTE_ON_49 DURATION_3 "
        "DRUM_ON_120 DURATION_2 TIME_SHIFT_2"
    )


def test_time_stretch_scales_onsets_and_durations_and_keeps_drum_hits_short():
    score = score_of(
        [(0, 480, 60, 30, 0), (480, 1440, 62, 120, 0), (240, 300, 36, 90, 1)], [PIANO, DRUMS]
    )
    encoded = TOK.encode(score)
    assert TOK.time_stretch(encoded, 1.0).tolist() == encoded.tolist()
    before, after = TOK._decode_steps(encoded), TOK._decode_steps(TOK.time_stretch(encoded, 2))
    assert after[4].repairs == 0  # stream order: piano 60, drum 36, piano 62
    assert after[0].tolist() == [0, 12, 24] and after[1].tolist() == [24, 15, 72]
    assert after[2].tolist() == [60, 128 + 36, 62] and after[3].tolist() == before[3].tolist()
    half = TOK._decode_steps(TOK.time_stretch(encoded, 0.5))
    assert sorted(zip(half[0].tolist(), half[1].tolist())) == [(0, 6), (3, 6), (6, 18)]
    with pytest.raises(ValueError):
        TOK.time_stretch(encoded, 0)
