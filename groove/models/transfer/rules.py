"""The musical rules a transfer is decoded under: knowledge added at decoding time.

`decoding_rules` turns a content song, a style example and the batch's (segment,
role) rows into the options of `groove.tokenizers.grammar.EventGrammar`:

- **the segment's length**: time stops at the segment's end, and no note sounds
  past it;
- **EOS only in the last bar**, so no part stops early (issue 14 found 12% of the
  GRU's parts ending before three quarters of their segment);
- **the register** of the style example's part, widened by `REGISTER_MARGIN`
  semitones (drums: the drum sounds the example uses);
- **the longest note**: `DURATION_FACTOR` times the 95th percentile of the
  example's note lengths for that role, so no note hangs for bars;
- **the harmony mask** (optional, on by default): NOTE_ONs whose pitch class is not
  sounding in the content within `HARMONY_REACH` beats of the current time lose
  `harmony` nats (see `groove.tokenizers.grammar.HARMONY_STRENGTH`);
- **the note lengths** (optional, on by default; DURATION tokenizers only): a
  pitched note whose length is not within `LENGTH_TOLERANCE` grid steps of a length
  the style example's part plays loses `lengths` nats
  (`groove.tokenizers.grammar.LENGTHS_STRENGTH`): a part that plays eighth notes
  and whole bars gets eighth notes and whole bars, not dotted halves;
- **the rhythm** (optional, on by default): a NOTE_ON at a position in the bar
  where the style example's part never strikes (for drums: never strikes that
  sound) loses `rhythm` nats (`groove.tokenizers.grammar.RHYTHM_STRENGTH`), and so
  does a time shift to a position where the part never strikes, so time moves
  from one of the part's places to the next. Positions
  are grid steps from the bar line; when the example's bars are of another length
  than the segment's (a 3/4 example for a 4/4 song), only the position within the
  beat counts. A part that plays on the beats and the "and"s of 2 and 4 is held to
  those places, as a session player copies a groove's pattern, not just its
  density.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from groove.data.segments import Segment, downbeats, pitched_score, role_score
from groove.midi import Score

# Semitones the register of the style's part is widened by, each side.
REGISTER_MARGIN = 2
# A note lasts at most this many times the style part's 95th-percentile length.
DURATION_FACTOR = 1.5
DURATION_PERCENTILE = 95
# Beats either side of the current time in which a content note counts as harmony.
HARMONY_REACH = 0.5
# Grid steps either side of a style note's length that count as that length. 0: a
# humanised example already plays its lengths a step either way, and 1 step gave
# the same scores on validation pairs (issue 14).
LENGTH_TOLERANCE = 0


def decoding_rules(
    content: Score,
    style: Score,
    windows: Sequence[Segment],
    pairs: Sequence[tuple[int, str]],
    resolution: int,
    *,
    harmony: float | None,
    register: bool = True,
    lengths: float | None = None,
    rhythm: float | None = None,
) -> dict[str, Any]:
    """`EventGrammar` options for the rows `pairs` ((segment index, role) each).

    Args:
        content, style: The song and the style example.
        windows: The content's segments.
        pairs: One (segment index, role) per row of the batch.
        resolution: Grid steps per beat of the tokenizer.
        harmony: Nats taken from off-harmony notes; 0 or None for no harmony mask.
        register: Keep each part within the style example's register.
        lengths: Nats taken from a note length the style part does not play; 0 or
            None for no such rule.
        rhythm: Nats taken from a note struck where the style part never strikes
            in its bar; 0 or None for no such rule.

    Returns:
        A dict with `keys`, `end_steps`, `eos_from`, `max_duration`; with a
        harmony mask, `harmony` and `harmony_strength`; with `lengths`, `lengths`
        and `lengths_strength`; with `rhythm`, `onsets` and `rhythm_strength`.
    """
    parts = {role: role_score(style, role) for role in dict.fromkeys(r for _, r in pairs)}
    end = np.array([round(windows[k].beats * resolution) for k, _ in pairs], np.int64)
    bar = np.array([round(windows[k].beats_per_bar * resolution) for k, _ in pairs], np.int64)
    keys = np.zeros((len(pairs), 256), bool)
    limit = np.zeros(len(pairs), np.int64)
    for i, (_, role) in enumerate(pairs):
        keys[i] = _keys(parts[role], role, register)
        limit[i] = _duration_limit(parts[role], resolution)
    rules = {"keys": keys, "end_steps": end, "eos_from": np.maximum(end - bar, 0),
             "max_duration": limit}  # fmt: skip
    if harmony:
        rules["harmony"] = harmony_table(content, windows, pairs, resolution)
        rules["harmony_strength"] = float(harmony)
    if lengths:
        tables = {
            role: _lengths(part, resolution, int(limit.max())) for role, part in parts.items()
        }
        rules["lengths"] = np.stack([tables[role] for _, role in pairs])
        rules["lengths_strength"] = float(lengths)
    if rhythm:
        rules["onsets"] = onset_table(parts, windows, pairs, resolution)
        rules["rhythm_strength"] = float(rhythm)
    return rules


def _strikes(part: Score, resolution: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`(key, position, bar_steps)` of every note of `part`: its key (pitch; drums
    128 + pitch), its onset's grid step from the last bar line, and that bar's
    length in grid steps."""
    notes = part.notes
    start = notes["start"].astype(np.int64)
    ticks, beats_per_bar = downbeats(part, int(start.max()) + 1)
    bar = np.clip(np.searchsorted(ticks, start, side="right") - 1, 0, len(ticks) - 1)
    bar_steps = np.maximum(np.rint(np.asarray(beats_per_bar)[bar] * resolution), 1)
    steps = np.rint((start - ticks[bar]) * resolution / part.ticks_per_beat)
    drum = part.tracks[0].is_drum if part.tracks else False
    key = notes["pitch"].astype(np.int64) + (128 if drum else 0)
    bar_steps = bar_steps.astype(np.int64)
    return key, steps.astype(np.int64) % bar_steps, bar_steps


