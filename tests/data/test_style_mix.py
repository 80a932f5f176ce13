"""Kinds of random style: archetypes, recombined archetypes, and patterns generated from rules."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from groove.data import Style, random_chart, render_score
from groove.data.patterns import generated_archetype
from groove.data.style_gen import GENERATED_STREAM
from groove.data.styles import GRIDS, LEGACY_MIX, archetypes, check_mix
from groove.errors import ConfigError
from groove.eval.style import style_profile

# The mix of a new corpus (`groove.data.corpus.STYLE_MIX`).
STYLE_MIX = {"archetype": 0.4, "recombined": 0.3, "generated": 0.3}
ONLY = {kind: {kind: 1.0} for kind in ("archetype", "recombined", "generated")}


def pattern_strings(styles) -> set[tuple[str, str]]:
    """Every distinct (role, bar pattern) the styles play; drums by pitch."""
    out = set()
    for s in styles:
        out |= {(f"drums:{pitch}", p) for pitch, bars in s.drums.items() for p in bars}
        for role, part in s.parts.items():
            out |= {(role, p) for p in (part.patterns if not part.arp else [str(part.arp)])}
    return out


def test_every_kind_is_seeded_and_fits_its_meter_grid():
    for kind, mix in ONLY.items():
        for seed in range(60):
            style = Style.random(seed, mix=mix)
            assert style == Style.random(seed, mix=mix)
            assert Style.from_json(style.to_json()) == style
            steps, _ = GRIDS[style.meter]
            bars = [*itertools.chain(*style.drums.values())]
            bars += [p for part in style.parts.values() if not part.arp for p in part.patterns]
            assert bars and all(len(b) == steps for b in bars), (kind, style.name)
            assert "bass" in style.parts or style.parts
        for meter in GRIDS:
            assert Style.random(7, mix=mix, meter=meter).meter == meter


def test_a_recombined_style_takes_its_parts_from_several_archetypes():
    names = {a["name"] for a in archetypes()["archetypes"]} | {"generated"}
    sources = []
    for seed in range(80):
        style = Style.random(seed, mix=ONLY["recombined"])
        parts = style.name.rsplit("-", 1)[0].split("|")
        assert len(parts) == 5 and set(parts) <= names
        sources.append(len(set(parts)))
    assert np.mean([n >= 3 for n in sources]) > 0.5


def test_a_kind_makes_the_same_style_of_a_seed_whatever_the_mix():
    # Changing the mix picks other kinds for some seeds; it never changes what a kind makes.
    kinds = set()
    for seed in range(60):
        style = Style.random(seed, mix=STYLE_MIX)
        if "|" in style.name:
            kind = "recombined"
        elif style.name.startswith("generated"):
            kind = "generated"
        else:
            kind = "archetype"  # the old archetype style of that seed
        assert style == Style.random(seed, mix=ONLY[kind])
        kinds.add(kind)
    assert kinds == set(ONLY)


@pytest.mark.parametrize("meter", list(GRIDS))
def test_generated_patterns_follow_the_groove_rules(meter):
    programs = {r: list(p.values()) for r, p in archetypes()["roles_programs"].items()}
    steps, _ = GRIDS[meter]
    beat = 3 if meter == "12/8" else 4
    for seed in range(100):
        a = generated_archetype(np.random.default_rng([seed, GENERATED_STREAM]), meter, programs)
        kick = next(v for k, v in a["drums"].items() if k in ("35", "36"))
        assert all(bar[0] == "X" for bar in kick)  # the kick starts the bar
        snare = next(v for k, v in a["drums"].items() if k in ("37", "38", "39", "40"))
        backbeat = [i for i, c in enumerate(snare) if c == "X"]
        assert backbeat and all(i % beat == 0 and i > 0 for i in backbeat)
        ostinato = [
            v for k, v in a["drums"].items() if k in ("42", "44", "51", "53", "54", "70", "82")
        ]
        assert len(ostinato) == 1 and sum(c != "." for c in ostinato[0]) >= steps // beat - 1
        bass = a["bass"]["pattern"]
        assert len(bass) == steps and bass[0] in "Rb"
        low, high = a["tempo"]
        assert 40 <= low < high <= 200


def test_mixes_are_checked():
    assert check_mix(None) == LEGACY_MIX
    assert check_mix({"generated": 2, "recombined": 2}) == {
        "archetype": 0.0,
        "recombined": 0.5,
        "generated": 0.5,
    }
    for bad in ({"remix": 1}, {"generated": -1, "archetype": 2}, {"generated": 0}):
        with pytest.raises(ConfigError):
            Style.random(0, mix=bad)


def test_the_mix_makes_more_diverse_styles_than_the_archetypes_alone():
    old = [Style.random(seed) for seed in range(300)]
    new = [Style.random(seed, mix=STYLE_MIX) for seed in range(300)]
    assert len(pattern_strings(new)) > 1.3 * len(pattern_strings(old))

    def drum_distance(styles):
        charts = {m: random_chart(1, bars=4, meter=m) for m in GRIDS}
        rows = []
        for s in styles:
            score = render_score(charts[s.meter], s, 0, humanise=False)
            rows.append(style_profile(score, "drums", "drums", bars="score").counts.ravel())
        unit = np.array(rows) / np.linalg.norm(rows, axis=1, keepdims=True)
        return float(np.mean(1 - (unit @ unit.T)[np.triu_indices(len(rows), 1)]))

    assert drum_distance(new[:80]) > drum_distance(old[:80]) + 0.02
