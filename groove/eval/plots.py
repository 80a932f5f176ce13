"""Figures for the evaluation reports: piano rolls, chroma, style profiles, distributions.

Each function returns a `matplotlib.figure.Figure` built without pyplot, so no
global backend or window is involved and figures are freed with their last
reference. `png` turns one into PNG bytes for embedding. Titles, labels and legends carry file
and folder names, so text is never read as matplotlib math (`$...$`): a name with
dollar signs is drawn as it is.
"""

from __future__ import annotations

import functools
import io
import math
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from groove.eval.content import chromagram
from groove.eval.style import StyleProfile
from groove.midi import Score
from groove.midi.constants import PITCH_CLASS_NAMES
from groove.midi.notes import notes_of
from groove.midi.roles import ROLES

ROLE_COLORS = {
    "bass": "#1f77b4",
    "keys": "#2ca02c",
    "guitar": "#ff7f0e",
    "strings": "#9467bd",
    "drums": "#7f7f7f",
    "other": "#d62728",
}
SYSTEM_COLORS = {
    "output": "#d62728",
    "source": "#1f77b4",
    "style": "#2ca02c",
    "overlay": "#ff7f0e",
    "target": "#9467bd",
}


F = TypeVar("F", bound=Callable)


def _plain_text(fn: F) -> F:
    """Run `fn` with math text off: every Text it makes (and every tick label drawn
    in it) shows user text such as a folder named `a$b$` literally."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with matplotlib.rc_context({"text.parse_math": False}):
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


@_plain_text
def png(figure: Figure, dpi: int = 80) -> bytes:
    """The figure as PNG bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()


# A piano roll draws at most this many notes (the earliest): every note is one bar
# patch, and a hostile 100,000-note file took a minute to draw and encode.
MAX_DRAWN_NOTES = 5000


@_plain_text
def piano_rolls(pieces: Sequence[tuple[str, Score]], max_beats: float = 32.0) -> Figure:
    """Piano rolls stacked one above the other, coloured by instrument role.

    Args:
        pieces: (title, score) pairs, drawn top to bottom on one beat axis.
        max_beats: Draw the first this many beats of each.
    """
    figure = Figure(figsize=(10, 2.2 * len(pieces)))
    axes = figure.subplots(len(pieces), 1, sharex=True, squeeze=False)[:, 0]
    for ax, (title, score) in zip(axes, pieces):
        notes = notes_of(score)
        shown = notes.select(notes.start < max_beats)
        if len(shown) > MAX_DRAWN_NOTES:
            order = np.argsort(shown.start, kind="stable")[:MAX_DRAWN_NOTES]
            keep = np.zeros(len(shown), bool)
            keep[order] = True
            shown = shown.select(keep)
            title = f"{title} (first {MAX_DRAWN_NOTES} notes)"
        for index, role in enumerate(ROLES):
            mine = shown.select(shown.role == index)
            if len(mine):
                ax.barh(
                    mine.pitch,
                    np.maximum(np.minimum(mine.end, max_beats) - mine.start, 0.05),
                    left=mine.start,
                    height=0.9,
                    color=ROLE_COLORS[role],
                    label=role,
                    linewidth=0,
                )
        if len(shown):
            ax.set_ylim(shown.pitch.min() - 2, shown.pitch.max() + 2)
            ax.legend(
                loc="lower right",
                bbox_to_anchor=(1.0, 1.0),
                fontsize=7,
                ncol=len(ROLES),
                frameon=False,
            )
        else:
            ax.text(0.5, 0.5, "no notes", transform=ax.transAxes, ha="center", va="center")
        for bar in range(0, math.ceil(max_beats) + 1, 4):
            ax.axvline(bar, color="#dddddd", linewidth=0.6, zorder=0)
        ax.set_title(title, fontsize=9, loc="left")
        ax.set_ylabel("pitch")
    axes[-1].set_xlim(0, max_beats)
    axes[-1].set_xlabel("beats")
    figure.tight_layout()
    return figure


@_plain_text
def chroma_pair(
    content: Score, output: Score, max_beats: float = 32.0, frames_per_beat: int = 4
) -> Figure:
    """Chromagrams of the content (top) and the output (bottom), drums left out."""
    figure = Figure(figsize=(10, 4.6))
    axes = figure.subplots(2, 1, sharex=True)
    frames = round(max_beats * frames_per_beat)
    for ax, (title, score) in zip(axes, (("content", content), ("output", output))):
        chroma = chromagram(score, frames_per_beat)[:, :frames].astype(np.float64)
        chroma = np.pad(chroma, ((0, 0), (0, frames - chroma.shape[1])))
        peak = chroma.max(axis=0, keepdims=True)
        chroma = np.divide(chroma, peak, out=np.zeros_like(chroma), where=peak > 0)
        ax.imshow(
            chroma,
            aspect="auto",
            origin="lower",
            cmap="Greys",
            extent=(0, max_beats, -0.5, 11.5),
            interpolation="nearest",
        )
        ax.set_yticks(range(12), PITCH_CLASS_NAMES, fontsize=6)
        ax.set_title(f"chroma of the {title}", fontsize=9, loc="left")
    axes[-1].set_xlabel("beats")
    figure.tight_layout()
    return figure


