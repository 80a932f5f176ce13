"""Audio rendering speed of groove.render and throughput of groove.eval's metrics.

Two tables, both from the real MIDI files in the shared folder (only those that
`MANIFEST.tsv` marks `good`):

1. Rendering, as a real-time factor (RTF: seconds of audio produced per second of
   wall time) over whole files from `miditok/multitrack/` (the first
   `--render-files`, full pop/rock arrangements with drums), at 44100 Hz:

   - groove `Renderer(soundfont, sample_rate=44100, synth=...)`, one renderer
     reused across the files, `Renderer.render(score)` on already-loaded scores,
     for the "fluidsynth" synth and the dependency-free "sine" synth;
   - the baseline, pretty_midi's own `PrettyMIDI.fluidsynth(fs=44100, sf2_path=...)`
     on the same files, already parsed into `PrettyMIDI` objects (it creates a
     synthesizer, loading the SoundFont, at every call, and synthesises each
     instrument in a pass of its own).

   Every FluidSynth row uses the small SoundFont that pretty_midi ships
   (TimGM6mb.sf2), passed explicitly so that a system font is never picked. The
   target is at least 50x real time; the table says "yes" or "no" (it asserts
   nothing). The ratio column is RTF divided by pretty_midi's RTF measured in this
   same run (>1: faster).

2. Metrics, in files/s and notes/s over every good file, each a best of
   `--repeats` passes: loading (`groove.midi.load(path)`), then, on the scores
   already loaded (so parsing is not timed), `chroma_similarity(a, b)` for each
   file paired with the next one in sorted order, `style_profiles(score)` and
   `descriptive_metrics(score)`.

Run from the repository root:

    .venv/bin/python benchmarks/eval_render.py [--midi DIR] [--render-files N]
        [--render-repeats N] [--repeats N]

`--midi` defaults to `../shared/midi` beside the checkout; without that folder the
script says so and exits 0.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import importlib.metadata
import platform
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from groove import midi
from groove.errors import GrooveError, GrooveWarning
from groove.eval import chroma_similarity, descriptive_metrics, style_profiles
from groove.midi import Score
from groove.midi.constants import MIDI_SUFFIXES
from groove.render import Renderer, find_soundfont

DEFAULT_MIDI_DIR = Path(__file__).resolve().parents[2] / "shared" / "midi"
RENDER_FOLDER = "miditok/multitrack"
SAMPLE_RATE = 44100
TARGET_RTF = 50.0


@dataclasses.dataclass
class RenderResult:
    """Best pass of one renderer over the render files."""

    name: str
    wall_s: float
    audio_s: float
    error: str | None = None

    @property
    def rtf(self) -> float:
        return self.audio_s / self.wall_s


@dataclasses.dataclass
class MetricResult:
    """Best pass of one metric (or of loading) over the metric files."""

    name: str
    wall_s: float
    calls: int
    files: int
    notes: int


def unshadow_tokenizers_package() -> None:
    """Drop this script's folder from `sys.path`.

    Run as a script, this file's folder comes first on the path, and the
    `tokenizers.py` benchmark beside it would shadow the Hugging Face `tokenizers`
    package for anything that imports it.
    """
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]


def good_files(midi_dir: Path) -> list[Path]:
    """The files `MANIFEST.tsv` marks `good`, sorted; without a manifest, every
    MIDI file outside `bad/`."""
    manifest = midi_dir / "MANIFEST.tsv"
    if manifest.is_file():
        with manifest.open(newline="", encoding="utf-8") as f:
            rows = csv.DictReader(f, delimiter="\t")
            names = [row["file"] for row in rows if row["category"] == "good"]
        return sorted(midi_dir / name for name in names if (midi_dir / name).is_file())
    return sorted(
        path
        for path in midi_dir.rglob("*")
        if path.suffix.lower() in MIDI_SUFFIXES and path.relative_to(midi_dir).parts[0] != "bad"
    )


def load_all(paths: list[Path]) -> tuple[list[Path], list[Score]]:
    """The files groove loads, with their scores; the others are reported and skipped."""
    kept, scores = [], []
    for path in paths:
        try:
            scores.append(midi.load(path))
        except GrooveError as e:
            print(f"skipped (groove cannot load it): {e}")
            continue
        kept.append(path)
    return kept, scores


def best_pass(function: Callable[[Any], Any], items: Sequence[Any], repeat: int) -> tuple:
    """(best seconds, outputs) of `repeat` passes of `function` over `items`."""
    best, outputs = float("inf"), []
    for _ in range(repeat):
        start = time.perf_counter()
        outputs = [function(item) for item in items]
        best = min(best, time.perf_counter() - start)
    return best, outputs


def time_groove_render(
    synth: str, soundfont: str, scores: list[Score], repeat: int
) -> RenderResult:
    """One `Renderer` (built untimed) reused across `scores`."""
    name = f"groove {synth}"
    try:
        renderer = Renderer(soundfont=soundfont, sample_rate=SAMPLE_RATE, synth=synth)
    except GrooveError as e:
        return RenderResult(name, float("nan"), float("nan"), str(e))
    with renderer:
        wall_s, lengths = best_pass(lambda s: len(renderer.render(s)), scores, repeat)
    return RenderResult(name, wall_s, sum(lengths) / SAMPLE_RATE)


def time_pretty_midi_render(paths: list[Path], soundfont: str, repeat: int) -> RenderResult:
    """pretty_midi's `PrettyMIDI.fluidsynth` on the files, parsed untimed."""
    name = "pretty_midi fluidsynth"
    import pretty_midi

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pretty_midi warns about tempo events in tracks
        pieces = [pretty_midi.PrettyMIDI(str(path)) for path in paths]

    def render(pm: Any) -> int:
        with warnings.catch_warnings():
            # sf2_path is deprecated from pretty_midi 0.2.11 on, but every version takes it.
            warnings.simplefilter("ignore", DeprecationWarning)
            return len(pm.fluidsynth(fs=SAMPLE_RATE, sf2_path=soundfont))

    try:
        wall_s, lengths = best_pass(render, pieces, repeat)
    except ImportError as e:  # pyfluidsynth without the FluidSynth library
        return RenderResult(name, float("nan"), float("nan"), f"FluidSynth unavailable: {e}")
    return RenderResult(name, wall_s, sum(lengths) / SAMPLE_RATE)


