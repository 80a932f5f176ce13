"""The systems `groove eval transfer` scores for each triple, and every number of each.

For one (content, style, output) triple the systems are the output, three
baselines and, when there is one, the ground truth:

- "source": the content itself (perfect content, no style change);
- "style": the style example itself (perfect style, other content);
- "overlay": the style example looped by whole bars on top of the content
  (`groove.eval.baselines.overlay`), computed in memory: the trivial system that
  Groove2Groove's histogram metrics cannot tell from a transfer;
- "target": the ground-truth rendering of the content in the style.

`Cache` reads each file once and computes each system's profiles once, whether the
system is a file (keyed by its path) or a score computed from files (keyed by a
tuple naming it and them). `measure` gives every number of one system:

- content preservation (`groove.eval.content`), of the whole piece and per role;
- style fit, fixed (`transfer_profiles`: the roles a model plays, the drum profile
  once, onsets in the real bars) and as Groove2Groove defined it (`style_profiles`,
  named `..._g2g`);
- the musical checks of `groove.eval.musical`. Everything compared with the style
  example looks only at the roles a model plays, in both pieces: onset phase
  within the beat and within the bar, held notes (per pitched role, against that
  role's 95th-percentile duration in the style example, or the whole example's
  when it lacks the role) and part continuity (against the target, else against
  the style example looped over the content). The chord-tone rate compares every
  pitched note with the content sounding then.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Hashable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from groove.errors import GrooveError, GrooveWarning
from groove.eval.baselines import loop, overlay
from groove.eval.content import chroma_similarity
from groove.eval.musical import (
    chord_tone_rate,
    duration_limit,
    held_note_rate,
    onset_phase_similarity,
    part_continuity,
)
from groove.eval.style import (
    excluded_roles,
    playable,
    style_fit,
    style_profiles,
    transfer_profiles,
)
from groove.midi import Score
from groove.midi.notes import as_score, notes_of
from groove.midi.roles import PITCHED_ROLES

SYSTEMS = ("output", "source", "style", "overlay")
SYSTEM_HELP = {
    "output": "the outputs being evaluated",
    "source": "baseline: the content itself as output (perfect content, no style change)",
    "style": "baseline: the style example itself as output (perfect style, other content)",
    "overlay": "baseline: the style example looped by whole bars on top of the content "
    "(no transfer at all, yet it scores well on Groove2Groove's metrics)",
    "target": "reference: the ground-truth rendering of the content in the style",
}
# The scalar numbers of each system, as the summary names them -> a triple's key.
SCALARS = {
    "content_preservation": "content_preservation",
    "style_fit": "style_fit_mean",
    "style_fit_g2g": "style_fit_g2g_mean",
    "onset_phase_beat": "onset_phase_beat",
    "onset_phase_bar": "onset_phase_bar",
    "chord_tone_rate": "chord_tone_rate",
    "held_note_rate": "held_note_rate",
    "part_continuity": "part_continuity",
}
# Per-role numbers of each system (a triple's key and the summary's are the same).
BY_ROLE = (
    "content_preservation_by_role",
    "style_fit_by_role",
    "style_fit_g2g_by_role",
    "held_note_rate_by_role",
    "part_continuity_by_role",
)

Key = Hashable  # a Path for a file, a tuple for a computed score


@dataclasses.dataclass(frozen=True)
class Triple:
    """One style transfer: the content, the style example and the output that came of them."""

    content: Path
    style: Path
    output: Path


@dataclasses.dataclass(frozen=True)
class Profiles:
    """A piece's style profiles: the fixed set and Groove2Groove's."""

    fixed: dict
    g2g: dict


@dataclasses.dataclass(frozen=True)
class StyleReference:
    """What every system is compared with: the style example, read once.

    Attributes:
        score: The example's tracks of the roles a model plays (`playable`).
        profiles: Its profiles.
        limits: Held-note limit in beats per pitched role it plays, and "all".
        excluded: The roles it plays that no model plays (left out of the checks).
    """

    score: Score
    profiles: Profiles
    limits: dict[str, float]
    excluded: list[str]


class Cache:
    """Scores, profiles and style references, each computed once; failures remembered."""

    def __init__(self, skipped: list[dict[str, str]]):
        self.skipped = skipped
        self.scores: dict[Path, Score | None] = {}
        self.profiles: dict[Key, Profiles] = {}
        self.styles: dict[Path, StyleReference] = {}

    def score(self, path: Path) -> Score | None:
        """The file's score, or None (reported in `skipped`) when it cannot be read."""
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

    def profile(self, key: Key, score: Score | None = None) -> Profiles:
        """The profiles of the file at `key` (it must have been read), or of the
        computed `score` stored under `key`."""
        if key not in self.profiles:
            score = self.scores[key] if score is None else score
            self.profiles[key] = Profiles(transfer_profiles(score), style_profiles(score))
        return self.profiles[key]

    def style(self, path: Path) -> StyleReference:
        """The style example at `path` as a reference (it must have been read)."""
        if path not in self.styles:
            score = self.scores[path]
            part = playable(score)
            limits = {"all": duration_limit(part)}
            for role in PITCHED_ROLES:
                limit = duration_limit(part, role=role)
                if not math.isnan(limit):
                    limits[role] = limit
            self.styles[path] = StyleReference(
                part, self.profile(path), limits, excluded_roles(score)
            )
        return self.styles[path]


