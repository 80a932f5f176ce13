"""Constants of MIDI files and music that several parts of groove share."""

from __future__ import annotations

# File suffixes read as Standard MIDI Files when a folder is scanned.
MIDI_SUFFIXES = (".mid", ".midi", ".smf", ".kar")
# Pitch-class names, C = 0, spelled as chord charts usually spell them.
PITCH_CLASS_NAMES = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
# Meters groove's band plays and its charts name: quarter notes per bar.
METERS = {"4/4": 4.0, "3/4": 3.0, "12/8": 6.0}
