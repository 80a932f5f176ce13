"""Accompaniment styles: seeded, serialisable parameter sets for a procedural band.

A `Style` says what each role plays on a step grid (drum, bass and comping
patterns), how (voicings, registers, articulation, GM programs), and with what feel
(tempo, swing, dynamics, humanised timing, fills). `Style.random(seed)` starts from
one of the genre archetypes shipped in `archetypes.json` (or a blend of two) and
perturbs it, so thousands of distinct styles stay anchored in real playing.
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
from functools import cache
from importlib import resources
from typing import Any

import numpy as np

from groove.errors import ConfigError
from groove.midi.roles import PITCHED_ROLES

VOICINGS = ("close", "open", "shell", "rootless", "spread")
# Steps per bar and beats per step for each meter's grid.
GRIDS = {"4/4": (16, 0.25), "3/4": (12, 0.25), "12/8": (12, 0.5)}
DRUM_FILL_PITCHES = {"snare": (38, 38, 38, 38), "toms": (50, 48, 45, 43)}


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

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data; `Style.from_dict` reads it back."""
        data = dataclasses.asdict(self)
        data["drums"] = {str(k): list(v) for k, v in self.drums.items()}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Style:
        try:
            parts = {
                role: Part(
                    **{
                        **p,
                        "patterns": tuple(p["patterns"]),
                        "register": tuple(p["register"]),
                        "arp": tuple(p["arp"]),
                    }
                )
                for role, p in data["parts"].items()
            }
            drums = {int(k): tuple(v) for k, v in data["drums"].items()}
            return cls(**{**data, "parts": parts, "drums": drums})
        except (KeyError, TypeError, ValueError) as e:
            raise ConfigError(f"not a groove style: {e}") from e

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Style:
        return cls.from_dict(json.loads(text))

    @classmethod
    def random(cls, seed: int, *, meter: str | None = None) -> Style:
        """A random style anchored in an archetype; the same seed gives the same style.

        Args:
            seed: Random seed.
            meter: Only archetypes in this meter ("4/4", "3/4", "12/8").
        """
        return _random_style(int(seed), meter)


# --------------------------------------------------------------- the generator


def _meter_of(archetype: dict) -> str:
    # A 6/8 archetype is written as 12/8 with its one-bar pattern played twice.
    return "12/8" if archetype["meter"] == "6/8" else archetype["meter"]


