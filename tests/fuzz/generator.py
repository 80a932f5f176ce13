"""Seeded hostile MIDI: every case is a function of (category, seed) alone.

Pure Python and `struct`, no groove import, so a case can be rebuilt anywhere:

    >>> data = make_case("int32_end", 0).data       # the 98-byte note-end overflow

Two kinds of category:

- mutants of real files: bit flips and truncations of the bundled examples
  (groove/examples, always there) and of ../shared/midi (absent on some machines:
  `make_case` raises `Unavailable`, and the tests skip naming that folder);
- hand-built files, each aimed at one promise of the README (the limits of `load`,
  the repairs it documents, bounded memory and time downstream).

Every generator takes a `random.Random(seed)` and nothing else; seed 0 is the
canonical, most hostile form (the fixed CI sample), other seeds vary sizes,
positions and values around it.
"""

from __future__ import annotations

import csv
import dataclasses
import random
import struct
from collections.abc import Callable
from pathlib import Path

# conftest must stay importable on its own (tests/test_e2e_guarantees copies it alone),
# so the variable-length quantity (any size: above MAX_DELTA it is illegally long)
# lives there and the fuzz generator borrows it.
from tests.conftest import vlq

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "groove" / "examples"
SHARED_MIDI = REPO.parent / "shared" / "midi"

MAX_DELTA = 0x0FFFFFFF  # the largest delta time a 4-byte variable-length quantity holds
EOT = b"\xff\x2f\x00"  # End of Track (without its delta)


class Unavailable(LookupError):
    """The case needs files this machine lacks (../shared/midi)."""


@dataclasses.dataclass(frozen=True)
class Case:
    category: str
    seed: int
    data: bytes
    recipe: str  # one line: how the bytes were made, for a bug report

    @property
    def name(self) -> str:
        return f"fuzz-{self.category}-{self.seed}.mid"


# ------------------------------------------------------------------ SMF building


def chunk(kind: bytes, body: bytes, length: int | None = None) -> bytes:
    return kind + struct.pack(">I", len(body) if length is None else length) + body


def header(n_tracks: int, tpb: int = 480, fmt: int = 1) -> bytes:
    return chunk(b"MThd", struct.pack(">HHH", fmt, n_tracks, tpb))


def track(events: list[tuple[int, bytes]], end: bool = True) -> bytes:
    """An MTrk chunk from (delta, event bytes) pairs; End of Track appended."""
    body = b"".join(vlq(d) + e for d, e in events)
    return chunk(b"MTrk", body + (b"\x00" + EOT if end else b""))


def absolute(events: list[tuple[int, bytes]]) -> list[tuple[int, bytes]]:
    """(tick, event) pairs, in any order, to (delta, event) pairs. Gaps longer than a
    delta can hold are bridged with empty text events, as a sequencer would."""
    out, now = [], 0
    for tick, body in sorted(events, key=lambda e: e[0]):
        gap = tick - now
        while gap > MAX_DELTA:
            out.append((MAX_DELTA, b"\xff\x01\x00"))
            gap -= MAX_DELTA
        out.append((gap, body))
        now = tick
    return out


def smf(tracks: list[bytes], tpb: int = 480, declared: int | None = None, fmt: int = 1) -> bytes:
    return header(len(tracks) if declared is None else declared, tpb, fmt) + b"".join(tracks)


def on(pitch: int, velocity: int = 100, channel: int = 0) -> bytes:
    return bytes([0x90 | channel, pitch & 0x7F, velocity & 0x7F])


def off(pitch: int, channel: int = 0) -> bytes:
    return bytes([0x80 | channel, pitch & 0x7F, 0])


def tempo(us_per_beat: int) -> bytes:
    return b"\xff\x51\x03" + us_per_beat.to_bytes(3, "big")


def name(text: str) -> bytes:
    raw = text.encode()
    return b"\xff\x03" + vlq(len(raw)) + raw


def melody(rng: random.Random, n: int, step: int, channel: int = 0) -> list[tuple[int, bytes]]:
    """n notes as absolute (tick, event) pairs, one every `step` ticks."""
    events = []
    for i in range(n):
        pitch = rng.randrange(36, 96)
        events += [(i * step, on(pitch, rng.randrange(1, 128), channel))]
        events += [(i * step + rng.randrange(1, step + 1), off(pitch, channel))]
    return events


# ------------------------------------------------------------------ real files


def example_files() -> list[Path]:
    return sorted(EXAMPLES.glob("*.mid"))


