"""A lead melody over a chord chart: the tune a real song has and a band render lacked.

The melody is content, not style: its track is named "Melody" and plays a lead or
wind program, so `groove.midi.roles.role_of` gives it the role "other", and no
transfer role is asked to imitate it. It is there so that the content a model reads
in training looks like a real song's, whose loudest line is usually a tune.

A style owns the melody's sound and rhythm (`melody_part`: program, register, two
one-bar rhythm motifs on the style's grid); each take (`melody_notes`) chooses the
phrases and pitches. The rules are the textbook ones for a singable line over
chords (chord tones on the beat, passing and neighbour tones between: Aldwell &
Schachter, "Harmony and Voice Leading", on melodic figuration; small intervals and
a turn after a leap: Huron, "Sweet Anticipation", 2006, and von Hippel & Huron,
"Why do skips precede reversals?", Music Perception 18(1), 2000):

- phrases of 2 or 4 bars, built from a motif and its answer, that end on a long
  chord tone and leave a rest; now and then a whole phrase is silent;
- every onset on a beat is a chord tone of the chord sounding then;
- between beats: passing tones (a step on in the line's direction), neighbour
  tones (a step away, then back), or another chord tone;
- mostly steps; after a leap of more than four semitones the line turns back
  (post-skip reversal), and it turns at the edges of its register.

Pitches come from the chord scale: the key's scale with the chord's own tones, a
chromatic chord tone (the G# of E7 in C) replacing the scale tones a semitone either
side of it, so no passing tone rubs against it.
"""

from __future__ import annotations

import numpy as np

from groove.data.charts import Chart, Chord
from groove.data.styles import Part

MELODY_TRACK = "Melody"
# Lead programs (GM 1): none is a piano, organ or other program `role_of` maps to a
# transfer role, so the melody is always "other".
MELODY_PROGRAMS = {
    "trumpet": 56,
    "soprano_sax": 64,
    "alto_sax": 65,
    "oboe": 68,
    "clarinet": 71,
    "flute": 73,
    "square_lead": 80,
    "saw_lead": 81,
}
# C4 to C6, where most sung and played tunes lie.
REGISTER = (60, 84)
_SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}
_HOLD = {"legato": 0.95, "short": 0.6}


def beat_steps(meter: str) -> int:
    """Grid steps per counted beat: a quarter (4 sixteenths), or in 12/8 a dotted
    quarter (3 eighths)."""
    return 3 if meter == "12/8" else 4


def melody_part(rng: np.random.Generator, meter: str, tempo: float, steps: int) -> Part:
    """A style's melody: program, register, articulation and two rhythm motifs.

    Motifs are one bar of grid steps (`x` onset, `-` hold, `.` rest). The smallest
    note value is an eighth (a triplet eighth in 12/8), or a beat at fast tempos,
    where eighths would be a flurry rather than a tune.
    """
    beat = beat_steps(meter)
    if meter == "12/8":
        unit = 1 if tempo < 80 or rng.random() < 0.5 else beat
    else:
        unit = beat if tempo > 150 or rng.random() < 0.3 else beat // 2
    density = float(rng.uniform(0.25, 0.65))
    motif = _motif(rng, steps, beat, unit, density)
    answer = motif if rng.random() < 0.4 else _motif(rng, steps, beat, unit, density)
    low = int(rng.integers(REGISTER[0], REGISTER[0] + 7))
    return Part(
        program=int(rng.choice(list(MELODY_PROGRAMS.values()))),
        patterns=(motif, answer),
        register=(low, min(low + 19, REGISTER[1])),
        articulation="legato" if rng.random() < 0.6 else "short",
        velocity=int(rng.integers(84, 101)),
    )


def _motif(rng: np.random.Generator, steps: int, beat: int, unit: int, density: float) -> str:
    cells = ["-"] * steps
    cells[0] = "x"
    for step in range(unit, steps, unit):
        strong = step % beat == 0
        if rng.random() < (0.75 if strong else density):
            cells[step] = "x"
    for step in range(1, steps):  # a breath before some onsets
        if cells[step] == "x" and cells[step - 1] == "-" and rng.random() < 0.2:
            cells[step - 1] = "."
    return "".join(cells)


def chord_scale(chart: Chart, chord: Chord) -> tuple[int, ...]:
    """Pitch classes a melody may use over `chord`: the key's scale and the chord's
    tones, a chromatic chord tone replacing the scale tones a semitone from it."""
    scale = {(chart.key + i) % 12 for i in _SCALES.get(chart.mode, _SCALES["major"])}
    tones = set(chord.pitch_classes)
    chromatic = tones - scale
    keep = {s for s in scale if not any((s - c) % 12 in (1, 11) for c in chromatic)}
    return tuple(sorted(keep | tones))


