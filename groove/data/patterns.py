"""New accompaniment patterns from simple rules, beyond the 18 shipped archetypes.

`generated_archetype` writes a whole archetype (the format of `archetypes.json`,
see `groove.data.styles` for the notation) for one meter, so a generated style is
perturbed and played exactly like an archetype's. The rules are the common
practice of popular-music drumming, bass and comping, as the archetypes themselves
show it; none is taken from one source, and the number of syncopations is kept
moderate, where listeners feel the most groove (Witek et al. 2014, "Syncopation,
body-movement and pleasure in groove music", PLoS ONE 9(4): e94446):

- drums: the kick on the downbeat, a backbeat snare on the weak beats (2 and 4;
  in 3/4 on 2 and 3, or on 3), or a half-time snare on 3, or four on the floor,
  plus a few syncopated kicks (off-beat eighths, the sixteenth before a beat); a
  hi-hat, ride or shaker ostinato in quarters, eighths or sixteenths with accents
  on the beats; now and then ghost snares, an open hat on the last off-beat and a
  crash on the first bar. The second bar varies the kick.
- bass: locked to the kick (the bassist plays with the drummer's foot), roots on
  the downbeat and chord tones elsewhere, perhaps a chromatic approach into the
  next bar; or a straight eighth-note root pulse; or, in a swung feel, a walking
  quarter-note line.
- comping: hits on the beats, on the off-beats, in a syncopated figure, held pads,
  or arpeggios; a guitar strums down on the beat and up between (the picking
  hand's motion), or scratches muted sixteenths.

Tempos suit the busiest ostinato (sixteenth hats are not played at 180 qpm).
"""

from __future__ import annotations

from typing import Any

import numpy as np

# Grid steps per bar and per counted beat (a quarter; a dotted quarter in 12/8).
_STEPS = {"4/4": (16, 4), "3/4": (12, 4), "12/8": (12, 3)}
# GM drum pitches: snares (acoustic, electric, side stick, clap) and their odds,
# ostinato instruments (closed and pedal hi-hat, ride, ride bell, maracas, shaker,
# tambourine) and their odds, and hand percussion (bongos, congas, cowbell, cabasa,
# claves, wood block).
_SNARES = {38: 0.6, 40: 0.15, 37: 0.15, 39: 0.1}
_OSTINATI = {42: 0.5, 44: 0.05, 51: 0.15, 53: 0.05, 70: 0.1, 82: 0.1, 54: 0.05}
_PERCUSSION = (60, 61, 62, 63, 64, 56, 69, 75, 76)
# Tempo ranges (qpm) by the ostinato's subdivision.
_TEMPI = {"16ths": (72, 118), "8ths": (84, 160), "quarters": (100, 190), "12/8": (50, 92)}


