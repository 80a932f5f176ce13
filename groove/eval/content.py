"""Content preservation: chroma similarity of two pieces (units: beats).

Lu & Su, "Transferring the style of homophonic music using recurrent neural networks
and autoregressive models", ISMIR 2018, compare the smoothed chromagrams of the
input and the output; Groove2Groove (Cífka et al. 2020, section VI-B) scores content
preservation the same way. The defaults here are theirs: 12 frames per beat, a
2-beat box window, a stride of one beat.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from groove.errors import ConfigError, GrooveWarning
from groove.midi.notes import notes_of, sounding

# A chromagram longer than this many frames (about 97 hours at 120 qpm) is refused
# rather than allocated: a hostile score could otherwise ask for terabytes.
MAX_FRAMES = 1 << 23


def chromagram(midi: Any, frames_per_beat: int = 12) -> np.ndarray:
    """The chromagram of the pitched notes of `midi`, drums left out.

    Frame `t` covers beats `[t, t + 1) / frames_per_beat`. A note sounds from the frame
    nearest its onset to the frame nearest its offset (at least one frame), and adds 1
    to its pitch class in each; velocity is ignored.

    Args:
        midi: Anything `groove.midi.load` reads, or a `Score`.
        frames_per_beat: Time resolution, frames per beat (quarter note).

    Returns:
        int64 array of shape `(12, frames)`: how many notes of each pitch class sound
        in each frame. `frames` is 0 for a piece without pitched notes.
    """
    if frames_per_beat < 1:
        raise ConfigError(f"frames_per_beat must be at least 1, not {frames_per_beat}")
    notes = notes_of(midi, drums=False)
    if len(notes) == 0:
        return np.zeros((12, 0), dtype=np.int64)
    start = np.round(notes.start * frames_per_beat).astype(np.int64)
    end = np.maximum(np.round(notes.end * frames_per_beat).astype(np.int64), start + 1)
    frames = int(end.max())
    if frames > MAX_FRAMES:
        raise ConfigError(
            f"the piece is {frames / frames_per_beat:.0f} beats long, too long for a chromagram"
        )
    return sounding(notes.pitch % 12, start, end, 12, frames)


def box_smooth(chroma: np.ndarray, window: int, stride: int) -> np.ndarray:
    """Full convolution of each row with a box of `window` ones, then every `stride`-th column.

    Integer input stays exact (running sums, not floating-point FFT), so a column
    that is silent stays exactly zero.
    """
    padded = np.pad(chroma, ((0, 0), (window - 1, window - 1)))
    sums = np.cumsum(np.pad(padded, ((0, 0), (1, 0))), axis=1)
    full = sums[:, window:] - sums[:, :-window]  # length frames + window - 1
    return full[:, ::stride]


def chroma_similarity(
    a: Any,
    b: Any,
    *,
    frames_per_beat: int = 12,
    window: int = 24,
    stride: int = 12,
) -> float:
    """How well `b` keeps the harmony of `a`: the chroma similarity of Lu & Su (2018).

    Both chromagrams (see `chromagram`; drums and velocity ignored) are zero-padded
    to the same length, smoothed along time by full convolution with a box of
    `window` frames, and sampled every `stride` frames. Each non-zero column is
    L2-normalised. The score is the sum of the column dot products divided by the
    number of columns where either chromagram is non-zero, so silence in one piece
    where the other plays counts against it.

    Args:
        a, b: Anything `groove.midi.load` reads, or `Score`s. The measure is symmetric.
        frames_per_beat: Chromagram frames per beat (quarter note).
        window: Box-filter length in frames (default 24 = 2 beats).
        stride: Keep every `stride`-th smoothed frame (default 12 = 1 beat).

    Returns:
        A float in [0, 1]: 1 when the pitch-class content matches column by column,
        0 when no column shares a pitch class. NaN, with a `GrooveWarning`, when
        neither piece has a pitched note.
    """
    if window < 1 or stride < 1:
        raise ConfigError(f"window and stride must be at least 1, not {window} and {stride}")
    x, y = chromagram(a, frames_per_beat), chromagram(b, frames_per_beat)
    frames = max(x.shape[1], y.shape[1])
    if frames == 0:
        warnings.warn(
            "chroma similarity of two pieces without pitched notes is undefined (NaN)",
            GrooveWarning,
            stacklevel=2,
        )
        return math.nan
    x = box_smooth(np.pad(x, ((0, 0), (0, frames - x.shape[1]))), window, stride)
    y = box_smooth(np.pad(y, ((0, 0), (0, frames - y.shape[1]))), window, stride)
    x_norm = np.linalg.norm(x, axis=0)
    y_norm = np.linalg.norm(y, axis=0)
    either = (x_norm > 0) | (y_norm > 0)
    both = (x_norm > 0) & (y_norm > 0)
    dots = np.sum(x[:, both] * y[:, both], axis=0) / (x_norm[both] * y_norm[both])
    return float(np.clip(dots.sum() / either.sum(), 0.0, 1.0))
