"""Music Transformer measurements: attention cost, cached generation, and likelihood.

Three tables, each comparison made within one run of this script:

1. ``attention``: forward + backward time and peak memory of groove's
   `RelativeMultiHeadAttention` (skewing) against plain `keras.layers.MultiHeadAttention`
   (causal, no positions) and against the naive relative attention that gathers the
   full L x L x D tensor of relative embeddings (Shaw et al. 2018), at L = 256 .. 2048.
   Each (variant, L) runs in a fresh process, so its peak resident memory (VmHWM)
   minus the resident memory before the first full-size call is its own.
   Targets: time within 1.3x of MultiHeadAttention; at least 10x less memory than
   the naive version at L = 1024.
2. ``generation``: 1024 tokens, greedy, from a small-preset model with a 1024-token
   context, decoded over the key/value cache (`groove.models.music_transformer.task.CachedDecoder`)
   against re-running the whole prefix at every step (target: at least 10x faster),
   once with both paths compiled as plain `tf.function` graphs and once with both
   XLA-compiled (`jit_compile=True`), so each speed-up compares one compiler's two
   paths (groove's decoder itself runs a graph prefill and an XLA step). Both paths
   are timed warm (each shape compiled first). Then tokens per second of the shipped
   model through `groove.models.music_transformer.task.generate_ids` (grammar and sampler included,
   compiled as groove compiles it) at batch 1 and 8.
3. ``nll``: held-out negative log-likelihood per token of the relative model and the
   absolute-position baseline, trained with the same data, steps, size and seed on a
   `groove data corpus` folder (default runs/lm-bach). The paper: 1.835 against 1.861
   on piano performances (Huang et al. 2019, table 3).

    python benchmarks/music_transformer.py [attention] [generation] [nll] [--quick]

``--quick`` runs small sizes, to check the script (generation: 64 tokens, the
prefix re-runs timed at 16 lengths, 64 tokens from the shipped model).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HEADS, KEY_DIM, BATCH = 4, 64, 1


# ------------------------------------------------------------------ 1. attention


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _naive_relative(layer):
    """Relative attention the pre-skewing way: gather E[i - j] into an (h, L, L, d)
    tensor and contract it with the queries (Shaw et al. 2018; Huang et al. 3.4)."""
    import math

    from keras import ops

    def call(x):
        length = ops.shape(x)[1]
        scale = 1.0 / math.sqrt(layer.key_dim)
        query = layer.query_dense(x) * scale
        key, value = layer.key_dense(x), layer.value_dense(x)
        positions = ops.arange(length, dtype="int32")
        distance = ops.clip(positions[:, None] - positions[None, :], 0,
                            layer.max_relative_position - 1)  # fmt: skip
        rows = layer.max_relative_position - 1 - distance  # (L, L)
        full = ops.take(layer.relative_embeddings, rows, axis=1)  # (h, L, L, d)
        rel = ops.einsum("bqhd,hqkd->bhqk", query, full)
        logits = ops.einsum("bqhd,bkhd->bhqk", query, key) + rel
        mask = positions[None, :] <= positions[:, None]
        logits = ops.where(mask[None, None], logits, -1e9)
        context = ops.einsum("bhqk,bkhd->bqhd", ops.softmax(logits, axis=-1), value)
        return layer.output_dense(context)

    return call


def attention_child(variant: str, length: int, repeats: int, jit: bool) -> dict:
    """One measurement, in this (fresh) process."""
    import keras
    import tensorflow as tf

    from groove.models.layers import RelativeMultiHeadAttention

    width = HEADS * KEY_DIM
    if variant == "keras MultiHeadAttention":
        layer = keras.layers.MultiHeadAttention(HEADS, KEY_DIM)
        layer(np.zeros((1, 4, width), "float32"), np.zeros((1, 4, width), "float32"))

        def call(x):
            return layer(x, x, use_causal_mask=True)
    else:
        layer = RelativeMultiHeadAttention(HEADS, KEY_DIM, max_relative_position=length)
        layer.build((None, None, width))
        call = layer if variant == "relative (skewing)" else _naive_relative(layer)

    @tf.function(reduce_retracing=True, jit_compile=jit)
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(tf.square(call(x)))
        return tape.gradient(loss, [x, *layer.trainable_weights])

    step(tf.random.normal((BATCH, 8, width)))  # trace at a small size
    before = _rss_kib("VmRSS")
    x = tf.random.normal((BATCH, length, width))
    step(x)  # first full-size call: allocations
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        grads = step(x)
        _ = [g.numpy() for g in grads[:1]]
        times.append(time.perf_counter() - t)
    peak = _rss_kib("VmHWM") - before
    return {"ms": 1000 * float(np.median(times)), "peak_mib": peak / 1024}


def attention_table(lengths, repeats: int) -> None:
    variants = ["keras MultiHeadAttention", "relative (skewing)", "relative (naive L x L x D)"]
    modes = {"graph": False, "XLA": True}
    rows = {}
    for length in lengths:
        for mode, jit in modes.items():
            for variant in variants:
                need = 3 * HEADS * length * length * KEY_DIM * 4 / 2**30  # tensor, grad, product
                if variant.endswith("D)") and (need > 12 or (jit and need > 4)):
                    rows[variant, length, mode] = None  # would not fit in this machine's memory
                    continue
                env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": "tensorflow"}
                args = ["--child", variant, str(length), str(repeats), str(int(jit))]
                out = subprocess.run([sys.executable, __file__, *args], capture_output=True,
                                     text=True, env=env, check=True)  # fmt: skip
                rows[variant, length, mode] = json.loads(out.stdout.strip().splitlines()[-1])
                print(f"  {variant} L={length} {mode}: {rows[variant, length, mode]}",
                      file=sys.stderr)  # fmt: skip
    print(f"\n## Attention, forward + backward (batch {BATCH}, {HEADS} heads x {KEY_DIM}, "
          f"TensorFlow on {os.cpu_count()} CPU cores; graph: tf.function, XLA: "
          "jit_compile=True)\n")  # fmt: skip
    print(
        "| L | compiled | MHA ms | relative ms | naive ms | relative / MHA time "
        "| MHA MiB | relative MiB | naive MiB | naive / relative memory |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")

    def cell(r, k):
        return f"{r[k]:.0f}" if r else "skipped (memory)"

    for length in lengths:
        for mode in modes:
            mha, rel, naive = (rows[v, length, mode] for v in variants)
            ratio_t = rel["ms"] / mha["ms"]
            ratio_m = f"{naive['peak_mib'] / rel['peak_mib']:.1f}x" if naive else "-"
            print(f"| {length} | {mode} | {mha['ms']:.0f} | {rel['ms']:.0f} | "
                  f"{cell(naive, 'ms')} | {ratio_t:.2f} | {mha['peak_mib']:.0f} | "
                  f"{rel['peak_mib']:.0f} | {cell(naive, 'peak_mib')} | {ratio_m} |")  # fmt: skip


# ----------------------------------------------------------------- 2. generation


def generation_table(tokens: int, uncached_steps: int | None, shipped_tokens: int) -> None:
    import tensorflow as tf

    from groove.models import build_music_transformer, saving
    from groove.models.music_transformer import task as generation  # (CachedDecoder)
    from groove.models.sampling import GreedySampler, make_sampler

    model = build_music_transformer(420, "small", context=tokens, max_relative_position=tokens)
    compilers = {"graph (tf.function)": False, "XLA (jit_compile=True)": True}
    # Each path's functions, compiled once per compiler (and each shape once under XLA).
    cached_fns = {
        jit: (
            tf.function(model.prefill, reduce_retracing=True, jit_compile=jit),
            tf.function(model.call_with_cache, reduce_retracing=not jit, jit_compile=jit),
        )
        for jit in compilers.values()
    }
    forwards = {
        jit: tf.function(
            model.call, input_signature=[tf.TensorSpec((None, None), tf.int32)], jit_compile=jit
        )
        for jit in compilers.values()
    }

    def cached_greedy(batch, jit):
        decoder = generation.CachedDecoder(model, batch)
        # groove's decoder (its cache, growth and loop) with both of its functions
        # compiled by the compiler under test, in place of the ones it picks itself.
        decoder.prefill, decoder.step_fn = cached_fns[jit]
        logits, ids = decoder.start(np.ones((batch, 1), np.int32)), [np.ones(batch, np.int32)]
        while len(ids) < tokens:
            ids.append(logits.argmax(axis=-1).astype(np.int32))
            logits = decoder.step(ids[-1])
        return np.stack(ids, axis=1)

    # Uncached: the whole prefix again at every step, its last position's logits.
    measured = list(range(1, tokens + 1))
    if uncached_steps:  # time a spread of prefix lengths and sum the interpolation
        measured = sorted(set(np.linspace(1, tokens, uncached_steps).astype(int)))
    rows = []
    agree = total = 0
    for batch in (1, 8):
        for mode, jit in compilers.items():
            cached_greedy(batch, jit)  # compile the step for every cache length: both run warm
            t = time.perf_counter()
            ids = cached_greedy(batch, jit)
            cached = time.perf_counter() - t
            per_step = []
            for length in measured:
                prefix = tf.constant(ids[:, :length])
                forwards[jit](prefix)  # warm: under XLA each length compiles once
                t = time.perf_counter()
                picks = forwards[jit](prefix).numpy()[:, -1].argmax(axis=-1)
                per_step.append(time.perf_counter() - t)
                if length < tokens:  # the cached decode's pick after this prefix
                    agree += int((picks == ids[:, length]).sum())
                    total += batch
            uncached = float(np.sum(np.interp(np.arange(1, tokens + 1), measured, per_step)))
            rows.append((mode, batch, uncached, cached))
    note = "" if not uncached_steps else f"; prefix re-runs timed at {len(measured)} lengths"
    print(f"\n## Generation of {tokens} tokens, greedy, small preset "
          f"({model.count_params():,} parameters, context {tokens}{note})\n")  # fmt: skip
    print(
        "Cached and uncached compiled the same way in each row: the cached path is groove's "
        "`CachedDecoder` with its prefill and step compiled as the row says (groove's own "
        "choice is a graph prefill and an XLA step); the uncached path re-runs `model.call` "
        "on the whole prefix, each prefix length warm. The uncached greedy picks match the "
        f"cached decode's at {agree}/{total} (row, length) pairs.\n"
    )
    print(
        "| compiled | batch | re-run the prefix: seconds | tokens/s | key/value cache: seconds "
        "| tokens/s | speed-up |"
    )
    print("|---|---|---|---|---|---|---|")
    for mode, batch, uncached, cached in rows:
        print(f"| {mode} | {batch} | {uncached:.2f} | {batch * tokens / uncached:.0f} | "
              f"{cached:.2f} | {batch * tokens / cached:.0f} | "
              f"{uncached / cached:.1f}x |")  # fmt: skip

    try:
        model, tokenizer = saving.load(None, "music_transformer")
    except Exception as e:  # no shipped model yet
        print(f"\n(shipped model: {e})")
        return
    print(
        f"\n## The shipped model ({model.count_params():,} parameters, context "
        f"{model.config.context}), generate_ids with the grammar (groove's compilers), "
        f"{shipped_tokens} new tokens\n"
    )
    print("| batch | seconds | tokens/s (all rows) | ms per step |")
    print("|---|---|---|---|")
    sampler, run = make_sampler(1.0), generation.generate_ids
    for batch in (1, 8):
        empty = np.zeros(0, np.int32)
        # Warm: compile the step for every cache length it will use.
        run(model, tokenizer, empty, shipped_tokens, GreedySampler(), num_samples=batch,
            seconds=3600.0)  # fmt: skip
        t = time.perf_counter()
        # A time limit no sample reaches: EOS is forbidden, so each makes all of its tokens.
        out = run(model, tokenizer, empty, shipped_tokens, sampler, seed=0, num_samples=batch,
                  seconds=3600.0)  # fmt: skip
        seconds = time.perf_counter() - t
        steps = max(len(o) for o in out)
        print(f"| {batch} | {seconds:.1f} | {sum(len(o) for o in out) / seconds:.0f} | "
              f"{1000 * seconds / max(steps, 1):.1f} |")  # fmt: skip


# ------------------------------------------------------------------------ 3. nll


NLL_CONFIG = """
[model]
preset = "small"
num_layers = {layers}
hidden_dim = {width}
ff_dim = {ff}
num_heads = 4
context = {context}
max_relative_position = {context}
relative = {relative}
[train]
batch_size = 16
steps = {steps}
eval_every = {every}
learning_rate = 5e-4
warmup_steps = 100
val_batches = 0
seed = 0
"""


def nll_table(data: str, steps: int, layers: int, width: int, context: int) -> None:
    import keras

    from groove.models.music_transformer.preprocessor import lm_dataset
    from groove.training import train_lm

    test = lm_dataset(data, "test", length=context, batch_size=16, transpose=None,
                      stretch=None, shuffle=False, repeat=False)  # fmt: skip
    loss = keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, ignore_class=0, reduction="sum"
    )
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for relative in (True, False):
            config = Path(tmp) / f"{relative}.toml"
            config.write_text(NLL_CONFIG.format(
                layers=layers, width=width, ff=4 * width, context=context,
                relative=str(relative).lower(), steps=steps, every=steps // 4,
            ))  # fmt: skip
            t = time.perf_counter()
            model, state = train_lm(data, str(config), Path(tmp) / str(relative), verbose=0)
            minutes = (time.perf_counter() - t) / 60
            model = keras.saving.load_model(Path(tmp) / str(relative) / "model.keras")
            total, count = 0.0, 0
            for x, y in test:
                total += float(loss(y, model(x)))
                count += int((y.numpy() != 0).sum())
            rows.append((relative, model.count_params(), state["best_val_loss"],
                         total / count, minutes))  # fmt: skip
    print(
        f"\n## Held-out NLL per token ({data}: test split, {count:,} tokens; "
        f"{layers} layers x {width}, context {context}, {steps} steps x 16, seed 0)\n"
    )
    print("| positions | parameters | best val NLL | test NLL (nats/token) | train minutes |")
    print("|---|---|---|---|---|")
    for relative, params, val, nll, minutes in rows:
        name = "relative (Music Transformer)" if relative else "absolute (sinusoidal)"
        print(f"| {name} | {params:,} | {val:.3f} | {nll:.3f} | {minutes:.1f} |")


def main(argv=None) -> int:
    if argv is None and len(sys.argv) > 1 and sys.argv[1] == "--child":
        variant, length, repeats = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
        print(json.dumps(attention_child(variant, length, repeats, sys.argv[5] == "1")))
        return 0
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("tables", nargs="*", default=["attention", "generation", "nll"])
    p.add_argument("--quick", action="store_true", help="small sizes, to check the script")
    p.add_argument("--data", default="runs/lm-bach", help="a 'groove data corpus' folder")
    p.add_argument("--steps", type=int, default=800, help="training steps per NLL model")
    args = p.parse_args(argv)
    if "attention" in args.tables:
        lengths = [64, 128] if args.quick else [256, 512, 1024, 2048]
        attention_table(lengths, repeats=2 if args.quick else 5)
    if "generation" in args.tables:
        generation_table(64 if args.quick else 1024, 16 if args.quick else 128,
                         64 if args.quick else 512)  # fmt: skip
    if "nll" in args.tables:
        steps = 8 if args.quick else args.steps
        nll_table(args.data, steps, 2 if args.quick else 3, 32 if args.quick else 128,
                  64 if args.quick else 256)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
