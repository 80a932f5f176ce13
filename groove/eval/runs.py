"""Whole evaluations over folders: style transfer triples and corpus comparison.

`evaluate_transfer` scores (content, style, output) triples, and the "source"
(content as output) and "style" (style example as output) baselines beside them.
`evaluate_corpus` gives the descriptive metrics of two folders and their overlap.
Both return plain dictionaries that `json.dump` writes as they are, and
`groove.eval.report` turns into HTML. A file that cannot be read is reported in
`"skipped"` and the run goes on.
"""

from __future__ import annotations

import dataclasses
import math
import os
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from groove.errors import ConfigError, GrooveError, GrooveWarning
from groove.eval.content import chroma_similarity
from groove.eval.descriptive import METRICS, intra_inter_overlap, overlapping_area
from groove.eval.style import pool_profiles, style_fit, style_profiles
from groove.midi import Score
from groove.midi.constants import MIDI_SUFFIXES
from groove.midi.notes import as_score
from groove.midi.roles import PITCHED_ROLES

SYSTEMS = ("output", "source", "style")
SYSTEM_HELP = {
    "output": "the outputs being evaluated",
    "source": "baseline: the content itself as output (perfect content, no style change)",
    "style": "baseline: the style example itself as output (perfect style, other content)",
    "target": "reference: the ground-truth rendering of the content in the style",
}


@dataclasses.dataclass(frozen=True)
class Triple:
    """One style transfer: the content, the style example and the output that came of them."""

    content: Path
    style: Path
    output: Path


