"""Regression tests for the holes a fuzzing campaign found in MIDI loading (issue 15):
each builds its own hostile file and expects a clear `MidiError` naming the file, or
a documented repair, never a wrong score slipping through."""

from __future__ import annotations

import struct
import subprocess
import sys
import warnings

import numpy as np
import pytest

from groove import midi
from groove.errors import GrooveWarning, MidiError
from tests.conftest import SHARED_MIDI, manifest, note_events, smf, smf_track, vlq

pytestmark = pytest.mark.timeout(120)

LONGEST_DELTA = 0x0FFFFFFF  # a variable-length quantity holds at most 28 bits


def at_tick(tick: int, event: bytes) -> list[tuple[int, bytes]]:
    """Events that put `event` at `tick`: empty text events carry the deltas over 28 bits."""
    events = []
    while tick > LONGEST_DELTA:
        events.append((LONGEST_DELTA, b"\xff\x01\x00"))
        tick -= LONGEST_DELTA
    return [*events, (tick, event)]


# ----------------------------------------------------------- 1. 32-bit tick overflow


def overflow_file(fast_tempo: bool) -> bytes:
    """A note at tick 2**31 - 2000 lasting 4000 ticks: its end is past 32 bits. With
    `fast_tempo` (1 microsecond per beat at 32767 ticks per beat) it lasts 66 ms, so
    only the tick range, not the 6-hour limit, can catch it."""
    tempo = [(0, b"\xff\x51\x03\x00\x00\x01")] if fast_tempo else []
    events = [*tempo, *at_tick(2**31 - 2000, b"\x90\x3c\x40"), (4000, b"\x80\x3c\x00")]
    return smf([smf_track(events)], tpb=32767 if fast_tempo else 480)


@pytest.mark.parametrize("fast_tempo", [False, True])
def test_a_note_ending_past_32_bit_ticks_is_refused_naming_the_file(tmp_path, fast_tempo):
    path = tmp_path / "overflow.mid"
    path.write_bytes(overflow_file(fast_tempo))
    assert len(path.read_bytes()) < 100
    with pytest.raises(MidiError, match=r"ends at tick 2147485648, outside .* 0\.\.2147483647"):
        midi.load(path)
    with pytest.raises(MidiError) as info:
        midi.load(path)
    assert str(path) in str(info.value)


def test_from_symusic_adds_note_ends_in_64_bits():
    import symusic

    # Just inside the range: start + duration in int32 would wrap, in int64 it does not.
    data = smf([smf_track([*at_tick(2**31 - 4001, b"\x90\x3c\x40"), (4000, b"\x80\x3c\x00")])])
    score = midi.from_symusic(symusic.Score.from_midi(data), "<t>")
    assert score.notes["end"][0] == 2**31 - 1 == midi.MAX_TICK
    assert (score.notes["end"] >= score.notes["start"]).all()


def test_a_pedal_ending_past_32_bit_ticks_is_refused():
    events = [
        (0, b"\x90\x3c\x40"),
        (10, b"\x80\x3c\x00"),
        *at_tick(2**31 - 100, b"\xb0\x40\x7f"),  # sustain down
        (4000, b"\xb0\x40\x00"),  # and up, past 2**31
    ]
    with pytest.raises(MidiError, match="a sustain pedal ends at tick"):
        midi.load(smf([smf_track(events)]))


@pytest.mark.parametrize(
    ("event", "what"),
    [
        (b"\xff\x51\x03\x07\xa1\x20", "a tempo change"),
        (b"\xff\x58\x04\x03\x02\x18\x08", "a time signature"),
    ],
    ids=["tempo", "time-signature"],
)
def test_a_signature_past_32_bit_ticks_is_refused(event, what):
    # Beyond 2**31 symusic's int32 tick is negative: refused, not sorted to the front.
    conductor = smf_track(at_tick(2**31 + 100, event))
    with pytest.raises(MidiError, match=f"{what} is at tick -"):
        midi.load(smf([conductor, smf_track(note_events())]))


