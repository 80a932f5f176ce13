"""Self-contained HTML reports (plots embedded as PNG) and JSON for evaluation results.

The HTML needs no network and no other file: open it in any browser. Numbers are
in `write_json`'s file too, with NaN (an undefined value) written as null.
"""

from __future__ import annotations

import base64
import datetime
import html
import json
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from groove import __version__
from groove.eval import plots
from groove.eval.descriptive import METRICS
from groove.eval.style import style_profiles
from groove.eval.systems import SYSTEM_HELP
from groove.eval.tables import MUSICAL_COLUMNS
from groove.fileio import atomic_open
from groove.midi.notes import as_score

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.5em; } h2 { margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.8em 0; }
td, th { padding: 3px 10px; border-bottom: 1px solid #eee; text-align: right; }
table.text td, table.text th { text-align: left; }
th:first-child, td:first-child { text-align: left; }
img { max-width: 100%; display: block; margin: 0.6em 0; }
.muted { color: #777; } code { font-size: 0.92em; }
figure { margin: 1em 0; } figcaption { color: #555; font-size: 0.9em; }
.grid { display: flex; flex-wrap: wrap; gap: 8px; } .grid figure { margin: 0; }
"""

SUMMARY_COLUMNS = {
    "content_preservation": "content preservation",
    "style_fit": "style fit",
    "macro_style_fit": "macro style fit",
    "style_fit_g2g": "style fit (G2G)",
    "macro_style_fit_g2g": "macro style fit (G2G)",
}


def _json_ready(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    return value


def write_json(results: dict[str, Any], path: str | os.PathLike) -> None:
    """Write results as JSON (NaN as null), atomically."""
    with atomic_open(path, "w", encoding="utf-8") as f:
        json.dump(_json_ready(results), f, indent=1, allow_nan=False)
        f.write("\n")


def _img(figure, alt: str, caption: str = "") -> str:
    data = base64.b64encode(plots.png(figure)).decode("ascii")
    cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
    return (
        f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">{cap}</figure>'
    )


def _num(value: float | None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return '<span class="muted">–</span>'
    return f"{value:.{digits}f}"


def _mean_sd(stats: dict[str, float]) -> str:
    if not stats["n"]:
        return _num(None)
    return f"{_num(stats['mean'])} ± {_num(stats['std'])}"


def _table(header: Iterable[str], rows: Iterable[Iterable[str]], cls: str = "") -> str:
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table class='{cls}'><tr>{head}</tr>{body}</table>"


def _page(title: str, body: list[str]) -> str:
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    return (
        f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f"<p class='muted'>groove {__version__}, {stamp}</p>" + "\n".join(body) + "</body></html>\n"
    )


def _skipped(skipped: list[dict[str, str]]) -> list[str]:
    if not skipped:
        return []
    rows = [(html.escape(s["file"]), html.escape(s["reason"])) for s in skipped]
    return [f"<h2>Skipped files ({len(skipped)})</h2>", _table(("file", "reason"), rows, "text")]


def _name(path: str) -> str:
    return html.escape(Path(path).name)


def transfer_report(
    results: dict[str, Any], path: str | os.PathLike, *, examples: int = 6, beats: float = 32.0
) -> None:
    """Write the HTML report of `evaluate_transfer` results.

    Args:
        results: What `evaluate_transfer` returned.
        path: The .html file to write (atomically).
        examples: How many triples get piano rolls, chroma and profile plots.
        beats: How many beats of each piece the example plots show.
    """
    summary, triples = results["summary"], results["triples"]
    systems = list(summary)
    against = (
        "the ground-truth target"
        if results["config"].get("continuity_reference") == "target"
        else "the style example looped over the content"
    )
    body = [
        f"<p>{len(triples)} (content, style, output) triples from "
        f"<code>{html.escape(results['config']['output_dir'])}</code>. "
        "Content preservation is the chroma similarity of output and content "
        "(Lu &amp; Su 2018); style fit is the mean cosine similarity of the output's "
        "style profiles to the style example's, over the instrument roles the style "
        "plays that a transfer model plays, the drum profile counted once and onsets "
        "placed in the pieces' own bars. <i>G2G</i> columns are Groove2Groove's "
        "definitions (every role, the drum profile twice, 4-beat bars), comparable "
        "with the paper. Macro style fit pools every output of one style example "
        "first. All in [0, 1], higher is better.</p>",
        _table(
            ("system", "what it is"),
            ((s, html.escape(SYSTEM_HELP[s])) for s in systems),
            "text",
        ),
        "<h2>Summary</h2>",
        _table(
            ("system", *SUMMARY_COLUMNS.values(), "triples"),
            (
                (s, *(_mean_sd(summary[s][k]) for k in SUMMARY_COLUMNS), str(len(triples)))
                for s in systems
            ),
        ),
        "<h3>Musical checks</h3>",
        "<p>Onset phase: cosine similarity of where onsets fall within the beat and "
        "within the bar, against the style example. Chord tones: the share of pitched "
        "notes whose pitch class sounds in the content within half a beat of their "
        "onset. Held notes: the share of pitched notes longer than the style example's "
        "95th-percentile duration for their role (lower is better). Continuity: per "
        f"role, of the bars in which {against} plays that role, the share in which "
        "the system plays it too.</p>",
        _table(
            ("system", *MUSICAL_COLUMNS.values()),
            ((s, *(_mean_sd(summary[s][k]) for k in MUSICAL_COLUMNS)) for s in systems),
        ),
    ]
    for key, title in (
        ("style_fit_by_role", "Style fit by instrument role"),
        ("style_fit_g2g_by_role", "Style fit (G2G) by instrument role"),
        ("content_preservation_by_role", "Content preservation by instrument role"),
        ("held_note_rate_by_role", "Held notes by instrument role"),
        ("part_continuity_by_role", "Continuity by instrument role"),
    ):
        roles = list(dict.fromkeys(r for s in systems for r in summary[s].get(key, {})))
        if roles:
            body += [
                f"<h3>{title}</h3>",
                _table(
                    ("system", *roles),
                    (
                        (s, *(_mean_sd(summary[s][key].get(r, {"n": 0})) for r in roles))
                        for s in systems
                    ),
                ),
            ]
    excluded = results.get("excluded_roles") or {}
    if excluded:
        body.append(
            "<p>Left out of style fit and the musical checks, as roles no transfer model "
            "plays (the G2G columns keep them): "
            + ", ".join(
                f"{html.escape(r)} (the style example of {n} triple(s))"
                for r, n in excluded.items()
            )
            + ".</p>"
        )
    if triples:
        body.append("<h2>Distributions</h2><div class='grid'>")
        for metric, label in (
            ("content_preservation", "content preservation"),
            ("style_fit_mean", "style fit"),
        ):
            values = {s: [t["systems"][s][metric] for t in triples] for s in systems}
            body.append(
                _img(
                    plots.distributions(values, label, label),
                    label,
                    f"{label} of each triple, per system (box: quartiles; dots: triples)",
                )
            )
        points = {
            s: (
                [t["systems"][s]["content_preservation"] for t in triples],
                [t["systems"][s]["style_fit_mean"] for t in triples],
            )
            for s in systems
        }
        body.append(
            _img(
                plots.tradeoff(points),
                "trade-off",
                "each triple's content preservation against its style fit: a good "
                "transfer sits top right, the baselines at the two edges",
            )
        )
        body.append("</div>")
    body += _transfer_examples(triples[:examples], beats)
    body += _transfer_table(triples)
    body += _skipped(results["skipped"])
    title = "groove: style transfer evaluation"
    with atomic_open(path, "w", encoding="utf-8") as f:
        f.write(_page(title, body))


PROFILE_COLUMNS = (
    ("all", "time_pitch_diff"),
    ("all", "onset_duration"),
    ("all", "onset_velocity"),
    ("all", "drums"),
)


def _transfer_examples(triples: list[dict[str, Any]], beats: float) -> list[str]:
    if not triples:
        return []
    out = [f"<h2>Examples (first {len(triples)})</h2>"]
    for t in triples:
        content, style, output = (as_score(t[k]) for k in ("content", "style", "output"))
        numbers = t["systems"]["output"]
        out.append(
            f"<h3>{_name(t['output'])}</h3><p>content {_name(t['content'])}, style "
            f"{_name(t['style'])}: content preservation "
            f"{_num(numbers['content_preservation'])}, style fit "
            f"{_num(numbers['style_fit_mean'])} (G2G {_num(numbers['style_fit_g2g_mean'])}), "
            f"chord tones {_num(numbers['chord_tone_rate'])}, held notes "
            f"{_num(numbers['held_note_rate'])}, continuity "
            f"{_num(numbers['part_continuity'])}</p>"
        )
        rolls = plots.piano_rolls(
            [("content", content), ("style", style), ("output", output)], beats
        )
        out.append(_img(rolls, "piano rolls", f"piano rolls, first {beats:g} beats"))
        out.append(
            _img(
                plots.chroma_pair(content, output, beats),
                "chroma",
                "chroma of content and output (each column scaled to its loudest pitch class)",
            )
        )
        rows = []
        for title, score in (("style", style), ("output", output)):
            profiles = style_profiles(score, roles=("all",))
            rows.append((title, {k[1]: profiles[k] for k in PROFILE_COLUMNS}))
        out.append(
            _img(
                plots.profile_grid(rows),
                "style profiles",
                "style profiles of the style example (top) and the output (bottom), "
                "all instruments pooled",
            )
        )
    return out


def _transfer_table(triples: list[dict[str, Any]]) -> list[str]:
    if not triples:
        return []
    rows = [
        (
            _name(t["output"]),
            _name(t["content"]),
            _name(t["style"]),
            *(
                f"{_num(t['systems'][s]['content_preservation'])} / "
                f"{_num(t['systems'][s]['style_fit_mean'])}"
                for s in t["systems"]
            ),
        )
        for t in triples
    ]
    systems = list(triples[0]["systems"])
    header = ("output", "content", "style", *(f"{s}: content / style" for s in systems))
    return ["<h2>Every triple</h2>", _table(header, rows)]


def corpus_report(results: dict[str, Any], path: str | os.PathLike) -> None:
    """Write the HTML report of `evaluate_corpus` results."""
    folders = list(results["summary"])
    reference = results["config"]["reference"]
    metrics = list(next(iter(results["summary"].values()))) if folders else list(METRICS)
    rows = []
    for name in metrics:
        row = [name, *(_mean_sd(results["summary"][f][name]) for f in folders)]
        for folder in folders[1:]:
            overlap = results["overlap"][folder][name]
            row += [_num(overlap["overlapping_area"]), _num(overlap["intra_inter_overlap"])]
        rows.append(row)
    header = [
        "metric",
        *(f"{html.escape(Path(f).name or f)} ({len(results['files'][f])} files)" for f in folders),
    ]
    for folder in folders[1:]:
        short = html.escape(Path(folder).name or folder)
        header += [f"OA {short}", f"intra/inter OA {short}"]
    body = [
        f"<p>Descriptive metrics (muspy's definitions, in beats) of each folder; mean ± "
        f"standard deviation over files. OA is the overlapping area of the metric's "
        f"distribution in a folder with its distribution in the reference "
        f"<code>{html.escape(reference)}</code>; intra/inter OA is Yang &amp; Lerch's "
        f"(2020) overlap of the reference's intra-set distances with the inter-set "
        f"distances. 1 means the folders look alike.</p>",
        _table(header, rows),
        "<h2>Distributions</h2><div class='grid'>",
    ]
    for name in metrics:
        columns = {
            Path(f).name or f: [v[name] for v in results["files"][f].values()] for f in folders
        }
        body.append(_img(plots.overlaid_histograms(columns, name), name))
    body.append("</div>")
    body += _skipped(results["skipped"])
    with atomic_open(path, "w", encoding="utf-8") as f:
        f.write(_page("groove: corpus comparison", body))
