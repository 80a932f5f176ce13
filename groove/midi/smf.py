"""Standard MIDI Files in and out: `load`, `save`, `to_symusic`.

Files are parsed with symusic (C++, about 11 million notes/s here). Before that, a
small walk over the chunk headers rejects what symusic would misread (format 2,
SMPTE division, zero ticks per beat) and repairs truncation, so that every failure
is a `MidiError` that names the file and the reason.
"""

from __future__ import annotations

import os
import struct
import warnings
from typing import Any

import numpy as np

from groove.errors import GrooveWarning, MidiError
from groove.fileio import atomic_path
from groove.midi.pretty import from_pretty_midi
from groove.midi.score import (
    KEY_SIGNATURE_DTYPE,
    NOTE_DTYPE,
    PEDAL_DTYPE,
    TEMPO_DTYPE,
    TIME_SIGNATURE_DTYPE,
    Score,
    Track,
    sort_notes,
)

# Limits that keep a hostile file from hanging groove or eating memory.
MAX_FILE_BYTES = 64 * 2**20
MAX_SECONDS = 6 * 3600.0
# The last tick a Standard MIDI File can hold: symusic parses and writes times as
# 32-bit signed ticks. Every time in a loaded score (note and pedal ends included,
# tempo, time and key signatures) lies in 0..MAX_TICK, or `load` refuses the file.
MAX_TICK = 2**31 - 1
# The two repairs walk the events at Python speed (about 4 MB/s): clipping
# out-of-range data bytes in a file symusic cannot parse, and finding the last whole
# event of a track cut short. Past this many bytes (the file, the cut track) the
# file is refused instead, so that a repair takes about two seconds at most.
MAX_REPAIR_BYTES = 8 * 2**20
# The most chunks a file may hold: a header's track count is 16 bits, and walking
# millions of tiny chunks would be slow. Tracks up to it load and tokenize in
# linear time (65,535 one-note tracks: a few seconds).
MAX_TRACKS = 65535
# The most tempo changes, and the most time signatures and key signatures (each, at
# distinct ticks), a score may hold: later stages convert times through these
# tables again and again (a tempo map per conversion, a search per segment). Real
# files hold hundreds; a file past the limit is refused.
MAX_CHANGES = 100_000

# --------------------------------------------------------------------------- loading


def load(
    source: Any,
    *,
    max_bytes: int = MAX_FILE_BYTES,
    max_seconds: float = MAX_SECONDS,
) -> Score:
    """Read MIDI into a `Score`.

    Args:
        source: A path, the bytes of a Standard MIDI File, a `pretty_midi.PrettyMIDI`,
            a `music21` stream or score, or a `Score` (returned as is).
        max_bytes: Larger files are refused rather than read into memory.
        max_seconds: A score whose last note ends later than this (seconds) is
            refused: a hostile tick value must not make later stages allocate
            memory in proportion to it.

    Returns:
        The score. `score.repairs` lists anything that had to be repaired (a
        truncated track, out-of-range data bytes); each repair also raises a
        `GrooveWarning`.

    Raises:
        MidiError: The source is not readable MIDI, or passes a limit (`MAX_TICK`,
            `MAX_TRACKS`, `MAX_CHANGES`, `MAX_REPAIR_BYTES` for a file that needs
            repair, `max_bytes`, `max_seconds`); the message names the file and the
            reason.
    """
    if isinstance(source, Score):
        return source
    if isinstance(source, (bytes, bytearray, memoryview)):
        score = _load_bytes(bytes(source), "<bytes>", max_bytes)
    elif isinstance(source, (str, os.PathLike)):
        score = _load_bytes(_read_file(source, max_bytes), os.fspath(source), max_bytes)
    elif type(source).__module__.startswith("pretty_midi"):
        score = from_pretty_midi(source)
    elif type(source).__module__.startswith("music21"):
        score = _load_music21(source, max_bytes)
    else:
        raise MidiError(
            None,
            f"cannot read MIDI from a {type(source).__name__}: pass a path, bytes, "
            "a pretty_midi.PrettyMIDI or a music21 stream",
        )
    _check_extent(score, max_seconds)
    for repair in score.repairs:
        warnings.warn(f"{score.source}: {repair}", GrooveWarning, stacklevel=2)
    return score


