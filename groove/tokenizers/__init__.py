"""MIDI event tokenizers: one interface, three encodings.

- `PerformanceTokenizer`: NOTE_ON / NOTE_OFF / TIME_SHIFT (10 ms) / VELOCITY, in seconds.
- `BeatTokenizer`: the same events on a beat grid, with drum tokens, tempo-free.
- `DurationTokenizer`: the beat grid with each note's DURATION at its onset (no offs).
- `MidiTokTokenizer`: any miditok tokenization.

`get_tokenizer("performance" | "beat" | "duration" | "miditok:REMI" |
"path/to/tokenizer.json")` builds one by name.
"""

from __future__ import annotations

import os

from groove.errors import ConfigError
from groove.tokenizers.base import Tokenizer
from groove.tokenizers.batch import EncodedFiles, encode_files
from groove.tokenizers.beat import BeatTokenizer
from groove.tokenizers.duration import DurationTokenizer
from groove.tokenizers.events import DecodeReport
from groove.tokenizers.miditok_adapter import MidiTokTokenizer
from groove.tokenizers.performance import PerformanceTokenizer


def get_tokenizer(spec: str) -> Tokenizer:
    """A tokenizer from a name ("performance", "beat", "duration", "miditok:MIDILike")
    or a JSON file written by `Tokenizer.save`."""
    if spec == "performance":
        return PerformanceTokenizer()
    if spec == "beat":
        return BeatTokenizer()
    if spec == "duration":
        return DurationTokenizer()
    if spec == "miditok" or spec.startswith("miditok:"):
        return MidiTokTokenizer(spec.partition(":")[2] or "MIDILike")
    if spec.endswith(".json") or os.path.exists(spec):
        return Tokenizer.load(spec)
    raise ConfigError(
        f"unknown tokenizer {spec!r}: use performance, beat, duration, miditok:NAME "
        "or a tokenizer .json"
    )


__all__ = [
    "BeatTokenizer",
    "DecodeReport",
    "DurationTokenizer",
    "EncodedFiles",
    "MidiTokTokenizer",
    "PerformanceTokenizer",
    "Tokenizer",
    "encode_files",
    "get_tokenizer",
]
