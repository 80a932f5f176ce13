"""Throughput of the synthetic corpus: 8-bar segments rendered to MIDI bytes per second.

Each segment is a random 8-bar chart (`random_chart(seed, bars=8)`) played in a
random style of its meter (`Style.random`) by groove's band (`render_score`, a
`Score`) and serialised as a Standard MIDI File. Every row renders with groove;
the rows differ in how the `Score` becomes MIDI bytes. All in one run, on the same
(chart, style, seed) list:

- render only: `render_score`, no MIDI bytes (the part every row shares);
- through pretty_midi (the baseline of the ratio column): `to_pretty_midi` builds
  `pretty_midi.PrettyMIDI`, `Instrument` and `Note` objects from the `Score`, and
  pretty_midi's own writer (`PrettyMIDI.write`) serialises them; 1 process;
- through symusic (what `groove data synth` does): `groove.midi.to_bytes`; 1
  process and 2.

Before timing, the two MIDI files of each of the first 50 segments are read back
and compared: the table's header says how many carry the same notes.

    .venv/bin/python benchmarks/data_synth.py [--segments 1000]
    .venv/bin/python benchmarks/data_synth.py --quick      # 100 segments
"""

from __future__ import annotations

import argparse
import io
import time
from concurrent.futures import ProcessPoolExecutor


def _jobs(n: int) -> list[tuple[int, int]]:
    return [(1000 + i, i % 400) for i in range(n)]


def _score(job: tuple[int, int]):
    from groove.data import Style, random_chart, render_score

    chart_seed, style_seed = job
    style = Style.random(style_seed)
    chart = random_chart(chart_seed, meter=style.meter, bars=8)
    return render_score(chart, style, chart_seed)


def render_only(job: tuple[int, int]) -> int:
    return len(_score(job).notes)


def symusic_bytes(job: tuple[int, int]) -> bytes:
    from groove.midi import to_bytes

    return to_bytes(_score(job))


def pretty_midi_bytes(job: tuple[int, int]) -> bytes:
    from groove.midi import to_pretty_midi

    buffer = io.BytesIO()
    to_pretty_midi(_score(job)).write(buffer)
    return buffer.getvalue()


def _same_notes(a: bytes, b: bytes) -> bool:
    import numpy as np

    from groove.midi import load

    x, y = load(a), load(b)
    order = ["track", "start", "pitch", "end", "velocity"]
    nx, ny = np.sort(x.notes, order=order), np.sort(y.notes, order=order)
    return (
        [(t.program, t.is_drum) for t in x.tracks] == [(t.program, t.is_drum) for t in y.tracks]
        and len(nx) == len(ny)
        and all((nx[f] == ny[f]).all() for f in order)
    )


def _time(fn, jobs, workers: int) -> float:
    start = time.perf_counter()
    if workers == 1:
        for job in jobs:
            fn(job)
    else:
        with ProcessPoolExecutor(workers) as pool:
            list(pool.map(fn, jobs, chunksize=32))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="100 segments")
    args = parser.parse_args()
    jobs = _jobs(100 if args.quick else args.segments)
    checked = jobs[:50]  # also warms the imports and the archetype cache
    same = sum(_same_notes(symusic_bytes(j), pretty_midi_bytes(j)) for j in checked)
    rows = [
        ("render_score only (no MIDI)", render_only, 1),
        ("render_score -> to_pretty_midi -> PrettyMIDI.write", pretty_midi_bytes, 1),
        ("render_score -> groove.midi.to_bytes (symusic)", symusic_bytes, 1),
        ("render_score -> groove.midi.to_bytes (symusic)", symusic_bytes, 2),
    ]
    results = [(name, workers, len(jobs) / _time(fn, jobs, workers)) for name, fn, workers in rows]
    baseline = results[1][2]
    print(
        f"{len(jobs)} random 8-bar segments (chart, style, seed), each rendered by groove's "
        f"band; MIDI files with the same notes both ways: {same}/{len(checked)} checked\n"
    )
    print("| path | processes | segments/s | / pretty_midi path |")
    print("|---|---|---|---|")
    for name, workers, rate in results:
        print(f"| {name} | {workers} | {rate:.1f} | {rate / baseline:.2f} |")


if __name__ == "__main__":
    main()
