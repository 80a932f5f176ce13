"""Speed of `groove transfer`: a cold CLI call against warm in-process calls, and
carried-state decoding against re-running the prefix, on the CPU cores TensorFlow sees.

The song is the bundled `song.mid` (16 bars) in the style of `style.mid` (bass,
keys, guitar, drums), as in `groove transfer groove/examples/song.mid
groove/examples/style.mid -o OUT --seed 0`; with `--bars N`, a random N-bar song in
a random 4-role style instead, written to temporary MIDI files first. Every call
uses seed 0, so every run does the same work and writes the same notes.

Two tables, each comparison made within one run of this script:

1. Runs: the cold CLI call (a fresh `python -m groove.cli transfer` process, timed
   as the whole subprocess: interpreter start, imports, model load, tracing, the
   transfer, writing the MIDI file), then in this process the model load, the first
   call (which traces the decoder step) and warm calls (the same transfer again,
   from the MIDI files to the written output). Ratios are to the median warm call.
2. Decoding, on the same batch: the GRU state carried step by step (what groove
   does) against re-running the decoder over the whole prefix at every step (the
   naive way), both as `tf.function` graphs, so only the algorithm differs.

    python benchmarks/transfer.py [--model PATH] [--bars N] [--repeats 3] [--cold 2]
    python benchmarks/transfer.py --quick     # one cold call, one warm, 8 naive steps
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

EXAMPLES = Path(__file__).resolve().parent.parent / "groove" / "examples"


def _synthetic_song(bars: int, folder: Path) -> tuple[Path, Path, list[str]]:
    """A random `bars`-bar song and an 8-bar example of a style that plays bass, keys,
    guitar and drums, as MIDI files in `folder`; and those four roles."""
    from groove.data import Style, random_chart, render_score
    from groove.midi import save

    meter = "4/4"
    content = render_score(random_chart(7, bars=bars, meter=meter), Style.random(11, meter=meter))
    seed = next(
        s for s in range(100, 1000)
        if {"bass", "keys", "guitar"} <= set(Style.random(s, meter=meter).parts)
    )  # fmt: skip
    example = render_score(random_chart(8, bars=8, meter=meter), Style.random(seed, meter=meter), 0)
    save(content, folder / "song.mid")
    save(example, folder / "style.mid")
    return folder / "song.mid", folder / "style.mid", ["bass", "keys", "guitar", "drums"]


def _cold_cli(content: Path, style: Path, out: Path, model: str | None, roles) -> float:
    """Wall time of `groove transfer` in a fresh process (the `groove` script runs
    `groove.cli.main`, as `python -m groove.cli` does)."""
    cmd = [sys.executable, "-m", "groove.cli", "transfer", str(content), str(style),
           "-o", str(out), "--seed", "0"]  # fmt: skip
    if model:
        cmd += ["--model", model]
    if roles:
        cmd += ["--roles", ",".join(roles)]
    t = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    return time.perf_counter() - t


def _naive(model, tokenizer, content, style, roles, rows, steps, naive_steps):
    """(seconds per step, extrapolated seconds for a whole decode) of re-running the
    full teacher-forced decoder over the prefix at every step."""
    import keras
    from keras import ops

    from groove import midi
    from groove.models.transfer.preprocessor import TransferPreprocessor

    # The naive baseline: the full teacher-forced decoder over the prefix at each
    # step, compiled like groove's step (a tf.function graph) so only the algorithm differs.
    decoder = model.decoder
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        decoder = tf.function(model.decoder, reduce_retracing=True)
    pre = TransferPreprocessor.from_model(model, tokenizer)
    inputs, _, _ = pre.segment_batch(midi.load(content), midi.load(style), roles)
    memory, mask, cond = model.encode(inputs)
    prefix = np.full((rows, 1), 1, np.int32)
    for n in (1, 2, 3):  # trace for one length, then for any length
        decoder(np.ones((rows, n), np.int32), memory, mask, cond)
    t = time.perf_counter()
    for _ in range(naive_steps):
        logits = decoder(prefix, memory, mask, cond)
        nxt = ops.convert_to_numpy(ops.argmax(logits[:, -1], axis=-1)).astype(np.int32)
        prefix = np.concatenate([prefix, nxt[:, None]], axis=1)
    naive_per_step = (time.perf_counter() - t) / naive_steps
    # Step n costs about c * n, so the first N steps average c * (N + 1) / 2 and a
    # whole decode of S steps costs c * S^2 / 2 = mean * S^2 / (N + 1).
    naive_total = naive_per_step * steps * steps / (naive_steps + 1)

    return naive_per_step, naive_total


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", help="a .keras model (default: the shipped one)")
    p.add_argument("--bars", type=int, help="a random song of this many bars (default: song.mid)")
    p.add_argument("--repeats", type=int, default=3, help="warm in-process calls")
    p.add_argument("--cold", type=int, default=2, help="cold CLI calls (fresh processes)")
    p.add_argument("--naive-steps", type=int, default=64, help="prefix re-run steps timed")
    p.add_argument("--quick", action="store_true", help="1 cold call, 1 warm, 8 naive steps")
    args = p.parse_args(argv)
    if args.quick:
        args.repeats, args.cold, args.naive_steps = 1, 1, 8
    if args.repeats < 1:
        p.error("--repeats must be at least 1")
    with tempfile.TemporaryDirectory(prefix="groove-bench-") as tmp:
        return run(args, Path(tmp))


def run(args: argparse.Namespace, tmp: Path) -> int:

    from groove import midi
    from groove.models import saving
    from groove.models.transfer.task import transfer_score  # (with its stats)

    roles = None  # every role the style example plays, as the CLI does by default
    content, style = EXAMPLES / "song.mid", EXAMPLES / "style.mid"
    if args.bars:
        content, style, roles = _synthetic_song(args.bars, tmp)

    # Cold: fresh processes, each while this one idles (it has not loaded the model yet).
    cold = [_cold_cli(content, style, tmp / "cli.mid", args.model, roles)
            for _ in range(args.cold)]  # fmt: skip

    t = time.perf_counter()
    model, tokenizer = saving.load(args.model, "transfer")
    load = time.perf_counter() - t

    runs = []
    for _ in range(args.repeats + 1):
        stats: dict = {}
        t = time.perf_counter()
        out = transfer_score(str(content), str(style), model, roles=roles, seed=0, stats=stats)
        midi.save(out, tmp / "warm.mid")
        stats["total"] = time.perf_counter() - t
        stats["notes"] = len(out.notes)
        runs.append(stats)
    first, warm = runs[0], runs[1:]
    total = float(np.median([r["total"] for r in warm]))
    steps = float(np.median([r["steps"] for r in warm]))
    decode = float(np.median([r["decode_seconds"] for r in warm]))
    rows, roles = warm[0]["rows"], warm[0]["roles"]
    cli_notes = len(midi.load(tmp / "cli.mid").notes) if cold else None

    import keras

    # The naive baseline (the GRU decoder only: the Transformer's teacher-forced call
    # also takes its time inputs, which this benchmark does not build).
    naive_per_step = naive_total = None
    if model.config.decoder == "gru":
        naive_per_step, naive_total = _naive(model, tokenizer, content, style, roles, rows,
                                             steps, args.naive_steps)  # fmt: skip

    song = f"random {args.bars}-bar song" if args.bars else f"{content.name} in the style of "
    song += "a random 4-role style" if args.bars else style.name
    print(f"cores: {os.cpu_count()}, model: {model.count_params():,} parameters, "
          f"backend {keras.backend.backend()}")  # fmt: skip
    print(f"{song}: {first['segments']} segments x {len(roles)} roles ({', '.join(roles)}) = "
          f"{rows} rows in one batch, {int(steps)} decoding steps, seed 0, "
          f"{warm[0]['notes']} notes out in process, "
          f"{cli_notes} from the CLI")  # fmt: skip
    print()
    print("| run | includes | total s | encode s | decode s | steps/s | tokens/s (rows x steps) "
          "| / warm median |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for i, seconds in enumerate(cold):
        print(f"| cold CLI {i + 1} (fresh process) | start-up, imports, load, tracing, "
              f"transfer, write | {seconds:.2f} | - | - | - | - | "
              f"{seconds / total:.1f} |")  # fmt: skip
    print(f"| in process: load the model | saving.load | {load:.2f} | - | - | - | - "
          f"| {load / total:.2f} |")  # fmt: skip
    calls = [("in process: first call", "tracing, transfer, write", first)]
    calls += [(f"in process: warm {i + 1}", "transfer, write", r) for i, r in enumerate(warm)]
    for name, what, r in calls:
        print(f"| {name} | {what} | {r['total']:.2f} | {r['encode_seconds']:.2f} | "
              f"{r['decode_seconds']:.2f} | {r['steps'] / r['decode_seconds']:.0f} | "
              f"{r['rows'] * r['steps'] / r['decode_seconds']:.0f} | "
              f"{r['total'] / total:.2f} |")  # fmt: skip
    if cold:
        rest = float(np.median(cold)) - load - first["total"]
        print(f"| cold CLI (median) minus in-process load and first call (difference) | "
              f"start-up, imports, argument parsing | {rest:.2f} | - | - | - | - "
              f"| {rest / total:.2f} |")  # fmt: skip
    print()
    print("| decoding (tf.function graphs) | s per step | steps/s | whole decode s | ratio |")
    print("|---|---|---|---|---|")
    print(f"| carried state (groove), warm median | {decode / steps * 1e3:.1f} ms | "
          f"{steps / decode:.0f} | {decode:.2f} | 1.0 |")  # fmt: skip
    if naive_per_step is None:
        print("| prefix re-run | not measured: GRU decoder only | - | - | - |")
        return 0
    print(f"| prefix re-run, first {args.naive_steps} steps (measured) | "
          f"{naive_per_step * 1e3:.1f} ms | {1 / naive_per_step:.0f} | - | "
          f"{naive_per_step / (decode / steps):.1f} |")  # fmt: skip
    print(f"| prefix re-run, all {int(steps)} steps (extrapolated, linear in prefix) | - | - | "
          f"{naive_total:.0f} | {naive_total / decode:.0f} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
