"""Chord charts: plain data, a seeded generator, and a text format.

A chart is a meter, a key and a list of chords. Each chord is the plain tuple
`(start_beat, duration_beats, root, quality, bass)`: times in beats (quarter
notes) from the start, `root` and `bass` as pitch classes 0-11 (C = 0), and
`quality` a key of `QUALITIES`. The text format is a line of bars:

    | C | Am7 | Dm7 G7 | C/E |

with one chord per bar or two that split it evenly.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from typing import NamedTuple

import numpy as np

from groove.errors import ConfigError
from groove.midi.constants import METERS, PITCH_CLASS_NAMES

# Chord qualities as semitones above the root (the 9th as 14).
QUALITIES: dict[str, tuple[int, ...]] = {
    "": (0, 4, 7),
    "m": (0, 3, 7),
    "dim": (0, 3, 6),
    "aug": (0, 4, 8),
    "sus2": (0, 2, 7),
    "sus4": (0, 5, 7),
    "6": (0, 4, 7, 9),
    "m6": (0, 3, 7, 9),
    "7": (0, 4, 7, 10),
    "maj7": (0, 4, 7, 11),
    "m7": (0, 3, 7, 10),
    "m7b5": (0, 3, 6, 10),
    "dim7": (0, 3, 6, 9),
    "mmaj7": (0, 3, 7, 11),
    "7sus4": (0, 5, 7, 10),
    "9": (0, 4, 7, 10, 14),
    "maj9": (0, 4, 7, 11, 14),
    "m9": (0, 3, 7, 10, 14),
    "add9": (0, 4, 7, 14),
}
_LETTERS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
# Quarter-note beats per bar for each meter; 12/8 is four dotted quarters.


class Chord(NamedTuple):
    """One chord of a chart: plain data, times in beats (quarter notes)."""

    start_beat: float
    duration_beats: float
    root: int  # pitch class, C = 0
    quality: str  # a key of QUALITIES
    bass: int  # pitch class of the lowest note (the root unless a slash chord)

    @property
    def pitch_classes(self) -> tuple[int, ...]:
        """The chord's pitch classes, bass first (no repeats)."""
        tones = [(self.root + i) % 12 for i in QUALITIES[self.quality]]
        return tuple(dict.fromkeys([self.bass, *tones]))

    @property
    def name(self) -> str:
        """Lead-sheet name, e.g. `Dm7`, `C/E`."""
        slash = f"/{PITCH_CLASS_NAMES[self.bass]}" if self.bass != self.root else ""
        return f"{PITCH_CLASS_NAMES[self.root]}{self.quality}{slash}"


