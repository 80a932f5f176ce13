"""Random styles: archetypes mutated, recombined, or generated from rules.

`Style.random` draws one of three kinds of style (`STYLE_KINDS`) by its `mix`:

- "archetype": one of the 18 archetypes of `archetypes.json` (or a blend of two),
  its patterns perturbed (variants, hits moved or dropped, thinned), as every
  style was at first. This kind keeps its seed stream, so an old seed gives its old
  style.
- "recombined": the drums and feel (swing, tempo) of one archetype, and each
  pitched part from an archetype drawn afresh, all of one meter so every pattern
  fits the grid; then perturbed in the same way. A meter with fewer than three
  archetypes (3/4 has only the waltz) adds a generated one to draw from.
- "generated": every pattern written by `groove.data.patterns` from simple
  rules, then perturbed in the same way.

Each kind, and the melody, draws from its own random stream of the seed, so
changing the mix never changes what one kind makes of a seed.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from groove.data.melody import melody_part
from groove.data.patterns import generated_archetype
from groove.data.styles import (
    DRUM_FILL_PITCHES,
    GRIDS,
    STYLE_KINDS,
    VOICINGS,
    Part,
    Style,
    archetypes,
)
from groove.errors import ConfigError
from groove.midi.roles import PITCHED_ROLES

# Sub-streams of a style's seed (see the module docstring).
KIND_STREAM, RECOMBINED_STREAM, GENERATED_STREAM, MELODY_STREAM = 1, 2, 3, 4
# Meters of generated styles, as `groove.data.charts.random_chart` draws them.
GENERATED_METERS = {"4/4": 0.6, "3/4": 0.2, "12/8": 0.2}


def random_style(seed: int, meter: str | None, mix: dict[str, float], melody: float) -> Style:
    """See `Style.random`; `mix` is normalised over `STYLE_KINDS` (`check_mix`)."""
    if meter is not None and meter not in GRIDS:
        raise ConfigError(f"no style in {meter!r}; choose from {', '.join(GRIDS)}")
    weights = [mix[kind] for kind in STYLE_KINDS]
    kind = STYLE_KINDS[int(np.random.default_rng([seed, KIND_STREAM]).choice(3, p=weights))]
    if kind == "recombined":
        style = _recombined_style(seed, meter)
    elif kind == "generated":
        style = _generated_style(seed, meter)
    else:
        style = _archetype_style(seed, meter)
    if melody > 0:
        rng = np.random.default_rng([seed, MELODY_STREAM])
        if rng.random() < melody:
            steps, _ = GRIDS[style.meter]
            part = melody_part(rng, style.meter, style.tempo, steps)
            style = dataclasses.replace(style, melody=part)
    return style


def _recombined_style(seed: int, meter: str | None) -> Style:
    rng = np.random.default_rng([seed, RECOMBINED_STREAM])
    every = archetypes()["archetypes"]
    meter = meter or _meter_of(_pick(rng, every))
    pool = [a for a in every if _meter_of(a) == meter]
    if len(pool) < 3:
        pool = [*pool, generated_archetype(rng, meter, _programs())]
    feel = _pick(rng, pool)
    sources = {role: _pick(rng, pool) for role in PITCHED_ROLES}
    combined = {
        **{k: v for k, v in feel.items() if k not in PITCHED_ROLES},
        **{role: source.get(role) for role, source in sources.items()},
    }
    name = "|".join([feel["name"], *(sources[r]["name"] for r in PITCHED_ROLES)])
    return _build(rng, combined, combined, f"{name}-{seed}")


def _generated_style(seed: int, meter: str | None) -> Style:
    rng = np.random.default_rng([seed, GENERATED_STREAM])
    if meter is None:
        meter = str(rng.choice(list(GENERATED_METERS), p=list(GENERATED_METERS.values())))
    base = generated_archetype(rng, meter, _programs())
    return _build(rng, base, base, f"generated-{seed}")


def _programs() -> dict[str, list[int]]:
    return {role: list(p.values()) for role, p in archetypes()["roles_programs"].items()}


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


def _archetype_style(seed: int, meter: str | None) -> Style:
    """An archetype, perhaps blended with another of its meter, then perturbed."""
    rng = np.random.default_rng(seed)
    pool = [a for a in archetypes()["archetypes"] if meter is None or _meter_of(a) == meter]
    if not pool:
        raise ConfigError(f"no archetype in {meter!r}; choose from {', '.join(GRIDS)}")
    base = _pick(rng, pool)
    other = base
    same_meter = [a for a in pool if _meter_of(a) == _meter_of(base) and a is not base]
    if same_meter and rng.random() < 0.2:  # blend: drums of one archetype, the band of another
        other = _pick(rng, same_meter)
    name = f"{base['name']}{'+' + other['name'] if other is not base else ''}-{seed}"
    return _build(rng, base, other, name)


def _build(rng: np.random.Generator, base: dict, other: dict, name: str) -> Style:
    """A style from an archetype (`base`: drums and feel; `other`: most of the band)."""
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
        name=name,
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
