"""Style-transfer triplets cut from the synthetic corpus (in memory).

A **triplet** is what the transfer model learns from (Cífka et al. 2020, section IV):

- *content*: a segment of chart C played in style A, as a piano roll (drums left out);
- *style example*: a segment of another chart C' played in style B, one role;
- *target*: the same segment of C played in style B, the same role;
- the role.

`corpus_triplets` cuts every (chart, style A, style B) of a corpus split with
`groove.data.segments` (the code inference uses on a user's song) and tokenizes
style and target; `groove.data.pipeline` writes them to disk and reads them back.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from groove.data.corpus import MANIFEST, SPLITS, render_item
from groove.data.segments import content_roll, cut, role_score, segments
from groove.errors import ConfigError
from groove.midi import Score, load
from groove.midi.constants import METERS
from groove.midi.roles import TRANSFER_ROLES, parse_role
from groove.tokenizers import BeatTokenizer, Tokenizer

# Longest target or style example kept, in tokens; 8 busy bars of drums take ~1000.
MAX_TOKENS = 2048


@dataclasses.dataclass
class Triplet:
    """One training example.

    Attributes:
        content: uint8 `(frames, 128)` roll of the loudest velocity sounding (0: none),
            4 frames per beat; see `groove.data.segments.content_roll`.
        style: Token ids of the style example (one role, no BOS/EOS).
        target: Token ids of the target (one role, no BOS/EOS).
        role: One of `TRANSFER_ROLES`.
        info: Where it came from: chart, content_style, target_style, segment,
            example_chart, example_segment (indices into the corpus manifest).
        bar_beats: Quarter notes per bar of the segment (4 for 4/4, 6 for 12/8).
    """

    content: np.ndarray
    style: np.ndarray
    target: np.ndarray
    role: str
    info: dict[str, int]
    bar_beats: float = 4.0


def _bar_end(chart: dict[str, Any], tpb: int) -> int:
    return round(chart["bars"] * METERS[chart["meter"]] * tpb)


def corpus_triplets(
    corpus: str | os.PathLike | dict[str, Any],
    split: str,
    *,
    bars: int = 8,
    roles: Sequence[str] = TRANSFER_ROLES,
    tokenizer: Tokenizer | None = None,
    seed: int = 0,
    max_tokens: int = MAX_TOKENS,
    stats: dict[str, int] | None = None,
    charts: set[int] | None = None,
) -> Iterator[Triplet]:
    """Every triplet of one split of a corpus built by `groove data synth`.

    For each chart, each ordered pair of distinct styles (A, B) that play it, each
    segment and each role that B plays, the style example is a random segment of a
    random other chart that B plays in the same split (seeded; for "itest", in the
    training split, where its styles live). Triplets whose style
    example cannot be found, is silent, or whose tokens exceed `max_tokens` are
    skipped and counted in `stats`.

    Args:
        corpus: The corpus folder (with its `manifest.json`), or a plan from
            `groove.data.corpus.plan_corpus`, rendered in memory (the same notes
            the files hold, without writing them).
        split: "train", "val", "test" or "itest".
        bars: Bars per segment; a chart's last, shorter segment is kept when it has
            at least half as many.
        roles: Roles to make targets for (default all of `TRANSFER_ROLES`).
        tokenizer: Tokenizer for style and target (default `BeatTokenizer()`).
        seed: Seed for the choice of style examples.
        max_tokens: Longest style example or target kept.
        stats: A dict that receives counts of what was kept and skipped.
        charts: Only these charts (indices), to share the work between processes.
    """
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; choose from {', '.join(SPLITS)}")
    roles = [parse_role(r) for r in roles]
    tokenizer = tokenizer or BeatTokenizer()
    if isinstance(corpus, dict):
        manifest, corpus = corpus, None
    else:
        corpus = Path(corpus)
        manifest = read_manifest(corpus)
    stats = {} if stats is None else stats
    charts_info = {c["index"]: c for c in manifest["charts"]}
    # Content and target come from the split; "itest" (test charts in training
    # styles) takes its style examples from the training renders of those styles.
    by_chart: dict[int, dict[int, str]] = {}
    files: dict[tuple[int, int], str] = {}
    by_style: dict[int, list[int]] = {}
    for item in manifest["items"]:
        if item["split"] == split:
            by_chart.setdefault(item["chart"], {})[item["style"]] = item["file"]
        if item["split"] == split or (split == "itest" and item["split"] == "train"):
            files[item["chart"], item["style"]] = item["file"]
            by_style.setdefault(item["style"], []).append(item["chart"])

    cache: dict[str, tuple[Score, list]] = {}
    renders = {item["file"]: item for item in manifest["items"]}

    def piece(file: str, chart: int) -> tuple[Score, list]:
        if file not in cache:
            # Without a folder, the notes the file would hold, made in memory.
            score = render_item(manifest, renders[file]) if corpus is None else load(corpus / file)
            end = _bar_end(charts_info[chart], score.ticks_per_beat)
            cache[file] = (score, segments(score, bars, min_bars=(bars + 1) // 2, end=end))
        return cache[file]

    def count(key: str) -> None:
        stats[key] = stats.get(key, 0) + 1

    for chart in sorted(by_chart):
        if charts is not None and chart not in charts:
            continue
        rng = np.random.default_rng([seed, chart])
        players = sorted(by_chart[chart])
        for style_a in players:
            content, windows = piece(by_chart[chart][style_a], chart)
            rolls = [content_roll(content, w, velocity=True) for w in windows]
            for style_b in players:
                if style_b == style_a:
                    continue
                target_score, target_windows = piece(by_chart[chart][style_b], chart)
                others = [c for c in by_style[style_b] if c != chart]
                for role in roles:
                    played = role_score(target_score, role)
                    if not played.tracks:
                        continue
                    for k, window in enumerate(target_windows[: len(windows)]):
                        if not others:
                            count("no_other_chart")
                            continue
                        other = int(rng.choice(others))
                        example, example_windows = piece(files[other, style_b], other)
                        j = int(rng.integers(len(example_windows)))
                        style_ids = tokenizer.encode(
                            cut(role_score(example, role), example_windows[j])
                        )
                        target_ids = tokenizer.encode(cut(played, window))
                        if len(style_ids) == 0:
                            count("silent_style_example")
                            continue
                        if max(len(style_ids), len(target_ids)) > max_tokens:
                            count("too_long")
                            continue
                        count("triplets")
                        yield Triplet(
                            content=np.rint(rolls[k] * 127).astype(np.uint8),
                            style=style_ids.astype(np.int32),
                            target=target_ids.astype(np.int32),
                            role=role,
                            info={
                                "chart": chart,
                                "content_style": style_a,
                                "target_style": style_b,
                                "segment": k,
                                "example_chart": other,
                                "example_segment": j,
                            },
                            bar_beats=float(windows[k].beats_per_bar),
                        )


def read_manifest(corpus: Path) -> dict[str, Any]:
    path = Path(corpus) / MANIFEST
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"{corpus}: no {MANIFEST}; build a corpus with 'groove data synth'"
        ) from None
    except ValueError as e:
        raise ConfigError(f"{path}: not a corpus manifest ({e})") from None
