"""`groove demo`: round-trip the bundled examples through each tokenizer."""

from __future__ import annotations

import argparse
from pathlib import Path

from groove.fileio import check_distinct, check_not_inputs


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "demo",
        help="tokenize and round-trip the bundled examples, and say what happened",
        description="Load the MIDI files bundled with groove (or yours), encode them with each "
        "tokenizer, decode them again, and print how faithfully the notes came back.",
    )
    p.add_argument("midi", nargs="*", help="MIDI files to use instead of the bundled examples")
    p.add_argument(
        "-o",
        "--out",
        default="groove-demo",
        help="folder for the decoded MIDI files (default: %(default)s)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from groove import example_path, midi
    from groove.tokenizers import BeatTokenizer, MidiTokTokenizer, PerformanceTokenizer
    from groove.tokenizers.fidelity import compare

    paths = args.midi or [example_path("band.mid"), example_path("chorale.mid")]
    tokenizers = [
        (PerformanceTokenizer(), "seconds", "10 ms"),
        (BeatTokenizer(), "beats", "1/12 beat"),
        (MidiTokTokenizer(), "beats", "1/12 beat"),
    ]
    out = Path(args.out)
    targets = [
        (p, out / f"{Path(p).stem}.{tok.kind}.mid") for p in paths for tok, _, _ in tokenizers
    ]
    check_distinct(targets)
    check_not_inputs([t for _, t in targets], paths)
    for path in paths:
        score = midi.load(path)
        print(f"\n{path}")
        print(
            f"  {len(score.notes)} notes on {len(score.tracks)} tracks "
            f"({', '.join(t.name or f'program {t.program}' for t in score.tracks)}), "
            f"{score.duration_seconds:.1f} s, {len(score.tempos) or 1} tempo(s)"
        )
        for tok, unit, quantum in tokenizers:
            ids = tok.encode_tracks(score)
            decoded, report = tok.decode_tracks_score(ids)
            fid = compare(tok.prepare(score), decoded, unit)
            first = next(iter(ids.values()), [])
            name = type(tok).__name__
            print(
                f"  {name}: {sum(map(len, ids.values()))} tokens in {len(ids)} track(s), "
                f"e.g. {' '.join(tok.ids_to_tokens(first[:6]))} ..."
            )
            kept = "all notes kept" if fid.same_notes else f"NOTES CHANGED {fid.notes}"
            print(
                f"    decoded: {kept}; worst onset error {fid.onset_error:.4g} {unit}, "
                f"offset {fid.offset_error:.4g} {unit} (quantum {quantum}); "
                f"velocity {fid.velocity_error:.0f}; {report}"
            )
            target = out / f"{Path(path).stem}.{tok.kind}.mid"
            midi.save(decoded, target)
            print(f"    wrote {target}")
    return 0
