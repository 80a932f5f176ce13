"""`groove data synth|triplets|corpus`: build training data."""

from __future__ import annotations

import argparse
import os

from groove.cli.options import TOKENIZER_HELP, add_quiet_option, csv_list
from groove.errors import GrooveError


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "data",
        help="build training data: synthetic corpus, transfer triplets, language-model data",
        description="Build training data.",
    )
    data_sub = p.add_subparsers(title="data commands", metavar="COMMAND")
    p.set_defaults(run=lambda args: p.print_help() or 2)
    s = data_sub.add_parser(
        "synth",
        help="render random chord charts in random styles to MIDI, split by style and chart",
        description="Render a synthetic parallel corpus: each chart in several styles of its "
        "meter. Styles and charts are split train/val/test disjointly, plus itest (test charts "
        "in training styles). The run resumes after an interruption; manifest.json records "
        "every seed, so the corpus rebuilds byte for byte.",
    )
    s.add_argument("--styles", type=int, required=True, help="number of styles")
    s.add_argument("--charts", type=int, required=True, help="number of chord charts")
    s.add_argument("--out", required=True, help="output folder")
    s.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes")
    s.add_argument("--seed", type=int, default=0, help="corpus seed (default: %(default)s)")
    s.add_argument(
        "--styles-per-chart", type=int, default=4, help="styles per chart (default: %(default)s)"
    )
    s.add_argument("--shard-size", type=int, default=64, help="files per shard")
    s.add_argument(
        "--plan-only",
        action="store_true",
        help="write manifest.json alone (its seeds are enough to stream triplets from it "
        "with 'groove train transfer --data OUT')",
    )
    add_quiet_option(s)
    s.set_defaults(run=run_synth)

    t = data_sub.add_parser(
        "triplets",
        help="cut a synthetic corpus into style-transfer triplets (TFRecord)",
        description="Cut a corpus from 'groove data synth' into one-shot style-transfer "
        "triplets: content (a segment in style A, as a piano roll), style example (another "
        "chart in style B, one role) and target (the segment in style B, that role), "
        "tokenized with the beat or duration tokenizer and written as GZIP TFRecord shards "
        "per split.",
    )
    t.add_argument("corpus", help="corpus folder (with manifest.json)")
    t.add_argument("--out", required=True, help="output folder")
    t.add_argument("--bars", type=int, default=8, help="bars per segment (default: %(default)s)")
    t.add_argument(
        "--roles",
        default="bass,keys,guitar,strings,drums",
        help="comma-separated roles to make targets for (default: %(default)s; piano = keys)",
    )
    t.add_argument(
        "--splits", default="train,val,test,itest", help="splits to write (default: %(default)s)"
    )
    t.add_argument("--seed", type=int, default=0, help="seed for the style examples")
    t.add_argument(
        "--tokenizer",
        default="beat",
        choices=("beat", "duration"),
        help="beat: NOTE_ON/NOTE_OFF events; duration: NOTE_ON + DURATION, drum hits with no "
        "off (default: %(default)s)",
    )
    t.add_argument(
        "--max-tokens",
        type=int,
        help="skip triplets whose style example or target is longer (default: "
        "groove.data.triplets.MAX_TOKENS); also the model's default cap per segment",
    )
    add_quiet_option(t)
    t.set_defaults(run=run_triplets)

    c = data_sub.add_parser(
        "corpus",
        help="language-model data from MIDI folders or the music21 corpus",
        description="Collect language-model training data: MIDI files, folders of them "
        "(searched recursively) or music21 corpus names (music21:bach, music21:palestrina, "
        "music21:bach/bwv66.6), split train/val/test by file. Notes are stored, not tokens, "
        "so training transposes and time-stretches them afresh each time.",
    )
    c.add_argument("sources", nargs="+", help="MIDI files, folders, or music21:NAME")
    c.add_argument("--out", required=True, help="output folder")
    c.add_argument(
        "--tokenizer", default="performance", help=f"{TOKENIZER_HELP} (default: %(default)s)"
    )
    c.add_argument(
        "--splits", default="0.8,0.1,0.1", help="train,val,test fractions (default: %(default)s)"
    )
    c.add_argument("--seed", type=int, default=0, help="split seed (default: %(default)s)")
    c.add_argument("--limit", type=int, help="use only the first N files")
    c.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes")
    add_quiet_option(c)
    c.set_defaults(run=run_corpus)


def run_synth(args: argparse.Namespace) -> int:
    from collections import Counter

    from groove.data.corpus import build_corpus

    manifest = build_corpus(
        args.out,
        args.styles,
        args.charts,
        seed=args.seed,
        styles_per_chart=args.styles_per_chart,
        workers=args.workers,
        shard_size=args.shard_size,
        progress=not args.quiet,
        plan_only=args.plan_only,
    )
    counts = Counter(item["split"] for item in manifest["items"])
    print(
        f"{len(manifest['items'])} {'planned renders' if args.plan_only else 'files'} in "
        f"{args.out}: "
        + ", ".join(
            f"{split} {counts.get(split, 0)}" for split in ("train", "val", "test", "itest")
        )
    )
    return 0


def run_triplets(args: argparse.Namespace) -> int:
    from groove.data.pipeline import write_triplets
    from groove.tokenizers import get_tokenizer

    if args.max_tokens is not None and args.max_tokens < 1:
        raise GrooveError(f"--max-tokens must be at least 1, got {args.max_tokens}")
    limit = {} if args.max_tokens is None else {"max_tokens": args.max_tokens}
    manifest = write_triplets(
        args.corpus,
        args.out,
        splits=csv_list(args.splits),
        bars=args.bars,
        roles=csv_list(args.roles),
        seed=args.seed,
        tokenizer=get_tokenizer(args.tokenizer),
        progress=not args.quiet,
        **limit,
    )
    print(
        f"triplets in {args.out}: "
        + ", ".join(f"{name} {split['triplets']}" for name, split in manifest["splits"].items())
    )
    return 0


def run_corpus(args: argparse.Namespace) -> int:
    try:
        splits = [float(x) for x in csv_list(args.splits)]
    except ValueError:
        raise GrooveError(f"--splits must be three numbers, got {args.splits!r}") from None

    from groove.data.lm import build_lm_corpus

    manifest = build_lm_corpus(
        args.sources,
        args.out,
        tokenizer=args.tokenizer,
        splits=splits,
        seed=args.seed,
        limit=args.limit,
        workers=args.workers,
        progress=not args.quiet,
    )
    counts = manifest["counts"]
    print(
        f"{sum(c['files'] for c in counts.values())} files in {args.out} "
        f"({len(manifest['skipped'])} skipped): "
        + ", ".join(
            f"{split} {c['files']} files / {c['tokens']:,} tokens" for split, c in counts.items()
        )
    )
    return 0
