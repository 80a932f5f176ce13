"""Shared test fixtures: the real MIDI files in ../shared/midi and small scores."""

from __future__ import annotations

import csv
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from groove import midi
from groove.midi import TEMPO_DTYPE, Score, Track

SHARED_MIDI = Path(__file__).resolve().parents[1].parent / "shared" / "midi"

# Under CI (CI=true, as .ci/run and hosted CI set it) the suite must not pass by
# quietly running less: a missing ../shared/midi stops the session as a failure, and a
# test skipped for want of a shared file fails. Developers without CI=true keep the skips.
IN_CI = os.environ.get("CI", "").strip().lower() in ("true", "1")


def pytest_addoption(parser):
    parser.addoption(
        "--runslow",
        action="store_true",
        default=False,
        help="also run the tests marked extended (the long fuzz run of tests/test_fuzz.py, "
        "and cases whose coverage other tests hold, e.g. a second model kind's mirrored run)",
    )


def pytest_collection_modifyitems(config, items):
    """Without --runslow, the tests marked extended are deselected (not skipped: a
    skip under CI=true means a missing shared file)."""
    if config.getoption("--runslow"):
        return
    extended = [item for item in items if "extended" in item.keywords]
    if extended:
        config.hook.pytest_deselected(items=extended)
        items[:] = [item for item in items if "extended" not in item.keywords]


def pytest_sessionstart(session):
    if IN_CI and not (SHARED_MIDI / "MANIFEST.tsv").is_file():
        pytest.exit(
            f"CI=true but {SHARED_MIDI} (with its MANIFEST.tsv) is absent: every test of "
            "real MIDI would be skipped; check out the shared folder beside the repository",
            returncode=pytest.ExitCode.TESTS_FAILED,
        )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        if str(SHARED_MIDI) in reason:
            report.outcome = "failed"
            report.longrepr = f"CI=true, so a missing shared file is a failure: {reason}"


def manifest() -> list[dict[str, str]]:
    """Rows of ../shared/midi/MANIFEST.tsv, or [] when the folder is absent."""
    path = SHARED_MIDI / "MANIFEST.tsv"
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def shared_params(category: str | None = None) -> list:
    """pytest params, one per shared file, or one skipped param without the folder."""
    rows = [r for r in manifest() if category is None or r["category"] == category]
    if not rows:
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"{SHARED_MIDI} is absent"))]
    return [pytest.param(SHARED_MIDI / r["file"], id=r["file"]) for r in rows]


def score_of(
    notes: list[tuple], tracks: list[Track] | None = None, tpb: int = 480, qpm: float = 120.0
) -> Score:
    """A Score from (start_tick, end_tick, pitch, velocity, track) tuples."""
    arr = np.array(notes, dtype=np.int64).reshape(-1, 5)
    table = midi.make_notes(arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3], arr[:, 4])
    n_tracks = int(arr[:, 4].max()) + 1 if len(arr) else 0
    return Score(
        notes=table,
        tracks=tracks
        if tracks is not None
        else [Track(0, False, f"t{i}") for i in range(n_tracks)],
        ticks_per_beat=tpb,
        tempos=np.array([(0, qpm)], TEMPO_DTYPE),
        source="<test>",
    )


# ---- hand-made Standard MIDI Files -------------------------------------------------


def vlq(n: int) -> bytes:
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def smf_track(events: list[tuple[int, bytes]]) -> bytes:
    """An MTrk body from (delta_ticks, event_bytes) pairs, End of Track appended."""
    return b"".join(vlq(d) + e for d, e in events) + b"\x00\xff\x2f\x00"


def smf(tracks: list[bytes], fmt: int = 1, tpb: int = 480, declared: int | None = None) -> bytes:
    header = b"MThd" + struct.pack(
        ">IHHH", 6, fmt, len(tracks) if declared is None else declared, tpb
    )
    return header + b"".join(b"MTrk" + struct.pack(">I", len(t)) + t for t in tracks)


def note_events(pitch: int = 60, length: int = 480, channel: int = 0) -> list[tuple[int, bytes]]:
    return [(0, bytes([0x90 | channel, pitch, 100])), (length, bytes([0x80 | channel, pitch, 0]))]


# Two JAX devices on the host CPU. Their collectives wait for each other at a
# rendezvous that XLA aborts (SIGABRT) past a timeout; on a loaded 2-core CI machine
# one device can be starved for long, so the tests allow 10 minutes.
JAX_TWO_HOST_DEVICES = (
    "--xla_force_host_platform_device_count=2 "
    "--xla_cpu_collective_call_terminate_timeout_seconds=600 "
    "--xla_cpu_collective_timeout_seconds=600"
)


# XLA flags for a JAX child that trains a tiny model: it compiles a training step for
# each new batch shape and every op it runs eagerly; unoptimised XLA compiles them
# about twice as fast (the same flags as tests/models/test_transfer_transformer.py).
JAX_FAST_COMPILE = "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"


def run_child(script: str, args: list[str], env: dict[str, str]) -> str:
    """Run `python -c script *args`; its stdout, or a failure showing its stderr."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", script, *args], capture_output=True,
                         text=True, env=env, timeout=600)  # fmt: skip
    if out.returncode:
        raise AssertionError(f"the child exited with {out.returncode}:\n{out.stderr[-4000:]}")
    return out.stdout