@dataclasses.dataclass(frozen=True)
class Chart:
    """A chord chart.

    Attributes:
        chords: The chords in time order, covering the bars without gaps.
        meter: One of `METERS` ("4/4", "3/4", "12/8").
        key: Tonic pitch class (C = 0).
        mode: "major" or "minor".
    """

    chords: tuple[Chord, ...]
    meter: str = "4/4"
    key: int = 0
    mode: str = "major"

    @property
    def beats_per_bar(self) -> float:
        return METERS[self.meter]

    @property
    def bars(self) -> int:
        end = self.chords[-1].start_beat + self.chords[-1].duration_beats if self.chords else 0
        return round(end / self.beats_per_bar)

    @property
    def duration_beats(self) -> float:
        return self.bars * self.beats_per_bar

    @functools.cached_property
    def _starts(self) -> np.ndarray:
        return np.array([c.start_beat for c in self.chords])

    def chord_index(self, beat: float) -> int:
        """Index of the chord sounding at `beat` (the last one past the end).

        A chord counts from 1e-9 beats before its start, so a grid time that float
        arithmetic puts a hair early still finds it.
        """
        return max(int(np.searchsorted(self._starts, beat + 1e-9, side="right")) - 1, 0)

    def chord_at(self, beat: float) -> Chord:
        """The chord sounding at `beat` (the last one past the end)."""
        return self.chords[self.chord_index(beat)]

    def to_text(self) -> str:
        """The chart as `| C | Am7 | Dm7 G7 | C/E - |`; `parse_chart` reads it back.

        Each bar is split into the fewest equal slots that put every chord change on
        a slot boundary; `-` marks a slot where the previous chord goes on.
        """
        bar_beats = self.beats_per_bar
        starts = {round(c.start_beat * 12): c for c in self.chords}  # 1/12-beat grid
        cells = []
        for bar in range(self.bars):
            lo = round(bar * bar_beats * 12)
            width = round(bar_beats * 12)
            changes = [t - lo for t in starts if lo <= t < lo + width]
            slots = next(
                (k for k in (1, 2, 3, 4, 6, 8, 12) if all((t * k) % width == 0 for t in changes)),
                None,
            )
            if slots is None:
                raise ConfigError(f"bar {bar + 1} has chord changes off an even split")
            names = []
            for k in range(slots):
                chord = starts.get(lo + k * width // slots)
                names.append(chord.name if chord else "-")
            cells.append(" ".join(names))
        return "| " + " | ".join(cells) + " |"


_CHORD_NAME = re.compile(r"^([A-G])([#b]?)([^/]*)(?:/([A-G])([#b]?))?$")


def parse_chord_name(name: str) -> tuple[int, str, int]:
    """`(root, quality, bass)` of a name such as `F#m7`, `Bbmaj7/D`, `C`."""
    match = _CHORD_NAME.match(name.strip())
    if not match:
        raise ConfigError(f"cannot read the chord {name!r}")
    letter, accidental, quality, bass_letter, bass_accidental = match.groups()
    shift = {"#": 1, "b": -1, "": 0}
    root = (_LETTERS[letter] + shift[accidental]) % 12
    aliases = {"min": "m", "-": "m", "maj": "", "M7": "maj7", "min7": "m7", "-7": "m7", "ø": "m7b5"}
    quality = aliases.get(quality, quality)
    if quality not in QUALITIES:
        raise ConfigError(f"unknown chord quality {quality!r} in {name!r}")
    bass = root if bass_letter is None else (_LETTERS[bass_letter] + shift[bass_accidental]) % 12
    return root, quality, bass


def parse_chart(text: str, meter: str = "4/4", key: int = 0, mode: str = "major") -> Chart:
    """A `Chart` from text such as `| C | Am7 | Dm7 G7 | C - |`.

    The tokens of a bar share it evenly. `-` holds the chord before it for its share
    of the bar; a bar of `%` repeats the bar before it.
    """
    if meter not in METERS:
        raise ConfigError(f"unknown meter {meter!r}; choose from {', '.join(METERS)}")
    bar_beats = METERS[meter]
    cells = [c.strip() for c in text.strip().strip("|").split("|")]
    chords: list[Chord] = []
    previous: list[str] = []
    for index, cell in enumerate(cells):
        names = cell.split()
        if names == ["%"]:
            names = previous
        if not names:
            raise ConfigError(f"bar {index + 1} of the chart is empty; write - to hold a chord")
        step = bar_beats / len(names)
        for k, name in enumerate(names):
            if name == "-":
                if not chords:
                    raise ConfigError("the chart starts with -, which holds no chord")
                chords[-1] = chords[-1]._replace(duration_beats=chords[-1].duration_beats + step)
                continue
            root, quality, bass = parse_chord_name(name)
            chords.append(Chord(index * bar_beats + k * step, step, root, quality, bass))
        previous = names
    return Chart(tuple(chords), meter, key % 12, mode)


# --------------------------------------------------------------------- generator

# Phrases of four chord slots in Roman numerals, relative to the key. Upper case
# is a major-family chord, lower case minor; "7" asks for a dominant seventh on an
# upper-case numeral, "o" diminished, "ø" half-diminished, "+" augmented; "V/x" is
# the dominant of x (a secondary dominant); "b"/"#" alter the scale degree.
# Progressions from common-practice and jazz harmony (e.g. Levine, "The Jazz Theory
# Book", 1995, ch. 2; Aldwell & Schachter, "Harmony and Voice Leading").
MAJOR_PHRASES = (
    "I vi ii V7",  # I-vi-ii-V turnaround
    "I IV V7 I",
    "ii ii V7 V7",  # ii-V
    "ii V7 I I",  # ii-V-I
    "I V vi IV",
    "I iii IV V7",
    "vi IV I V",
    "I IV ii V7",
    "IV V7 iii vi",
    "I V/vi vi V/V",  # secondary dominants
    "I I7 IV iv",  # V/IV, then iv borrowed from the minor (modal interchange)
    "I bVII IV I",  # bVII borrowed from mixolydian/minor
    "I bVI bVII I",
    "iii V/ii ii V7",
    "I #ivø IV iv",
    "IV iv I V7",
    "I vi IV V7",
    "I V/ii ii V7",
    "I I+ vi IV",  # augmented passing chord
    "IV V I vi",
)
MINOR_PHRASES = (
    "i iv V7 i",
    "i VI III VII",
    "i iv VII III",
    "iiø V7 i i",  # minor ii-V-i
    "i VI iv V7",
    "i VII VI V7",  # Andalusian cadence
    "i iv i V7",
    "VI VII i i",
    "i bII V7 i",  # Neapolitan
    "iv V7 i VI",
    "i V/iv iv V7",
    "i iio V7 i",
)
# Twelve-bar blues forms, one chord per bar.
BLUES = (
    "I7 I7 I7 I7 IV7 IV7 I7 I7 V7 IV7 I7 V7",
    "I7 IV7 I7 I7 IV7 IV7 I7 V/ii ii V7 I7 V7",  # quick change, jazz turnaround
)
MINOR_BLUES = ("i i i i iv iv i i VI V7 i V7",)

_MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
_MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10)
_NUMERALS = {"i": 0, "ii": 1, "iii": 2, "iv": 3, "v": 4, "vi": 5, "vii": 6}
_NUMERAL = re.compile(r"^([b#]?)([ivIV]+)([7oø+]?)(?:/([b#]?)([ivIV]+))?$")
# Qualities per chord family and colour (0 triads, 1 sixths/sevenths, 2 ninths/sus).
_FAMILY_QUALITIES = {
    "major": (("",), ("maj7", "6"), ("maj9", "add9", "sus2", "6")),
    "minor": (("m",), ("m7", "m6"), ("m9", "m7")),
    "dominant": (("",), ("7",), ("9", "7sus4", "7")),
    "diminished": (("dim",), ("dim7",), ("dim7",)),
    "half_diminished": (("dim",), ("m7b5",), ("m7b5",)),
    "augmented": (("aug",), ("aug",), ("aug",)),
}


