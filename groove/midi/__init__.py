"""MIDI in and out, and groove's in-memory `Score`.

`load` turns a path, bytes, a `pretty_midi.PrettyMIDI` or a `music21` stream into a
`Score`: a compact numpy note table plus tracks, tempo map, time and key
signatures and sustain-pedal intervals. `save`, `to_bytes` and `to_pretty_midi`
go back. Times in a `Score` are ticks; `TempoMap` converts ticks, beats and seconds.
"""

from groove.midi.pretty import from_pretty_midi, to_pretty_midi
from groove.midi.score import (
    DEFAULT_QPM,
    KEY_SIGNATURE_DTYPE,
    NOTE_DTYPE,
    PEDAL_DTYPE,
    TEMPO_DTYPE,
    TIME_SIGNATURE_DTYPE,
    Score,
    TempoMap,
    Track,
    apply_sustain,
    make_notes,
    sort_notes,
)
from groove.midi.smf import (
    MAX_CHANGES,
    MAX_FILE_BYTES,
    MAX_REPAIR_BYTES,
    MAX_SECONDS,
    MAX_TICK,
    MAX_TRACKS,
    from_symusic,
    load,
    save,
    to_bytes,
    to_symusic,
)

__all__ = [
    "DEFAULT_QPM",
    "KEY_SIGNATURE_DTYPE",
    "MAX_CHANGES",
    "MAX_FILE_BYTES",
    "MAX_REPAIR_BYTES",
    "MAX_SECONDS",
    "MAX_TICK",
    "MAX_TRACKS",
    "NOTE_DTYPE",
    "PEDAL_DTYPE",
    "TEMPO_DTYPE",
    "TIME_SIGNATURE_DTYPE",
    "Score",
    "TempoMap",
    "Track",
    "apply_sustain",
    "from_pretty_midi",
    "from_symusic",
    "load",
    "make_notes",
    "save",
    "sort_notes",
    "to_bytes",
    "to_pretty_midi",
    "to_symusic",
]
