"""Hostile MIDI never crashes, hangs or blows up groove (issue 15).

Every case of `tests.fuzz.generator` (bit flips and truncations of real files, and
hand-built files aimed at each limit) goes through `groove.midi.load` and the three
grid/performance tokenizers' `encode` and `encode_tracks`, and through the CLI
commands that read MIDI, each in a child process under a 4 GiB memory cap and a
time limit (`tests.fuzz.harness`). Each run must end in one of the promised ways:

- success (the command wrote its output);
- a documented repair (a `GrooveWarning`, or `groove: warning:` from the CLI);
- a clean error: `MidiError` naming the file; exit 2 with one `groove: error:` line
  naming the file and no output; or, for commands over folders, the file skipped
  with a line naming it;

never a traceback, a hang, a memory blow-up, a loaded score that breaks its own
invariants, or a half-written output.

The default run is a fixed sample: seed 0 (the canonical form) of every category
through the API, and a handful of (case, command) pairs through the CLI, the
TensorFlow commands (transfer, generate) only for the cases that once broke them.
`pytest tests/test_fuzz.py --runslow` adds many more seeds (GROOVE_FUZZ_SEEDS,
default 8); `python -m tests.fuzz --table N` prints the outcome table.
"""

from __future__ import annotations

import io
import os
import struct
from pathlib import Path

import mido
import pytest

from tests.fuzz.generator import CATEGORIES, Unavailable, make_case
from tests.fuzz.harness import (
    CHEAP_COMMANDS,
    MEMORY_CAP,
    TF_COMMANDS,
    Child,
    classify_cli,
    run_api,
    run_capped,
    run_cli,
)

SLOW_SEEDS = int(os.environ.get("GROOVE_FUZZ_SEEDS", "8"))

# The CLI sample of the default run: (category, seed 0, command). Each pair is one a
# fuzzing campaign broke, or the cheapest representative of its category.
CLI_SAMPLE = [
    *(("int32_end", c) for c in (*CHEAP_COMMANDS, *TF_COMMANDS)),  # issue 15, item 1
    ("truncate", "tokenize"),
    ("bitflip", "tokenize"),
    ("non_midi", "tokenize"),
    ("tpb_32767", "tokenize"),
    ("notes_100k", "tokenize"),
    ("tracks_65535", "tokenize"),  # item 5: a tracks x notes mask
    ("header_undercount", "tokenize"),  # item 6
    ("long_note", "render"),  # item 7: render --synth sine of a 5.9-hour file
    ("tempo_0", "render"),
    ("tempo_1", "render"),
    ("drum_long_in_beats", "eval_corpus"),  # item 2
    ("long_note", "eval_corpus"),  # item 3: one long file must not abort the run
    ("truncate", "eval_transfer"),
    ("notes_100k", "eval_transfer"),  # the report's piano roll of 100,000 notes
    ("bitflip", "data_corpus"),
    ("long_note", "transfer_content"),  # item 4
    ("time_signature_storm", "transfer_content"),  # item 5: quadratic time signatures
    ("truncate", "transfer_style"),
    ("tempo_1", "generate"),
]

extended = pytest.mark.extended


def case_or_skip(category: str, seed: int):
    try:
        return make_case(category, seed)
    except Unavailable as e:  # the reason names ../shared/midi: a failure under CI=true
        pytest.skip(str(e))


def repro(category: str, seed: int, commands: str) -> str:
    return (
        f"reproduce: .venv/bin/python -m tests.fuzz --table 1 --first {seed} "
        f"--only {category} --commands {commands} -v"
    )


def check_api(category: str, seed: int, tmp_path) -> None:
    case = case_or_skip(category, seed)
    path = tmp_path / case.name
    path.write_bytes(case.data)
    results = run_api(path)
    bad = [r for r in results if not r.ok]
    assert not bad, "\n".join(
        [f"{case.category} seed {seed}: {case.recipe}"]
        + [f"{r.target}: {r.outcome}\n{r.detail}" for r in bad]
        + [repro(category, seed, "none")]
    )


def check_cli(category: str, seed: int, command: str, tmp_path) -> None:
    case = case_or_skip(category, seed)
    result = run_cli(command, case.data, case.name, seed, tmp_path)
    assert result.ok, (
        f"{case.category} seed {seed}: {case.recipe}\n{result.target}: {result.outcome}\n"
        f"{result.detail}\n{repro(category, seed, command)} --no-api"
    )


# ------------------------------------------------------------------ the fixed sample


@pytest.mark.parametrize("category", list(CATEGORIES))
def test_api(category, tmp_path):
    check_api(category, 0, tmp_path)


@pytest.mark.parametrize(
    ("category", "command"), CLI_SAMPLE, ids=[f"{a}-{b}" for a, b in CLI_SAMPLE]
)
def test_cli(category, command, tmp_path):
    check_cli(category, 0, command, tmp_path)


# ------------------------------------------------------------------ --runslow

SLOW_API = [(c, s) for c in CATEGORIES for s in range(1, SLOW_SEEDS)]
# Cheap commands on every category and seed (the eval commands, slower to start,
# on two seeds); TensorFlow commands on seed 0 of every category.
SLOW_CLI = [
    (category, seed, command)
    for category in CATEGORIES
    for command in CHEAP_COMMANDS
    for seed in range(SLOW_SEEDS if not command.startswith("eval") else min(SLOW_SEEDS, 2))
    if seed or (category, command) not in CLI_SAMPLE
] + [
    (category, 0, command)
    for category in CATEGORIES
    for command in TF_COMMANDS
    if (category, command) not in CLI_SAMPLE
]


@extended
@pytest.mark.parametrize(("category", "seed"), SLOW_API, ids=[f"{c}-{s}" for c, s in SLOW_API])
def test_api_more_seeds(category, seed, tmp_path):
    check_api(category, seed, tmp_path)


