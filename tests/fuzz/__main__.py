"""Print the fuzz table: categories x outcomes, as markdown, and every failure.

    .venv/bin/python -m tests.fuzz --table 5                 # seeds 0..4; transfer and
                                                             # generate on seed 0 only
    .venv/bin/python -m tests.fuzz --table 5 --tf-seeds 0    # no TensorFlow commands
    .venv/bin/python -m tests.fuzz --table 1 --only int32_end --commands render

Every run is one child process under the memory cap and a time limit (see
`tests.fuzz.harness`). Runs go one at a time unless `-j N`.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import sys
import tempfile
from pathlib import Path

from tests.fuzz.generator import CATEGORIES, Unavailable, make_case
from tests.fuzz.harness import COMMANDS, GOOD, TF_COMMANDS, run_api, run_cli

COLUMNS = [
    ("clean_error", "clean errors"),
    ("repair", "repairs"),
    ("success", "successes"),
    ("broken", "broken promises"),
    ("crash", "crashes"),
    ("hang", "hangs"),
    ("memory", "memory blow-ups"),
]


def jobs_for(args) -> list[tuple[str, int, str]]:
    """(category, seed, target) for every run; target "api" or a CLI command."""
    commands = list(COMMANDS) if args.commands is None else args.commands.split(",")
    commands = [c for c in commands if c and c != "none"]
    unknown = set(commands) - set(COMMANDS)
    if unknown:
        raise SystemExit(
            f"unknown command(s) {', '.join(sorted(unknown))}; use {', '.join(COMMANDS)}"
        )
    out = []
    for category in args.only.split(",") if args.only else CATEGORIES:
        for seed in range(args.first, args.first + args.table):
            targets = ["api"] if args.api else []
            tf = seed - args.first < args.tf_seeds
            targets += [c for c in commands if tf or c not in TF_COMMANDS]
            out += [(category, seed, t) for t in targets]
    return out


def run_job(job, root: Path):
    category, seed, target = job
    try:
        case = make_case(category, seed)
    except Unavailable:
        return job, None, []
    work = root / f"{category}-{seed}-{target}"
    work.mkdir(parents=True)
    if target == "api":
        path = work / case.name
        path.write_bytes(case.data)
        return job, case, run_api(path)
    return job, case, [run_cli(target, case.data, case.name, seed, work)]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__.split("\n")[0])
    p.add_argument("--table", type=int, default=3, metavar="N", help="seeds per category")
    p.add_argument("--first", type=int, default=0, help="first seed (default 0)")
    p.add_argument("--only", help="comma-separated categories (default: all)")
    p.add_argument(
        "--commands",
        help=f"comma-separated CLI commands, or none (default: all: {','.join(COMMANDS)})",
    )
    p.add_argument("--no-api", dest="api", action="store_false", help="skip the API runs")
    p.add_argument(
        "--tf-seeds",
        type=int,
        default=1,
        help="run the TensorFlow commands (transfer, generate) on the first K seeds only "
        "(default 1; 0: never)",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="print every run's detail")
    p.add_argument("-j", "--jobs", type=int, default=1, help="runs at once (default 1)")
    args = p.parse_args(argv)

    counts = collections.defaultdict(collections.Counter)
    inputs = collections.defaultdict(set)
    failures, missing = [], set()
    with (
        tempfile.TemporaryDirectory(prefix="groove-fuzz-") as root,
        concurrent.futures.ThreadPoolExecutor(args.jobs) as pool,
    ):
        for (category, seed, _), case, results in pool.map(
            lambda j: run_job(j, Path(root)), jobs_for(args)
        ):
            if case is None:
                missing.add(category)
                continue
            inputs[category].add(seed)
            for r in results:
                counts[category][r.outcome] += 1
                if r.outcome not in GOOD:
                    failures.append((case, r))
                line = f"{category} seed {seed} {r.target}: {r.outcome}"
                if args.verbose and r.detail.strip():
                    line += "\n    " + r.detail.strip().replace("\n", "\n    ")
                print(line, file=sys.stderr, flush=True)

    header = ["category", "inputs", "runs", *(title for _, title in COLUMNS)]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    total, n_inputs = collections.Counter(), 0
    for category in CATEGORIES:
        if category not in counts:
            continue
        c = counts[category]
        total.update(c)
        n_inputs += len(inputs[category])
        cells = [category, len(inputs[category]), sum(c.values()), *(c[k] for k, _ in COLUMNS)]
        print("| " + " | ".join(map(str, cells)) + " |")
    cells = ["**all**", n_inputs, sum(total.values()), *(total[k] for k, _ in COLUMNS)]
    print("| " + " | ".join(map(str, cells)) + " |")
    if missing:
        print(f"\nnot run (no ../shared/midi): {', '.join(sorted(missing))}")
    if failures:
        print(f"\n{len(failures)} failure(s):")
        for case, r in failures:
            detail = r.detail.strip().splitlines()
            print(f"- {case.category} seed {case.seed} ({case.recipe}), {r.target}: {r.outcome}")
            for line in detail[-4:]:
                print(f"    {line}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
