"""Throughput of the synthetic corpus: 8-bar segments rendered to MIDI bytes per second.

Each segment is a random 8-bar chart (`random_chart(seed, bars=8)`) played in a
random style of its meter (`Style.random`), rendered by `groove.data.band` and
serialised as a Standard MIDI File, as `groove data synth` does. Contenders, all
in one run on the same (chart, style, seed) list:

- groove `render_score` + `groove.midi.to_bytes` (symusic), 1 process and 2;
- the same notes through `render` (a `pretty_midi.PrettyMIDI`) and pretty_midi's
  own writer, 1 process: the baseline of the ratio column.

Target: 200 or more segments per second on 2 cores. Run from the repository root:

    .venv/bin/python benchmarks/data_synth.py [--segments N]
"""

from __future__ import annotations

import argparse
import io
import time
from concurrent.futures import ProcessPoolExecutor


def _jobs(n: int) -> list[tuple[int, int]]:
    return [(1000 + i, i % 400) for i in range(n)]


def groove_segment(job: tuple[int, int]) -> int:
    from groove.data.band import render_score
    from groove.data.charts import random_chart
    from groove.data.styles import Style
    from groove.midi import to_bytes

    chart_seed, style_seed = job
    style = Style.random(style_seed)
    chart = random_chart(chart_seed, meter=style.meter, bars=8)
    return len(to_bytes(render_score(chart, style, chart_seed)))


def pretty_midi_segment(job: tuple[int, int]) -> int:
    from groove.data.band import render
    from groove.data.charts import random_chart
    from groove.data.styles import Style

    chart_seed, style_seed = job
    style = Style.random(style_seed)
    chart = random_chart(chart_seed, meter=style.meter, bars=8)
    buffer = io.BytesIO()
    render(chart, style, chart_seed).write(buffer)
    return len(buffer.getvalue())


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
    args = parser.parse_args()
    jobs = _jobs(args.segments)
    groove_segment(jobs[0])  # warm the imports and the archetype cache
    pretty_midi_segment(jobs[0])
    rows = [
        ("pretty_midi render + write", pretty_midi_segment, 1),
        ("groove render_score + to_bytes", groove_segment, 1),
        ("groove render_score + to_bytes", groove_segment, 2),
    ]
    results = [(name, workers, len(jobs) / _time(fn, jobs, workers)) for name, fn, workers in rows]
    baseline = results[0][2]
    print(f"{args.segments} random 8-bar segments (chart, style, seed), MIDI bytes out")
    print(f"{'contender':34} {'procs':>5} {'segments/s':>11} {'ratio':>6} {'>= 200/s':>9}")
    for name, workers, rate in results:
        print(
            f"{name:34} {workers:>5} {rate:>11.1f} {rate / baseline:>6.2f} "
            f"{'yes' if rate >= 200 else 'no':>9}"
        )


if __name__ == "__main__":
    main()