def midi_files(folder: str | os.PathLike) -> list[Path]:
    """MIDI files under `folder`, recursively, sorted by path."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"{folder}: not a folder")
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in MIDI_SUFFIXES and p.is_file())


def read_pairs(path: str | os.PathLike, content_dir: Path, style_dir: Path, output_dir: Path):
    """Triples from a tab-separated file of `content  style  output` lines.

    Paths are relative to their folders (absolute paths are kept). Blank lines, lines
    starting with `#` and a header line `content  style  output` are ignored.
    """
    triples = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            fields = line.split("\t")
            if [x.strip().lower() for x in fields] == ["content", "style", "output"]:
                continue
            if len(fields) != 3 or not all(x.strip() for x in fields):
                raise ConfigError(
                    f"{path}:{number}: expected 3 tab-separated paths "
                    f"(content, style, output), got {len(fields)} field(s)"
                )
            c, s, o = (x.strip() for x in fields)
            triples.append(Triple(content_dir / c, style_dir / s, output_dir / o))
    return triples


def _find_stem(folder: Path, stem: str) -> Path | None:
    for suffix in MIDI_SUFFIXES:
        for candidate in (folder / (stem + suffix), folder / (stem + suffix.upper())):
            if candidate.is_file():
                return candidate
    return None


def match_triples(content_dir: Path, style_dir: Path, output_dir: Path):
    """Triples by file name, for runs without a pairs file.

    An output named `A__B.mid` pairs content `A.mid` with style `B.mid`; any other
    output `X.mid` pairs content `X.mid` with style `X.mid`.

    Returns:
        (triples, skipped): skipped lists outputs whose content or style is missing.
    """
    triples, skipped = [], []
    for output in midi_files(output_dir):
        rel = output.relative_to(output_dir)
        name = rel.with_suffix("").as_posix()
        content_stem, _, style_stem = name.partition("__")
        content = _find_stem(content_dir, content_stem)
        style = _find_stem(style_dir, style_stem or content_stem)
        if content is None or style is None:
            missing = "content" if content is None else "style"
            skipped.append(
                {"file": str(output), "reason": f"no {missing} file matches its name ({name})"}
            )
            continue
        triples.append(Triple(content, style, output))
    return triples, skipped


class _Cache:
    """Scores and style profiles, each computed once per file; failures remembered."""

    def __init__(self, skipped: list[dict[str, str]]):
        self.skipped = skipped
        self.scores: dict[Path, Score | None] = {}
        self.profiles: dict[Path, dict] = {}

    def score(self, path: Path) -> Score | None:
        if path not in self.scores:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", GrooveWarning)
                    self.scores[path] = as_score(path)
            except (GrooveError, OSError) as e:
                reason = str(e).removeprefix(f"{path}: ")
                self.skipped.append({"file": str(path), "reason": reason})
                warnings.warn(f"{path}: skipped: {reason}", GrooveWarning, stacklevel=3)
                self.scores[path] = None
        return self.scores[path]

    def profile(self, path: Path) -> dict:
        if path not in self.profiles:
            self.profiles[path] = style_profiles(self.scores[path])
        return self.profiles[path]


def _key(role_kind: tuple[str, str]) -> str:
    return "/".join(role_kind)


def _nanmean(values: Iterable[float]) -> float:
    finite = [v for v in values if v is not None and not math.isnan(v)]
    return float(np.mean(finite)) if finite else math.nan


def _content_entry(output: Score, content: Score) -> dict[str, Any]:
    """Chroma similarity to the content, of the whole piece and of each pitched role."""
    from groove.data.segments import role_score

    by_role = {}
    for role in PITCHED_ROLES:
        part = role_score(output, role)
        if len(part.notes):
            by_role[role] = chroma_similarity(part, content)
    return {
        "content_preservation": chroma_similarity(output, content),
        "content_preservation_by_role": by_role,
    }


def _fit_entry(output: dict, style: dict) -> dict[str, Any]:
    fit = {_key(k): v for k, v in style_fit(output, style).items()}
    return {"style_fit": fit, "style_fit_mean": _nanmean(fit.values())}


def _progress(items: Sequence, show: bool, desc: str) -> Iterable:
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit="file", disable=None if show else True, leave=False)


def evaluate_transfer(
    content_dir: str | os.PathLike,
    style_dir: str | os.PathLike,
    output_dir: str | os.PathLike,
    pairs: str | os.PathLike | None = None,
    *,
    target_dir: str | os.PathLike | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Score every (content, style, output) triple and the two baselines.

    Content preservation is `chroma_similarity(output, content)`. Style fit is
    `style_fit` of the output's profiles against the style example's, per
    (role, kind) that the style plays, and their mean. "Macro" style fit pools the
    profiles of all outputs made with one style example and compares the pool with
    that example. The baselines are scored the same way with the content ("source")
    or the style example ("style") standing in for the output.

    Args:
        content_dir, style_dir, output_dir: Folders of MIDI files.
        pairs: Optional tab-separated file of `content style output` paths relative
            to the folders; without it, triples are matched by name (`match_triples`).
        target_dir: Optional folder of ground-truth renderings, each named like its
            output (same path relative to the folder); scored as the "target"
            system. A triple whose target is missing is skipped and reported.
        progress: Show a progress bar on a terminal.

    Returns:
        A JSON-ready dict: "triples" (one entry per scored triple, with each
        system's numbers), "macro" (system -> style file -> fit), "summary" (system
        -> means and standard deviations), "skipped" (files and reasons) and "config".
    """
    content_dir, style_dir, output_dir = (Path(d) for d in (content_dir, style_dir, output_dir))
    target_dir = None if target_dir is None else Path(target_dir)
    systems = (*SYSTEMS, "target") if target_dir is not None else SYSTEMS
    for folder in (content_dir, style_dir, output_dir, *([target_dir] if target_dir else [])):
        if not folder.is_dir():
            raise ConfigError(f"{folder}: not a folder")
    skipped: list[dict[str, str]] = []
    if pairs is not None:
        triples = read_pairs(pairs, content_dir, style_dir, output_dir)
    else:
        triples, skipped = match_triples(content_dir, style_dir, output_dir)
    if not triples:
        raise ConfigError(f"{output_dir}: no output to evaluate (no MIDI file matched)")

    cache = _Cache(skipped)
    scored: list[dict[str, Any]] = []
    by_style: dict[Path, dict[str, list]] = {}
    for triple in _progress(triples, progress, "evaluating"):
        stand_ins = {"output": triple.output, "source": triple.content, "style": triple.style}
        if target_dir is not None:
            target = _find_stem(
                target_dir, triple.output.relative_to(output_dir).with_suffix("").as_posix()
            )
            if target is None:
                skipped.append(
                    {"file": str(triple.output), "reason": "no target file matches its name"}
                )
                continue
            stand_ins["target"] = target
        scores = {system: cache.score(path) for system, path in stand_ins.items()}
        if any(s is None for s in scores.values()):
            continue
        style_profile = cache.profile(triple.style)
        pooled = by_style.setdefault(triple.style, {system: [] for system in systems})
        results = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", GrooveWarning)  # silent pairs give NaN
            for system, path in stand_ins.items():
                results[system] = _content_entry(scores[system], scores["source"])
                results[system].update(_fit_entry(cache.profile(path), style_profile))
                pooled[system].append(cache.profile(path))
        scored.append(
            {
                "content": str(triple.content),
                "style": str(triple.style),
                "output": str(triple.output),
                **({"target": str(stand_ins["target"])} if target_dir is not None else {}),
                "systems": results,
            }
        )

    macro: dict[str, dict[str, Any]] = {system: {} for system in systems}
    for style_path, pools in by_style.items():
        for system in systems:
            macro[system][str(style_path)] = _fit_entry(
                pool_profiles(pools[system]), cache.profile(style_path)
            )
    return {
        "config": {
            "content_dir": str(content_dir),
            "style_dir": str(style_dir),
            "output_dir": str(output_dir),
            "pairs": None if pairs is None else str(pairs),
            "target_dir": None if target_dir is None else str(target_dir),
            "systems": {system: SYSTEM_HELP[system] for system in systems},
        },
        "triples": scored,
        "macro": macro,
        "summary": _transfer_summary(scored, macro, systems),
        "skipped": skipped,
    }