def time_metrics(paths: list[Path], scores: list[Score], repeat: int) -> list[MetricResult]:
    """Loading, then each metric on the already-loaded scores."""
    notes = [len(s.notes) for s in scores]
    total = sum(notes)
    pairs = list(zip(scores, scores[1:] + scores[:1]))
    pair_notes = sum(a + b for a, b in zip(notes, notes[1:] + notes[:1]))
    n = len(scores)
    # An untimed call of each first, so that set-up on first use stays out of pass one.
    busiest = scores[int(np.argmax(notes))]
    midi.load(paths[0])
    chroma_similarity(busiest, busiest)
    style_profiles(busiest)
    descriptive_metrics(busiest)

    results = [
        MetricResult("load (groove.midi.load)", best_pass(midi.load, paths, repeat)[0], n, n, total)
    ]
    chroma_s, _ = best_pass(lambda ab: chroma_similarity(*ab), pairs, repeat)
    results.append(MetricResult("chroma_similarity(a, b)", chroma_s, n, 2 * n, pair_notes))
    for name, metric in (
        ("style_profiles(score)", style_profiles),
        ("descriptive_metrics(score)", descriptive_metrics),
    ):
        results.append(MetricResult(name, best_pass(metric, scores, repeat)[0], n, n, total))
    return results


