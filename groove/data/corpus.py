"""The synthetic parallel corpus: many charts, each played in several styles.

`plan_corpus` draws the styles and charts from one seed, splits them into
train / validation / test with disjoint styles and disjoint charts (as
Groove2Groove did), adds "itest" (test charts in training styles), and pairs each
chart with several styles of its meter. `build_corpus` renders the plan to MIDI in
shards: each shard is written to a `.part` folder and renamed when complete, so an
interrupted run resumes where it stopped and never leaves a half-written file. The
manifest records every seed and option, so the corpus rebuilds byte for byte.

Options, recorded in the manifest's config (`CORPUS_OPTIONS` are the defaults of
`build_corpus` and `groove data synth`, so of every new corpus):
- `style_mix` (`STYLE_MIX`): the kinds of style drawn (`Style.random`'s `mix`):
  archetypes mutated, recombined, and generated from rules;
- `melody` (`MELODY`): the chance that a style has a lead melody, so that content
  looks like a real song's (its role is "other": never a target);
- `humanise` (False): renders are clean takes, on the grid at the written
  velocities, so a target holds no jitter a model cannot predict
  (`groove.data.humanise.humanise` adds it to any score afterwards).

`LEGACY_OPTIONS` (archetypes only, no melody, humanised renders) are what every
corpus was built with before the options existed. A manifest without the option keys
means them, and they are `plan_corpus`'s defaults, so a script that plans the corpus
a model was trained or tested on (its held-out pairs) still gets that corpus.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from groove.data.band import render_score
from groove.data.charts import parse_chart, random_chart
from groove.data.styles import LEGACY_MIX, Style, check_mix
from groove.errors import ConfigError
from groove.fileio import atomic_open
from groove.midi import Score, save

SPLITS = ("train", "val", "test", "itest")
MANIFEST = "manifest.json"
# A new corpus: 40% archetype styles (the old kind), 30% recombined, 30% generated,
# so many held-out styles play patterns no training style plays; 70% with a melody.
STYLE_MIX = {"archetype": 0.4, "recombined": 0.3, "generated": 0.3}
MELODY = 0.7
CORPUS_OPTIONS = {"style_mix": STYLE_MIX, "melody": MELODY, "humanise": False}
# What every corpus was before the options, and what a manifest without them means.
LEGACY_OPTIONS = {"style_mix": LEGACY_MIX, "melody": 0.0, "humanise": True}
# Redraws of a style whose patterns another style of the corpus already plays.
MAX_REDRAWS = 20


def _seed(*key: int) -> int:
    """A 31-bit seed derived from integers (stable across numpy versions)."""
    return int(np.random.SeedSequence(list(key)).generate_state(1)[0] >> 1)


def _split_of(index: int, count: int, fractions=(0.8, 0.1)) -> str:
    cut_train = round(count * fractions[0])
    cut_val = cut_train + max(round(count * fractions[1]), 1 if count >= 3 else 0)
    return "train" if index < cut_train else "val" if index < cut_val else "test"


def plan_corpus(
    n_styles: int,
    n_charts: int,
    *,
    seed: int = 0,
    styles_per_chart: int = 4,
    shard_size: int = 64,
    style_mix: Mapping[str, float] | None = None,
    melody: float = 0.0,
    humanise: bool = True,
) -> dict[str, Any]:
    """The corpus as plain data: styles, charts, and what to render into which shard.

    Args:
        n_styles: Number of random styles.
        n_charts: Number of random charts.
        seed: The corpus seed; every style, chart and render seed derives from it.
        styles_per_chart: How many styles of its split (and meter) play each chart.
        shard_size: Renders per shard.
        style_mix: Chances of each kind of style (`Style.random`'s `mix`); None is
            `LEGACY_MIX`, archetypes only.
        melody: Chance that a style has a lead melody.
        humanise: Render with the styles' timing and velocity jitter.

    The option defaults are `LEGACY_OPTIONS`, the plan of a corpus built before the
    options existed; pass `**CORPUS_OPTIONS` to plan what `build_corpus` builds.
    With options other than `LEGACY_OPTIONS`, no two styles of the corpus play the
    same patterns in every role (a style that would is drawn again from the next
    seed), so a held-out style is never a training style under another name.
    """
    if n_styles < 1 or n_charts < 1 or styles_per_chart < 1 or shard_size < 1:
        raise ConfigError("styles, charts, styles per chart and shard size must be positive")
    if not 0.0 <= melody <= 1.0:
        raise ConfigError(f"melody is a chance between 0 and 1, not {melody}")
    options = {
        "style_mix": check_mix(style_mix),
        "melody": float(melody),
        "humanise": bool(humanise),
    }
    legacy = options == LEGACY_OPTIONS
    styles = []
    seen: set = set()
    for i in range(n_styles):
        for attempt in range(MAX_REDRAWS + 1):
            s = _seed(seed, 1, i, *([attempt] if attempt else []))
            style = Style.random(s, mix=options["style_mix"], melody=options["melody"])
            signature = pattern_signature(style)
            if legacy or signature not in seen:
                break
        seen.add(signature)
        styles.append({"index": i, "seed": s, "name": style.name, "meter": style.meter})
        if not legacy:
            styles[-1]["melody"] = style.melody is not None
    order = np.random.default_rng(_seed(seed, 2)).permutation(n_styles)
    for rank, i in enumerate(order):
        styles[i]["split"] = _split_of(rank, n_styles)
    meters = [s["meter"] for s in styles]
    charts = []
    rng = np.random.default_rng(_seed(seed, 3))
    for j in range(n_charts):
        s = _seed(seed, 4, j)
        meter = meters[int(rng.integers(n_styles))]  # meters as common as among the styles
        chart = random_chart(s, meter=meter)
        charts.append(
            {"index": j, "seed": s, "meter": meter, "bars": chart.bars, "text": chart.to_text()}
        )
        charts[-1]["split"] = _split_of(j, n_charts)

    items = []
    for chart in charts:
        wanted = {"train": ("train",), "val": ("val",), "test": ("test", "itest")}[chart["split"]]
        for split in wanted:
            style_split = "train" if split == "itest" else split
            pool = [
                s["index"]
                for s in styles
                if s["split"] == style_split and s["meter"] == chart["meter"]
            ]
            if not pool:
                continue
            k = min(styles_per_chart, len(pool))
            chosen = np.random.default_rng(_seed(seed, 5, chart["index"], SPLITS.index(split)))
            for style_index in sorted(chosen.choice(pool, k, replace=False).tolist()):
                items.append(
                    {
                        "split": split,
                        "chart": chart["index"],
                        "style": int(style_index),
                        "render_seed": _seed(seed, 6, chart["index"], int(style_index)),
                    }
                )
    for split in SPLITS:
        mine = [item for item in items if item["split"] == split]
        for n, item in enumerate(mine):
            shard = n // shard_size
            item["shard"] = f"{split}/shard-{shard:05d}"
            item["file"] = f"{item['shard']}/c{item['chart']:05d}_s{item['style']:05d}.mid"
    config = {
        "styles": n_styles,
        "charts": n_charts,
        "seed": seed,
        "styles_per_chart": styles_per_chart,
        "shard_size": shard_size,
    }
    return {
        "version": 1 if legacy else 2,
        "config": config if legacy else {**config, **options},
        "styles": styles,
        "charts": charts,
        "items": items,
    }


def pattern_signature(style: Style) -> tuple:
    """What a style plays, without its name, tempo or feel: meter, drum patterns and
    each part's patterns (or arpeggio). Two styles with one signature play alike."""
    drums = tuple(sorted(style.drums.items()))
    parts = tuple(
        (role, part.patterns, part.arp, part.voicing) for role, part in sorted(style.parts.items())
    )
    return style.meter, drums, parts


def corpus_options(manifest: dict[str, Any]) -> dict[str, Any]:
    """The options a corpus was built with (`LEGACY_OPTIONS` for a manifest without them)."""
    config = manifest.get("config", {})
    return {key: config.get(key, value) for key, value in LEGACY_OPTIONS.items()}


def corpus_style(manifest: dict[str, Any], style: int) -> Style:
    """Style number `style` of a corpus (its index), as its renders play it."""
    entry = manifest["styles"][style]
    options = corpus_options(manifest)
    return Style.random(entry["seed"], mix=options["style_mix"], melody=options["melody"])


def render_item(
    manifest: dict[str, Any], item: dict[str, Any], style: Style | None = None
) -> Score:
    """The score of one render of a corpus (what its file holds), made in memory.

    Args:
        manifest: The corpus manifest (or plan).
        item: One of its items.
        style: The item's style, when the caller already has it (`corpus_style`).
    """
    chart = manifest["charts"][item["chart"]]
    style = corpus_style(manifest, item["style"]) if style is None else style
    humanise = corpus_options(manifest)["humanise"]
    return render_score(
        parse_chart(chart["text"], chart["meter"]), style, item["render_seed"], humanise=humanise
    )


def _render_shard(args: tuple[str, str, list[dict], dict[str, Any]]) -> int:
    """Render one shard into `<shard>.part`, then rename it; returns files written."""

    out, shard, items, manifest = args
    final = Path(out) / shard
    part = final.with_name(final.name + ".part")
    shutil.rmtree(part, ignore_errors=True)
    part.mkdir(parents=True)
    style_cache: dict[int, Style] = {}
    for item in items:
        if item["style"] not in style_cache:
            style_cache[item["style"]] = corpus_style(manifest, item["style"])
        score = render_item(manifest, item, style_cache[item["style"]])
        save(score, part / Path(item["file"]).name)
    os.replace(part, final)
    return len(items)


def build_corpus(
    out: str | os.PathLike,
    n_styles: int,
    n_charts: int,
    *,
    seed: int = 0,
    styles_per_chart: int = 4,
    workers: int = 1,
    shard_size: int = 64,
    progress: bool = True,
    style_mix: Mapping[str, float] | None = STYLE_MIX,
    melody: float = MELODY,
    humanise: bool = False,
    plan_only: bool = False,
) -> dict[str, Any]:
    """Render the corpus into `out` (resuming a run that was stopped) and return its manifest.

    With `plan_only`, write the manifest alone: every seed is in it, so
    `groove train transfer` can stream triplets from it with nothing rendered.

    A finished corpus folder is left as it is. A folder holding a different plan
    (other counts, seed or options) is refused rather than mixed; to resume or
    rebuild a corpus built before the options existed, pass `**LEGACY_OPTIONS`.
    The options are `plan_corpus`'s, with `CORPUS_OPTIONS` as defaults: a new
    corpus mixes kinds of style, has melodies, and renders clean takes.
    """
    from tqdm import tqdm

    out = Path(out)
    manifest = plan_corpus(
        n_styles,
        n_charts,
        seed=seed,
        styles_per_chart=styles_per_chart,
        shard_size=shard_size,
        style_mix=style_mix,
        melody=melody,
        humanise=humanise,
    )
    existing = out / MANIFEST
    if existing.exists():
        old = json.loads(existing.read_text(encoding="utf-8"))
        if old.get("config") != manifest["config"]:
            raise ConfigError(
                f"{out} holds a corpus built with {old.get('config')}; "
                "choose another folder or the same settings"
            )
    out.mkdir(parents=True, exist_ok=True)
    with atomic_open(existing, "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1)
    if plan_only:
        return manifest
    shards: dict[str, list[dict]] = {}
    for item in manifest["items"]:
        shards.setdefault(item["shard"], []).append(item)
    todo = [name for name in shards if not (out / name).is_dir()]
    plan = {key: manifest[key] for key in ("config", "styles", "charts")}  # no items to ship
    jobs = [(str(out), name, shards[name], plan) for name in todo]
    bar = tqdm(
        total=len(manifest["items"]),
        initial=len(manifest["items"]) - sum(len(shards[n]) for n in todo),
        unit="file",
        desc="rendering",
        disable=None if progress else True,
    )
    with bar:
        for done in _map(jobs, workers):
            bar.update(done)
    return manifest


def _map(jobs: list, workers: int) -> Iterable[int]:
    if workers <= 1 or len(jobs) <= 1:
        yield from map(_render_shard, jobs)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        yield from pool.map(_render_shard, jobs)
