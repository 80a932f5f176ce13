"""End to end: the guarantees README.md makes, checked on exact inputs and outputs.

- Same-pitch notes that overlap are paired first-in, first-out, by every tokenizer's
  decoder and by MIDI files themselves.
- A cut-short track keeps its complete events, and a header that miscounts its tracks
  is ignored; both are listed in `score.repairs`.
- The descriptive metrics are numbers (not NaN) for every file with pitched notes.
- The miditok adapter decodes token sequences to the notes they spell.
- CI (CI=true) cannot pass by skipping the tests of the shared MIDI files.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from groove import example_path, midi
from groove.errors import GrooveWarning
from groove.eval import descriptive_metrics
from groove.midi import Track
from groove.tokenizers import BeatTokenizer, MidiTokTokenizer, PerformanceTokenizer
from tests.conftest import score_of, shared_params, smf, smf_track

# ------------------------------------------------ same-pitch overlaps: first in, first out

# Three C4s start one beat apart and three NOTE_OFFs follow, one beat apart. First in,
# first out: each OFF ends the oldest sounding C4, so every note is two beats long.
# (Last in, first out would give lengths 1, 3 and 5 beats.)
FIFO_BEATS = [(0, 3), (1, 4), (2, 5)]


def overlapping(on: str, off: str, shift: str) -> list[str]:
    return [on, shift, on, shift, on, shift, off, shift, off, shift, off]


def notes_in_beats(score) -> list[tuple[float, float, int]]:
    n = score.notes
    return sorted(
        zip(score.beats(n["start"]).tolist(), score.beats(n["end"]).tolist(),
            n["pitch"].tolist(), strict=True)
    )  # fmt: skip


def test_beat_tokenizer_pairs_same_pitch_notes_first_in_first_out():
    tok = BeatTokenizer()
    ids = tok.tokens_to_ids(overlapping("NOTE_ON_60", "NOTE_OFF_60", "TIME_SHIFT_12"))
    score, report = tok.decode_score(ids, ticks_per_beat=480)
    assert notes_in_beats(score) == [(a, b, 60) for a, b in FIFO_BEATS]
    assert report.repairs == 0 and report.notes == 3


def test_performance_tokenizer_pairs_same_pitch_notes_first_in_first_out():
    tok = PerformanceTokenizer()
    ids = tok.tokens_to_ids(overlapping("NOTE_ON_60", "NOTE_OFF_60", "TIME_SHIFT_50"))
    pm = tok.decode(ids)  # 0.5 s steps
    got = sorted((n.start, n.end, n.pitch) for i in pm.instruments for n in i.notes)
    want = [(a / 2, b / 2, 60) for a, b in FIFO_BEATS]
    np.testing.assert_allclose(np.array(got), np.array(want), atol=1e-3)


def test_miditok_adapter_pairs_same_pitch_notes_first_in_first_out():
    tok = MidiTokTokenizer("MIDILike")
    tokens = []
    for token in overlapping("NoteOn_60", "NoteOff_60", "TimeShift_1.0.12"):
        if token == "NoteOn_60":
            tokens += ["Program_0", token, "Velocity_99"]
        else:
            tokens += ["Program_0", token] if token == "NoteOff_60" else [token]
    score, report = tok.decode_score(tok.tokens_to_ids(tokens))
    assert notes_in_beats(score) == [(a, b, 60) for a, b in FIFO_BEATS]
    assert report.notes == 3 and report.repairs == 0


def test_a_midi_file_pairs_same_pitch_notes_first_in_first_out():
    events = []
    for beat in range(3):
        events.append((0 if beat == 0 else 480, bytes([0x90, 60, 100])))
    events += [(480, bytes([0x80, 60, 0]))] * 3
    score = midi.load(smf([smf_track(events)]))
    assert notes_in_beats(score) == [(a, b, 60) for a, b in FIFO_BEATS]


@pytest.mark.parametrize("tok", [BeatTokenizer(), PerformanceTokenizer(), MidiTokTokenizer()],
                         ids=["beat", "performance", "miditok"])  # fmt: skip
def test_overlapping_same_pitch_notes_survive_a_round_trip(tok):
    # A long C4 with a short C4 inside it, and a repeated E4 that overlaps itself: a
    # round trip keeps the set of onsets and the set of offsets of each pitch.
    notes = [(0, 1920, 60, 96, 0), (480, 960, 60, 96, 0),
             (960, 1920, 64, 96, 0), (1440, 2400, 64, 96, 0)]  # fmt: skip
    score = score_of(notes)
    decoded, _ = tok.decode_score(tok.encode(score))
    got = notes_in_beats(decoded)
    for pitch in (60, 64):
        mine = [n for n in notes if n[2] == pitch]
        theirs = [n for n in got if n[2] == pitch]
        assert sorted(a for a, _, _ in theirs) == pytest.approx(
            sorted(n[0] / 480 for n in mine), abs=0.02
        )
        assert sorted(b for _, b, _ in theirs) == pytest.approx(
            sorted(n[1] / 480 for n in mine), abs=0.02
        )


# ------------------------------------------------------------------ damaged files


def two_tracks() -> list[bytes]:
    """Track 1: ten quarter notes C4..A4. Track 2 (channel 2): a program change, then
    ten quarter notes E2.. with running status and NOTE_ON velocity 0 as NOTE_OFF."""
    first = []
    for p in range(60, 70):
        first += [(0, bytes([0x90, p, 100])), (480, bytes([0x80, p, 64]))]
    second = [(0, bytes([0xC1, 33])), (0, bytes([0x91, 40, 90])), (480, bytes([40, 0]))]
    for p in range(41, 50):
        second += [(0, bytes([p, 90])), (480, bytes([p, 0]))]
    return [smf_track(first), smf_track(second)]


def load_quietly(data: bytes):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        score = midi.load(data)
    return score, [str(w.message) for w in caught if issubclass(w.category, GrooveWarning)]


def test_an_intact_file_loads_every_note_without_a_repair():
    score, warned = load_quietly(smf(two_tracks()))
    assert len(score.notes) == 20 and score.repairs == [] and warned == []


@pytest.mark.parametrize("kept", [0, 1, 5, 9])
@pytest.mark.parametrize("into", [0, 1, 2, 3])
def test_a_cut_short_track_keeps_exactly_its_complete_notes(kept, into):
    first, second = two_tracks()
    data = smf([first, second])
    # Track 2's events: program change (3 bytes), then per note an ON (4 bytes, or 3
    # with running status) and an OFF (4 bytes: 2-byte delta + 2 data bytes).
    body = len(data) - len(second)
    note_bytes = [3 + 4 + 4] + [3 + 4] * 9
    cut = body + sum(note_bytes[:kept]) + into  # inside the next note's ON or OFF
    score, warned = load_quietly(data[:cut])
    assert len(score.notes) == 10 + kept
    low = score.notes[score.notes["pitch"] < 60]
    assert sorted(low["pitch"].tolist()) == list(range(40, 40 + kept))
    assert (low["end"] - low["start"] == 480).all()
    assert len(score.repairs) == 1 and "track 2 is cut short" in score.repairs[0]
    assert any("cut short" in w for w in warned)


def test_a_header_declaring_more_tracks_than_the_file_holds_is_ignored():
    score, warned = load_quietly(smf(two_tracks(), declared=3))
    assert len(score.notes) == 20 and len(score.tracks) == 2
    assert score.repairs == ["the header declares 3 tracks but the file holds 2"]
    assert any("declares 3 tracks" in w for w in warned)


def test_a_header_declaring_fewer_tracks_than_the_file_holds_is_ignored():
    score, _ = load_quietly(smf(two_tracks(), declared=1))
    assert score.repairs == ["the header declares 1 tracks but the file holds 2"]
    assert len(score.notes) == 20 and len(score.tracks) == 2


# ------------------------------------------------------------- descriptive metrics

PITCH_METRICS = ("pitch_range", "pitch_class_entropy", "scale_consistency", "polyphony",
                 "polyphony_rate", "empty_beat_rate")  # fmt: skip
BUNDLED = [pytest.param(example_path(n), id=n) for n in ("band.mid", "chorale.mid", "song.mid")]


@pytest.mark.parametrize("path", [*BUNDLED, *shared_params("good")])
def test_descriptive_metrics_are_numbers_for_every_file_with_pitched_notes(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GrooveWarning)
        score = midi.load(path)
    drums = np.array([score.tracks[t].is_drum for t in score.notes["track"]], bool)
    values = descriptive_metrics(score)
    if (~drums).any():
        for name in PITCH_METRICS:
            assert math.isfinite(values[name]), (name, values[name])
    # Defined exactly when there is something to measure.
    assert math.isfinite(values["drum_pattern_consistency"]) == bool(drums.any())
    onsets = score.beats(score.notes["start"])
    bar = 4.0 * score.time_signatures["numerator"][0] / score.time_signatures["denominator"][0] \
        if len(score.time_signatures) else 4.0  # fmt: skip
    if len(onsets) and onsets.max() >= bar:  # onsets in two bars or more
        assert math.isfinite(values["groove_consistency"])


def test_descriptive_metrics_of_a_chord():
    chord = score_of([(0, 480, p, 100, 0) for p in (60, 64, 67)])
    values = descriptive_metrics(chord)
    for name in PITCH_METRICS:
        assert math.isfinite(values[name]), (name, values[name])
    assert values["polyphony"] == 3 and values["polyphony_rate"] == 1.0
    assert values["pitch_range"] == 7 and values["empty_beat_rate"] == 0.0
    assert values["pitch_class_entropy"] == pytest.approx(math.log2(3))


def test_descriptive_metrics_of_very_short_pitched_notes_are_numbers():
    # Two staccato notes a few ticks long (a few milliseconds), as in many MIDI files.
    tiny = score_of([(0, 3, 60, 100, 0), (1, 4, 64, 100, 0)])
    values = descriptive_metrics(tiny)
    for name in PITCH_METRICS:
        assert math.isfinite(values[name]), (name, values[name])


# ------------------------------------------------------------- the miditok adapter


def test_miditok_decode_gives_the_notes_its_tokens_spell():
    tok = MidiTokTokenizer("MIDILike")
    tokens = [
        "Program_33", "NoteOn_40", "Velocity_99", "TimeShift_1.0.12",      # bass E2 on at 0
        "Program_33", "NoteOff_40", "Program_33", "NoteOn_43", "Velocity_63",
        "TimeShift_0.6.12",                                                 # +1 beat
        "Program_33", "NoteOff_43", "TimeShift_1.6.12",                     # +1/2 beat
        "Program_0", "NoteOn_72", "Velocity_31", "TimeShift_2.0.12",        # +1.5 beats
        "Program_0", "NoteOff_72",                                          # +2 beats
    ]  # fmt: skip
    score, report = tok.decode_score(tok.tokens_to_ids(tokens))
    assert report.notes == 3 and report.repairs == 0
    got = sorted(
        (score.tracks[n["track"]].program, *map(float, score.beats([n["start"], n["end"]])),
         int(n["pitch"]), int(n["velocity"]))
        for n in score.notes
    )  # fmt: skip
    assert got == [(0, 3.0, 5.0, 72, 31), (33, 0.0, 1.0, 40, 99), (33, 1.0, 1.5, 43, 63)]
    assert not any(t.is_drum for t in score.tracks)
    # Tokens after EOS are ignored, and counted.
    ids = np.concatenate([tok.tokens_to_ids(tokens), [tok.eos_id], tok.tokens_to_ids(tokens)])
    again, report = tok.decode_score(ids)
    assert report.tokens_after_eos == len(tokens) and report.notes == 3
    assert np.array_equal(again.notes, score.notes)


def test_miditok_round_trip_keeps_exact_notes_programs_and_the_drum_kit():
    tok = MidiTokTokenizer()
    tracks = [Track(33, False, "Bass"), Track(0, True, "Drums"), Track(0, False, "Piano")]
    notes = [
        (0, 480, 40, 100, 0), (480, 720, 43, 60, 0), (720, 1440, 45, 120, 0),
        (0, 40, 36, 110, 1), (480, 520, 38, 90, 1), (960, 1000, 42, 70, 1),
        (160, 1280, 67, 80, 2), (160, 1280, 72, 80, 2),  # a triplet-eighth onset
    ]  # fmt: skip
    score = score_of(notes, tracks=tracks)
    decoded, report = tok.decode_tracks_score(tok.encode_tracks(score))
    assert report.repairs == 0 and report.notes == len(notes)
    assert decoded.tracks == tracks
    for i, track in enumerate(tracks):
        want = [n for n in notes if n[4] == i]
        mine = decoded.notes[decoded.notes["track"] == i]
        start, end = decoded.beats(mine["start"]).tolist(), decoded.beats(mine["end"]).tolist()
        got = sorted(
            zip(start, end, mine["pitch"].tolist(), mine["velocity"].tolist(), strict=True)
        )
        assert len(got) == len(want), track
        for (on, off, pitch, velocity), n in zip(got, sorted(want), strict=True):
            assert (on, off, pitch) == (n[0] / 480, n[1] / 480, n[2]), track
            assert abs(velocity - n[3]) <= 2, track  # 32 velocity bins of 4


# --------------------------------------------- CI cannot pass by skipping shared files

PROBE = """
import pytest
from tests.conftest import SHARED_MIDI, shared_params