@extended
@pytest.mark.parametrize(
    ("category", "seed", "command"), SLOW_CLI, ids=[f"{c}-{s}-{m}" for c, s, m in SLOW_CLI]
)
def test_cli_more_seeds(category, seed, command, tmp_path):
    check_cli(category, seed, command, tmp_path)


# ------------------------------------------------------------------ the fuzzer itself


@pytest.mark.parametrize("category", list(CATEGORIES))
def test_cases_are_the_same_bytes_every_time(category):
    for seed in (0, 1):
        try:
            first = make_case(category, seed)
        except Unavailable as e:
            pytest.skip(str(e))
        assert make_case(category, seed) == first


def events(data: bytes) -> list[tuple[int, mido.Message]]:
    """(absolute tick, message) of every track, read by mido, strictly."""
    midi = mido.MidiFile(file=io.BytesIO(data))
    out = []
    for t in midi.tracks:
        now = 0
        for msg in t:
            now += msg.time
            out.append((now, msg))
    return out


def test_the_int32_case_is_the_issues_note():
    data = make_case("int32_end", 0).data
    assert len(data) < 100
    notes = [(tick, m.type) for tick, m in events(data) if m.type in ("note_on", "note_off")]
    assert notes == [(2**31 - 2000, "note_on"), (2**31 + 2000, "note_off")]


def test_hand_built_cases_are_well_formed_where_they_mean_to_be():
    """The files aimed at a limit must reach it as valid MIDI, not as garbage."""
    for category in ("tempo_0", "tempo_1", "tpb_1", "tpb_32767", "long_note",
                     "drum_long_in_beats", "overlap_same_pitch", "huge_delta"):  # fmt: skip
        data = make_case(category, 0).data
        assert events(data), category
    division = {
        c: struct.unpack(">H", make_case(c, 0).data[12:14])[0] for c in ("tpb_1", "tpb_32767")
    }
    assert division == {"tpb_1": 1, "tpb_32767": 32767}
    tempos = {c: [m.tempo for _, m in events(make_case(c, 0).data) if m.type == "set_tempo"]
              for c in ("tempo_0", "tempo_1")}  # fmt: skip
    assert tempos == {"tempo_0": [0], "tempo_1": [1]}
    long = [t for t, m in events(make_case("long_note", 0).data) if m.type == "note_off"]
    assert long == [int(5.9 * 3600 * 2 * 480)]
    declared = struct.unpack(">H", make_case("header_claims_65535", 0).data[10:12])[0]
    assert declared == 65535
    undercount = make_case("header_undercount", 0).data
    assert struct.unpack(">H", undercount[10:12])[0] == 1 < undercount.count(b"MTrk")
    assert make_case("tracks_65535", 0).data.count(b"MTrk") == 65535
    ons = sum(
        m.type == "note_on" and m.velocity > 0 for _, m in events(make_case("notes_100k", 0).data)
    )
    assert ons == 100_000


def test_the_cap_turns_a_runaway_allocation_into_a_memory_outcome():
    code = f"import numpy; numpy.ones({MEMORY_CAP // 8 + 2**27})"
    child = run_capped(["-c", code], limit=60)
    assert child.returncode == 1 and "MemoryError" in child.stderr
    assert classify_cli(child, "x.mid", [], Path("."), 60, False)[0] == "memory"


def test_the_time_limit_kills_a_child_that_never_ends():
    child = run_capped(["-c", "import threading; threading.Event().wait()"], limit=1)
    assert child.timed_out


@pytest.mark.parametrize(
    ("returncode", "stderr", "outcome"),
    [
        (2, "groove: error: /w/x.mid: not a Standard MIDI File\n", "clean_error"),
        (2, "groove: warning: /w/x.mid: cut short\ngroove: error: /w/x.mid: no\n", "clean_error"),
        (2, "groove: error: the piece is 19000010 beats long\n", "broken"),  # names no file
        (2, "groove: error: /w/x.mid: a\nsecond line\n", "broken"),
        (1, "Traceback (most recent call last):\n  ...\nValueError: negative\n", "crash"),
        (0, "Traceback (most recent call last):\n  ...\nKeyError: 1\n", "crash"),
        (3, "", "crash"),
        (-11, "Fatal Python error: Segmentation fault\n", "memory"),
        (1, "numpy._core._exceptions._ArrayMemoryError: Unable to allocate 16.0 GiB\n", "memory"),
        (None, "", "hang"),
        (0, "groove: wrote out\n", "success"),
        (0, "groove: warning: /w/x.mid: track 1 is cut short\ngroove: wrote out\n", "repair"),
        (0, "groove: warning: /w/a/x.mid: skipped, not a Standard MIDI File\n", "clean_error"),
    ],
)
def test_the_oracle(returncode, stderr, outcome, tmp_path):
    out = tmp_path / "out"
    if returncode == 0:
        out.write_text("x")
    folders = "skipped" in stderr
    got, _ = classify_cli(Child(returncode, "", stderr), "x.mid", [out], tmp_path, 1, folders)
    assert got == outcome


def test_the_oracle_catches_half_written_outputs(tmp_path):
    out = tmp_path / "out.mid"
    out.write_text("half")
    error = Child(2, "", "groove: error: /w/x.mid: bad\n")
    assert classify_cli(error, "x.mid", [out], tmp_path, 1, False)[0] == "broken"
    out.unlink()
    (tmp_path / ".out.mid.1234.part").write_text("half")
    assert classify_cli(error, "x.mid", [out], tmp_path, 1, False)[0] == "broken"
    assert classify_cli(Child(0, "", ""), "x.mid", [out], tmp_path, 1, False)[0] == "broken"