def _bars(value: Any, steps: int) -> list[str]:
    """One pattern, or a list of bar patterns, fitted to `steps` per bar."""
    bars = [value] if isinstance(value, str) else list(value)
    return [(b * (steps // len(b) + 1))[:steps] for b in bars]


def _mutate(pattern: str, rng: np.random.Generator, hits: str, rest: str = ".") -> str:
    """Move 1-3 hits one step, or drop an off-beat hit (a perturbation from the archetypes)."""
    cells = list(pattern)
    for _ in range(int(rng.integers(1, 4))):
        onsets = [i for i, c in enumerate(cells) if c in hits]
        if not onsets:
            break
        i = int(rng.choice(onsets))
        j = (i + int(rng.choice([-1, 1]))) % len(cells)
        if i % 4 and rng.random() < 0.3:
            cells[i] = rest  # drop an off-beat hit
        elif cells[j] == rest and j % 4:  # never move a hit off the downbeats
            cells[i], cells[j] = rest, cells[i]
    return "".join(cells)


def _thin(pattern: str, hits: str) -> str:
    """Keep every other hit (density perturbation)."""
    out, keep = [], True
    for c in pattern:
        if c in hits:
            out.append(c if keep else ".")
            keep = not keep
        else:
            out.append(c)
    return "".join(out)


def _pick(rng: np.random.Generator, options: list) -> Any:
    return options[int(rng.integers(len(options)))]


def _program(rng: np.random.Generator, role: str, default: int) -> int:
    if rng.random() < 0.5:
        return int(default)
    return int(_pick(rng, list(archetypes()["roles_programs"][role].values())))


def _part(role: str, spec: dict, steps: int, rng: np.random.Generator, mutate: bool) -> Part | None:
    pattern = _pick(rng, [spec.get("pattern", ""), *spec.get("variants", [])])
    arp: tuple[int, ...] = ()
    if pattern.startswith("arp:"):
        arp = tuple(int(x) for x in pattern[4:].split(","))
        patterns = ("x" * steps,)
    else:
        patterns = tuple(_bars(pattern, steps))
        hits = "RA5S38bC7" if role == "bass" else "xXDUm"
        if mutate and rng.random() < 0.5:
            patterns = tuple(_mutate(p, rng, hits) for p in patterns)
        if rng.random() < 0.15:
            patterns = tuple(_thin(p, hits) for p in patterns)
    defaults = {"bass": (28, 50), "keys": (52, 76), "guitar": (40, 76), "strings": (55, 79)}
    low, high = spec.get("register", defaults[role])
    if role != "bass" and rng.random() < 0.25:
        shift = int(rng.choice([-12, 12]))
        if low + shift >= 28 and high + shift <= 96:
            low, high = low + shift, high + shift
    voicing = spec.get("voicing", "close")
    if role == "guitar":
        voicing = "power" if "power" in spec.get("style", "") else "open"
    if role in ("keys", "strings") and rng.random() < 0.4:
        voicing = _pick(rng, list(VOICINGS))
    articulation = spec.get("articulation", "legato" if role == "strings" else "short")
    if articulation not in ("short", "legato", "walking"):
        articulation = "legato"
    if "muted" in spec.get("style", "") or spec.get("style", "") in ("skank", "chop"):
        articulation = "short"
    velocity = {"bass": 88, "keys": 72, "guitar": 76, "strings": 64}[role]
    return Part(
        program=_program(rng, role, spec.get("program", 0)),
        patterns=patterns,
        register=(int(low), int(high)),
        voicing=voicing,
        articulation=articulation,
        arp=arp,
        arp_step=int(spec.get("step", 2)),
        velocity=int(np.clip(velocity + rng.integers(-10, 11), 30, 120)),
    )


def _random_style(seed: int, meter: str | None) -> Style:
    rng = np.random.default_rng(seed)
    pool = [a for a in archetypes()["archetypes"] if meter is None or _meter_of(a) == meter]
    if not pool:
        raise ConfigError(f"no archetype in {meter!r}; choose from {', '.join(GRIDS)}")
    base = _pick(rng, pool)
    other = base
    same_meter = [a for a in pool if _meter_of(a) == _meter_of(base) and a is not base]
    if same_meter and rng.random() < 0.2:  # blend: drums of one archetype, the band of another
        other = _pick(rng, same_meter)
    style_meter = _meter_of(base)
    steps, _ = GRIDS[style_meter]

    drums: dict[int, tuple[str, ...]] = {}
    for pitch, pattern in base["drums"].items():
        options = [pattern, *base.get("drum_variants", {}).get(pitch, [])]
        bars = _bars(_pick(rng, options), steps)
        if rng.random() < 0.4:
            bars = [_mutate(b, rng, "Xxog") for b in bars]
        drums[int(pitch)] = tuple(bars)
    for pitch, variants in base.get("drum_variants", {}).items():
        if int(pitch) not in drums and rng.random() < 0.5:
            drums[int(pitch)] = tuple(_bars(_pick(rng, variants), steps))

    parts: dict[str, Part] = {}
    for role in PITCHED_ROLES:
        source = other if role != "bass" or rng.random() < 0.5 else base
        spec = source.get(role) or (base.get(role) if source is not base else None)
        if not spec or (spec.get("optional") and rng.random() < 0.4):
            continue
        if _meter_of(source) != style_meter:
            continue
        parts[role] = _part(role, spec, steps, rng, mutate=True)
    if not parts:  # every style has at least a bass line
        spec = base.get("bass") or {"pattern": "R" + "." * (steps - 1), "program": 33}
        parts["bass"] = _part("bass", spec, steps, rng, mutate=False)

    swing = float(base["swing"])
    swing = float(np.clip(swing + rng.uniform(-0.04, 0.04), 0.5, 0.72)) if swing > 0.5 else 0.5
    if swing == 0.5 and style_meter != "12/8" and rng.random() < 0.15:
        swing = float(rng.uniform(0.54, 0.6))  # a straight archetype turns to light swing
    low, high = base["tempo"]
    return Style(
        name=f"{base['name']}{'+' + other['name'] if other is not base else ''}-{seed}",
        meter=style_meter,
        tempo=float(round(rng.uniform(low, high), 1)),
        swing=round(swing, 3),
        swing16=bool(style_meter != "12/8" and rng.random() < 0.2),
        drums=drums,
        parts=parts,
        dynamics=round(float(rng.uniform(0.75, 1.15)), 3),
        accent=round(float(rng.uniform(0.5, 1.5)), 3),
        humanize_time=round(float(rng.uniform(0.0, 0.03)), 4),
        humanize_velocity=round(float(rng.uniform(0.0, 12.0)), 2),
        fill_every=int(rng.choice([0, 4, 8], p=[0.3, 0.3, 0.4])),
        fill_kind=str(rng.choice(list(DRUM_FILL_PITCHES))),
        ghost_rate=round(float(rng.choice([0.0, 0.0, 0.05, 0.12])), 3),
    )