def onset_table(
    parts: dict[str, Score],
    windows: Sequence[Segment],
    pairs: Sequence[tuple[int, str]],
    resolution: int,
) -> np.ndarray:
    """`(rows, steps + 1, 256)`: the keys each row may strike at each grid step of its
    segment without losing nats: those its role's style part strikes at the same
    position in a bar of the same length (any pitch of a pitched part counts for
    every pitch; a drum sound counts for itself). Where the part has no bar of the
    segment's length, the position within the beat decides. A role whose part has
    no notes lists nothing, which constrains nothing."""
    steps = max(round(w.beats * resolution) for w in windows) + 1
    out = np.zeros((len(pairs), steps, 256), bool)
    t = np.arange(steps)
    cache: dict[tuple[str, int], np.ndarray] = {}
    for i, (k, role) in enumerate(pairs):
        part = parts[role]
        bar = max(round(windows[k].beats_per_bar * resolution), 1)
        if not len(part.notes):
            continue
        if (role, bar) not in cache:
            key, position, bar_steps = _strikes(part, resolution)
            same = bar_steps == bar
            period = bar if same.any() else resolution
            table = np.zeros((period, 256), bool)
            if same.any():
                table[position[same], key[same]] = True
            else:
                table[position % resolution, key] = True
            if not part.tracks[0].is_drum:  # any pitch struck: every pitch may be
                table[:, :128] = table[:, :128].any(axis=1, keepdims=True)
            cache[role, bar] = table
        table = cache[role, bar]
        out[i] = table[(t % bar) % len(table)]
    return out


def _keys(part: Score, role: str, register: bool) -> np.ndarray:
    """The 256 keys (128 pitches, then 128 drums) a row of `role` may play."""
    keys = np.zeros(256, bool)
    pitches = part.notes["pitch"].astype(np.int64)
    if role == "drums":
        if register and len(pitches):
            keys[128 + np.unique(pitches)] = True
        else:
            keys[128:] = True
    elif register and len(pitches):
        low = max(int(pitches.min()) - REGISTER_MARGIN, 0)
        keys[low : min(int(pitches.max()) + REGISTER_MARGIN, 127) + 1] = True
    else:
        keys[:128] = True
    return keys


def _duration_limit(part: Score, resolution: int) -> int:
    """The longest note a row may play, in grid steps (at least a 16th)."""
    notes = part.notes
    if not len(notes):
        return np.iinfo(np.int64).max // 4
    beats = part.beats(notes["end"]) - part.beats(notes["start"])
    longest = DURATION_FACTOR * float(np.percentile(beats, DURATION_PERCENTILE))
    return max(round(longest * resolution), max(resolution // 4, 1))


def _lengths(part: Score, resolution: int, longest: int) -> np.ndarray:
    """`(n,)`: the note lengths in grid steps the part plays, each widened by
    `LENGTH_TOLERANCE` (column n-1: every longer length). Drums and an empty part
    list none, which constrains nothing."""
    n = min(longest, 64 * resolution) + LENGTH_TOLERANCE + 2
    table = np.zeros(n, bool)
    notes = part.notes
    if not len(notes) or part.tracks[0].is_drum:
        return table
    beats = part.beats(notes["end"]) - part.beats(notes["start"])
    steps = np.unique(np.clip(np.rint(beats * resolution).astype(np.int64), 1, n - 1))
    for d in range(-LENGTH_TOLERANCE, LENGTH_TOLERANCE + 1):
        table[np.clip(steps + d, 1, n - 1)] = True
    return table


def harmony_table(
    content: Score, windows: Sequence[Segment], pairs: Sequence[tuple[int, str]], resolution: int
) -> np.ndarray:
    """`(rows, steps + 1, 12)`: the pitch classes the content sounds within
    `HARMONY_REACH` beats of each grid step of each row's segment (drum rows: none,
    which constrains nothing)."""
    score = pitched_score(content)
    steps = max(round(w.beats * resolution) for w in windows) + 1
    reach = HARMONY_REACH * resolution
    tables = {}
    for k in dict.fromkeys(k for k, _ in pairs):
        w = windows[k]
        origin, finish = score.beats(np.array([w.start, w.end]))
        # Notes just outside the segment reach into it too.
        starts, ends = score.beats(score.notes["start"]), score.beats(score.notes["end"])
        n = score.notes[(ends > origin - HARMONY_REACH) & (starts < finish + HARMONY_REACH)]
        table = np.zeros((steps, 12), bool)
        on = (score.beats(n["start"]) - origin) * resolution - reach
        off = (score.beats(n["end"]) - origin) * resolution + reach
        on = np.clip(np.floor(on), 0, steps).astype(np.int64)
        off = np.clip(np.ceil(off), 0, steps).astype(np.int64)
        # Few notes per segment: a loop over them is simpler than a scatter of ranges.
        for a, b, p in zip(on.tolist(), off.tolist(), (n["pitch"] % 12).tolist(), strict=True):
            table[a:b, p] = True
        tables[k] = table
    out = np.zeros((len(pairs), steps, 12), bool)
    for i, (k, role) in enumerate(pairs):
        if role != "drums":
            out[i] = tables[k]
    return out
