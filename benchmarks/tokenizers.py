"""Encode/decode throughput of groove's tokenizers against miditok's MIDILike.

Every contender runs on the same MIDI files in one run:

- miditok MIDILike, configured directly through miditok at 12 steps per beat,
  32 velocities, all 128 pitches, one stream with Program tokens (the baseline);
- groove `PerformanceTokenizer` (10 ms steps, 32 velocity bins, sustain applied);
- groove `BeatTokenizer` (12 steps per beat, 8 velocity bins);
- groove `MidiTokTokenizer`, groove's wrapper around the same miditok MIDILike.

What is timed (the best of `--repeat` timings of a whole pass over all files):

- encode: `encode(path)` for every file, parsing the file included. For miditok,
  `MIDILike.encode(symusic.Score(path))`.
- decode -> Score: the ids from encode back to notes, `decode_score(ids)` for
  groove (a groove `Score`); for miditok, `MIDILike.decode(seq)` on the
  `TokSequence` that encode returned (a symusic Score; its tokens are already
  strings, so miditok skips the id-to-token step that groove's decoders do).
- decode -> PrettyMIDI: groove's public `decode(ids)`, which returns a
  `pretty_midi.PrettyMIDI`. miditok has no such path ("-").

Throughput is notes per second, dividing for every contender the same count: the
notes groove loads from the files (`PerformanceTokenizer.encode` leaves drum
tracks out of its single stream, so it handles fewer of them). Ratios are notes/s
divided by miditok's notes/s in the same run: above 1 is faster.

The fidelity column (not timed) counts the files whose round trip keeps every
note, with the same count per (program, drum flag, pitch) and times and
velocities within one step of the grid. groove tokenizers go through
`encode_tracks` -> `decode_tracks_score`; miditok through its own encode/decode
(it merges tracks of one program and gives drums program 0, which can cost it
files with drums). Files that fail are listed under the table.

Run from the repository root:

    .venv/bin/python benchmarks/tokenizers.py [--midi-dir DIR] [--repeat N]

`--midi-dir` defaults to `../shared/midi` beside the checkout (its `bad/`
folder is skipped); without that folder the script says so and exits 0.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.metadata
import logging
import platform
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from groove import midi
from groove.errors import GrooveError
from groove.midi import Score
from groove.tokenizers import BeatTokenizer, MidiTokTokenizer, PerformanceTokenizer
from groove.tokenizers.fidelity import Fidelity, compare

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MIDI_DIR = REPO.parent / "shared" / "midi"
BEAT_STEP = 1 / 12  # beats: the grid of BeatTokenizer and of both MIDILike rows
SECOND_STEP = 0.01  # seconds: PerformanceTokenizer's time step
EPSILON = 1e-9


@dataclasses.dataclass
class Contender:
    """One tokenizer under test and how to run it."""

    name: str
    encode: Callable[[Path], Any]
    decode_score: Callable[[Any], Any]
    decode_pretty: Callable[[Any], Any] | None
    round_trip: Callable[[Path], tuple[Score, Score]]
    unit: str
    time_tolerance: float
    velocity_tolerance: float


@dataclasses.dataclass
class Result:
    """Best pass times (seconds) and round-trip fidelity of one contender."""

    name: str
    encode_s: float
    decode_score_s: float
    decode_pretty_s: float | None
    kept: int
    failures: list[tuple[Path, str]]


def unshadow_tokenizers_package() -> None:
    """Drop this script's folder from `sys.path`.

    Run as a script, this file's folder comes first on the path, and its name
    would shadow the Hugging Face `tokenizers` package that miditok imports.
    """
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]


def find_files(midi_dir: Path) -> tuple[list[Path], int, int]:
    """The `.mid` files outside `bad/` that both groove and symusic read, with
    their total and drum note counts as groove loads them."""
    import symusic

    files, notes, drum_notes = [], 0, 0
    for path in sorted(midi_dir.rglob("*.mid")):
        if path.relative_to(midi_dir).parts[0] == "bad":
            continue
        try:
            score = midi.load(path)
        except GrooveError as e:
            print(f"skipped (groove cannot load it): {e}")
            continue
        try:
            symusic.Score(str(path))
        except Exception as e:  # the baseline must read the same files
            print(f"skipped (symusic cannot load it): {path}: {e}")
            continue
        drum = np.array([t.is_drum for t in score.tracks] + [False], bool)
        files.append(path)
        notes += len(score.notes)
        drum_notes += int(drum[score.notes["track"]].sum())
    return files, notes, drum_notes


def miditok_baseline() -> Contender:
    """miditok MIDILike built directly, at the grid of `MidiTokTokenizer`."""
    import miditok
    import symusic

    tok = miditok.MIDILike(
        miditok.TokenizerConfig(
            pitch_range=(0, 127),
            drums_pitch_range=(0, 127),
            beat_res={(0, 4): 12, (4, 12): 12},
            num_velocities=32,
            special_tokens=["PAD", "BOS", "EOS"],
            use_programs=True,
            one_token_stream_for_programs=True,
            use_time_signatures=False,
        )
    )

    def encode(path: Path) -> Any:
        return tok.encode(symusic.Score(str(path)))

    def round_trip(path: Path) -> tuple[Score, Score]:
        return midi.load(path), midi.from_symusic(tok.decode(encode(path)), "<decoded>")

    return Contender(
        "miditok MIDILike", encode, tok.decode, None, round_trip, "beats", BEAT_STEP, 127 / 32
    )


def groove_contender(
    name: str,
    tokenizer: Any,
    unit: str,
    time_tolerance: float,
    velocity_tolerance: float,
) -> Contender:
    """A groove tokenizer; its round trip is per track, compared in `unit` with
    the file as the tokenizer prepares it (`Tokenizer.prepare`: sustain applied
    for Performance)."""

    def round_trip(path: Path) -> tuple[Score, Score]:
        decoded, _ = tokenizer.decode_tracks_score(tokenizer.encode_tracks(path))
        return tokenizer.prepare(path), decoded

    return Contender(
        name,
        tokenizer.encode,
        tokenizer.decode_score,
        tokenizer.decode,
        round_trip,
        unit,
        time_tolerance,
        velocity_tolerance,
    )


def best_pass(function: Callable[[Any], Any], items: Sequence[Any], repeat: int) -> tuple:
    """(best seconds, outputs) of `repeat` passes of `function` over `items`."""
    best, outputs = float("inf"), []
    for _ in range(repeat):
        start = time.perf_counter()
        outputs = [function(item) for item in items]
        best = min(best, time.perf_counter() - start)
    return best, outputs


def measure(contender: Contender, files: list[Path], repeat: int) -> Result:
    """Time `contender` on `files` and check its round trip on each."""
    # One untimed call of each path first, so that imports and set-up done on
    # first use (pretty_midi is imported by the first decode) stay out of pass one.
    warm_ids = contender.encode(files[0])
    contender.decode_score(warm_ids)
    if contender.decode_pretty is not None:
        contender.decode_pretty(warm_ids)

    encode_s, ids = best_pass(contender.encode, files, repeat)
    decode_score_s, _ = best_pass(contender.decode_score, ids, repeat)
    decode_pretty_s = None
    if contender.decode_pretty is not None:
        decode_pretty_s, _ = best_pass(contender.decode_pretty, ids, repeat)

    kept, failures = 0, []
    for path in files:
        reference, decoded = contender.round_trip(path)
        fidelity = compare(reference, decoded, contender.unit)
        if fidelity.within(contender.time_tolerance + EPSILON, contender.velocity_tolerance):
            kept += 1
        else:
            failures.append((path, describe_failure(fidelity, reference, decoded)))
    return Result(contender.name, encode_s, decode_score_s, decode_pretty_s, kept, failures)


def instrument_counts(score: Score) -> dict[tuple[int, bool], int]:
    """Notes per (program, drum flag)."""
    counts: dict[tuple[int, bool], int] = {}
    for index, track in enumerate(score.tracks):
        key = (track.program, track.is_drum)
        counts[key] = counts.get(key, 0) + int((score.notes["track"] == index).sum())
    return counts


def describe_failure(fidelity: Fidelity, reference: Score, decoded: Score) -> str:
    """What a failed round trip changed, in one line."""
    if fidelity.same_notes:
        return (
            f"onset error {fidelity.onset_error:.4g}, offset error {fidelity.offset_error:.4g} "
            f"{fidelity.unit}, velocity error {fidelity.velocity_error:.4g}"
        )
    before, after = instrument_counts(reference), instrument_counts(decoded)
    moved = []
    for program, drum in sorted(before.keys() | after.keys()):
        was, now = before.get((program, drum), 0), after.get((program, drum), 0)
        if was != now:
            moved.append(f"{'drums' if drum else 'program'} {program}: {was} -> {now}")
    where = "; ".join(moved[:4]) + ("; ..." if len(moved) > 4 else "") if moved else "same"
    return (
        f"note counts per (program, drum, pitch) differ ({fidelity.notes[0]} notes -> "
        f"{fidelity.notes[1]}); notes per instrument: {where}"
    )


def version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def print_report(
    results: list[Result], files: list[Path], notes: int, drum_notes: int, args: argparse.Namespace
) -> None:
    print(
        f"{len(files)} files, {notes:,} notes ({drum_notes:,} on drum tracks) "
        f"from {args.midi_dir}; best of {args.repeat} pass{'es' if args.repeat > 1 else ''}"
    )
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, "
        f"miditok {version('miditok')}, symusic {version('symusic')}, "
        f"pretty_midi {version('pretty_midi')}"
    )
    print("Ratios are notes/s against miditok MIDILike measured in this same run (>1: faster).")
    print()

    header = (
        f"{'tokenizer':<24} {'enc notes/s':>12} {'enc files/s':>12} {'enc ratio':>10}"
        f" {'dec->Score notes/s':>19} {'dec ratio':>10} {'dec->PrettyMIDI notes/s':>24}"
        f" {'fidelity':>9}"
    )
    print(header)
    print("-" * len(header))
    baseline = results[0]
    for r in results:
        pretty = "-" if r.decode_pretty_s is None else f"{notes / r.decode_pretty_s:,.0f}"
        encode_ratio = baseline.encode_s / r.encode_s
        decode_ratio = baseline.decode_score_s / r.decode_score_s
        kept = f"{r.kept}/{len(files)}"
        print(
            f"{r.name:<24} {notes / r.encode_s:>12,.0f} {len(files) / r.encode_s:>12,.1f}"
            f" {encode_ratio:>10.2f} {notes / r.decode_score_s:>19,.0f} {decode_ratio:>10.2f}"
            f" {pretty:>24} {kept:>9}"
        )
    print()
    print(
        "fidelity: files whose round trip keeps the note count of every (program, drum, pitch),\n"
        "onsets and offsets within one grid step (1/12 beat; 0.01 s for Performance) and\n"
        "velocities within one bin (127/32; 127/8 for Beat)."
    )
    for r in results:
        for path, detail in r.failures:
            print(f"  {r.name} fails {path.relative_to(args.midi_dir)}: {detail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--midi-dir", type=Path, default=DEFAULT_MIDI_DIR, help="folder of .mid files"
    )
    parser.add_argument("--repeat", type=int, default=3, help="passes to take the best of")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if not args.midi_dir.is_dir():
        print(f"no MIDI folder at {args.midi_dir}: nothing to benchmark")
        return 0

    unshadow_tokenizers_package()
    # Decoders log their repairs; the ids here come from encode, and logging
    # would only add noise to the timings.
    logging.getLogger("groove.tokenizers").setLevel(logging.ERROR)

    files, notes, drum_notes = find_files(args.midi_dir)
    if not files:
        print(f"no readable .mid files under {args.midi_dir}")
        return 0

    contenders = [
        miditok_baseline(),
        groove_contender(
            "groove Performance", PerformanceTokenizer(), "seconds", SECOND_STEP, 127 / 32
        ),
        groove_contender("groove Beat", BeatTokenizer(), "beats", BEAT_STEP, 127 / 8),
        groove_contender(
            "groove MidiTok (wrapper)", MidiTokTokenizer(), "beats", BEAT_STEP, 127 / 32
        ),
    ]
    results = [measure(c, files, args.repeat) for c in contenders]
    print_report(results, files, notes, drum_notes, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
