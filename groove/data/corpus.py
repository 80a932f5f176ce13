"""The synthetic parallel corpus: many charts, each played in several styles.

`plan_corpus` draws the styles and charts from one seed, splits them into
train / validation / test with disjoint styles and disjoint charts (as
Groove2Groove did), adds "itest" (test charts in training styles), and pairs each
chart with several styles of its meter. `build_corpus` renders the plan to MIDI in
shards: each shard is written to a `.part` folder and renamed when complete, so an
interrupted run resumes where it stopped and never leaves a half-written file. The
manifest records every seed, so the corpus rebuilds byte for byte.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from groove.data.band import render_score
from groove.data.charts import parse_chart, random_chart
from groove.data.styles import Style
from groove.errors import ConfigError
from groove.fileio import atomic_open
from groove.midi import save

SPLITS = ("train", "val", "test", "itest")
MANIFEST = "manifest.json"


def _seed(*key: int) -> int:
    """A 31-bit seed derived from integers (stable across numpy versions)."""
    return int(np.random.SeedSequence(list(key)).generate_state(1)[0] >> 1)


def _split_of(index: int, count: int, fractions=(0.8, 0.1)) -> str:
    cut_train = round(count * fractions[0])
    cut_val = cut_train + max(round(count * fractions[1]), 1 if count >= 3 else 0)
    return "train" if index < cut_train else "val" if index < cut_val else "test"


def plan_corpus(
    n_styles: int, n_charts: int, *, seed: int = 0, styles_per_chart: int = 4, shard_size: int = 64
) -> dict[str, Any]:
    """The corpus as plain data: styles, charts, and what to render into which shard.

    Args:
        n_styles: Number of random styles.
        n_charts: Number of random charts.
        seed: The corpus seed; every style, chart and render seed derives from it.
        styles_per_chart: How many styles of its split (and meter) play each chart.
        shard_size: Renders per shard.
    """
    if n_styles < 1 or n_charts < 1 or styles_per_chart < 1 or shard_size < 1:
        raise ConfigError("styles, charts, styles per chart and shard size must be positive")
    styles = []
    for i in range(n_styles):
        s = _seed(seed, 1, i)
        style = Style.random(s)
        styles.append({"index": i, "seed": s, "name": style.name, "meter": style.meter})
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
    return {
        "version": 1,
        "config": {
            "styles": n_styles,
            "charts": n_charts,
            "seed": seed,
            "styles_per_chart": styles_per_chart,
            "shard_size": shard_size,
        },
        "styles": styles,
        "charts": charts,
        "items": items,
    }


def _render_shard(args: tuple[str, str, list[dict], dict[int, dict], dict[int, dict]]) -> int:
    """Render one shard into `<shard>.part`, then rename it; returns files written."""

    out, shard, items, styles, charts = args
    final = Path(out) / shard
    part = final.with_name(final.name + ".part")
    shutil.rmtree(part, ignore_errors=True)
    part.mkdir(parents=True)
    style_cache: dict[int, Style] = {}
    for item in items:
        chart_info = charts[item["chart"]]
        chart = parse_chart(chart_info["text"], chart_info["meter"])
        if item["style"] not in style_cache:
            style_cache[item["style"]] = Style.random(styles[item["style"]]["seed"])
        score = render_score(chart, style_cache[item["style"]], item["render_seed"])
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
) -> dict[str, Any]:
    """Render the corpus into `out` (resuming a run that was stopped) and return its manifest.

    A finished corpus folder is left as it is. A folder holding a different plan
    (other counts or seed) is refused rather than mixed.
    """
    from tqdm import tqdm

    out = Path(out)
    manifest = plan_corpus(
        n_styles, n_charts, seed=seed, styles_per_chart=styles_per_chart, shard_size=shard_size
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
    shards: dict[str, list[dict]] = {}
    for item in manifest["items"]:
        shards.setdefault(item["shard"], []).append(item)
    todo = [name for name in shards if not (out / name).is_dir()]
    styles = {s["index"]: s for s in manifest["styles"]}
    charts = {c["index"]: c for c in manifest["charts"]}
    jobs = [(str(out), name, shards[name], styles, charts) for name in todo]
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
