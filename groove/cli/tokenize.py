"""`groove tokenize` and `groove detokenize`: MIDI to token records and back.

The record format (fields, the tokenizer saved beside the records) is
`groove.tokenizers.records`'s.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from groove.cli.options import TOKENIZER_HELP, add_quiet_option, existing
from groove.errors import GrooveError
from groove.fileio import check_distinct, check_not_inputs


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "tokenize",
        help="MIDI files to token ids and names (JSON lines)",
        description="Encode MIDI files. Each output line is a JSON object "
        '{"file", "track", "ids", "tokens"}; the tokenizer is saved beside the output '
        "as OUT.tokenizer.json so that 'groove detokenize' can read the ids back. "
        "A file that cannot be read is reported and skipped.",
    )
    p.add_argument("midi", nargs="+", help="MIDI files")
    p.add_argument("-t", "--tokenizer", default="performance", help=TOKENIZER_HELP)
    p.add_argument("-o", "--out", required=True, help="output .jsonl file")
    p.add_argument(
        "--per-track",
        action="store_true",
        help="one line per track (keeps programs) instead of one merged stream",
    )
    p.add_argument("-j", "--workers", type=int, default=1, help="parallel processes")
    add_quiet_option(p)
    p.set_defaults(run=run_tokenize)

    p = subparsers.add_parser(
        "detokenize",
        help="token ids (JSON lines from 'groove tokenize') back to MIDI",
        description="Decode the lines of a .jsonl file written by 'groove tokenize' into one "
        "MIDI file per input file. Lines may hold 'ids' or 'tokens' (names).",
    )
    p.add_argument("jsonl", help="input .jsonl")
    p.add_argument(
        "-o",
        "--out",
        required=True,
        help="output folder, or a .mid path when the input holds one file",
    )
    p.add_argument(
        "-t",
        "--tokenizer",
        help=f"{TOKENIZER_HELP} (default: the .tokenizer.json beside the input)",
    )
    p.add_argument(
        "--tempo",
        type=float,
        default=120.0,
        help="quarter notes per minute, for the beat tokenizer (default: 120)",
    )
    p.set_defaults(run=run_detokenize)


def run_tokenize(args: argparse.Namespace) -> int:
    from groove.tokenizers import encode_files, get_tokenizer
    from groove.tokenizers.records import sidecar_path, write_records

    # (A tokenizer file may be the sidecar it is written back to: the same tokenizer.)
    check_not_inputs([args.out, sidecar_path(args.out)], args.midi)
    check_not_inputs([args.out], existing(args.tokenizer))
    tok = get_tokenizer(args.tokenizer)
    result = encode_files(
        args.midi, tok, workers=args.workers, per_track=args.per_track, progress=not args.quiet
    )
    if not result.ids:
        first = next(iter(result.failed.values()))
        more = f" (and {len(result.failed) - 1} more unreadable)" if len(result.failed) > 1 else ""
        raise GrooveError(f"{first}{more}")
    for reason in result.failed.values():
        print(f"groove: skipped {reason}", file=sys.stderr)
    lines = write_records(args.out, result.ids, tok, per_track=args.per_track)
    print(
        f"groove: wrote {lines} line(s) from {len(result.ids)} file(s) to {args.out} "
        f"({len(result.failed)} skipped); tokenizer in {sidecar_path(args.out)}",
        file=sys.stderr,
    )
    return 0


def run_detokenize(args: argparse.Namespace) -> int:
    from groove import midi
    from groove.tokenizers import get_tokenizer
    from groove.tokenizers.records import decode_records, read_records, sidecar_path

    spec = args.tokenizer or sidecar_path(args.jsonl)
    if args.tokenizer is None and not os.path.exists(spec):
        raise GrooveError(f"{args.jsonl}: no {spec} beside it; pass --tokenizer")
    tok = get_tokenizer(spec)
    files = read_records(args.jsonl, tok)
    single = args.out.lower().endswith((".mid", ".midi"))
    if single and len(files) > 1:
        raise GrooveError(f"{args.jsonl} holds {len(files)} files; give a folder as --out")
    targets = {
        name: Path(args.out) if single else Path(args.out) / (Path(name).stem + ".mid")
        for name in files
    }
    check_distinct(targets.items())
    check_not_inputs(targets.values(), existing(args.jsonl, spec))
    for name, tracks in files.items():
        score, report = decode_records(tracks, tok, tempo=args.tempo)
        target = targets[name]
        midi.save(score, target)
        print(f"groove: {target}: {report}", file=sys.stderr)
    return 0