def _stats(values: list[float]) -> dict[str, float]:
    finite = np.array([v for v in values if not math.isnan(v)], dtype=np.float64)
    if len(finite) == 0:
        return {"mean": math.nan, "std": math.nan, "n": 0}
    return {"mean": float(finite.mean()), "std": float(finite.std()), "n": len(finite)}


def _transfer_summary(scored: list[dict], macro: dict, systems) -> dict[str, Any]:
    summary = {}
    for system in systems:
        entries = [t["systems"][system] for t in scored]
        roles: dict[str, list[float]] = {}
        content_roles: dict[str, list[float]] = {}
        for entry in entries:
            for key, value in entry["style_fit"].items():
                roles.setdefault(key.split("/")[0], []).append(value)
            for role, value in entry["content_preservation_by_role"].items():
                content_roles.setdefault(role, []).append(value)
        summary[system] = {
            "content_preservation": _stats([e["content_preservation"] for e in entries]),
            "style_fit": _stats([e["style_fit_mean"] for e in entries]),
            "macro_style_fit": _stats([m["style_fit_mean"] for m in macro[system].values()]),
            "style_fit_by_role": {role: _stats(v) for role, v in sorted(roles.items())},
            "content_preservation_by_role": {
                role: _stats(content_roles[role]) for role in PITCHED_ROLES if role in content_roles
            },
        }
    return summary


def evaluate_corpus(
    folders: Sequence[str | os.PathLike],
    *,
    progress: bool = True,
    metrics: dict[str, Callable[[Any], float]] | None = None,
) -> dict[str, Any]:
    """Descriptive metrics of every file in each folder, and how the folders overlap.

    Args:
        folders: One or more folders of MIDI files; the first is the reference.
        progress: Show a progress bar on a terminal.
        metrics: Name -> function of a `Score`; default `groove.eval.METRICS`.

    Returns:
        A JSON-ready dict: "files" (folder -> file -> metric -> value), "summary"
        (folder -> metric -> mean, std, n), "overlap" (for each further folder:
        metric -> overlapping area and Yang & Lerch's intra/inter overlap against
        the first folder) and "skipped".
    """
    if not folders:
        raise ConfigError("give at least one folder")
    metrics = metrics or METRICS
    skipped: list[dict[str, str]] = []
    cache = _Cache(skipped)
    files: dict[str, dict[str, dict[str, float]]] = {}
    for folder in folders:
        values = files.setdefault(str(folder), {})
        for path in _progress(midi_files(folder), progress, f"measuring {folder}"):
            score = cache.score(path)
            if score is not None:
                values[str(path)] = {name: fn(score) for name, fn in metrics.items()}
                del cache.scores[path]  # a corpus can be large: keep numbers, not notes
    columns = {
        folder: {name: [v[name] for v in per_file.values()] for name in metrics}
        for folder, per_file in files.items()
    }
    reference = str(folders[0])
    overlap = {
        folder: {
            name: {
                "overlapping_area": overlapping_area(columns[reference][name], column[name]),
                "intra_inter_overlap": intra_inter_overlap(columns[reference][name], column[name]),
            }
            for name in metrics
        }
        for folder, column in columns.items()
        if folder != reference
    }
    return {
        "config": {"folders": [str(f) for f in folders], "reference": reference},
        "files": files,
        "summary": {
            folder: {name: _stats(column[name]) for name in metrics}
            for folder, column in columns.items()
        },
        "overlap": overlap,
        "skipped": skipped,
    }