@pytest.mark.parametrize(
    "argv",
    [["tokenize", "-q", "-o", "{out}.jsonl"], ["render", "--synth", "sine", "-o", "{out}.wav"]],
    ids=["tokenize", "render"],
)
def test_cli_on_the_overflow_file_exits_2_with_one_line(tmp_path, argv):
    path = tmp_path / "overflow.mid"
    path.write_bytes(overflow_file(fast_tempo=True))
    out = str(tmp_path / "out")
    args = [a.format(out=out) for a in argv] + [str(path)]
    result = subprocess.run(
        [sys.executable, "-m", "groove", *args], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(f"groove: error: {path}: a note ends at tick 2147485648"), line
    assert not list(tmp_path.glob("out*"))


# --------------------------------------------------- 3. a header that undercounts


def nineteen_tracks() -> list[bytes]:
    """A conductor track without notes, then 18 tracks of 3 notes each."""
    conductor = smf_track([(0, b"\xff\x51\x03\x07\xa1\x20")])
    tracks = [
        smf_track([(0, bytes([0xC0 | i % 16, i])), *note_events(40 + i, channel=i % 16) * 3])
        for i in range(18)
    ]
    return [conductor, *tracks]


@pytest.mark.parametrize("fmt", [0, 1])
def test_a_header_declaring_one_track_keeps_all_nineteen(fmt):
    data = smf(nineteen_tracks(), fmt=fmt, declared=1)
    with pytest.warns(GrooveWarning, match="declares 1 tracks but the file holds 19"):
        score = midi.load(data)
    assert len(score.notes) == 18 * 3
    assert len(score.tracks) == 18
    assert score.repairs == ["the header declares 1 tracks but the file holds 19"]


def test_an_undercounting_header_keeps_every_track_through_the_clipping_repair():
    # An out-of-range controller value sends the file down the clipping repair too.
    tracks = nineteen_tracks()
    tracks[5] = smf_track([(0, b"\xb0\x07\xa8"), *note_events(70) * 3])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GrooveWarning)
        score = midi.load(smf(tracks, declared=1))
    assert len(score.notes) == 18 * 3
    assert any("declares 1 tracks" in r for r in score.repairs)
    assert any("clipped" in r for r in score.repairs)


def multitrack_shared_files() -> list:
    rows = [r for r in manifest() if r["category"] != "bad" and int(r["tracks"] or 0) >= 2]
    if not rows:
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"{SHARED_MIDI} is absent"))]
    return [pytest.param(SHARED_MIDI / r["file"], id=r["file"]) for r in rows]


@pytest.mark.parametrize("path", multitrack_shared_files())
def test_a_real_file_whose_header_says_one_track_keeps_every_note(path):
    data = path.read_bytes()
    n_tracks = struct.unpack(">H", data[10:12])[0]
    assert n_tracks >= 2
    original = midi.load(data)
    with pytest.warns(GrooveWarning, match=f"declares 1 tracks but the file holds {n_tracks}"):
        patched = midi.load(data[:10] + struct.pack(">H", 1) + data[12:])
    assert len(patched.notes) == len(original.notes) > 0
    assert np.array_equal(patched.notes, original.notes)
    assert patched.tracks == original.tracks
    assert patched.repairs == [f"the header declares 1 tracks but the file holds {n_tracks}"]


def test_the_campaigns_nineteen_track_file_keeps_its_6850_notes():
    path = SHARED_MIDI / "note-seq" / "example_complex.mid"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    data = bytearray(path.read_bytes())
    data[10:12] = struct.pack(">H", 1)
    with pytest.warns(GrooveWarning, match="declares 1 tracks but the file holds 19"):
        score = midi.load(bytes(data))
    assert len(score.notes) == 6850


# ------------------------------------------------- 5c. the repair of bad data bytes


