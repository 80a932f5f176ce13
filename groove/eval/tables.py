"""Plain-text tables of evaluation results, as `groove eval` prints them.

Both take the results dict of `evaluate_transfer` / `evaluate_corpus` and return
the table as one string of lines (no final newline), numbers to 3 decimals.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

# The musical checks' columns: summary key -> heading.
MUSICAL_COLUMNS = {
    "onset_phase_beat": "beat phase",
    "onset_phase_bar": "bar phase",
    "chord_tone_rate": "chord tones",
    "held_note_rate": "held notes",
    "part_continuity": "continuity",
}
BY_ROLE_TABLES = (
    ("content_preservation_by_role", "content preservation"),
    ("style_fit_by_role", "style fit"),
    ("held_note_rate_by_role", "held notes"),
    ("part_continuity_by_role", "continuity"),
)


def transfer_table(results: dict[str, Any]) -> str:
    """Style-transfer scores per system: how many triples were scored, the mean ± std
    of content preservation and style fit, the macro style fit and Groove2Groove's
    style fit and macro style fit; then the means of the musical checks; then
    scores per instrument role (a role a system has no score for shows nan), and the
    roles left out of style fit."""
    summary = results["summary"]
    lines = [
        f"{len(results['triples'])} triples, {len(results['skipped'])} file(s) skipped",
        f"{'system':8}  {'content preservation':>22}  {'style fit':>15}  {'macro style':>11}"
        f"  {'style fit G2G':>13}  {'macro G2G':>9}",
    ]
    for system, s in summary.items():
        cp, sf, macro = s["content_preservation"], s["style_fit"], s["macro_style_fit"]
        lines.append(
            f"{system:8}  {cp['mean']:>14.3f} ± {cp['std']:.3f}  "
            f"{sf['mean']:>7.3f} ± {sf['std']:.3f}  {macro['mean']:>11.3f}"
            f"  {s['style_fit_g2g']['mean']:>13.3f}  {s['macro_style_fit_g2g']['mean']:>9.3f}"
        )
    lines.append("musical checks:")
    lines.append(f"{'system':8}" + "".join(f"  {h:>11}" for h in MUSICAL_COLUMNS.values()))
    for system, s in summary.items():
        lines.append(f"{system:8}" + "".join(f"  {s[k]['mean']:>11.3f}" for k in MUSICAL_COLUMNS))
    for key, title in BY_ROLE_TABLES:
        roles = list(dict.fromkeys(r for s in summary.values() for r in s[key]))
        if roles:
            lines.append(f"{title} by role:")
            lines.append(f"{'system':8}" + "".join(f"  {r:>8}" for r in roles))
            for system, s in summary.items():
                cells = (s[key].get(r, {"mean": math.nan})["mean"] for r in roles)
                lines.append(f"{system:8}" + "".join(f"  {v:>8.3f}" for v in cells))
    excluded = results.get("excluded_roles") or {}
    if excluded:
        roles = ", ".join(f"{r} (in {n} triple(s))" for r, n in excluded.items())
        lines.append(f"left out as roles no model plays: {roles}")
    return "\n".join(lines)


def corpus_table(results: dict[str, Any]) -> str:
    """Descriptive metrics per folder: one row per metric with each folder's mean
    (columns headed by the folder's name, cut to 14 characters), then the overlapping
    area (OA) of each other folder's distribution with the reference folder's."""
    summary = results["summary"]
    reference = results["config"]["reference"]
    others = [f for f in summary if f != reference]
    lines = [f"{'metric':26}" + "".join(f"{Path(f).name[:14]:>16}" for f in summary)]
    for name in next(iter(summary.values())):
        row = "".join(f"{summary[f][name]['mean']:>16.3f}" for f in summary)
        overlap = "".join(
            f"  OA {results['overlap'][f][name]['overlapping_area']:.3f}" for f in others
        )
        lines.append(f"{name:26}{row}{overlap}")
    return "\n".join(lines)


__all__ = ["corpus_table", "transfer_table"]
