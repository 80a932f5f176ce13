"""`groove render`: MIDI files to audio through FluidSynth."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from groove.cli.options import existing
from groove.errors import GrooveError
from groove.fileio import check_distinct, check_not_inputs


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "render",
        help="MIDI files to audio (WAV, or FLAC with soundfile) through FluidSynth",
        description="Render MIDI to audio. Drums play on the drum channel; the peak is "
        "normalised to -1 dBFS. The SoundFont is, in order: --soundfont, $GROOVE_SOUNDFONT, "
        "a system General MIDI font, the small font pretty_midi ships.",
    )
    p.add_argument("midi", nargs="+", help="MIDI files")
    p.add_argument(
        "-o",
        "--out",
        required=True,
        help="output .wav/.flac for one input, or a folder for several",
    )
    p.add_argument("--soundfont", help="a .sf2 SoundFont")
    p.add_argument("--sample-rate", type=int, default=44100, help="default: %(default)s")
    p.add_argument(
        "--synth",
        choices=["fluidsynth", "sine"],
        default="fluidsynth",
        help="sine needs no library: a rough sketch of the music",
    )
    p.add_argument(
        "--format",
        choices=["wav", "flac"],
        default="wav",
        help="file type when --out is a folder (default: %(default)s)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from groove.render import Renderer, write_audio

    single = args.out.lower().endswith((".wav", ".flac"))
    if not single and Path(args.out).suffix:
        raise GrooveError(f"{args.out}: write .wav or .flac, or give a folder")
    if single and len(args.midi) > 1:
        raise GrooveError(f"{len(args.midi)} inputs need a folder as --out, not {args.out}")
    targets = {
        path: Path(args.out) if single else Path(args.out) / f"{Path(path).stem}.{args.format}"
        for path in args.midi
    }
    if len(targets) < len(args.midi):
        raise GrooveError(f"{next(p for p in args.midi if args.midi.count(p) > 1)}: given twice")
    check_distinct(targets.items())
    check_not_inputs(targets.values(), existing(*args.midi, args.soundfont))
    with Renderer(args.soundfont, args.sample_rate, args.synth) as renderer:
        for path, target in targets.items():
            audio = renderer.render(path)
            write_audio(audio, target, args.sample_rate)
            print(
                f"groove: wrote {target} ({len(audio) / args.sample_rate:.1f} s)", file=sys.stderr
            )
    return 0