def version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def print_render_table(
    results: list[RenderResult], paths: list[Path], soundfont: str, args: argparse.Namespace
) -> None:
    print(
        f"Rendering: {len(paths)} files from {args.midi / RENDER_FOLDER}, "
        f"{SAMPLE_RATE} Hz, best of {args.render_repeats} pass"
        f"{'es' if args.render_repeats > 1 else ''}"
    )
    print(f"SoundFont: {soundfont}")
    for path in paths:
        print(f"  {path.name}")
    print("Ratio: RTF / pretty_midi fluidsynth RTF, both measured in this same run (>1: faster).")
    print()
    header = (
        f"{'renderer':<24} {'audio s':>9} {'wall s':>8} {'RTF (x real time)':>18}"
        f" {'ratio':>7} {f'>= {TARGET_RTF:g}x':>7}"
    )
    print(header)
    print("-" * len(header))
    baseline = next((r for r in results if r.name.startswith("pretty_midi")), None)
    for r in results:
        if r.error is not None:
            print(f"{r.name:<24} unavailable: {r.error}")
            continue
        ratio = "-"
        if baseline is not None and baseline.error is None:
            ratio = f"{r.rtf / baseline.rtf:.2f}"
        met = "yes" if r.rtf >= TARGET_RTF else "no"
        print(
            f"{r.name:<24} {r.audio_s:>9,.1f} {r.wall_s:>8.2f} {r.rtf:>18,.1f} {ratio:>7} {met:>7}"
        )
    print()
    groove_fs = next(r for r in results if r.name == "groove fluidsynth")
    if groove_fs.error is None:
        met = "yes" if groove_fs.rtf >= TARGET_RTF else "no"
        print(
            f"Target: groove fluidsynth with the small font at >= {TARGET_RTF:g}x real time: "
            f"{met} ({groove_fs.rtf:,.1f}x)"
        )
    else:
        print(f"Target: groove fluidsynth could not run ({groove_fs.error})")


def print_metric_table(results: list[MetricResult], args: argparse.Namespace) -> None:
    load = results[0]
    print(
        f"Metrics: {load.files} good files, {load.notes:,} notes from {args.midi}; "
        f"best of {args.repeats} pass{'es' if args.repeats > 1 else ''}"
    )
    print("Metrics run on scores loaded beforehand: loading is timed only in its own row.")
    print()
    header = (
        f"{'step':<28} {'calls':>6} {'wall s':>8} {'calls/s':>9} {'files/s':>9} {'notes/s':>12}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.name:<28} {r.calls:>6} {r.wall_s:>8.3f} {r.calls / r.wall_s:>9,.1f}"
            f" {r.files / r.wall_s:>9,.1f} {r.notes / r.wall_s:>12,.0f}"
        )
    print()
    print(
        "chroma_similarity: one call per file, paired with the next file in sorted order;\n"
        "its files/s and notes/s count both files of each pair."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--midi", "--midi-dir", type=Path, default=DEFAULT_MIDI_DIR, help="shared MIDI folder"
    )
    parser.add_argument(
        "--render-files", type=int, default=4, help=f"files of {RENDER_FOLDER}/ to render"
    )
    parser.add_argument("--render-repeats", type=int, default=1, help="render passes (best)")
    parser.add_argument("--repeats", type=int, default=3, help="metric passes (best)")
    args = parser.parse_args(argv)
    for option in ("render_files", "render_repeats", "repeats"):
        if getattr(args, option) < 1:
            parser.error(f"--{option.replace('_', '-')} must be at least 1")
    if not args.midi.is_dir():
        print(f"no MIDI folder at {args.midi}: nothing to benchmark (pass --midi DIR)")
        return 0

    unshadow_tokenizers_package()
    # Empty files make some metrics NaN with a GrooveWarning: noise, not news, here.
    warnings.simplefilter("ignore", GrooveWarning)

    paths, scores = load_all(good_files(args.midi))
    if not paths:
        print(f"no readable good MIDI files under {args.midi}")
        return 0

    import pretty_midi

    soundfont = find_soundfont(Path(pretty_midi.__file__).with_name("TimGM6mb.sf2"))
    render_dir = args.midi / RENDER_FOLDER
    render = [(p, s) for p, s in zip(paths, scores) if p.parent == render_dir]
    render = render[: args.render_files]

    print(
        f"python {platform.python_version()}, numpy {np.__version__}, "
        f"pretty_midi {version('pretty_midi')}, pyfluidsynth {version('pyfluidsynth')}"
    )
    print()
    if render:
        render_paths = [p for p, _ in render]
        render_scores = [s for _, s in render]
        results = [
            time_groove_render("fluidsynth", soundfont, render_scores, args.render_repeats),
            time_groove_render("sine", soundfont, render_scores, args.render_repeats),
            time_pretty_midi_render(render_paths, soundfont, args.render_repeats),
        ]
        print_render_table(results, render_paths, soundfont, args)
    else:
        print(f"no good files under {render_dir}: rendering not measured")
    print()
    print_metric_table(time_metrics(paths, scores, args.repeats), args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
