"""Piano rolls of test pairs, side by side for two or more evaluated models.

Takes the folders `scripts/eval_transfer.py --out` wrote (the same pairs in each)
and draws, for each named pair, the content, the style example, the target and every
model's output on one beat axis, as one PNG per pair:

    python scripts/compare_rolls.py --eval old=runs/eval/gru new=runs/eval/tf \\
        --pairs 3 --out runs/eval/rolls
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--eval", nargs="+", required=True, metavar="LABEL=DIR")
    p.add_argument("--pairs", type=int, default=3, help="the first N pairs (by name)")
    p.add_argument("--names", nargs="*", help="these pairs instead")
    p.add_argument("--beats", type=float, default=32.0, help="beats drawn")
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)

    from groove import midi
    from groove.eval.plots import piano_rolls, png

    runs = dict(item.split("=", 1) for item in args.eval)
    first = Path(next(iter(runs.values()))) / "test"
    names = args.names or sorted(f.stem for f in (first / "output").glob("*.mid"))[: args.pairs]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in names:
        content_name, style_name = name.split("__")
        pieces = [
            ("content", midi.load(first / "content" / f"{content_name}.mid")),
            ("style example", midi.load(first / "style" / f"{style_name}.mid")),
            ("target (ground truth)", midi.load(first / "target" / f"{name}.mid")),
        ]
        pieces += [(label, midi.load(Path(d) / "test" / "output" / f"{name}.mid"))
                   for label, d in runs.items()]  # fmt: skip
        (out / f"{name}.png").write_bytes(png(piano_rolls(pieces, max_beats=args.beats)))
        print(out / f"{name}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
