"""`groove generate`: compose, or continue a primer, with the Music Transformer."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from groove.cli.options import add_sampling_options, check_audio_output, midi_output
from groove.errors import GrooveError


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
        "--seconds", type=float, default=30.0, help="seconds of new music (default: %(default)s)"
    )
    p.add_argument("--max-tokens", type=int, help="new tokens per sample, at most")
    p.add_argument("--num-samples", type=int, default=1, help="samples, drawn as one batch")
    p.add_argument("--model", help="a .keras Music Transformer (default: the shipped one)")
    p.add_argument(
        "--render",
        nargs="?",
        const=True,
        metavar="WAV",
        help="also render to audio: OUT.wav beside each MIDI file, or this file",
    )
    add_sampling_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    out = midi_output(args.out)
    if args.num_samples < 1:
        raise GrooveError(f"--num-samples must be at least 1, got {args.num_samples}")
    render = args.render
    if isinstance(render, str):
        check_audio_output(render)
        if args.num_samples > 1:
            raise GrooveError("--render WAV names one file; give --render alone for many samples")

    import groove
    from groove import midi

    pms = groove.generate(
        args.primer,
        args.model,
        seconds=args.seconds,
        max_tokens=args.max_tokens,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        seed=args.seed,
        num_samples=args.num_samples,
    )
    pms = pms if isinstance(pms, list) else [pms]
    for k, pm in enumerate(pms, 1):
        path = out if len(pms) == 1 else out.with_name(f"{out.stem}-{k}{out.suffix}")
        midi.save(pm, path)
        notes = sum(len(i.notes) for i in pm.instruments)
        print(f"groove: wrote {path} ({notes} notes, {pm.get_end_time():.1f} s)", file=sys.stderr)
        if render:
            from groove.render import render_to_file

            wav = Path(render) if isinstance(render, str) else path.with_suffix(".wav")
            render_to_file(pm, wav)
            print(f"groove: wrote {wav}", file=sys.stderr)
    return 0