@pytest.mark.parametrize("path", shared_params())
def test_every_shared_file(path):
    assert path.is_file()

def test_one_shared_file():
    path = SHARED_MIDI / "one.mid"
    if not path.exists():
        pytest.skip(f"{path} is absent")
"""


@pytest.mark.parametrize("shared", ["absent", "incomplete"])
@pytest.mark.parametrize("ci", [True, False], ids=["CI=true", "no CI"])
def test_ci_fails_where_a_developer_skips_for_want_of_shared_files(ci, shared, tmp_path):
    """The repository's conftest in a checkout whose ../shared/midi is absent, or lacks
    a file a test needs: skips for a developer, a failing run under CI=true."""
    repo = tmp_path / "repo"
    (repo / "tests").mkdir(parents=True)
    shutil.copy(Path(__file__).with_name("conftest.py"), repo / "tests" / "conftest.py")
    (repo / "tests" / "__init__.py").write_text("")
    (repo / "tests" / "test_probe.py").write_text(PROBE)
    if shared == "incomplete":  # the manifest's file is there, one.mid is not
        (tmp_path / "shared" / "midi").mkdir(parents=True)
        (tmp_path / "shared" / "midi" / "MANIFEST.tsv").write_text("file\tcategory\na.mid\tgood\n")
        (tmp_path / "shared" / "midi" / "a.mid").write_bytes(b"MThd")
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env.update({"CI": "true"} if ci else {})
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfs"]
    proc = subprocess.run(argv, cwd=repo, env=env, capture_output=True, text=True, timeout=300)
    output = proc.stdout + proc.stderr
    if not ci:
        assert proc.returncode == 0, output
        assert re.search(r"\d+ skipped", output) and "failed" not in output
    elif shared == "absent":
        assert proc.returncode == pytest.ExitCode.TESTS_FAILED, output
        assert f"CI=true but {tmp_path / 'shared' / 'midi'}" in output
        assert not re.search(r"\d+ (skipped|passed)", output)  # no test ran
    else:
        assert proc.returncode == pytest.ExitCode.TESTS_FAILED, output
        assert "1 failed, 1 passed" in output and not re.search(r"\d+ skipped", output)
        assert "one.mid is absent" in output