def _read_file(path: str | os.PathLike, max_bytes: int) -> bytes:
    try:
        size = os.path.getsize(path)
        if size > max_bytes:
            raise MidiError(path, f"file is {size} bytes, over the {max_bytes}-byte limit")
        with open(path, "rb") as f:
            return f.read(max_bytes + 1)
    except FileNotFoundError:
        raise MidiError(path, "no such file") from None
    except IsADirectoryError:
        raise MidiError(path, "is a directory, not a MIDI file") from None
    except OSError as e:
        raise MidiError(path, f"cannot read the file ({e.strerror or e})") from None


def _inspect_chunks(data: bytes, source: str, max_bytes: int) -> tuple[bytes, list[str]]:
    """Validate the SMF header and walk the chunk headers (not the events).

    Returns the data, repaired if its last track was cut short, and the repairs to
    report. This is a few struct reads per chunk; symusic parses the events.
    """
    if len(data) == 0:
        raise MidiError(source, "the file is empty (0 bytes)")
    if len(data) > max_bytes:
        raise MidiError(source, f"{len(data)} bytes, over the {max_bytes}-byte limit")
    if data[:4] != b"MThd":
        raise MidiError(source, "not a Standard MIDI File (it does not start with 'MThd')")
    if len(data) < 14:
        raise MidiError(source, f"the header is cut short ({len(data)} bytes)")
    header_len = struct.unpack(">I", data[4:8])[0]
    fmt, n_declared, division = struct.unpack(">HHH", data[8:14])
    if header_len < 6:
        raise MidiError(source, f"the header chunk is {header_len} bytes long, less than 6")
    if fmt == 2:
        raise MidiError(
            source,
            "MIDI format 2 (independent patterns) is not supported; save it as format 0 or 1",
        )
    if fmt > 2:
        raise MidiError(source, f"unknown MIDI format {fmt} (expected 0 or 1)")
    if division & 0x8000:
        raise MidiError(
            source,
            "SMPTE time division (frames per second) is not supported; save it with ticks per beat",
        )
    if division == 0:
        raise MidiError(source, "ticks per beat is 0, so no event has a time")

    repairs = []
    pos, found, chunks = 8 + header_len, 0, 0
    while pos + 8 <= len(data):
        chunk_id = data[pos : pos + 4]
        length = struct.unpack(">I", data[pos + 4 : pos + 8])[0]
        found += chunk_id == b"MTrk"
        chunks += 1
        if chunks > MAX_TRACKS:
            raise MidiError(
                source,
                f"the file holds more than {MAX_TRACKS} chunks, the most tracks a MIDI "
                "header can declare",
            )
        end = pos + 8 + length
        if end > len(data):
            if len(data) - pos - 8 > MAX_REPAIR_BYTES:
                raise MidiError(
                    source,
                    f"track {found} is cut short ({len(data) - pos - 8} of {length} bytes), "
                    f"and at over {MAX_REPAIR_BYTES} bytes too long to repair",
                )
            repairs.append(
                f"track {found} is cut short ({len(data) - pos - 8} of {length} bytes): "
                "kept the notes that ended before the cut"
            )
            body = data[pos + 8 : pos + 8 + _complete_events(data[pos + 8 :])]
            body += b"\x00\xff\x2f\x00"  # End of Track
            data = data[: pos + 4] + struct.pack(">I", len(body)) + body
            break
        pos = end
    if found == 0 and n_declared > 0:
        raise MidiError(source, "the file holds no track chunk ('MTrk')")
    if found != n_declared:
        repairs.append(f"the header declares {n_declared} tracks but the file holds {found}")
        # symusic reads as many tracks as the header declares: declare what is there.
        data = data[:10] + struct.pack(">H", found) + data[12:]
    return data, repairs


def _complete_events(track: bytes) -> int:
    """Length of the prefix of a cut-short track chunk that holds whole events.

    Neither symusic nor mido reads a cut chunk, and no library reports where its
    last complete event ends, so this walks the event framing itself (SMF 1.0:
    variable-length delta, running status, meta and sysex lengths).
    """

    def varlen(i: int) -> tuple[int, int]:
        value = 0
        for _ in range(4):
            if i >= len(track):
                raise IndexError
            value = (value << 7) | (track[i] & 0x7F)
            i += 1
            if not track[i - 1] & 0x80:
                return value, i
        raise IndexError

    i = good = 0
    status = None
    try:
        while i < len(track):
            _, i = varlen(i)
            if track[i] & 0x80:
                status, i = track[i], i + 1
            if status is None:
                break
            if status == 0xFF:
                length, i = varlen(i + 1)
                i += length
            elif status in (0xF0, 0xF7):
                length, i = varlen(i)
                i += length
            else:
                i += 1 if status & 0xF0 in (0xC0, 0xD0) else 2
            if i > len(track):
                break
            good = i
    except IndexError:
        pass
    return good


