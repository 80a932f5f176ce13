"""Whole evaluations over folders: style transfer triples and corpus comparison.

`evaluate_transfer` scores (content, style, output) triples, and the baselines
beside them ("source", "style" and "overlay"; see `groove.eval.systems`).
`evaluate_corpus` gives the descriptive metrics of two folders and their overlap.
Both return plain dictionaries that `json.dump` writes as they are, and
`groove.eval.report` turns into HTML. A file that cannot be read is reported in
`"skipped"` and the run goes on.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from groove.errors import ConfigError, GrooveError, GrooveWarning
from groove.eval.descriptive import METRICS, intra_inter_overlap, overlapping_area
from groove.eval.style import pool_profiles
from groove.eval.systems import (
    BY_ROLE,
    SCALARS,
    SYSTEM_HELP,
    SYSTEMS,
    Cache,
    Triple,
    fit_entry,
    score_triple,
)
from groove.midi.constants import MIDI_SUFFIXES
from groove.midi.roles import TRANSFER_ROLES

__all__ = [
    "SYSTEMS",
    "SYSTEM_HELP",
    "Triple",
    "evaluate_corpus",
    "evaluate_transfer",
    "match_triples",
    "midi_files",
    "read_pairs",
]


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
    """Score every (content, style, output) triple and the baselines beside it.

    Content preservation is `chroma_similarity(output, content)`. Style fit is
    `style_fit` of the output's `transfer_profiles` against the style example's,
    per (role, kind) that the style plays, and their mean; `style_fit_g2g` is the
    same with Groove2Groove's `style_profiles` (every role, the drum profile twice,
    4-beat bars), comparable with the paper. "Macro" style fit pools the profiles of
    all outputs made with one style example and compares the pool with that
    example. The musical checks (onset phase, chord tones, held notes, part
    continuity) are those of `groove.eval.musical`; `groove.eval.systems` says
    exactly how each system is measured. The baselines ("source", "style",
    "overlay") are scored the same way, standing in for the output.

    Args:
        content_dir, style_dir, output_dir: Folders of MIDI files.
        pairs: Optional tab-separated file of `content style output` paths relative
            to the folders; without it, triples are matched by name (`match_triples`).
        target_dir: Optional folder of ground-truth renderings, each named like its
            output (same path relative to the folder); scored as the "target"
            system, and what part continuity is measured against. A triple whose
            target is missing is skipped and reported.
        progress: Show a progress bar on a terminal.

    Returns:
        A JSON-ready dict: "triples" (one entry per scored triple, with each
        system's numbers and the roles its style example plays that were left out),
        "macro" (system -> style file -> fit), "summary" (system -> means and
        standard deviations), "excluded_roles" (role -> how many triples' style
        examples play it), "skipped" (files and reasons) and "config".
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

    cache = Cache(skipped)
    scored: list[dict[str, Any]] = []
    by_style: dict[Path, dict[str, list]] = {}
    excluded: dict[str, int] = {}
    for triple in _progress(triples, progress, "evaluating"):
        target = None
        if target_dir is not None:
            target = _find_stem(
                target_dir, triple.output.relative_to(output_dir).with_suffix("").as_posix()
            )
            if target is None:
                skipped.append(
                    {"file": str(triple.output), "reason": "no target file matches its name"}
                )
                continue
        try:
            done = score_triple(cache, triple, target)
        except GrooveError as e:  # a triple that cannot be measured is listed and skipped
            reason = str(e).removeprefix(f"{triple.output}: ")
            reason = f"{reason} (content {triple.content}, style {triple.style})"
            skipped.append({"file": str(triple.output), "reason": reason})
            warnings.warn(f"{triple.output}: skipped: {reason}", GrooveWarning, stacklevel=2)
            continue
        if done is None:
            continue
        keys, results = done
        pooled = by_style.setdefault(triple.style, {system: [] for system in systems})
        for system, key in keys.items():
            pooled[system].append(cache.profile(key))
        left_out = cache.style(triple.style).excluded
        for role in left_out:
            excluded[role] = excluded.get(role, 0) + 1
        scored.append(
            {
                "content": str(triple.content),
                "style": str(triple.style),
                "output": str(triple.output),
                **({"target": str(target)} if target is not None else {}),
                "excluded_roles": left_out,
                "systems": results,
            }
        )

    macro: dict[str, dict[str, Any]] = {system: {} for system in systems}
    for style_path, pools in by_style.items():
        style = cache.profile(style_path)
        for system in systems:
            entry = fit_entry(pool_profiles(p.fixed for p in pools[system]), style.fixed)
            g2g = fit_entry(pool_profiles(p.g2g for p in pools[system]), style.g2g, "_g2g")
            macro[system][str(style_path)] = {**entry, **g2g}
    return {
        "config": {
            "content_dir": str(content_dir),
            "style_dir": str(style_dir),
            "output_dir": str(output_dir),
            "pairs": None if pairs is None else str(pairs),
            "target_dir": None if target_dir is None else str(target_dir),
            "systems": {system: SYSTEM_HELP[system] for system in systems},
            "transfer_roles": list(TRANSFER_ROLES),
            "continuity_reference": "target" if target_dir is not None else "style",
        },
        "triples": scored,
        "macro": macro,
        "summary": _transfer_summary(scored, macro, systems),
        "excluded_roles": excluded,
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
        out = {name: _stats([e[key] for e in entries]) for name, key in SCALARS.items()}
        for suffix in ("", "_g2g"):
            values = [m[f"style_fit{suffix}_mean"] for m in macro[system].values()]
            out[f"macro_style_fit{suffix}"] = _stats(values)
        for key in BY_ROLE:
            roles: dict[str, list[float]] = {}
            for entry in entries:
                for role, value in entry[key].items():
                    roles.setdefault(role, []).append(value)
            out[key] = {role: _stats(roles[role]) for role in sorted(roles, key=_role_order)}
        summary[system] = out
    return summary


def _role_order(role: str) -> tuple[int, str]:
    order = (*TRANSFER_ROLES, "other", "all")
    return (order.index(role) if role in order else len(order), role)


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
        the first folder) and "skipped": every file that could not be read or
        measured (any `GrooveError`), with the reason; the run goes on without it.
    """
    if not folders:
        raise ConfigError("give at least one folder")
    metrics = metrics or METRICS
    skipped: list[dict[str, str]] = []
    cache = Cache(skipped)
    files: dict[str, dict[str, dict[str, float]]] = {}
    for folder in folders:
        values = files.setdefault(str(folder), {})
        for path in _progress(midi_files(folder), progress, f"measuring {folder}"):
            score = cache.score(path)
            if score is None:
                continue
            try:
                values[str(path)] = {name: fn(score) for name, fn in metrics.items()}
            except GrooveError as e:  # one file that cannot be measured is listed and skipped
                reason = str(e).removeprefix(f"{path}: ")
                skipped.append({"file": str(path), "reason": reason})
                warnings.warn(f"{path}: skipped: {reason}", GrooveWarning, stacklevel=2)
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
