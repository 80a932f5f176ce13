"""`groove eval transfer|corpus`: score style transfers or compare folders of MIDI."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from groove.cli.options import add_quiet_option, existing
from groove.fileio import check_distinct, check_not_inputs


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "eval",
        help="score style transfers or compare folders, with JSON and an HTML report",
        description="Evaluate music. 'transfer' scores content preservation, style fit and "
        "musical checks of style-transfer outputs against three baselines; 'corpus' compares "
        "descriptive metrics of folders of MIDI files.",
    )
    eval_sub = p.add_subparsers(title="evaluations", metavar="EVALUATION")
    p.set_defaults(run=lambda args: p.print_help() or 2)

    t = eval_sub.add_parser(
        "transfer",
        help="content preservation, style fit and musical checks of (content, style, output) "
        "triples",
        description="Score each output: content preservation is the chroma similarity of "
        "output and content (Lu & Su 2018); style fit compares style profiles of the output "
        "and the style example per instrument role (Groove2Groove's, fixed: only the roles a "
        "model plays, the drum profile once, onsets in the real bars; the original "
        "definitions are reported beside it as 'G2G'). The musical checks are onset phase "
        "within the beat and the bar against the style example, the chord-tone rate against "
        "the content sounding then, the held-note rate against the style's note lengths, and "
        "part continuity (against --target, else the style example). The baselines 'source' "
        "(content as output), 'style' (style example as output) and 'overlay' (the style "
        "example looped on top of the content) are scored in the same run. Without --pairs, "
        "an output A__B.mid pairs content A.mid with style B.mid, and "
        "any other output X.mid pairs X.mid in both folders. Unreadable files are reported "
        "and skipped.",
    )
    t.add_argument("--content", required=True, metavar="DIR", help="folder of content MIDI")
    t.add_argument("--style", required=True, metavar="DIR", help="folder of style examples")
    t.add_argument("--output", required=True, metavar="DIR", help="folder of outputs")
    t.add_argument(
        "--pairs",
        metavar="TSV",
        help="tab-separated lines 'content style output', paths relative to the folders",
    )
    t.add_argument(
        "--target",
        metavar="DIR",
        help="folder of ground-truth renderings named like the outputs: scored as 'target', "
        "and part continuity is measured against them",
    )
    _add_report_options(t, "transfer-report.html")
    t.add_argument(
        "--examples",
        type=int,
        default=6,
        help="triples shown with piano rolls, chroma and profiles (default: %(default)s)",
    )
    t.set_defaults(run=run_transfer)

    c = eval_sub.add_parser(
        "corpus",
        help="descriptive metrics of folders and their overlapping areas",
        description="Measure pitch range, pitch-class entropy, scale consistency, polyphony, "
        "polyphony rate, empty-beat rate, groove consistency and drum pattern consistency "
        "(muspy's definitions, in beats) of every file, and the overlapping area of each "
        "folder's distributions with the first folder's (Yang & Lerch 2020).",
    )
    c.add_argument("folders", nargs="+", metavar="DIR", help="folders; the first is the reference")
    _add_report_options(c, "corpus-report.html")
    c.set_defaults(run=run_corpus)


def _add_report_options(p: argparse.ArgumentParser, default: str) -> None:
    p.add_argument(
        "--report", default=default, metavar="HTML", help="HTML report (default: %(default)s)"
    )
    p.add_argument("--json", metavar="FILE", help="JSON of every number (default: beside --report)")
    add_quiet_option(p)


def _json_path(args: argparse.Namespace) -> Path:
    return Path(args.json) if args.json else Path(args.report).with_suffix(".json")


def _check_outputs(args: argparse.Namespace, inputs: list[str]) -> None:
    check_distinct([("--report", args.report), ("--json", _json_path(args))])
    check_not_inputs([args.report, _json_path(args)], inputs)


def run_transfer(args: argparse.Namespace) -> int:
    from groove.eval.report import transfer_report, write_json
    from groove.eval.runs import evaluate_transfer
    from groove.eval.tables import transfer_table

    _check_outputs(args, existing(args.pairs))
    results = evaluate_transfer(
        args.content,
        args.style,
        args.output,
        args.pairs,
        target_dir=args.target,
        progress=not args.quiet,
    )
    write_json(results, _json_path(args))
    transfer_report(results, args.report, examples=args.examples)
    print(transfer_table(results))
    print(f"groove: wrote {args.report} and {_json_path(args)}", file=sys.stderr)
    return 0


def run_corpus(args: argparse.Namespace) -> int:
    from groove.eval.report import corpus_report, write_json
    from groove.eval.runs import evaluate_corpus
    from groove.eval.tables import corpus_table

    _check_outputs(args, [])
    results = evaluate_corpus(args.folders, progress=not args.quiet)
    write_json(results, _json_path(args))
    corpus_report(results, args.report)
    print(corpus_table(results))
    print(f"groove: wrote {args.report} and {_json_path(args)}", file=sys.stderr)
    return 0