def _load_bytes(data: bytes, source: str, max_bytes: int) -> Score:
    import symusic

    data, repairs = _inspect_chunks(data, source, max_bytes)
    try:
        sym = symusic.Score.from_midi(data)
    except Exception as first:  # symusic raises RuntimeError with a terse message
        # Repair: clamp out-of-range data bytes (e.g. a controller value of 168)
        # to 127, as mido's `clip=True` does, and parse again.
        sym, clipped = _parse_clipped(data, source, first)
        repairs.append(
            f"clipped out-of-range data bytes to 127 ({clipped} of them; the parser said: {first})"
        )
    return from_symusic(sym, source, repairs)


def _parse_clipped(data: bytes, source: str, first: Exception) -> tuple[Any, int]:
    """symusic's parse of `data` with every channel-message data byte above 127 set
    to 127, and how many were; MidiError when that does not make it readable."""
    import symusic

    if len(data) > MAX_REPAIR_BYTES:
        raise MidiError(
            source,
            f"cannot parse the MIDI events ({first}); at {len(data)} bytes the file is "
            f"over the {MAX_REPAIR_BYTES}-byte limit for repairing them",
        )
    repaired, clipped = _clip_data_bytes(data)
    if clipped:
        try:
            return symusic.Score.from_midi(repaired), clipped
        except Exception:
            pass
    raise MidiError(source, f"cannot parse the MIDI events ({first})")


def _clip_data_bytes(data: bytes) -> tuple[bytes, int]:
    """`data` with the data bytes of its channel messages clipped to 127, and how
    many were clipped. Only bytes change, never lengths, so every chunk header
    still holds; `_inspect_chunks` has made every chunk whole."""
    buffer = bytearray(data)
    pos, clipped = 8 + struct.unpack(">I", data[4:8])[0], 0
    while pos + 8 <= len(buffer):
        length = struct.unpack(">I", data[pos + 4 : pos + 8])[0]
        if data[pos : pos + 4] == b"MTrk":
            clipped += _clip_track(buffer, pos + 8, min(pos + 8 + length, len(buffer)))
        pos += 8 + length
    return bytes(buffer), clipped


# Data bytes after each system status byte that symusic reads as a message (F4, F5,
# F9 and FD it refuses); F0 (sysex) and FF (meta) carry their own lengths.
_SYSTEM_DATA_BYTES = {0xF1: 1, 0xF2: 2, 0xF3: 1, 0xF6: 0, 0xF7: 0, 0xF8: 0} | dict.fromkeys(
    (0xFA, 0xFB, 0xFC, 0xFE), 0
)


def _clip_track(t: bytearray, i: int, stop: int) -> int:
    """Clip, in place, the channel-message data bytes above 127 in the events of
    `t[i:stop]` to 127; return how many there were.

    The walk frames events as symusic does, so that it clips what symusic reads as
    data: running status, which meta events leave alone and a sysex sets to its
    own length; End of Track ends the walk, an unknown status byte stops it. One
    pass at Python speed (about 4 MB/s), hence `MAX_REPAIR_BYTES`.
    """
    run, sysex, clipped = -1, False, 0  # data bytes of the running status; is it a sysex
    while i < stop:
        while t[i] & 0x80 and i + 1 < stop:  # the delta time
            i += 1
        i += 1
        if i >= stop:
            break
        status = t[i]
        if status == 0xFF or status == 0xF0:  # meta (type, length, data), sysex (length, data)
            if status == 0xFF and i + 1 < stop and t[i + 1] == 0x2F:
                break
            begin, i = i, i + (2 if status == 0xFF else 1)
            length = 0
            while i < stop:
                length = (length << 7) | (t[i] & 0x7F)
                i += 1
                if not t[i - 1] & 0x80:
                    break
            i += length
            if status == 0xF0:
                run, sysex = i - begin - 1, True
            continue
        if status & 0x80:
            i += 1
            run = (
                (1 if 0xC0 <= status < 0xE0 else 2)
                if status < 0xF0
                else _SYSTEM_DATA_BYTES.get(status, -1)
            )
            sysex = False
            if run < 0:
                break
        elif run < 0:
            break
        if not sysex:
            for j in range(i, min(i + run, stop)):
                if t[j] > 127:
                    t[j] = 127
                    clipped += 1
        i += run
    return clipped


