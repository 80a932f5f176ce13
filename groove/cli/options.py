"""Options and checks that several commands share."""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path
from typing import Any

from groove.errors import ConfigError, GrooveError

# Sampling seeds are 0 to MAX_SEED (one 32-bit word); --seed outside is refused.
from groove.models.sampling import MAX_SEED

TOKENIZER_HELP = (
    "performance (10 ms events), beat (1/12-beat grid, drum tokens), miditok:NAME "
    "(e.g. miditok:MIDILike, miditok:REMI), or a tokenizer .json saved by groove"
)


def add_sampling_options(p: argparse.ArgumentParser) -> None:
    """The sampler's options, shared by the commands that generate."""
    p.add_argument(
        "--seed", type=int, help=f"sampling seed, 0 to {MAX_SEED} (same seed, same output)"
    )
    p.add_argument(
        "--temperature", type=float, default=1.0, help="finite, 0 is greedy (default: 1)"
    )
    p.add_argument("--top-k", type=int, help="sample among the k most likely tokens")
    p.add_argument("--top-p", type=float, help="nucleus sampling with this mass, in (0, 1]")


def sampling_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The checked sampling options (`add_sampling_options`) as keyword arguments of
    the task functions; a `ConfigError` for a value they would choke on."""
    t, k, p, seed = args.temperature, args.top_k, args.top_p, args.seed
    if not (math.isfinite(t) and t >= 0):
        raise ConfigError(f"--temperature must be a finite number >= 0 (0 is greedy), got {t}")
    if k is not None and k < 1:
        raise ConfigError(f"--top-k must be at least 1, got {k}")
    if p is not None and not 0 < p <= 1:
        raise ConfigError(f"--top-p must be in (0, 1], got {p}")
    if k is not None and p is not None:
        raise ConfigError("choose --top-k or --top-p, not both")
    if seed is not None and not 0 <= seed <= MAX_SEED:
        raise ConfigError(f"--seed must be 0 to {MAX_SEED}, got {seed}")
    return {"temperature": t, "top_k": k, "top_p": p, "seed": seed}


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


def existing(*paths: Any) -> list[str]:
    """The paths among `paths` that are files (a model or tokenizer option may also be
    a name, not a file); None and names are left out."""
    return [os.fspath(p) for p in paths if isinstance(p, (str, os.PathLike)) and os.path.isfile(p)]


def csv_list(text: str) -> list[str]:
    """The non-empty items of a comma-separated option, stripped."""
    return [part.strip() for part in text.split(",") if part.strip()]
