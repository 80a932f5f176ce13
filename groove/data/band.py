"""A procedural band: plays a chord chart in a `Style`.

`render(chart, style, seed)` returns a `pretty_midi.PrettyMIDI` with named tracks
(`Bass`, `Piano`, `Guitar`, `Strings`, a `Melody` when the style has one, `Drums`);
`render_score` returns groove's `Score` (faster to save). The style fixes the
character; the seed varies the detail the way two takes of a band differ: which chord
tone a free bass note takes, ghost notes and fills, the melody's phrases and pitches,
and (with `humanise=True`, the old behaviour) the style's timing and velocity jitter.
A corpus renders clean takes, and `groove.data.humanise.humanise` adds the jitter
afterwards when a listener should hear it.
"""

from __future__ import annotations

import numpy as np

from groove.data.charts import QUALITIES, Chart, Chord
from groove.data.melody import MELODY_TRACK, melody_notes
from groove.data.styles import DRUM_FILL_PITCHES, GRIDS, Part, Style
from groove.midi import TEMPO_DTYPE, TIME_SIGNATURE_DTYPE, Score, Track, make_notes
from groove.midi.roles import TRACK_NAMES

TICKS_PER_BEAT = 480
DRUM_VELOCITY = {"X": 110, "x": 90, "o": 65, "g": 35}
HIT_VELOCITY = {"X": 1.2, "x": 1.0, "D": 1.0, "U": 0.85, "m": 0.5}
TIME_SIGNATURES = {"4/4": (4, 4), "3/4": (3, 4), "12/8": (12, 8)}
HOLD_FRACTION = {"short": 0.55, "walking": 0.9, "legato": 1.0}
# The melody's random stream within a take (see `render_score`).
MELODY_STREAM = 7


class _Notes:
    """Growing note columns (beats) for one render."""

    def __init__(self) -> None:
        self.start: list[float] = []
        self.end: list[float] = []
        self.pitch: list[int] = []
        self.velocity: list[int] = []
        self.track: list[int] = []

    def add(self, start: float, end: float, pitch: int, velocity: float, track: int) -> None:
        self.start.append(start)
        self.end.append(end)
        self.pitch.append(pitch)
        self.velocity.append(int(np.clip(round(velocity), 1, 127)))
        self.track.append(track)


class _Grid:
    """Step times of a style's grid laid over a chart, with swing."""

    def __init__(self, chart: Chart, style: Style):
        _, self.step_beats = GRIDS[style.meter]
        self.bar_beats = chart.beats_per_bar
        self.steps = round(self.bar_beats / self.step_beats)
        self.bars = chart.bars
        k = np.arange(self.steps)
        offset = k * self.step_beats
        if self.step_beats == 0.25 and style.swing != 0.5:
            # Swing moves the second of each pair of 8ths (or 16ths) later; the 16ths
            # between scale with it.
            pair = 0.5 if style.swing16 else 1.0
            within = offset % pair
            first = pair * style.swing
            offset = (
                offset
                - within
                + np.where(
                    within < pair / 2,
                    within / (pair / 2) * first,
                    first + (within - pair / 2) / (pair / 2) * (pair - first),
                )
            )
        self.offset = offset

    def time(self, bar: int, step: int) -> float:
        """Onset in beats of a step; `step == steps` is the next downbeat."""
        if step >= self.steps:
            return (bar + 1) * self.bar_beats
        return bar * self.bar_beats + float(self.offset[step])


