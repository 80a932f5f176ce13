"""Accompaniment styles: seeded, serialisable parameter sets for a procedural band.

A `Style` says what each role plays on a step grid (drum, bass and comping
patterns), how (voicings, registers, articulation, GM programs), and with what feel
(tempo, swing, dynamics, humanised timing, fills), and may carry a lead melody.
`Style.random(seed)` starts from one of the genre archetypes shipped in
`archetypes.json` (or a blend of two) and perturbs it, so thousands of distinct
styles stay anchored in real playing; with a `mix`, it also recombines parts of
several archetypes or writes new patterns from rules (`groove.data.style_gen`).
`groove.data.band.render` plays a chord chart in a style.

Pattern notation (one string per bar, bars cycle), as in `archetypes.json`:
- drums: `X` accent, `x` normal, `o` soft, `g` ghost, `.` rest;
- bass: `R` root (the slash bass if any), `5`, `8` octave, `3`, `7` chord tones,
  `b` low root, `A` chromatic approach and `S` scale step toward the next chord's
  root, `C` any chord tone, `-` hold, `.` rest;
- keys and strings: `x` hit, `X` accent, `-` hold, `.` rest, or `arp:i,j,...`;
- guitar: `D` down-strum, `U` up-strum, `m` muted scratch, plus the keys symbols.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

import numpy as np

from groove.errors import ConfigError

VOICINGS = ("close", "open", "shell", "rootless", "spread")
# Steps per bar and beats per step for each meter's grid.
GRIDS = {"4/4": (16, 0.25), "3/4": (12, 0.25), "12/8": (12, 0.5)}
DRUM_FILL_PITCHES = {"snare": (38, 38, 38, 38), "toms": (50, 48, 45, 43)}
# How a random style is made (see `Style.random`).
STYLE_KINDS = ("archetype", "recombined", "generated")
# Archetypes only: `Style.random`'s default, so a seed gives the style it always gave.
LEGACY_MIX = {"archetype": 1.0, "recombined": 0.0, "generated": 0.0}


@cache
def archetypes() -> dict[str, Any]:
    """The genre archetypes and GM programs per role (`archetypes.json`, shipped with groove)."""
    with resources.files("groove.data").joinpath("archetypes.json").open(encoding="utf-8") as f:
        return json.load(f)


@dataclasses.dataclass(frozen=True)
class Part:
    """What one pitched role plays.

    Attributes:
        program: General MIDI program (0-127).
        patterns: Step patterns, one per bar, cycling (see the module docstring).
        register: Lowest and highest MIDI pitch the part may use.
        voicing: For keys, guitar and strings: one of `VOICINGS` (guitar also
            "power").
        articulation: "short", "legato" or "walking" (how long notes are held).
        arp: Chord-tone order for arpeggios (empty when the part strums or hits).
        arp_step: Grid steps per arpeggio note.
        velocity: Base MIDI velocity.
    """

    program: int
    patterns: tuple[str, ...]
    register: tuple[int, int]
    voicing: str = "close"
    articulation: str = "short"
    arp: tuple[int, ...] = ()
    arp_step: int = 2
    velocity: int = 80


@dataclasses.dataclass(frozen=True)
class Style:
    """A seeded, serialisable accompaniment style.

    Attributes:
        name: A readable name (archetype and seed).
        meter: "4/4", "3/4" or "12/8": the bar the patterns are written for.
        tempo: Quarter notes per minute.
        swing: Ratio of the first of two swung notes (0.5 straight, 0.67 triplet).
        swing16: Swing the 16ths rather than the 8ths.
        drums: GM drum pitch -> step patterns (one per bar, cycling).
        parts: Role (`PITCHED_ROLES`) -> `Part`, for the roles that play.
        dynamics: Velocity scale (1.0 as written).
        accent: Accent contrast (1.0 as written; 0 flattens accents).
        humanize_time: Standard deviation of timing jitter, in beats.
        humanize_velocity: Standard deviation of velocity jitter.
        fill_every: A drum fill ends every this many bars (0 for none).
        fill_kind: "snare" or "toms".
        ghost_rate: Chance that a drum rest step gets a ghost snare note.
        melody: The lead melody's `Part` (rhythm motifs in `patterns`; see
            `groove.data.melody`), or None for a band without one. It is content,
            not style: its track's role is "other".
    """

    name: str
    meter: str
    tempo: float
    swing: float
    swing16: bool
    drums: dict[int, tuple[str, ...]]
    parts: dict[str, Part]
    dynamics: float = 1.0
    accent: float = 1.0
    humanize_time: float = 0.0
    humanize_velocity: float = 0.0
    fill_every: int = 0
    fill_kind: str = "snare"
    ghost_rate: float = 0.0
    melody: Part | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data; `Style.from_dict` reads it back.

        A style without a melody has no "melody" key, so its JSON is what it was
        before styles could have one.
        """
        data = dataclasses.asdict(self)
        data["drums"] = {str(k): list(v) for k, v in self.drums.items()}
        if self.melody is None:
            del data["melody"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Style:
        try:
            parts = {role: _part_from_dict(p) for role, p in data["parts"].items()}
            drums = {int(k): tuple(v) for k, v in data["drums"].items()}
            melody = data.get("melody")
            melody = None if melody is None else _part_from_dict(melody)
            return cls(**{**data, "parts": parts, "drums": drums, "melody": melody})
        except (KeyError, TypeError, ValueError) as e:
            raise ConfigError(f"not a groove style: {e}") from e

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Style:
        return cls.from_dict(json.loads(text))

    @classmethod
    def random(
        cls,
        seed: int,
        *,
        meter: str | None = None,
        mix: Mapping[str, float] | None = None,
        melody: float = 0.0,
    ) -> Style:
        """A random style; the same arguments give the same style.

        Args:
            seed: Random seed.
            meter: Only styles in this meter ("4/4", "3/4", "12/8").
            mix: Chances of each kind of style, as `{kind: weight}` over
                `STYLE_KINDS` (weights are normalised): "archetype" mutates one of
                the shipped archetypes (or blends two), "recombined" takes the drums
                and each pitched part from a different archetype of one meter, and
                "generated" writes every pattern from rules
                (`groove.data.patterns`). None is `LEGACY_MIX`, archetypes only, as
                every style was before the other kinds existed; corpora default to
                `groove.data.corpus.STYLE_MIX`.
            melody: Chance that the style has a lead melody (`groove.data.melody`).
                Drawn on a stream of its own: the rest of the style is the same
                either way. 0 (the default) never adds one, as before.
        """
        from groove.data.style_gen import random_style  # it builds Parts and Styles

        return random_style(int(seed), meter, check_mix(mix), float(melody))


def check_mix(mix: Mapping[str, float] | None) -> dict[str, float]:
    """A style mix as normalised weights over every kind of `STYLE_KINDS`.

    Raises:
        ConfigError: an unknown kind, a negative weight, or weights that sum to 0.
    """
    mix = LEGACY_MIX if mix is None else mix
    unknown = set(mix) - set(STYLE_KINDS)
    if unknown:
        raise ConfigError(
            f"unknown style kind(s) {', '.join(sorted(unknown))}; "
            f"choose from {', '.join(STYLE_KINDS)}"
        )
    weights = [float(mix.get(kind, 0.0)) for kind in STYLE_KINDS]
    if min(weights) < 0 or sum(weights) <= 0 or not np.isfinite(sum(weights)):
        raise ConfigError(f"style mix weights must be zero or more, some positive: {dict(mix)}")
    return {kind: w / sum(weights) for kind, w in zip(STYLE_KINDS, weights, strict=True)}


def _part_from_dict(p: dict[str, Any]) -> Part:
    return Part(
        **{
            **p,
            "patterns": tuple(p["patterns"]),
            "register": tuple(p["register"]),
            "arp": tuple(p.get("arp", ())),
        }
    )
