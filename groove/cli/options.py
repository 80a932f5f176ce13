"""Options and checks that several commands share."""

from __future__ import annotations

import argparse
from pathlib import Path

from groove.errors import GrooveError

TOKENIZER_HELP = (
    "performance (10 ms events), beat (1/12-beat grid, drum tokens), miditok:NAME "
    "(e.g. miditok:MIDILike, miditok:REMI), or a tokenizer .json saved by groove"
)


def add_sampling_options(p: argparse.ArgumentParser) -> None:
    """The sampler's options, shared by the commands that generate."""
    p.add_argument("--seed", type=int, help="sampling seed (same seed, same output)")
    p.add_argument("--temperature", type=float, default=1.0, help="0 is greedy (default: 1)")
    p.add_argument("--top-k", type=int, help="sample among the k most likely tokens")
    p.add_argument("--top-p", type=float, help="nucleus sampling with this mass")


def add_quiet_option(p: argparse.ArgumentParser) -> None:
    """-q/--quiet, for the commands that show a progress bar."""
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def midi_output(path: str) -> Path:
    """The path of a MIDI file to write; a GrooveError unless it ends in .mid/.midi."""
    out = Path(path)
    if out.suffix.lower() not in (".mid", ".midi"):
        raise GrooveError(f"{path}: the output must be a .mid file")
    return out


def check_audio_output(path: str) -> None:
    """A GrooveError unless `path` (given to --render) ends in .wav/.flac."""
    if not path.lower().endswith((".wav", ".flac")):
        raise GrooveError(f"{path}: --render writes .wav or .flac")


def csv_list(text: str) -> list[str]:
    """The non-empty items of a comma-separated option, stripped."""
    return [part.strip() for part in text.split(",") if part.strip()]
