"""Evaluate a style-transfer model on held-out test styles, then on real songs.

Rebuilds the synthetic corpus plan the model was trained on (same sizes and seed,
so the "test" split holds charts and styles the model never saw), and for pairs of
test styles (A, B) playing one test chart writes

    content/cCHART_sA.mid    the chart in style A
    style/cOTHER_sB.mid      another test chart in style B: the style example
    target/NAME.mid          the chart in style B: the ground truth
    output/NAME.mid          the model's transfer of content to the example's style

with NAME = "cCHART_sA__cOTHER_sB", then runs `groove eval transfer` (the output, the
source, style and overlay baselines and the target in the same run, each with
Groove2Groove's metrics, the fixed style fit and the musical checks). With
`--real DIR`, the songs in DIR are transferred to test-style examples and scored
the same way, without a target.

    python scripts/eval_transfer.py --model groove/models/weights/transfer.keras \
        --out runs/eval --styles 600 --charts 1000 --styles-per-chart 4 --seed 0 \
        --pairs 40 --real ../shared/midi/miditok/multitrack
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--styles", type=int, default=600)
    p.add_argument("--charts", type=int, default=1000)
    p.add_argument("--styles-per-chart", type=int, default=4)
    p.add_argument("--seed", type=int, default=0, help="the corpus seed the model trained on")
    p.add_argument("--pairs", type=int, default=40, help="test (chart, A, B) transfers")
    p.add_argument(
        "--split", default="test", choices=("test", "val"),
        help="val to tune decoding settings, test to report",
    )  # fmt: skip
    p.add_argument(
        "--corpus",
        help="a corpus folder (its manifest.json): take its plan, options included, in "
        "place of --styles/--charts/--styles-per-chart/--seed (which plan a corpus with the "
        "options of corpora made before issue 14, as the shipped model's was)",
    )
    p.add_argument("--harmony", type=float, help="harmony-mask strength (default: groove's)")
    p.add_argument("--no-register", action="store_true", help="no register rule")
    p.add_argument("--lengths", type=float, help="note-length rule strength (default: groove's)")
    p.add_argument("--rhythm", type=float, help="rhythm rule strength (default: groove's)")
    p.add_argument("--no-dynamics", action="store_true", help="no velocities from the style")
    p.add_argument("--no-feel", action="store_true", help="no timing and lengths from the style")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--top-p", type=float)
    p.add_argument("--real", help="folder of real songs to transfer as well")
    p.add_argument("--real-songs", type=int, default=8)
    args = p.parse_args(argv)

    from groove import midi
    from groove.cli import main as groove_main
    from groove.data.corpus import plan_corpus, render_item
    from groove.data.triplets import read_manifest
    from groove.models import saving
    from groove.models.transfer.task import transfer_score
    from groove.tokenizers.grammar import HARMONY_STRENGTH, LENGTHS_STRENGTH, RHYTHM_STRENGTH

    out = Path(args.out)
    dirs = {k: out / "test" / k for k in ("content", "style", "target", "output")}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    if args.corpus:
        plan = read_manifest(Path(args.corpus))
    else:
        plan = plan_corpus(args.styles, args.charts, seed=args.seed,
                           styles_per_chart=args.styles_per_chart)  # fmt: skip
    charts = {c["index"]: c for c in plan["charts"]}
    options = {"harmony": HARMONY_STRENGTH if args.harmony is None else args.harmony,
               "register": not args.no_register,
               "lengths": LENGTHS_STRENGTH if args.lengths is None else args.lengths,
               "rhythm": RHYTHM_STRENGTH if args.rhythm is None else args.rhythm,
               "dynamics": not args.no_dynamics, "feel": not args.no_feel}  # fmt: skip
    test = [i for i in plan["items"] if i["split"] == args.split]
    by_style: dict[int, list[dict]] = {}
    by_chart: dict[int, list[dict]] = {}
    for item in test:
        by_style.setdefault(item["style"], []).append(item)
        by_chart.setdefault(item["chart"], []).append(item)

    def render(item):
        return render_item(plan, item)

    rng = np.random.default_rng(args.seed)
    candidates = []
    for items in by_chart.values():
        for a in items:
            for b in items:
                others = [i for i in by_style[b["style"]] if i["chart"] != b["chart"]]
                if a is not b and others:
                    candidates.append((a, b, others[int(rng.integers(len(others)))]))
    chosen = rng.permutation(len(candidates))[: args.pairs]
    model, _ = saving.load(args.model, "transfer")
    t0, bars = time.time(), 0
    for n, k in enumerate(chosen):
        a, b, example = candidates[k]
        content_name = f"c{a['chart']:05d}_s{a['style']:05d}"
        style_name = f"c{example['chart']:05d}_s{example['style']:05d}"
        name = f"{content_name}__{style_name}"
        content, style = render(a), render(example)
        midi.save(content, dirs["content"] / f"{content_name}.mid")
        midi.save(style, dirs["style"] / f"{style_name}.mid")
        midi.save(render(b), dirs["target"] / f"{name}.mid")
        result = transfer_score(content, style, model, temperature=args.temperature,
                                top_p=args.top_p, seed=n, **options)  # fmt: skip
        midi.save(result, dirs["output"] / f"{name}.mid")
        bars += charts[a["chart"]]["bars"]
        print(f"{n + 1}/{len(chosen)} {name}: {time.time() - t0:.0f} s", file=sys.stderr)
    print(f"{len(chosen)} test transfers, {bars} bars, {time.time() - t0:.0f} s")
    code = groove_main(
        ["eval", "transfer", *(f"--{k}={v}" for k, v in dirs.items()),
         "--report", str(out / "test.html"), "-q"]
    )  # fmt: skip
    if code or not args.real:
        return code

    real = out / "real"
    for k in ("style", "output"):
        (real / k).mkdir(parents=True, exist_ok=True)
    songs = sorted(Path(args.real).glob("*.mid"))[: args.real_songs]
    examples = [candidates[k][2] for k in chosen[: len(songs)]]
    for n, (song, example) in enumerate(zip(songs, examples, strict=False)):
        style_name = f"c{example['chart']:05d}_s{example['style']:05d}"
        style = render(example)
        midi.save(style, real / "style" / f"{style_name}.mid")
        result = transfer_score(song, style, model, temperature=args.temperature,
                                top_p=args.top_p, seed=n, **options)  # fmt: skip
        midi.save(result, real / "output" / f"{song.stem}__{style_name}.mid")
        print(f"real {n + 1}/{len(songs)} {song.name}", file=sys.stderr)
    return groove_main(
        ["eval", "transfer", f"--content={args.real}", f"--style={real / 'style'}",
         f"--output={real / 'output'}", "--report", str(out / "real.html"), "-q"]
    )  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
