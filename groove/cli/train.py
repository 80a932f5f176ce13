"""`groove train transfer|lm`: train the style-transfer model or the Music Transformer."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from groove.cli.options import add_quiet_option


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train",
        help="train a model (style transfer, Music Transformer)",
        description="Train a model. Runs keep checkpoints, TensorBoard logs and a history; "
        "a killed run continues with --resume.",
    )
    train_sub = p.add_subparsers(title="models", metavar="MODEL")
    p.set_defaults(run=lambda args: p.print_help() or 2)
    t = train_sub.add_parser(
        "transfer",
        help="the one-shot style-transfer model, on 'groove data triplets' output",
        description="Teacher-forced cross-entropy (padding ignored) with Adam, gradient "
        "clipping, warmup and cosine decay. Every eval_every steps: validation loss, "
        "OUT/model.keras (best so far, the file 'groove transfer --model' takes) and "
        "OUT/last.keras (for --resume). A NaN loss stops the run and keeps the last good "
        "checkpoint.",
    )
    _add_train_options(t, "folder of triplets ('groove data triplets')")
    t.set_defaults(run=run, train="transfer")

    t = train_sub.add_parser(
        "lm",
        help="the Music Transformer, on 'groove data corpus' output",
        description="Next-token cross-entropy (padding ignored) on windows of the model's "
        "context, cut at random and transposed / time-stretched afresh each time, with Adam, "
        "gradient clipping, warmup and cosine decay. Every eval_every steps: validation loss "
        "on the unaugmented val split, OUT/model.keras (best so far, the file 'groove "
        "generate --model' takes) and OUT/last.keras (for --resume). A NaN loss stops the run "
        "and keeps the last good checkpoint.",
    )
    _add_train_options(t, "language-model data folder ('groove data corpus')")
    t.set_defaults(run=run, train="lm")


def _add_train_options(t: argparse.ArgumentParser, data_help: str) -> None:
    t.add_argument("--data", required=True, metavar="DIR", help=data_help)
    t.add_argument(
        "--config",
        default="small",
        metavar="PRESET|TOML",
        help="tiny, small, base, or a TOML file with [model] and [train] (default: small)",
    )
    t.add_argument("--out", required=True, metavar="RUN_DIR", help="run folder")
    t.add_argument(
        "--strategy",
        default="auto",
        choices=("auto", "cpu", "mirrored", "multiworker", "tpu"),
        help="distribution: tf.distribute under TensorFlow, DataParallel under JAX",
    )
    t.add_argument(
        "--mixed-precision", action="store_true", help="float16 compute on a GPU (bfloat16 else)"
    )
    t.add_argument("--resume", action="store_true", help="continue the run in RUN_DIR")
    add_quiet_option(t)


def run(args: argparse.Namespace) -> int:
    from groove import training

    train = training.train_transfer if args.train == "transfer" else training.train_lm
    _, state = train(
        args.data,
        args.config,
        args.out,
        strategy=args.strategy,
        mixed_precision=args.mixed_precision,
        resume=args.resume,
        # A progress bar on a terminal, one line per evaluation in a log.
        verbose=0 if args.quiet else 1 if sys.stdout.isatty() else 2,
    )
    best = state.get("best_val_loss")
    best = f", best validation loss {best:.4f} at step {state['best_step']}" if best else ""
    print(f"groove: {state['step']} steps{best}; model in {Path(args.out) / 'model.keras'}")
    return 0