def _degree(accidental: str, numeral: str, scale: tuple[int, ...]) -> int:
    step = _NUMERALS.get(numeral.lower())
    if step is None:
        raise ConfigError(f"unknown Roman numeral {numeral!r}")
    return (scale[step] + {"b": -1, "#": 1, "": 0}[accidental]) % 12


def _read_numeral(token: str, mode: str) -> tuple[int, str]:
    """(semitones above the tonic, chord family) of a Roman numeral."""
    match = _NUMERAL.match(token)
    if not match:
        raise ConfigError(f"cannot read the Roman numeral {token!r}")
    accidental, numeral, suffix, of_accidental, of_numeral = match.groups()
    scale = _MINOR_SCALE if mode == "minor" else _MAJOR_SCALE
    if of_numeral:  # V/x: the dominant of x
        return (_degree(of_accidental, of_numeral, scale) + 7) % 12, "dominant"
    family = "major" if numeral.isupper() else "minor"
    family = {
        "7": "dominant" if numeral.isupper() else "minor",
        "o": "diminished",
        "ø": "half_diminished",
        "+": "augmented",
    }.get(suffix, family)
    return _degree(accidental, numeral, scale), family


def random_chart(
    seed: int,
    *,
    bars: int | None = None,
    meter: str | None = None,
    key: int | None = None,
    mode: str | None = None,
) -> Chart:
    """A chord chart drawn from functional progressions; the same seed gives the same chart.

    Args:
        seed: Random seed.
        bars: 8 to 32 bars; drawn from 8, 12, 16, 24 and 32 when None.
        meter: "4/4", "3/4" or "12/8"; drawn when None (4/4 most often).
        key: Tonic pitch class 0-11; drawn when None.
        mode: "major" or "minor"; drawn when None.

    Returns:
        A `Chart` whose last chord is the tonic. Harmonic rhythm is one chord per bar
        or two (half a bar each), chosen per four-bar phrase.
    """
    rng = np.random.default_rng(seed)
    meter = meter or str(rng.choice(list(METERS), p=[0.6, 0.2, 0.2]))
    if meter not in METERS:
        raise ConfigError(f"unknown meter {meter!r}; choose from {', '.join(METERS)}")
    mode = mode or str(rng.choice(["major", "minor"], p=[0.65, 0.35]))
    if mode not in ("major", "minor"):
        raise ConfigError(f"mode must be 'major' or 'minor', not {mode!r}")
    key = int(rng.integers(12)) if key is None else int(key) % 12
    blues = meter != "3/4" and rng.random() < 0.15
    if bars is None:
        bars = int(rng.choice([12, 24])) if blues else int(rng.choice([8, 12, 16, 24, 32]))
    if not 1 <= bars <= 256:
        raise ConfigError(f"a chart has 1 to 256 bars, not {bars}")
    blues = blues and bars % 12 == 0
    colour = int(rng.choice(3, p=[0.35, 0.45, 0.2]))
    slash_rate = float(rng.choice([0.0, 0.1, 0.2]))
    bar_beats = METERS[meter]

    # Slots: (numeral, share of the bar). Blues forms take whole bars.
    slots: list[tuple[str, int, float]] = []  # numeral, bar, offset within the bar (beats)
    bar = 0
    while bar < bars:
        if blues:
            form = (MINOR_BLUES if mode == "minor" else BLUES)[
                int(rng.integers(len(MINOR_BLUES if mode == "minor" else BLUES)))
            ]
            for numeral in form.split():
                if bar < bars:
                    slots.append((numeral, bar, 0.0))
                    bar += 1
            continue
        phrases = MINOR_PHRASES if mode == "minor" else MAJOR_PHRASES
        phrase = phrases[int(rng.integers(len(phrases)))].split()
        two_per_bar = meter != "3/4" and rng.random() < 0.35
        if two_per_bar:
            for i in range(0, 4, 2):
                if bar < bars:
                    slots.append((phrase[i], bar, 0.0))
                    slots.append((phrase[i + 1], bar, bar_beats / 2))
                    bar += 1
        else:
            for numeral in phrase:
                if bar < bars:
                    slots.append((numeral, bar, 0.0))
                    bar += 1

    chords = []
    for i, (numeral, bar, offset) in enumerate(slots):
        start = bar * bar_beats + offset
        end = (
            slots[i + 1][1] * bar_beats + slots[i + 1][2]
            if i + 1 < len(slots)
            else bars * bar_beats
        )
        if i == len(slots) - 1:
            numeral = "i" if mode == "minor" else "I"  # end on the tonic
        semitones, family = _read_numeral(numeral, mode)
        options = _FAMILY_QUALITIES[family][colour]
        quality = options[int(rng.integers(len(options)))]
        if blues and family == "dominant":
            quality = "7" if colour < 2 else str(rng.choice(["7", "9"]))
        root = (key + semitones) % 12
        bass = root
        if rng.random() < slash_rate and i != len(slots) - 1:
            bass = (root + QUALITIES[quality][int(rng.integers(1, 3))]) % 12  # an inversion
        chords.append(Chord(float(start), float(end - start), root, quality, bass))
    return Chart(tuple(merge_repeats(chords)), meter, key, mode)


def merge_repeats(chords: list[Chord]) -> list[Chord]:
    """Join a chord with the identical one after it (`ii ii` is one long ii)."""
    merged: list[Chord] = []
    for chord in chords:
        last = merged[-1] if merged else None
        if last and (last.root, last.quality, last.bass) == (chord.root, chord.quality, chord.bass):
            merged[-1] = last._replace(duration_beats=last.duration_beats + chord.duration_beats)
        else:
            merged.append(chord)
    return merged