def melody_notes(part: Part, chart: Chart, grid, rng: np.random.Generator) -> list[tuple]:
    """One take of the melody: `(start, end, pitch, velocity)` tuples, times in beats.

    Args:
        part: The style's melody `Part` (from `melody_part`).
        chart: The chord chart.
        grid: The band's grid: `bars`, `steps` and `time(bar, step)` in beats.
        rng: The take's random generator.
    """
    beat = beat_steps(chart.meter)
    low, high = part.register
    hold = _HOLD.get(part.articulation, 0.9)
    line = _Line(low, high, rng)
    out: list[tuple] = []
    bar = 0
    while bar < grid.bars:
        length = min(4 if rng.random() < 0.6 else 2, grid.bars - bar)
        if bar > 0 and rng.random() < 0.2:  # an instrumental break
            bar += length
            continue
        for k in range(length):
            rhythm = part.patterns[k % len(part.patterns)]  # motif, answer, motif...
            if k == length - 1:  # the phrase ends: one long note, then a breath
                rhythm = _cadence(rhythm, beat)
            spans = _spans(rhythm)
            for n, (step, end_step) in enumerate(spans):
                t = grid.time(bar + k, step)
                chord = chart.chord_at(t)
                final = k == length - 1 and n == len(spans) - 1
                pitch = line.next(chord, chord_scale(chart, chord), step % beat == 0, final)
                end = t + (grid.time(bar + k, end_step) - t) * hold
                accent = 1.06 if step == 0 else 1.0 if step % beat == 0 else 0.92
                out.append((t, end, pitch, part.velocity * accent))
        line.rest()
        bar += length
    return out


def _cadence(rhythm: str, beat: int) -> str:
    """The motif's first beat, its last onset held to the bar's middle, then rest."""
    half = max(len(rhythm) // 2, beat)
    head = rhythm[:beat].replace(".", "-")
    return (head + "-" * (half - len(head)) + "." * len(rhythm))[: len(rhythm)]


def _spans(rhythm: str) -> list[tuple[int, int]]:
    """(onset step, end step) of each `x`, held through the `-` after it."""
    out = []
    for i, c in enumerate(rhythm):
        if c == "x":
            j = i + 1
            while j < len(rhythm) and rhythm[j] == "-":
                j += 1
            out.append((i, j))
    return out


class _Line:
    """The melodic line's state: where it is, where it is heading, what it owes."""

    def __init__(self, low: int, high: int, rng: np.random.Generator):
        self.low, self.high, self.rng = low, high, rng
        self.pitch: int | None = None
        self.direction = 1 if rng.random() < 0.5 else -1
        self.return_to: int | None = None  # the chord tone a neighbour note left

    def rest(self) -> None:
        self.return_to = None

    def _pitches(self, classes) -> list[int]:
        return [p for p in range(self.low, self.high + 1) if p % 12 in classes]

    def next(self, chord: Chord, scale: tuple[int, ...], strong: bool, final: bool) -> int:
        """The next pitch: a chord tone on a beat and at the phrase's end, else a
        passing, neighbour or chord tone."""
        tones = self._pitches(chord.pitch_classes)
        if self.pitch is None:  # the first note: a chord tone in the middle
            middle = (self.low + self.high) / 2 + self.rng.uniform(-4, 4)
            return self._go(min(tones, key=lambda p: abs(p - middle)))
        prev = self.pitch
        if self.return_to is not None and self.return_to in (
            tones if strong else self._pitches(scale)
        ):
            return self._go(self.return_to)  # a neighbour note goes back
        if final:  # close on the root or third, near where the line is
            stable = [p for p in tones if p % 12 in chord.pitch_classes[:2]] or tones
            return self._go(min(stable, key=lambda p: (abs(p - prev), p)))
        if strong:  # a chord tone a small step on, rarely the same note again
            aim = prev + 2 * self.direction
            ranked = sorted(tones, key=lambda p: (abs(p - aim) + 3 * (p == prev), p))
            pick = 1 if len(ranked) > 1 and self.rng.random() < 0.2 else 0
            return self._go(ranked[pick])
        roll = self.rng.random()
        steps = self._pitches(scale)
        if roll < 0.55 or self.return_to is not None:  # passing tone: a step on
            return self._go(_step(steps, prev, self.direction))
        if roll < 0.75 and prev in tones:  # neighbour tone: a step away, then back
            neighbour = _step(steps, prev, 1 if self.rng.random() < 0.5 else -1)
            self.pitch, self.return_to = neighbour, prev
            return neighbour
        further = [p for p in tones if (p - prev) * self.direction > 0]  # arpeggiate
        return self._go(min(further, key=lambda p: abs(p - prev)) if further else prev)

    def _go(self, pitch: int) -> int:
        prev = self.pitch
        self.pitch, self.return_to = pitch, None
        if prev is not None and abs(pitch - prev) > 4:
            self.direction = -1 if pitch > prev else 1  # a leap: turn back
        elif pitch >= self.high - 2:
            self.direction = -1
        elif pitch <= self.low + 2:
            self.direction = 1
        elif self.rng.random() < 0.15:
            self.direction = -self.direction
        return pitch


def _step(pitches: list[int], pitch: int, direction: int) -> int:
    """The next pitch of `pitches` above (direction 1) or below `pitch`; at the edge
    of the register, the step the other way."""
    above = [p for p in pitches if p > pitch]
    below = [p for p in pitches if p < pitch]
    if direction > 0:
        return above[0] if above else below[-1] if below else pitch
    return below[-1] if below else above[0] if above else pitch
