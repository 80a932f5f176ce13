"""Train the shipped one-shot style-transfer model on a synthetic corpus rendered in memory.

Any Keras back end; the shipped model was trained with it under TensorFlow on 2 CPU
cores (see `groove/models/weights/README.md` for the exact command). The corpus is planned by
`groove.data.corpus.plan_corpus` and cut into triplets by
`groove.data.pipeline.corpus_triplets`, the same code as `groove data synth` and
`groove data triplets`, but rendered in memory so no TensorFlow or MIDI library is
needed here. Batches have a few fixed shapes (content padded to `--frames`, style
examples cut to `--style-len`, targets padded to a length bucket), so a compiling
back end compiles a handful of programs.

    python scripts/train_transfer.py --out run/ --preset small --styles 600 --charts 1000

`groove train transfer` is the general tool (triplets on disk, any strategy,
--resume); this script is the recipe of the shipped model, kept so it rebuilds.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

BUCKETS = (256, 512, 1024)


def _triplets(args):
    plan, split, charts, roles, bars, seed = args
    from groove.data.pipeline import corpus_triplets
    from groove.data.segments import TRANSFER_ROLES

    rolls, keys, out = [], {}, []
    for t in corpus_triplets(plan, split, charts=set(charts), roles=roles, bars=bars, seed=seed,
                             max_tokens=BUCKETS[-1] - 1):  # fmt: skip
        key = (t.info["chart"], t.info["content_style"], t.info["segment"])
        if key not in keys:
            keys[key] = len(rolls)
            rolls.append(t.content)
        out.append((keys[key], t.style, t.target, TRANSFER_ROLES.index(t.role)))
    return rolls, out


def make_split(plan, split, *, workers, roles, bars, seed):
    """Content rolls (deduplicated) and (roll index, style ids, target ids, role) rows."""
    charts = sorted({i["chart"] for i in plan["items"] if i["split"] == split})
    chunks = [charts[k :: workers * 4] for k in range(workers * 4)]
    jobs = [(plan, split, c, roles, bars, seed) for c in chunks if c]
    rolls, rows = [], []
    with ProcessPoolExecutor(workers) as pool:
        for r, out in pool.map(_triplets, jobs):
            base = len(rolls)
            rolls += r
            rows += [(base + i, s, t, role) for i, s, t, role in out]
    return rolls, rows


class Batches:
    """Fixed-shape batches, each drawn from one target-length bucket."""

    def __init__(self, rolls, rows, *, batch, frames, style_len, seed, bos, eos):
        self.batch, self.frames, self.style_len = batch, frames, style_len
        self.bos, self.eos, self.rng = bos, eos, np.random.default_rng(seed)
        self.rolls, self.rows = rolls, rows
        lengths = np.array([len(r[2]) + 1 for r in rows])
        bucket = np.searchsorted(BUCKETS, lengths, side="left")
        self.buckets = [np.flatnonzero(bucket == b) for b in range(len(BUCKETS))]
        sizes = np.array([len(b) for b in self.buckets], np.float64)
        self.p = sizes / sizes.sum()

    def sample(self):
        b = int(self.rng.choice(len(BUCKETS), p=self.p))
        chosen = self.rng.choice(
            self.buckets[b], self.batch, replace=len(self.buckets[b]) < self.batch
        )
        return self.make([self.rows[i] for i in chosen], BUCKETS[b])

    def make(self, rows, length):
        n = len(rows)
        content = np.zeros((n, self.frames, 128), np.float32)
        mask = np.zeros((n, self.frames), np.float32)
        style = np.zeros((n, self.style_len), np.int32)
        tokens = np.zeros((n, length), np.int32)
        target = np.zeros((n, length), np.int32)
        role = np.zeros(n, np.int32)
        for k, (r, s, t, ro) in enumerate(rows):
            roll = self.rolls[r][: self.frames]
            content[k, : len(roll)] = roll > 0
            mask[k, : len(roll)] = 1
            s = s[: self.style_len]
            style[k, : len(s)] = s
            tokens[k, 0] = self.bos
            tokens[k, 1 : len(t) + 1] = t
            target[k, : len(t)] = t
            target[k, len(t)] = self.eos
            role[k] = ro
        x = {
            "content": content,
            "content_mask": mask,
            "style": style,
            "role": role,
            "tokens": tokens,
        }
        return x, target


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--styles", type=int, default=2000)
    p.add_argument("--charts", type=int, default=2000)
    p.add_argument("--styles-per-chart", type=int, default=6)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--preset", default="base")
    p.add_argument("--steps", type=int, default=6000)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--frames", type=int, default=192)
    p.add_argument("--style-len", type=int, default=512)
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.add_argument("--val-batches", type=int, default=8, help="validation batches per bucket")
    p.add_argument("--eval-every", type=int, default=250, help="steps between validations")
    p.add_argument("--init", help="start from the weights of this .keras file")
    p.add_argument("--minutes", type=float, default=0, help="stop training after this long")
    p.add_argument(
        "--stop-at", type=int, default=0,
        help="stop after this many steps (the schedule still spans --steps): replays a "
        "run that --minutes stopped",
    )  # fmt: skip
    args = p.parse_args(argv)

    import keras

    from groove.data.corpus import plan_corpus
    from groove.data.segments import TRANSFER_ROLES
    from groove.models.transfer import build_model
    from groove.tokenizers import BeatTokenizer
    from groove.training import save_for_inference

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(args.seed)
    tok = BeatTokenizer()
    t0 = time.time()
    plan = plan_corpus(
        args.styles, args.charts, seed=args.seed, styles_per_chart=args.styles_per_chart
    )
    data = {
        split: make_split(
            plan, split, workers=args.workers, roles=TRANSFER_ROLES, bars=8, seed=args.seed
        )
        for split in ("train", "val")
    }
    log = {
        "argv": sys.argv,
        "backend": keras.backend.backend(),
        "data_seconds": round(time.time() - t0, 1),
        "triplets": {s: len(d[1]) for s, d in data.items()},
        "content_rolls": {s: len(d[0]) for s, d in data.items()},
    }
    print(json.dumps(log), flush=True)

    common = dict(frames=args.frames, style_len=args.style_len, bos=tok.bos_id, eos=tok.eos_id)
    train = Batches(*data["train"], batch=args.batch, seed=args.seed, **common)
    val = Batches(*data["val"], batch=args.batch, seed=args.seed + 1, **common)
    # A fixed validation set: up to --val-batches batches of each bucket.
    val_batches = []
    for b, idx in enumerate(val.buckets):
        idx = np.random.default_rng(b).permutation(idx)[: args.val_batches * args.batch]
        for k in range(0, len(idx) - args.batch + 1, args.batch):
            val_batches.append(val.make([val.rows[i] for i in idx[k : k + args.batch]], BUCKETS[b]))

    model = build_model(
        tok.vocab_size, args.preset,
        tokenizer={"kind": tok.kind, "config": tok.get_config()},
        data={"bars": 8, "frames_per_beat": 4, "velocity": False, "max_tokens": BUCKETS[-1] - 1,
              "style_tokens": args.style_len},
    )  # fmt: skip
    schedule = keras.optimizers.schedules.CosineDecay(
        args.lr, args.steps, alpha=0.05, warmup_target=None
    )
    model.compile(
        keras.optimizers.Adam(schedule, clipnorm=1.0),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0),
    )

    def val_loss():
        losses, weights = [], []
        for x, y in val_batches:
            losses.append(model.test_on_batch(x, y))
            weights.append((y != 0).sum())
        return float(np.average(losses, weights=weights))

    if args.init:
        model.load_weights(args.init)
    history, best, t1, losses = [], None, time.time(), []
    for step in range(1, args.steps + 1):
        losses.append(float(model.train_on_batch(*train.sample())))
        if not np.isfinite(losses[-1]):
            print(f"NaN loss at step {step}: stopping; the last good model is kept", flush=True)
            break
        out_of_time = (args.minutes and time.time() - t1 > args.minutes * 60) or (
            args.stop_at and step >= args.stop_at
        )
        if step % args.eval_every and step != args.steps and not out_of_time:
            continue
        entry = {"step": step, "train_loss": float(np.mean(losses[-args.eval_every :])),
                 "val_loss": val_loss(), "seconds": round(time.time() - t1, 1)}  # fmt: skip
        history.append(entry)
        print(json.dumps(entry), flush=True)
        if best is None or entry["val_loss"] < best:
            best = entry["val_loss"]
            save_for_inference(model, out / "transfer.keras")
        if out_of_time:
            break
    log.update(history=history, best_val_loss=best, params=model.count_params())
    (out / "train_log.json").write_text(json.dumps(log, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