def bad_data_bytes_file() -> bytes:
    """Out-of-range data bytes in every place symusic frames differently: running
    status, after a meta event (which keeps it), a sysex, system common messages,
    a pitch bend and a program change; and a 168 after End of Track, left alone."""
    track = smf_track(
        [
            (0, b"\xb0\x07\xa8"),  # controller value 168
            (0, b"\x90\x3c\xc8"),  # velocity 200
            (10, b"\x3e\x90"),  # running status, velocity 144
            (0, b"\xff\x01\x03abc"),  # a meta event keeps the running status
            (0, b"\x40\xff"),  # so this is a note on, velocity 255
            (0, b"\xf0\x03\x7e\x7f\xf7"),  # a sysex
            (0, b"\xf3\x05"),  # song select
            (0, b"\xf2\x01\x02"),  # song position
            (0, b"\xc1\x90"),  # program 144
            (0, b"\xe0\x00\xff"),  # pitch bend
            (10, b"\x80\x3c\x00"),
            (0, b"\x80\x3e\x00"),
            (0, b"\x80\x40\x00"),
        ]
    )
    return smf([track, smf_track([(0, b"\x91\x30\x40"), (5, b"\x81\x30\x00")])])


def test_out_of_range_data_bytes_are_clipped_as_mido_clips_them():
    import io

    import mido
    import symusic

    data = bad_data_bytes_file()
    with pytest.warns(GrooveWarning, match=r"clipped out-of-range data bytes to 127 \(6 of them"):
        score = midi.load(data)
    assert len(score.notes) == 4
    assert sorted(score.notes["velocity"].tolist()) == [64, 127, 127, 127]
    # mido's clip=True re-read, the slow repair this one replaces, reads the same.
    buffer = io.BytesIO()
    mido.MidiFile(file=io.BytesIO(data), clip=True).save(file=buffer)
    slow = midi.from_symusic(symusic.Score.from_midi(buffer.getvalue()))
    assert np.array_equal(score.notes, slow.notes)
    assert score.tracks == slow.tracks


def test_a_file_needing_repair_over_the_repair_limit_is_refused(tmp_path):
    # A bad controller value, then a text event that makes the file 8 MiB and more.
    text = b"x" * midi.MAX_REPAIR_BYTES
    events = [(0, b"\xb0\x07\xa8"), (0, b"\xff\x01" + vlq(len(text)) + text), *note_events()]
    path = tmp_path / "big.mid"
    path.write_bytes(smf([smf_track(events)]))
    with pytest.raises(MidiError, match="over the 8388608-byte limit for repairing them") as info:
        midi.load(path)
    assert str(path) in str(info.value)


def test_a_cut_short_track_over_the_repair_limit_is_refused():
    track = smf_track([*note_events(), (0, b"\xff\x01" + vlq(2**24) + b"x" * 2**24)])
    data = smf([track])[: 22 + midi.MAX_REPAIR_BYTES + 1000]
    with pytest.raises(MidiError, match=r"track 1 is cut short .* too long to repair"):
        midi.load(data)


def test_more_chunks_than_a_header_can_count_is_refused():
    # 65,536 empty track chunks: the header's 16-bit count cannot say how many
    # (this raised struct.error when the count was rewritten).
    data = smf([smf_track([])] * (midi.MAX_TRACKS + 1), declared=1)
    with pytest.raises(MidiError, match="more than 65535 chunks"):
        midi.load(data)


def test_more_tempo_changes_than_the_limit_is_refused(tmp_path):
    # 100,001 tempo changes one tick apart (700 KB): later stages build a tempo map
    # per time conversion, so a table this long is refused.
    tempos = [(min(i, 1), b"\xff\x51\x03\x07\xa1" + bytes([i % 256])) for i in range(100_001)]
    path = tmp_path / "tempos.mid"
    path.write_bytes(smf([smf_track(tempos), smf_track(note_events())]))
    with pytest.raises(MidiError, match="holds 100001 tempo changes, over the limit of 100000"):
        midi.load(path)
    with pytest.raises(MidiError) as info:
        midi.load(path)
    assert str(path) in str(info.value)