def from_symusic(sym: Any, source: str = "<symusic>", repairs: list[str] | None = None) -> Score:
    """Convert a `symusic.Score` (ticks) to a `Score`; tracks without notes are dropped."""
    tpb = int(sym.ticks_per_quarter)
    tracks, columns, pedals = [], [], []
    for t in sym.tracks:
        if len(t.notes) == 0:
            continue  # conductor tracks and empty instruments carry nothing we use
        index = len(tracks)
        tracks.append(Track(int(t.program), bool(t.is_drum), str(t.name)))
        n = t.notes.numpy()
        # symusic's columns are int32: add in int64, or an end past 2**31 wraps
        # around to before its start. `_check_ticks` refuses such ends.
        start = n["time"].astype(np.int64)
        columns.append(
            (start, start + np.maximum(n["duration"], 0), n["pitch"], n["velocity"], index)
        )
        if len(t.pedals):
            p = t.pedals.numpy()
            table = np.zeros(len(p["time"]), PEDAL_DTYPE)
            table["start"] = p["time"]
            table["end"] = table["start"] + np.maximum(p["duration"], 0)
            table["track"] = index
            pedals.append(table)

    notes = np.zeros(sum(len(c[0]) for c in columns), NOTE_DTYPE)
    i = 0
    for start, end, pitch, velocity, index in columns:
        j = i + len(start)
        notes["start"][i:j] = start
        notes["end"][i:j] = end
        # symusic's int8 columns: read as unsigned, since bytes above 127 cannot be
        # stored in a valid file and were clipped by the repair above.
        notes["pitch"][i:j] = pitch.view(np.uint8) & 0x7F
        notes["velocity"][i:j] = velocity.view(np.uint8) & 0x7F
        notes["track"][i:j] = index
        i = j

    tempos = _table(sym.tempos.numpy(), TEMPO_DTYPE, tick="time", qpm=("mspq", _mspq_to_qpm))
    time_sigs = _table(
        sym.time_signatures.numpy(),
        TIME_SIGNATURE_DTYPE,
        tick="time",
        numerator="numerator",
        denominator="denominator",
    )
    key_sigs = _table(
        sym.key_signatures.numpy(), KEY_SIGNATURE_DTYPE, tick="time", key="key", minor="tonality"
    )
    score = Score(
        notes=sort_notes(notes),
        tracks=tracks,
        ticks_per_beat=tpb,
        tempos=_dedupe_ticks(tempos),
        time_signatures=_dedupe_ticks(time_sigs),
        key_signatures=_dedupe_ticks(key_sigs),
        pedals=np.concatenate(pedals) if pedals else np.zeros(0, PEDAL_DTYPE),
        repairs=repairs or [],
        source=source,
    )
    _check_ticks(score)
    return score


def _mspq_to_qpm(mspq: np.ndarray) -> np.ndarray:
    return 60_000_000.0 / np.maximum(mspq.astype(np.float64), 1.0)


def _table(columns: dict, dtype: np.dtype, **fields: Any) -> np.ndarray:
    n = len(next(iter(columns.values()))) if columns else 0
    table = np.zeros(n, dtype)
    for name, spec in fields.items():
        key, fn = spec if isinstance(spec, tuple) else (spec, None)
        table[name] = fn(columns[key]) if fn else columns[key]
    return table


def _dedupe_ticks(table: np.ndarray) -> np.ndarray:
    """Sort by tick and keep the last event at each tick (later events win)."""
    table = np.sort(table, order="tick", kind="stable")
    if len(table) < 2:
        return table
    keep = np.append(table["tick"][1:] != table["tick"][:-1], True)
    return table[keep]


