"""Speed of `groove transfer`: a 32-bar song, 4 roles, on the CPU cores TensorFlow sees.

Times the whole transfer with the shipped model (load, first call with tracing,
then warm calls), and compares decoding with the GRU state carried step by step
(what groove does) against re-running the decoder over the whole prefix at every
step (the naive way), on the same batch in the same run. Target: the 32-bar,
4-role transfer in 15 s or less on 2 cores.

    python benchmarks/transfer.py [--model PATH] [--bars 32] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", help="a .keras model (default: the shipped one)")
    p.add_argument("--bars", type=int, default=32)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--naive-steps", type=int, default=64, help="prefix re-run steps timed")
    args = p.parse_args(argv)

    from keras import ops

    from groove.data import Style, random_chart, render_score
    from groove.style_transfer import load_transfer_model, transfer_batch, transfer_score

    t0 = time.perf_counter()
    model, tokenizer = load_transfer_model(args.model)
    load = time.perf_counter() - t0
    meter = "4/4"
    content = render_score(
        random_chart(7, bars=args.bars, meter=meter), Style.random(11, meter=meter), 0
    )
    # A style example that plays bass, keys, guitar and drums.
    seed = next(
        s for s in range(100, 1000)
        if {"bass", "keys", "guitar"} <= set(Style.random(s, meter=meter).parts)
    )  # fmt: skip
    example = render_score(random_chart(8, bars=8, meter=meter), Style.random(seed, meter=meter), 0)
    roles = ["bass", "keys", "guitar", "drums"]

    runs = []
    for k in range(args.repeats + 1):
        stats: dict = {}
        t = time.perf_counter()
        out = transfer_score(content, example, model, roles=roles, seed=k, stats=stats)
        stats["total"] = time.perf_counter() - t
        stats["notes"] = len(out.notes)
        runs.append(stats)
    first, warm = runs[0], runs[1:]
    total = float(np.median([r["total"] for r in warm]))
    steps = float(np.median([r["steps"] for r in warm]))
    decode = float(np.median([r["decode_seconds"] for r in warm]))
    rows = warm[0]["rows"]

    # The naive baseline: the full teacher-forced decoder over the prefix at each
    # step, compiled like groove's step so only the algorithm differs.
    import keras

    decoder = model.decoder
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        decoder = tf.function(model.decoder, reduce_retracing=True)
    inputs, _, _ = transfer_batch(content, example, model, tokenizer, roles)
    memory, mask, cond = model.encode(inputs)
    prefix = np.full((rows, 1), 1, np.int32)
    for n in (1, 2, 3):  # trace for one length, then for any length
        decoder(np.ones((rows, n), np.int32), memory, mask, cond)
    t = time.perf_counter()
    for _ in range(args.naive_steps):
        logits = decoder(prefix, memory, mask, cond)
        nxt = ops.convert_to_numpy(ops.argmax(logits[:, -1], axis=-1)).astype(np.int32)
        prefix = np.concatenate([prefix, nxt[:, None]], axis=1)
    naive_per_step_at_64 = (time.perf_counter() - t) / args.naive_steps
    # Step n costs about c * n, so the first N steps average c * (N + 1) / 2 and a
    # whole decode of S steps costs c * S^2 / 2 = mean * S^2 / (N + 1).
    naive_total = naive_per_step_at_64 * steps * steps / (args.naive_steps + 1)

    print(f"cores: {os.cpu_count()}, model: {model.count_params():,} parameters, "
          f"load {load:.2f} s")  # fmt: skip
    print(f"song: {args.bars} bars, {first['segments']} segments x {len(roles)} roles = "
          f"{rows} rows in one batch, {int(steps)} decoding steps, "
          f"{warm[0]['notes']} notes out")  # fmt: skip
    print()
    print("| run | total s | encode s | decode s | steps/s | tokens/s (rows x steps) |")
    print("|---|---|---|---|---|---|")
    for name, r in [("first (traces the step)", first)] + [(f"warm {i + 1}", r) for i, r in
                                                           enumerate(warm)]:  # fmt: skip
        print(f"| {name} | {r['total']:.2f} | {r['encode_seconds']:.2f} | "
              f"{r['decode_seconds']:.2f} | {r['steps'] / r['decode_seconds']:.0f} | "
              f"{r['rows'] * r['steps'] / r['decode_seconds']:.0f} |")  # fmt: skip
    print()
    print("| decoding | s per step | steps/s | whole decode s | ratio |")
    print("|---|---|---|---|---|")
    print(f"| carried state (groove) | {decode / steps * 1e3:.1f} ms | {steps / decode:.0f} | "
          f"{decode:.2f} | 1.0 |")  # fmt: skip
    print(f"| prefix re-run, first {args.naive_steps} steps (measured) | "
          f"{naive_per_step_at_64 * 1e3:.1f} ms | {1 / naive_per_step_at_64:.0f} | - | "
          f"{naive_per_step_at_64 / (decode / steps):.1f} |")  # fmt: skip
    print(f"| prefix re-run, all {int(steps)} steps (extrapolated, linear in prefix) | - | - | "
          f"{naive_total:.0f} | {naive_total / decode:.0f} |")  # fmt: skip
    print()
    verdict = "meets" if total <= 15 else "misses"
    print(f"warm 32-bar transfer: {total:.2f} s (median of {len(warm)}), {verdict} the 15 s target")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