def nanmean(values: Iterable[float]) -> float:
    finite = [v for v in values if v is not None and not math.isnan(v)]
    return float(np.mean(finite)) if finite else math.nan


def fit_entry(output: dict, style: dict, suffix: str = "") -> dict[str, Any]:
    fit = {"/".join(k): v for k, v in style_fit(output, style).items()}
    by_role: dict[str, list[float]] = {}
    for key, value in fit.items():
        by_role.setdefault(key.split("/")[0], []).append(value)
    return {
        f"style_fit{suffix}": fit,
        f"style_fit{suffix}_mean": nanmean(fit.values()),
        f"style_fit{suffix}_by_role": {role: nanmean(v) for role, v in by_role.items()},
    }


def _held_notes(part: Score, limits: dict[str, float]) -> tuple[float, dict[str, float]]:
    """Held-note rate of each pitched role, against that role's limit in the style
    (the whole style's when it lacks the role), and of all of them together."""
    by_role, counts = {}, {}
    for role in PITCHED_ROLES:
        rate = held_note_rate(part, limits.get(role, limits["all"]), role=role)
        if not math.isnan(rate):
            by_role[role] = rate
            counts[role] = len(notes_of(part, role=role, drums=False))
    total = sum(counts.values())
    overall = sum(by_role[r] * counts[r] for r in by_role) / total if total else math.nan
    return overall, by_role


def continuity_reference(cache: Cache, triple: Triple, target: Path | None) -> Score:
    """What part continuity is measured against: the target's playable roles, or
    else the style example's, looped over the content (`groove.eval.baselines.loop`)."""
    if target is not None:
        return playable(cache.scores[target])
    return loop(cache.style(triple.style).score, cache.scores[triple.content])


def measure(
    score: Score, profiles: Profiles, content: Score, style: StyleReference, reference: Score
) -> dict[str, Any]:
    """Every number of one system of a triple (see the module docstring).

    Args:
        score: The system's piece (the output, a baseline or the target).
        profiles: Its profiles (`Cache.profile`).
        content: The triple's content.
        style: The triple's style example (`Cache.style`).
        reference: What part continuity compares with (`continuity_reference`).
    """
    from groove.data.segments import role_score

    part = playable(score)
    content_by_role = {}
    for role in PITCHED_ROLES:
        role_part = role_score(score, role)
        if len(role_part.notes):
            content_by_role[role] = chroma_similarity(role_part, content)
    held, held_by_role = _held_notes(part, style.limits)
    continuity = part_continuity(score, reference)
    return {
        "content_preservation": chroma_similarity(score, content),
        "content_preservation_by_role": content_by_role,
        **fit_entry(profiles.fixed, style.profiles.fixed),
        **fit_entry(profiles.g2g, style.profiles.g2g, "_g2g"),
        "onset_phase_beat": onset_phase_similarity(part, style.score, "beat"),
        "onset_phase_bar": onset_phase_similarity(part, style.score, "bar"),
        "chord_tone_rate": chord_tone_rate(score, content),
        "held_note_rate": held,
        "held_note_rate_by_role": held_by_role,
        "part_continuity": nanmean(continuity.values()),
        "part_continuity_by_role": continuity,
    }


def score_triple(
    cache: Cache, triple: Triple, target: Path | None = None
) -> tuple[dict[str, Key], dict[str, dict[str, Any]]] | None:
    """Every system of one triple: `(keys, numbers)`, each by system name; keys are
    the cache keys of the systems' profiles (for macro style fit). None when a file
    cannot be read (it is in `cache.skipped`)."""
    keys: dict[str, Key] = {"output": triple.output, "source": triple.content}
    keys["style"] = triple.style
    if target is not None:
        keys["target"] = target
    scores = {system: cache.score(path) for system, path in keys.items()}
    if any(s is None for s in scores.values()):
        return None
    keys["overlay"] = ("overlay", triple.content, triple.style)
    order = [s for s in (*SYSTEMS, "target") if s in keys]
    content, style = scores["source"], cache.style(triple.style)
    reference = continuity_reference(cache, triple, target)
    numbers = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GrooveWarning)  # silent pairs give NaN
        for system in order:
            if system == "overlay":
                score = overlay(content, scores["style"])
                profiles = cache.profile(keys[system], score)
            else:
                score, profiles = scores[system], cache.profile(keys[system])
            numbers[system] = measure(score, profiles, content, style, reference)
    return {s: keys[s] for s in order}, numbers