def shared_files() -> list[Path]:
    manifest = SHARED_MIDI / "MANIFEST.tsv"
    if not manifest.is_file():
        raise Unavailable(f"{SHARED_MIDI} is absent")
    with open(manifest, newline="", encoding="utf-8") as f:
        files = [SHARED_MIDI / row["file"] for row in csv.DictReader(f, delimiter="\t")]
    return [p for p in files if p.is_file()]


def _pick(rng: random.Random, files: list[Path]) -> tuple[Path, bytes]:
    path = files[rng.randrange(len(files))]
    return path, path.read_bytes()


def _flip(rng: random.Random, files: list[Path]) -> tuple[bytes, str]:
    path, data = _pick(rng, files)
    data = bytearray(data)
    flips = rng.choice([1, 1, 2, 3, 4, 8, 16, 64])
    where = []
    for _ in range(flips):
        # A third of the flips land in the header and the first chunk header.
        span = min(len(data), 22) if rng.random() < 0.3 else len(data)
        pos, bit = rng.randrange(span), rng.randrange(8)
        data[pos] ^= 1 << bit
        where.append(f"{pos}.{bit}")
    return bytes(data), f"{path.name} with bits flipped at byte.bit {', '.join(where[:8])}"


def _cut(rng: random.Random, files: list[Path]) -> tuple[bytes, str]:
    path, data = _pick(rng, files)
    cut = rng.randrange(1, 22) if rng.random() < 0.15 else rng.randrange(1, len(data))
    return data[:cut], f"{path.name} cut to its first {cut} of {len(data)} bytes"


def bitflip(rng):
    return _flip(rng, example_files())


def truncate(rng):
    return _cut(rng, example_files())


def bitflip_shared(rng):
    return _flip(rng, shared_files())


def truncate_shared(rng):
    return _cut(rng, shared_files())


# ------------------------------------------------------------------ hand-built files


def huge_delta(rng):
    kind = "max" if rng.seed_is_zero else rng.choice(["max", "many", "overlong"])
    tpb = rng.choice([480, 96, 32767])
    if kind == "overlong":  # an illegal VLQ of 5..9 bytes
        width = rng.randrange(5, 10)
        events = b"\x00" + on(60) + b"\xff" * (width - 1) + b"\x7f" + off(60)
        return smf([chunk(b"MTrk", events + b"\x00" + EOT)], tpb), f"a {width}-byte delta time"
    hops = 1 if kind == "max" else rng.randrange(2, 40)
    events = [(0, on(60)), *[(MAX_DELTA, b"\xff\x01\x00")] * (hops - 1), (MAX_DELTA, off(60))]
    events += [(rng.randrange(0, 100), on(64)), (MAX_DELTA, off(64))]
    return (
        smf([track(events)], tpb),
        f"notes {hops} x {MAX_DELTA} ticks long, tpb {tpb}",
    )


