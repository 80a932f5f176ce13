"""Bad and hostile MIDI: a clear MidiError or a documented repair, never a hang,
a crash or memory in proportion to a hostile value."""

from __future__ import annotations

import random
import subprocess
import sys
import textwrap
import warnings

import pytest

from groove import midi
from groove.errors import GrooveWarning, MidiError
from tests.conftest import SHARED_MIDI, note_events, shared_params, smf, smf_track

pytestmark = pytest.mark.timeout(120)


def bad(name: str):
    path = SHARED_MIDI / "bad" / name
    if not path.exists():
        pytest.skip(f"{path} is absent")
    return path


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("negative-ticks-per-beat.mid", "SMPTE time division"),
        ("zero-ticks-per-beat.mid", "ticks per beat is 0"),
        ("type2.mid", "format 2"),
    ],
)
def test_shared_unreadable_files_raise_midi_error_naming_file_and_reason(name, reason):
    path = bad(name)
    with pytest.raises(MidiError, match=reason) as info:
        midi.load(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, ValueError)


def test_out_of_range_data_byte_is_clipped_with_a_warning():
    # A controller value of 168 (a data byte must be < 128): the documented repair
    # clips it to 127 and keeps every note.
    with pytest.warns(GrooveWarning, match="clipped out-of-range data bytes"):
        score = midi.load(bad("ValueError_Control168.mid"))
    assert len(score.notes) == 6432  # MANIFEST.tsv
    assert score.repairs


def test_shared_unexpected_eof_file_is_in_fact_whole():
    # Its 16 chunks are complete (an old parser misread it); all 6085 notes load.
    with warnings.catch_warnings():
        warnings.simplefilter("error", GrooveWarning)
        score = midi.load(bad("RunTimeError_unexpected_EOF.mid"))
    assert len(score.notes) == 6085


@pytest.mark.parametrize("data", [b"", b"MThd", b"RIFF\x00\x00\x00\x00RMIDdata", b"\x00" * 100])
def test_empty_and_non_midi_bytes(data):
    with pytest.raises(MidiError):
        midi.load(data)


def test_zero_byte_file_names_the_file(tmp_path):
    path = tmp_path / "empty.mid"
    path.write_bytes(b"")
    with pytest.raises(MidiError, match=r"empty.mid: the file is empty \(0 bytes\)"):
        midi.load(path)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(MidiError, match="no such file"):
        midi.load(tmp_path / "nope.mid")
    with pytest.raises(MidiError, match="directory"):
        midi.load(tmp_path)


def test_truncated_track_keeps_the_notes_before_the_cut():
    events = []
    for i in range(100):
        events += [(0 if i == 0 else 10, b"\x90\x3c\x40"), (10, b"\x80\x3c\x00")]
    data = smf([smf_track(events)])
    cut = data[: len(data) // 2]
    with pytest.warns(GrooveWarning, match="cut short"):
        score = midi.load(cut)
    assert 0 < len(score.notes) < 100
    assert (score.notes["pitch"] == 60).all()


@pytest.mark.parametrize("cut", range(14, 60))
def test_truncation_at_every_byte_gives_score_or_midi_error(cut):
    data = smf([smf_track(note_events(60) + note_events(64) + [(0, b"\xff\x01\x05hello")])])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GrooveWarning)
        try:
            score = midi.load(data[:cut])
        except MidiError:
            return
    assert len(score.notes) <= 2


def test_header_declaring_thousands_of_tracks():
    with pytest.warns(GrooveWarning, match="declares 65535 tracks but the file holds 1"):
        score = midi.load(smf([smf_track(note_events())], declared=65535))
    assert len(score.notes) == 1


def test_thousands_of_real_tracks_load():
    track = smf_track([(0, b"\xc0\x01"), *note_events()])
    score = midi.load(smf([track] * 3000))
    assert len(score.notes) == 3000 and len(score.tracks) == 3000


def test_huge_tick_values_are_refused_not_allocated():
    # 20 delta times of 2**28 - 1 ticks at 1 tick per beat: about 17 years.
    events = [(0x0FFFFFFF, b"\x90\x3c\x40")] * 20 + [(10, b"\x80\x3c\x00")]
    with pytest.raises(MidiError, match="past the 21600 s limit"):
        midi.load(smf([smf_track(events)], tpb=1))


def test_hostile_file_runs_in_bounded_memory(tmp_path):
    # Load and tokenize a hostile file under a 3 GiB address-space limit: groove
    # must answer with MidiError, not MemoryError or a crash.
    events = [(0x0FFFFFFF, b"\x90\x3c\x40"), (0x0FFFFFFF, b"\x80\x3c\x00")]
    path = tmp_path / "hostile.mid"
    path.write_bytes(smf([smf_track(events)], tpb=1))
    code = textwrap.dedent(f"""
        import resource, sys
        resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, 3 * 2**30))
        from groove import midi
        from groove.errors import MidiError
        from groove.tokenizers import PerformanceTokenizer, BeatTokenizer
        for max_seconds in (midi.MAX_SECONDS, 1e12):
            try:
                score = midi.load({str(path)!r}, max_seconds=max_seconds)
                BeatTokenizer().encode(score)
                PerformanceTokenizer().encode(score)
            except MidiError as e:
                print("MidiError", e)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("MidiError") == 2, out.stdout


def test_fuzzed_files_give_a_score_or_midi_error():
    rng = random.Random(1234)
    seeds = [smf([smf_track([*note_events(60 + i), (5, b"\xb0@\x7f")]) for i in range(4)])]
    seeds += [p.read_bytes() for p in SHARED_MIDI.glob("muspy/*.mid")][:6]
    outcomes = {"score": 0, "error": 0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GrooveWarning)
        for _ in range(400):
            data = bytearray(rng.choice(seeds))
            mode = rng.randrange(3)
            if mode == 0:
                data = data[: rng.randrange(len(data))]
            elif mode == 1:
                for _ in range(rng.randrange(1, 10)):
                    data[rng.randrange(len(data))] = rng.randrange(256)
            else:
                data = bytearray(rng.randrange(256) for _ in range(rng.randrange(300)))
            try:
                midi.load(bytes(data))
                outcomes["score"] += 1
            except MidiError:
                outcomes["error"] += 1
    assert outcomes["score"] > 0 and outcomes["error"] > 0


def test_oversized_file_is_refused_before_reading(tmp_path):
    path = tmp_path / "big.mid"
    path.write_bytes(smf([smf_track(note_events())]) + b"\x00" * 2048)
    with pytest.raises(MidiError, match="over the 1024-byte limit"):
        midi.load(path, max_bytes=1024)


@pytest.mark.parametrize("path", shared_params("bad"))
def test_every_shared_bad_file_gives_score_or_midi_error(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GrooveWarning)
        try:
            midi.load(path)
        except MidiError as e:
            assert str(path) in str(e)