def generated_archetype(
    rng: np.random.Generator, meter: str, programs: dict[str, list[int]]
) -> dict[str, Any]:
    """A new archetype for `meter` ("4/4", "3/4" or "12/8"), written from rules.

    Args:
        rng: The random generator (the archetype is a function of its state).
        meter: The meter the patterns are written for.
        programs: GM programs to choose from per pitched role.
    """
    steps, beat = _STEPS[meter]
    drums, kick, subdivision = _drums(rng, meter, steps, beat)
    swing = 0.5
    if meter != "12/8":
        swing = float(rng.choice([0.5, 0.58, 0.66], p=[0.65, 0.2, 0.15]))
    lo, hi = _TEMPI["12/8" if meter == "12/8" else subdivision]
    low = int(rng.integers(lo, (lo + hi) // 2))
    archetype: dict[str, Any] = {
        "name": "generated",
        "meter": meter,
        "tempo": [low, int(rng.integers(low + 8, hi + 1))],
        "swing": swing,
        "drums": drums,
        "bass": _bass(rng, kick, steps, beat, walking=swing > 0.6, programs=programs["bass"]),
    }
    for role, chance in (("keys", 0.75), ("guitar", 0.6), ("strings", 0.45)):
        archetype[role] = (
            _comp(rng, role, steps, beat, programs[role]) if rng.random() < chance else None
        )
    return archetype


def _positions(steps: int, beat: int) -> tuple[list[int], list[int], list[int]]:
    """Beats, off-beat eighths and the other steps of a bar's grid."""
    beats = list(range(0, steps, beat))
    if beat == 4:
        offs = [b + 2 for b in beats]
        others = [s for s in range(steps) if s % 2]
    else:  # 12/8: the triplet eighths between the dotted-quarter beats
        offs = [b + 2 for b in beats]
        others = [b + 1 for b in beats]
    return beats, offs, others


def _drums(rng: np.random.Generator, meter: str, steps: int, beat: int):
    """Drum patterns (pitch -> bars), the kick's steps in bar one, the ostinato's grid."""
    beats, offs, others = _positions(steps, beat)
    n_beats = len(beats)
    family = str(rng.choice(["backbeat", "half_time", "four_floor"], p=[0.6, 0.2, 0.2]))
    if n_beats == 3:
        snare_beats = [1, 2] if rng.random() < 0.5 else [2]
        family = "waltz"
    elif family == "half_time":
        snare_beats = [2]
    else:
        snare_beats = [1, 3]
    snare_steps = {beats[i] for i in snare_beats}

    kick = {0}
    if family == "four_floor":
        kick |= set(beats)
    else:
        free = [s for s in (*beats[1:], *offs, *others) if s not in snare_steps]
        weights = np.array([3.0 if s in beats else 2.0 if s in offs else 1.0 for s in free])
        extra = int(rng.integers(1, 4))
        kick |= set(
            rng.choice(
                free, size=min(extra, len(free)), replace=False, p=weights / weights.sum()
            ).tolist()
        )
    kick_bars = [_cells(steps, {s: "X" if s == 0 else "x" for s in kick})]
    if family != "four_floor" and rng.random() < 0.5:  # bar two pushes into bar one
        late = [s for s in range(steps - beat, steps) if s not in snare_steps and s not in kick]
        if late:
            kick_bars.append(
                _cells(steps, {**{s: "x" for s in kick}, 0: "X", int(rng.choice(late)): "x"})
            )
    snare = {s: "X" for s in snare_steps}
    if rng.random() < 0.35:  # ghost notes between the hits
        free = [s for s in (*offs, *others) if s not in snare_steps]
        for s in rng.choice(free, size=min(2, len(free)), replace=False).tolist():
            snare[s] = "g"
    snare_pitch = int(rng.choice(list(_SNARES), p=list(_SNARES.values())))
    if family == "four_floor" and rng.random() < 0.4:
        snare_pitch = 39  # a clap
    kick_pitch = 35 if rng.random() < 0.2 else 36
    drums: dict[str, Any] = {str(kick_pitch): kick_bars, str(snare_pitch): _cells(steps, snare)}

    subdivision = "8ths"
    if meter != "12/8":
        subdivision = str(rng.choice(["16ths", "8ths", "quarters"], p=[0.3, 0.55, 0.15]))
    hat_pitch = int(rng.choice(list(_OSTINATI), p=list(_OSTINATI.values())))
    hat = {}
    grid = {"16ths": range(steps), "8ths": sorted([*beats, *offs]), "quarters": beats}
    if meter == "12/8":
        grid["8ths"] = range(steps)
    for s in grid[subdivision]:
        hat[s] = "x" if s in beats else "o" if rng.random() < 0.6 else "x"
    drums[str(hat_pitch)] = _cells(steps, hat)
    if hat_pitch == 42 and beat == 4 and rng.random() < 0.3:  # an open hat on the last "and"
        drums["46"] = _cells(steps, {offs[-1]: "x"})
        drums["42"] = _cells(steps, {s: c for s, c in hat.items() if s != offs[-1]})
    if rng.random() < 0.35:
        pitch, bars = _percussion(rng, steps, beat, meter)
        drums.setdefault(str(pitch), bars)
    if rng.random() < 0.3:
        drums["49"] = _cells(steps, {0: "X"})
    return drums, sorted(kick), subdivision


def _percussion(rng: np.random.Generator, steps: int, beat: int, meter: str):
    """A hand-percussion part: the son clave (3-2 or 2-3, over two bars of 4/4), or a
    few syncopated hits that repeat each bar."""
    if meter == "4/4" and rng.random() < 0.3:
        three, two = _cells(steps, {0: "x", 6: "x", 12: "x"}), _cells(steps, {4: "x", 8: "x"})
        return 75, [three, two] if rng.random() < 0.5 else [two, three]
    beats, offs, others = _positions(steps, beat)
    pool = [*offs, *others, *beats[1:]]
    hits = rng.choice(pool, size=min(int(rng.integers(2, 6)), len(pool)), replace=False)
    pitch = int(rng.choice(_PERCUSSION))
    return pitch, [_cells(steps, {int(h): "x" if h in beats else "o" for h in hits})]


def _bass(rng, kick: list[int], steps: int, beat: int, *, walking: bool, programs) -> dict:
    beats, offs, _ = _positions(steps, beat)
    if walking and rng.random() < 0.7:
        cells = {b: "R" if b == 0 else str(rng.choice(["C", "S", "5", "3"])) for b in beats}
        cells[beats[-1]] = "A"  # approach the next bar's root by a half step
        articulation = "walking"
    elif rng.random() < 0.25:
        cells = {s: "R" for s in sorted([*beats, *offs])}
        articulation = "short"
    else:
        cells = {
            s: "R" if s == 0 else str(rng.choice(["R", "5", "8", "C"], p=[0.5, 0.2, 0.15, 0.15]))
            for s in kick
        }
        if rng.random() < 0.3:
            cells[steps - max(beat // 2, 1)] = "A"
        articulation = "legato" if rng.random() < 0.4 else "short"
    pattern = _cells(steps, cells, hold=articulation == "legato")
    variant = _cells(steps, {**cells, beats[-1]: "5"}, hold=articulation == "legato")
    return {
        "pattern": pattern,
        "variants": [variant],
        "program": int(rng.choice(programs)),
        "register": [28, 50],
        "articulation": articulation,
    }


def _comp(rng, role: str, steps: int, beat: int, programs) -> dict:
    beats, offs, _ = _positions(steps, beat)
    spec: dict[str, Any] = {"program": int(rng.choice(programs))}
    if role == "strings":
        hits = [0] if rng.random() < 0.6 else [0, steps // 2]
        spec.update(pattern=_cells(steps, {s: "x" for s in hits}, hold=True), articulation="legato")
        return spec
    kind = str(
        rng.choice(["beats", "offbeats", "syncopated", "pad", "arp"], p=[0.2, 0.2, 0.35, 0.1, 0.15])
    )
    if kind == "arp":
        order = [int(i) for i in rng.choice(4, size=int(rng.choice([4, 6, 8])))]
        spec.update(
            pattern="arp:" + ",".join(map(str, order)),
            step=int(rng.choice([1, 2])) if beat == 3 else 2,
        )
        return spec
    if kind == "beats":
        hits = beats
    elif kind == "offbeats":
        hits = offs
    elif kind == "pad":
        hits = [0]
    else:  # a figure: the downbeat, an anticipation and a few eighths
        pool = [s for s in (*beats[1:], *offs) if s]
        hits = [
            0,
            *rng.choice(pool, size=min(int(rng.integers(2, 5)), len(pool)), replace=False).tolist(),
        ]
    legato = kind == "pad" or rng.random() < 0.3
    if role == "guitar" and kind != "pad":
        if rng.random() < 0.25 and beat == 4:  # muted sixteenth scratches round the hits
            cells = {s: "m" for s in range(steps)} | {s: "D" if s in beats else "U" for s in hits}
        else:
            cells = {s: "D" if s in beats else "U" for s in hits}
        spec.update(pattern=_cells(steps, cells), style="strum", articulation="short")
        return spec
    spec.update(
        pattern=_cells(steps, {int(s): "x" for s in hits}, hold=legato),
        voicing=str(rng.choice(["close", "open", "shell", "rootless", "spread"])),
        articulation="legato" if legato else "short",
    )
    return spec


def _cells(steps: int, hits: dict[int, str], *, hold: bool = False) -> str:
    """A bar pattern with `hits` (step -> symbol); with `hold`, each hit is held with
    `-` up to the next one."""
    cells = ["."] * steps
    for step, symbol in hits.items():
        cells[int(step)] = symbol
    if hold:
        for i in range(1, steps):
            if cells[i] == "." and cells[i - 1] != ".":
                cells[i] = "-"
    return "".join(cells)