def _tempo_case(rng, us: int):
    tpb = 480 if rng.seed_is_zero else rng.choice([480, 1, 32767])
    notes = melody(rng, rng.randrange(1, 200), rng.choice([1, 120, 480, MAX_DELTA // 4]))
    at = 0 if rng.seed_is_zero else rng.choice([0, notes[len(notes) // 2][0]])
    events = absolute([(at, tempo(us)), *notes])
    return smf([track(events)], tpb), f"tempo {us} us per beat at tick {at}, tpb {tpb}"


def tempo_0(rng):
    return _tempo_case(rng, 0)


def tempo_1(rng):
    return _tempo_case(rng, 1)


def tpb_1(rng):
    notes = melody(rng, rng.randrange(1, 400), rng.choice([1, 2, 7]))
    return smf([track(absolute(notes))], tpb=1), f"ticks per beat 1, {len(notes) // 2} notes"


def tpb_32767(rng):
    step = rng.choice([1, 3, 32767, 32767 * 64])
    notes = melody(rng, rng.randrange(1, 400), step)
    return (
        smf([track(absolute(notes))], tpb=32767),
        f"ticks per beat 32767, {len(notes) // 2} notes every {step} ticks",
    )


def header_claims_65535(rng):
    kept = rng.randrange(1, 4)
    tracks = [track(absolute(melody(rng, 20, 240, channel=i))) for i in range(kept)]
    return smf(tracks, declared=65535), f"a header declaring 65535 tracks; {kept} present"


def tracks_65535(rng):
    n = 65535 if rng.seed_is_zero else rng.choice([1000, 10000, 30000, 65535])
    tracks = [track([(0, name(f"t{i}")), (0, on(60 + i % 12)), (96, off(60 + i % 12))])
              for i in range(n)]  # fmt: skip
    return smf(tracks), f"{n} named one-note tracks"


def sysex_unterminated(rng):
    kind = "past_end" if rng.seed_is_zero else rng.choice(["past_end", "no_f7", "escape"])
    notes = absolute(melody(rng, 8, 120))
    body = b"".join(vlq(d) + e for d, e in notes[:8])
    if kind == "past_end":  # the sysex claims more bytes than the file has; no F7
        sysex = b"\x00\xf0" + vlq(rng.randrange(1000, MAX_DELTA)) + b"\x7e\x7f\x09\x01"
        data = smf([chunk(b"MTrk", body + sysex)])
    elif kind == "no_f7":  # framed by its length, but the message never sends F7
        payload = bytes(rng.randrange(128) for _ in range(rng.randrange(1, 64)))
        sysex = b"\x00\xf0" + vlq(len(payload)) + payload
        data = smf([chunk(b"MTrk", body + sysex + b"\x00" + EOT)])
    else:  # an F7 escape that swallows the rest of the track
        sysex = b"\x00\xf7" + vlq(MAX_DELTA)
        data = smf([chunk(b"MTrk", sysex + body + b"\x00" + EOT)])
    return data, f"an unterminated sysex ({kind})"


def meta_huge_length(rng):
    kind = 0x01 if rng.seed_is_zero else rng.choice([0x01, 0x03, 0x2F, 0x51, 0x58, 0x59, 0x7F])
    length = MAX_DELTA if rng.seed_is_zero else rng.choice([MAX_DELTA, 2**35, 1 << 20, 7])
    notes = absolute(melody(rng, 4, 240))
    body = b"".join(vlq(d) + e for d, e in notes) + b"\x00\xff" + bytes([kind]) + vlq(length)
    body += b"abc"
    return smf([chunk(b"MTrk", body)]), f"meta event 0x{kind:02x} claiming {length} bytes"


def notes_100k(rng):
    n = 100_000
    length = rng.choice([480, 1, 0]) if not rng.seed_is_zero else 480
    order = list(range(n))
    if not rng.seed_is_zero:
        rng.shuffle(order)
    ons = b"".join(b"\x00" + on(i % 128, 1 + i % 127, (i // 128) % 16) for i in range(n))
    offs = b"".join(
        vlq(length if k == 0 else 0) + off(i % 128, (i // 128) % 16) for k, i in enumerate(order)
    )
    return smf([chunk(b"MTrk", ons + offs + b"\x00" + EOT)]), f"{n} notes at tick 0, {length} long"


def overlap_same_pitch(rng):
    pitch, n = rng.randrange(128), (1000 if rng.seed_is_zero else rng.randrange(2, 3000))
    events = []
    for _ in range(n):
        start = rng.randrange(0, 48_000)
        events.append((start, on(pitch, rng.randrange(1, 128))))
        if rng.random() < 0.9:  # some never end; some offs come before any on
            end = (
                start + rng.randrange(0, 4800)
                if rng.random() < 0.9
                else rng.randrange(0, start + 1)
            )
            events.append((end, off(pitch) if rng.random() < 0.5 else on(pitch, 0)))
    return smf([track(absolute(events))]), f"{n} overlapping notes of pitch {pitch}"


def non_midi(rng):
    kind = (
        "random"
        if rng.seed_is_zero
        else rng.choice(["random", "mthd_random", "riff", "text", "png", "empty", "mtrk_random"])
    )
    noise = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 4096)))
    data = {
        "random": noise,
        "mthd_random": b"MThd" + noise,
        "riff": b"RIFF" + struct.pack("<I", 4 + len(noise)) + b"RMIDdata" + noise,
        "text": ("not a MIDI file\n" * rng.randrange(1, 100)).encode(),
        "png": b"\x89PNG\r\n\x1a\n" + noise,
        "empty": b"",
        "mtrk_random": header(1) + chunk(b"MTrk", noise),
    }[kind]
    return data, f"{kind}, {len(data)} bytes"


def int32_end(rng):
    """The issue's 98-byte file: a note at tick 2**31 - 2000, 4000 ticks long."""
    if rng.seed_is_zero:
        start, duration, tpb = 2**31 - 2000, 4000, 480
    else:
        start = rng.choice([2**31, 2**32]) - rng.randrange(1, 10_000)
        duration, tpb = rng.randrange(10_000, 2 * MAX_DELTA), rng.choice([480, 1, 32767])
    events = absolute([(start, on(60)), (start + duration, off(60))])
    return smf([track(events)], tpb), f"a note at tick {start}, {duration} ticks long, tpb {tpb}"


def header_undercount(rng):
    files = [p for p in example_files() if struct.unpack(">H", p.read_bytes()[10:12])[0] > 1]
    path, data = _pick(rng, files)
    present = struct.unpack(">H", data[10:12])[0]
    declared = 1 if rng.seed_is_zero else rng.randrange(1, present)
    return (
        data[:10] + struct.pack(">H", declared) + data[12:],
        f"{path.name} ({present} tracks) with a header declaring {declared}",
    )


def long_note(rng):
    hours = 5.9 if rng.seed_is_zero else rng.uniform(4.0, 5.99)
    ticks = int(hours * 3600 * 2 * 480)  # 120 beats per minute, 480 ticks per beat
    drum = not rng.seed_is_zero and rng.random() < 0.3
    channel = 9 if drum else 0
    events = absolute([(0, on(60, 100, channel)), (ticks, off(60, channel))])
    return smf([track(events)]), f"one {'drum ' if drum else ''}note {hours:.2f} hours long"


def drum_long_in_beats(rng):
    """Issue item 2: 35 minutes of drums at 1 tick per beat and 1 us per beat: 2.1e9
    beats, just inside 32-bit ticks and well inside 6 hours."""
    minutes = 35 if rng.seed_is_zero else rng.randrange(1, 36)
    span = minutes * 60 * 10**6  # ticks = beats = microseconds
    hits = [(i * rng.randrange(1, 4), on(36 + i % 12, 100, 9)) for i in range(16)]
    hits += [(t + 1, off(36 + i % 12, 9)) for i, (t, _) in enumerate(hits)]
    hits += [(span, on(38, 100, 9)), (span + 1, off(38, 9))]
    events = absolute([(0, tempo(1)), *hits])
    return smf([track(events)], tpb=1), f"drums over {minutes} min at tpb 1 and 1 us per beat"


def time_signature_storm(rng):
    n = 50_000 if rng.seed_is_zero else rng.choice([1000, 50_000, 120_000])
    kind = "time" if rng.seed_is_zero else rng.choice(["time", "tempo", "key"])
    metas = []
    for i in range(n):
        if kind == "time":
            meta = b"\xff\x58\x04" + bytes([1 + i % 15, i % 6, 24, 8])
        elif kind == "tempo":
            meta = tempo(1 + (i * 7919) % 0xFFFFFF)
        else:
            meta = b"\xff\x59\x02" + bytes([(i % 15 - 7) & 0xFF, i % 2])
        metas.append((i * rng.choice([1, 7, 480]) if i else 0, meta))
    events = absolute(metas + melody(rng, 64, 960))
    what = {"time": "time-signature", "tempo": "tempo", "key": "key-signature"}[kind]
    return smf([track(events)]), f"{n} {what} changes"


CATEGORIES: dict[str, Callable[[random.Random], tuple[bytes, str]]] = {
    f.__name__: f
    for f in [
        bitflip,
        truncate,
        bitflip_shared,
        truncate_shared,
        huge_delta,
        tempo_0,
        tempo_1,
        tpb_1,
        tpb_32767,
        header_claims_65535,
        tracks_65535,
        sysex_unterminated,
        meta_huge_length,
        notes_100k,
        overlap_same_pitch,
        non_midi,
        int32_end,
        header_undercount,
        long_note,
        drum_long_in_beats,
        time_signature_storm,
    ]
}
SHARED_CATEGORIES = frozenset({"bitflip_shared", "truncate_shared"})


class _Random(random.Random):
    """Seeded by category and seed together (a str seed is hashed with SHA-512, the
    same on every machine), so that categories draw unrelated numbers."""

    def __init__(self, category: str, seed: int):
        super().__init__(f"{category}/{seed}")
        self.seed_is_zero = seed == 0


def make_case(category: str, seed: int) -> Case:
    """The case (category, seed): the same bytes on every machine and every run.
    Raises `Unavailable` for a shared-file category without ../shared/midi."""
    data, recipe = CATEGORIES[category](_Random(category, seed))
    return Case(category, seed, data, recipe)