@_plain_text
def profile_grid(rows: Sequence[tuple[str, Mapping[str, StyleProfile]]]) -> Figure:
    """Style-profile heatmaps: one row per piece, one column per profile key.

    Args:
        rows: (title, {column title: profile}) pairs; every row has the same keys.
    """
    keys = list(rows[0][1])
    figure = Figure(figsize=(3.1 * len(keys), 2.6 * len(rows)))
    axes = figure.subplots(len(rows), len(keys), squeeze=False)
    for r, (title, profiles) in enumerate(rows):
        for c, key in enumerate(keys):
            ax = axes[r, c]
            profile = profiles[key]
            ax.imshow(
                profile.density.T,
                aspect="auto",
                origin="lower",
                cmap="magma",
                extent=(
                    profile.x_edges[0],
                    profile.x_edges[-1],
                    profile.y_edges[0],
                    profile.y_edges[-1],
                ),
                interpolation="nearest",
            )
            ax.set_title(f"{title}: {key}", fontsize=8)
            ax.set_xlabel(profile.x_label, fontsize=7)
            ax.set_ylabel(profile.y_label, fontsize=7)
            ax.tick_params(labelsize=6)
            if profile.total == 0:
                ax.text(0.5, 0.5, "not played", transform=ax.transAxes, ha="center", color="w")
    figure.tight_layout()
    return figure


@_plain_text
def distributions(values: Mapping[str, Sequence[float]], title: str, xlabel: str) -> Figure:
    """Box plots with every value drawn as a dot, one row per group."""
    figure = Figure(figsize=(7, 0.6 + 0.55 * len(values)))
    ax = figure.subplots()
    names = list(values)
    rng = np.random.default_rng(0)
    for i, name in enumerate(names):
        data = np.array([v for v in values[name] if v is not None and np.isfinite(v)])
        if len(data) == 0:
            continue
        ax.boxplot(data, positions=[i], vert=False, widths=0.5, showfliers=False)
        jitter = rng.uniform(-0.15, 0.15, len(data))
        color = SYSTEM_COLORS.get(name, "#444444")
        ax.scatter(data, i + jitter, s=10, alpha=0.6, color=color, zorder=3)
    ax.set_yticks(range(len(names)), names)
    ax.set_ylim(-0.6, len(names) - 0.4)
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=10, loc="left")
    figure.tight_layout()
    return figure


@_plain_text
def tradeoff(points: Mapping[str, tuple[Sequence[float], Sequence[float]]]) -> Figure:
    """Content preservation against style fit, one colour per system."""
    figure = Figure(figsize=(5, 4))
    ax = figure.subplots()
    for name, (x, y) in points.items():
        ax.scatter(x, y, s=14, alpha=0.7, label=name, color=SYSTEM_COLORS.get(name))
    ax.set_xlabel("content preservation (chroma similarity)")
    ax.set_ylabel("style fit (mean profile similarity)")
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=8)
    figure.tight_layout()
    return figure


@_plain_text
def overlaid_histograms(columns: Mapping[str, Sequence[float]], title: str) -> Figure:
    """Histograms of one metric for several folders on shared bins."""
    figure = Figure(figsize=(4.2, 2.8))
    ax = figure.subplots()
    data = {k: np.array([v for v in vals if np.isfinite(v)]) for k, vals in columns.items()}
    finite = [d for d in data.values() if len(d)]
    if finite:
        everything = np.concatenate(finite)
        lo, hi = float(everything.min()), float(everything.max())
        bins = np.linspace(lo, hi if hi > lo else lo + 1, 21)
        for name, values in data.items():
            if len(values) == 0:
                continue
            ax.hist(values, bins=bins, alpha=0.5, density=True, label=name)
        ax.legend(fontsize=7)
    else:
        ax.text(0.5, 0.5, "undefined for every file", transform=ax.transAxes, ha="center")
    ax.set_title(title, fontsize=9, loc="left")
    ax.tick_params(labelsize=7)
    figure.tight_layout()
    return figure
