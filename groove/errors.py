"""Exception types raised by groove.

Every error names the file (when there is one) and the reason, and where it can,
says what the user can do about it. The CLI turns any `GrooveError` into one line
on stderr and exit code 2.
"""

from __future__ import annotations

import os


class GrooveError(Exception):
    """Base class of every error groove raises on purpose."""


class MidiError(GrooveError, ValueError):
    """A MIDI file (or object) cannot be read or written.

    Args:
        source: The file path or a short description of the object ("<bytes>").
        reason: What is wrong, in words a musician can act on.
    """

    def __init__(self, source: str | os.PathLike | None, reason: str):
        self.source = None if source is None else str(source)
        self.reason = reason
        where = f"{self.source}: " if self.source else ""
        super().__init__(f"{where}{reason}")


class TokenError(GrooveError, ValueError):
    """Token ids that are not in a tokenizer's vocabulary, or a bad tokenizer file."""


class RenderError(GrooveError):
    """Audio cannot be rendered: no synthesizer, no SoundFont, or a bad output path."""


class ConfigError(GrooveError, ValueError):
    """An invalid option or configuration value."""


class TrainingError(GrooveError):
    """A training run cannot start or cannot go on (a NaN loss, a missing checkpoint)."""


class GrooveWarning(UserWarning):
    """Something was repaired or skipped, and the result may differ from the input."""
