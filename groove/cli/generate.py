"""`groove generate`: compose, or continue a primer, with the Music Transformer."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from groove.cli.options import (
    add_quiet_option,
    add_sampling_options,
    check_audio_output,
    existing,
    midi_output,
    sampling_kwargs,
)
from groove.errors import ConfigError, GrooveError
from groove.fileio import check_not_inputs
from groove.models.sampling import MAX_GENERATE_SECONDS, MAX_GENERATE_TOKENS, MAX_SAMPLES


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "generate",
        help="compose, or continue a primer, with the Music Transformer",
        description="Sample new music from a Music Transformer (default: the shipped one, "
        "trained on Bach chorales). With --primer the output starts with the primer (its "
        "notes as the model hears them, on one track), then the continuation. Every sample "
        "ends: notes are released at --seconds, and --max-tokens caps the length.",
    )
    p.add_argument("-o", "--out", required=True, help="output MIDI file (OUT-1.mid, ... for many)")
    p.add_argument("--primer", metavar="MIDI", help="music to continue")
    p.add_argument(
        "--seconds",
        type=float,
        default=30.0,
        help=f"seconds of new music, at most {MAX_GENERATE_SECONDS:g} (default: %(default)s)",
    )
    p.add_argument(
        "--max-tokens", type=int, help=f"new tokens per sample, at most ({MAX_GENERATE_TOKENS})"
    )
    p.add_argument(
        "--num-samples",
        type=int,
        default=1,
        help=f"samples, drawn as one batch (at most {MAX_SAMPLES})",
    )
    p.add_argument("--model", help="a .keras Music Transformer (default: the shipped one)")
    p.add_argument(
        "--render",
        nargs="?",
        const=True,
        metavar="WAV",
        help="also render to audio: OUT.wav beside each MIDI file, or this file",
    )
    add_sampling_options(p)
    add_quiet_option(p)
    p.set_defaults(run=run)


def _check(args: argparse.Namespace) -> None:
    if not 1 <= args.num_samples <= MAX_SAMPLES:
        raise ConfigError(f"--num-samples must be 1 to {MAX_SAMPLES}, got {args.num_samples}")
    seconds = args.seconds
    if not (math.isfinite(seconds) and 0 < seconds <= MAX_GENERATE_SECONDS):
        raise ConfigError(
            f"--seconds must be more than 0 and at most {MAX_GENERATE_SECONDS:g}, got {seconds:g}"
            " (continue the output with --primer for longer music)"
        )
    if args.max_tokens is not None and not 1 <= args.max_tokens <= MAX_GENERATE_TOKENS:
        raise ConfigError(f"--max-tokens must be 1 to {MAX_GENERATE_TOKENS}, got {args.max_tokens}")


class _Progress:
    """A sampler that counts the decoding steps on a progress bar (stderr, on a
    terminal), up to the token cap; it draws exactly what the sampler it wraps draws.
    The bar starts at the first step, once the model is loaded."""

    def __init__(self, sampler, total: int, show: bool):
        self.sampler, self.total, self.show = sampler, total, show
        self.bar = None

    def __call__(self, logits, rng):
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=self.total, unit="token", desc="generating", leave=False,
                            disable=None if self.show else True)  # fmt: skip
        self.bar.update(1)
        return self.sampler(logits, rng)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run(args: argparse.Namespace) -> int:
    out = midi_output(args.out)
    _check(args)
    sampling = sampling_kwargs(args)
    render = args.render
    if isinstance(render, str):
        check_audio_output(render)
        if args.num_samples > 1:
            raise GrooveError("--render WAV names one file; give --render alone for many samples")
    many = args.num_samples > 1
    paths = [out.with_name(f"{out.stem}-{k}{out.suffix}") for k in range(1, args.num_samples + 1)]
    paths = paths if many else [out]
    wavs = [Path(render) if isinstance(render, str) else p.with_suffix(".wav") for p in paths]
    check_not_inputs([*paths, *(wavs if render else [])], existing(args.primer, args.model))

    import groove
    from groove import midi
    from groove.models.music_transformer.task import TOKENS_PER_SECOND_CAP
    from groove.models.sampling import make_sampler

    seed = sampling.pop("seed")
    total = args.max_tokens or math.ceil(args.seconds * TOKENS_PER_SECOND_CAP)
    progress = _Progress(make_sampler(**sampling), total, not args.quiet)
    try:
        pms = groove.generate(
            args.primer,
            args.model,
            seconds=args.seconds,
            max_tokens=args.max_tokens,
            seed=seed,
            num_samples=args.num_samples,
            sampler=progress,
        )
    finally:
        progress.close()
    pms = pms if isinstance(pms, list) else [pms]
    for pm, path, wav in zip(pms, paths, wavs, strict=True):
        midi.save(pm, path)
        notes = sum(len(i.notes) for i in pm.instruments)
        print(f"groove: wrote {path} ({notes} notes, {pm.get_end_time():.1f} s)", file=sys.stderr)
        if render:
            from groove.render import render_to_file

            render_to_file(pm, wav)
            print(f"groove: wrote {wav}", file=sys.stderr)
    return 0