def _pattern(patterns: tuple[str, ...], bar: int, steps: int) -> str:
    p = patterns[bar % len(patterns)]
    return (p * (steps // len(p) + 1))[:steps]


def _spans(pattern: str, hits: str) -> list[tuple[int, int, str]]:
    """(step, end step, symbol) of each hit; a hit holds through the `-` steps after it."""
    out = []
    for i, c in enumerate(pattern):
        if c in hits:
            j = i + 1
            while j < len(pattern) and pattern[j] == "-":
                j += 1
            out.append((i, j, c))
    return out


def _near(pitch_class: int, low: int, high: int, target: float) -> int:
    """The pitch of a pitch class inside [low, high] closest to `target`."""
    candidates = [p for p in range(low, high + 1) if p % 12 == pitch_class]
    if not candidates:
        return low + (pitch_class - low) % 12
    return min(candidates, key=lambda p: abs(p - target))


def voicing(chord: Chord, kind: str, register: tuple[int, int]) -> list[int]:
    """Pitches of a chord voiced as `kind`, inside `register`, near its middle."""
    low, high = register
    intervals = QUALITIES[chord.quality]
    root = chord.root
    center = (low + high) / 2
    if kind == "power":
        base = _near(root, low, low + 11, low)
        return [base, base + 7, base + 12]
    tones = [(root + i) % 12 for i in intervals]
    if kind == "shell":
        third = intervals[1]
        top = intervals[3] if len(intervals) > 3 else intervals[2]
        base = _near(chord.bass, low, low + 11, low)
        return sorted({base, base + third + 12 * (third < 3), base + top})
    if kind == "rootless":
        tones = [t for t in tones if t != root] + ([(root + 2) % 12] if len(tones) < 5 else [])
    if kind == "spread":
        base = _near(chord.bass, low, low + 11, low)
        upper = [base + 7] + [base + 12 + (t - root) % 12 for t in tones if t != root]
        return sorted({p for p in [base, *upper] if p <= high + 12})
    if len(tones) > 4:
        tones = [t for i, t in enumerate(tones) if intervals[i] != 7]  # drop the fifth
    best: list[int] = []
    for start in range(low, max(low, high - 11) + 1):
        pitches = sorted(start + (t - start) % 12 for t in set(tones))
        if pitches[-1] <= high + 2 and (
            not best or abs(np.mean(pitches) - center) < abs(np.mean(best) - center)
        ):
            best = pitches
    if kind == "open" and len(best) >= 3:
        best = sorted([best[0], *best[2:], best[1] + 12])
    if chord.bass != root and kind in ("close", "open"):
        best = sorted({_near(chord.bass, low - 12, low, low - 6), *best})
    return best


def _bass(
    notes: _Notes, part: Part, track: int, chart: Chart, grid: _Grid, rng: np.random.Generator
) -> None:
    low, high = part.register
    chords = chart.chords
    previous = (low + high) // 2
    hold = HOLD_FRACTION[part.articulation]
    for bar in range(grid.bars):
        pattern = _pattern(part.patterns, bar, grid.steps)
        for step, end_step, c in _spans(pattern, "R5837bASC"):
            t = grid.time(bar, step)
            index = chart.chord_index(t)
            chord = chords[index]
            following = chords[(index + 1) % len(chords)]
            intervals = QUALITIES[chord.quality]
            root = _near(chord.root, low, low + 11, low + 4)
            bass = _near(chord.bass, low, low + 11, low + 4)
            target = _near(following.root, low, high, root)
            if c == "R":
                pitch = bass
            elif c == "5":
                pitch = root + 7
            elif c == "8":
                pitch = root + 12
            elif c == "3":
                pitch = root + intervals[1]
            elif c == "7":
                pitch = root + (intervals[3] if len(intervals) > 3 else 12)
            elif c == "b":
                pitch = root - 12
            elif c == "A":
                pitch = target + (1 if rng.random() < 0.5 else -1)
            elif c == "S":
                pitch = target + (2 if target < previous else -2)
            else:
                pitch = _near(int(rng.choice(chord.pitch_classes)), low, high, previous)
            while pitch > high:
                pitch -= 12
            while pitch < low:
                pitch += 12
            end = t + (grid.time(bar, end_step) - t) * hold
            accent = 1.08 if step % round(1 / grid.step_beats) == 0 else 1.0
            notes.add(t, end, pitch, part.velocity * accent, track)
            previous = pitch


def _comp(
    notes: _Notes,
    role: str,
    part: Part,
    track: int,
    chart: Chart,
    grid: _Grid,
    rng: np.random.Generator,
) -> None:
    hold = HOLD_FRACTION[part.articulation]
    voiced: dict[int, list[int]] = {}

    def chord_pitches(t: float) -> list[int]:
        index = chart.chord_index(t)
        if index not in voiced:
            voiced[index] = voicing(chart.chords[index], part.voicing, part.register)
        return voiced[index]

    for bar in range(grid.bars):
        if part.arp:
            for i, step in enumerate(range(0, grid.steps, part.arp_step)):
                t = grid.time(bar, step)
                pitches = chord_pitches(t)
                pitch = pitches[part.arp[i % len(part.arp)] % len(pitches)]
                end = grid.time(bar, min(step + part.arp_step, grid.steps))
                notes.add(t, end, pitch, part.velocity, track)
            continue
        pattern = _pattern(part.patterns, bar, grid.steps)
        for step, end_step, c in _spans(pattern, "xXDUm"):
            t = grid.time(bar, step)
            pitches = chord_pitches(t)
            end = t + (grid.time(bar, end_step) - t) * hold
            velocity = part.velocity * HIT_VELOCITY[c]
            if c == "m":  # a muted scratch: short, soft, middle strings
                pitches = pitches[1:4] or pitches
                end = t + 0.06
            if role == "guitar" and c in "DUm":
                order = pitches if c != "U" else pitches[::-1][:4]
                for k, pitch in enumerate(order):  # strummed: strings a moment apart
                    notes.add(t + 0.015 * k, max(end, t + 0.015 * k + 0.05), pitch, velocity, track)
            else:
                for pitch in pitches:
                    notes.add(t, end, pitch, velocity, track)


def _drums(notes: _Notes, style: Style, track: int, grid: _Grid, rng: np.random.Generator) -> None:
    per_beat = round(1 / grid.step_beats)
    for bar in range(grid.bars):
        fill = (
            style.fill_every
            and (bar + 1) % style.fill_every == 0
            and bar + 1 < grid.bars
            and grid.steps >= per_beat
        )
        fill_from = grid.steps - per_beat if fill else grid.steps
        for pitch, patterns in style.drums.items():
            pattern = _pattern(patterns, bar, grid.steps)
            for step in range(fill_from):
                c = pattern[step]
                if c in DRUM_VELOCITY:
                    velocity = 90 + (DRUM_VELOCITY[c] - 90) * style.accent
                    if bar > 0 and step == 0 and pitch == 49 and rng.random() < 0.5:
                        continue  # the crash does not hit every bar of every take
                    notes.add(
                        grid.time(bar, step), grid.time(bar, step) + 0.125, pitch, velocity, track
                    )
                elif pitch == 38 and c == "." and rng.random() < style.ghost_rate:
                    notes.add(grid.time(bar, step), grid.time(bar, step) + 0.1, 38, 35, track)
        if fill:
            toms = DRUM_FILL_PITCHES[style.fill_kind]
            for k, step in enumerate(range(fill_from, grid.steps)):
                if rng.random() < 0.15:
                    continue  # not every fill is the same
                pitch = toms[min(k * len(toms) // per_beat, len(toms) - 1)]
                t = grid.time(bar, step)
                notes.add(t, t + 0.125, pitch, 70 + 40 * k / per_beat, track)
            notes.add(grid.time(bar + 1, 0), grid.time(bar + 1, 0) + 0.5, 49, 110, track)


def render_score(chart: Chart, style: Style, seed: int = 0, *, humanise: bool = True) -> Score:
    """Play `chart` in `style`; the seed varies the take, not the style.

    Args:
        chart: The chord chart.
        style: The style.
        seed: The take.
        humanise: Add the style's timing and velocity jitter (`humanize_time`,
            `humanize_velocity`), as every render did before corpora rendered clean
            takes. False plays on the grid, at the written velocities: what a model
            can learn to predict. The accompaniment's notes are the same either way.

    Returns:
        A `Score` at 480 ticks per beat with the style's tempo, the chart's time
        signature and one track per role that plays, the melody after them and the
        drums last.
    """
    rng = np.random.default_rng(seed)
    grid = _Grid(chart, style)
    notes = _Notes()
    tracks: list[Track] = []
    for role in ("bass", "keys", "guitar", "strings"):
        part = style.parts.get(role)
        if part is None:
            continue
        tracks.append(Track(part.program, False, TRACK_NAMES[role]))
        if role == "bass":
            _bass(notes, part, len(tracks) - 1, chart, grid, rng)
        else:
            _comp(notes, role, part, len(tracks) - 1, chart, grid, rng)
    if style.melody is not None:
        # Its own random stream: a style with a melody plays the same accompaniment.
        tracks.append(Track(style.melody.program, False, MELODY_TRACK))
        take = np.random.default_rng([seed, MELODY_STREAM])
        for start, end, pitch, velocity in melody_notes(style.melody, chart, grid, take):
            notes.add(start, end, pitch, velocity, len(tracks) - 1)
    if style.drums:
        tracks.append(Track(0, True, "Drums"))
        _drums(notes, style, len(tracks) - 1, grid, rng)

    start = np.array(notes.start)
    end = np.array(notes.end)
    velocity = np.array(notes.velocity, dtype=np.float64) * style.dynamics
    if humanise and len(start):
        start = np.maximum(start + rng.normal(0, style.humanize_time, len(start)), 0.0)
        end = np.maximum(end, start + 0.05)
        velocity += rng.normal(0, style.humanize_velocity, len(start))
    table = make_notes(
        np.round(start * TICKS_PER_BEAT),
        np.round(end * TICKS_PER_BEAT),
        notes.pitch,
        np.clip(np.round(velocity), 1, 127),
        notes.track,
    )
    numerator, denominator = TIME_SIGNATURES.get(chart.meter, (4, 4))
    return Score(
        notes=table,
        tracks=tracks,
        ticks_per_beat=TICKS_PER_BEAT,
        tempos=np.array([(0, style.tempo)], TEMPO_DTYPE),
        time_signatures=np.array([(0, numerator, denominator)], TIME_SIGNATURE_DTYPE),
        source=f"<{style.name} chart>",
    )


def render(chart: Chart, style: Style, seed: int = 0, *, humanise: bool = True):
    """`render_score` as a `pretty_midi.PrettyMIDI`."""
    from groove.midi import to_pretty_midi

    return to_pretty_midi(render_score(chart, style, seed, humanise=humanise))