def _check_ticks(score: Score) -> None:
    """Refuse a score with a time outside 0..MAX_TICK or a note or pedal that ends
    before it starts: a delta time too large to add up, whatever the tempo."""
    tables = (
        ("a note", score.notes, ("start", "end")),
        ("a sustain pedal", score.pedals, ("start", "end")),
        ("a tempo change", score.tempos, ("tick",)),
        ("a time signature", score.time_signatures, ("tick",)),
        ("a key signature", score.key_signatures, ("tick",)),
    )
    for what, table, fields in tables:
        if len(table) == 0:
            continue
        for field in fields:
            column = table[field]
            low, high = int(column.min()), int(column.max())
            if low < 0 or high > MAX_TICK:
                raise MidiError(
                    score.source,
                    f"{what} {'ends' if field == 'end' else 'is'} at tick "
                    f"{low if low < 0 else high}, outside MIDI's 32-bit range 0..{MAX_TICK} "
                    "(a delta time too large to add up)",
                )
        if "end" in fields and (table["end"] < table["start"]).any():
            raise MidiError(score.source, f"{what} ends before it starts (a corrupt time)")


def _check_extent(score: Score, max_seconds: float) -> None:
    _check_ticks(score)
    for what, table in (
        ("tempo changes", score.tempos),
        ("time signatures", score.time_signatures),
        ("key signatures", score.key_signatures),
    ):
        if len(table) > MAX_CHANGES:
            raise MidiError(
                score.source, f"it holds {len(table)} {what}, over the limit of {MAX_CHANGES}"
            )
    if len(score.notes) == 0:
        return
    seconds = score.duration_seconds
    if not np.isfinite(seconds) or seconds > max_seconds:
        raise MidiError(
            score.source,
            f"the last note ends at {seconds:.0f} s, past the {max_seconds:.0f} s limit "
            "(a corrupt delta time?); pass a larger max_seconds if it is real",
        )


def _load_music21(stream: Any, max_bytes: int) -> Score:
    from music21.midi import translate

    title = getattr(getattr(stream, "metadata", None), "title", None) or type(stream).__name__
    try:
        data = translate.music21ObjectToMidiFile(stream).writestr()
    except Exception as e:
        raise MidiError(f"<music21 {title}>", f"music21 cannot write it as MIDI ({e})") from e
    return _load_bytes(data, f"<music21 {title}>", max_bytes)


# ---------------------------------------------------------------- pretty_midi interop

# --------------------------------------------------------------------------- writing


def to_symusic(score: Score) -> Any:
    """Convert a `Score` to a `symusic.Score` (ticks). symusic writes each track on
    its own channel, skipping channel 10, and drum tracks on channel 10."""
    import symusic

    sym = symusic.Score(int(score.ticks_per_beat))
    for t in score.tempos:
        sym.tempos.append(symusic.Tempo(time=int(t["tick"]), qpm=float(t["qpm"])))
    for ts in score.time_signatures:
        sym.time_signatures.append(
            symusic.TimeSignature(
                time=int(ts["tick"]),
                numerator=int(ts["numerator"]),
                denominator=int(ts["denominator"]),
            )
        )
    for k in score.key_signatures:
        sym.key_signatures.append(
            symusic.KeySignature(time=int(k["tick"]), key=int(k["key"]), tonality=int(k["minor"]))
        )
    for index, track in enumerate(score.tracks):
        mine = score.notes[score.notes["track"] == index]
        sym_track = symusic.Track(name=track.name, program=track.program, is_drum=track.is_drum)
        sym_track.notes = symusic.Note.from_numpy(
            time=mine["start"].astype(np.int32),
            duration=(mine["end"] - mine["start"]).astype(np.int32),
            pitch=mine["pitch"].astype(np.int8),
            velocity=mine["velocity"].astype(np.int8),
        )
        for ped in score.pedals[score.pedals["track"] == index]:
            sym_track.pedals.append(
                symusic.Pedal(time=int(ped["start"]), duration=int(ped["end"] - ped["start"]))
            )
        sym.tracks.append(sym_track)
    return sym


def save(midi: Any, path: str | os.PathLike) -> None:
    """Write a `Score` or `pretty_midi.PrettyMIDI` to a MIDI file.

    Each track goes on its own channel, drums on channel 10, programs kept. The file
    is written to a temporary name and renamed, so a failure leaves nothing
    half-written.
    """
    score = load(midi)
    if int(score.end_tick) > MAX_TICK:
        raise MidiError(path, "the score is too long for MIDI's 32-bit tick times")
    sym = to_symusic(score)
    with atomic_path(path) as tmp:
        sym.dump_midi(tmp)


def to_bytes(midi: Any) -> bytes:
    """The Standard MIDI File bytes of a `Score` or `PrettyMIDI`."""
    return bytes(to_symusic(load(midi)).dumps_midi())


# ---------------------------------------------------------------------------- helpers
