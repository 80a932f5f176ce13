"""Run a hostile MIDI file through groove's API and CLI, in capped child processes,
and say which promise held.

Every run happens in a child process under a memory cap (`MEMORY_CAP`) and a time
limit, so a hole shows up as an outcome instead of taking the test session down:

- `success`: it worked, and wrote what it should;
- `repair`: it worked, with a `GrooveWarning` (a documented repair);
- `clean_error`: refused cleanly: `MidiError` naming the file (API), exit 2 with
  one `groove: error:` line naming the file and no output (CLI), or, for the
  commands that take folders, the file skipped with a line naming it;
- `broken`: no crash, but a promise broken: an error that does not name the file
  or spans lines, a loaded score that breaks its own invariants (an end before
  its start, past the 6-hour limit), exit 0 without the output, an output or a
  `.part` file left behind by a failure;
- `crash`: a traceback, or an exit code other than 0 and 2;
- `hang`: the time limit ran out;
- `memory`: `MemoryError`, a failed allocation, or death by a signal (the cap
  turns a runaway allocation into one of these).

`run_api(path)` and `run_cli(command, path, seed, work)` return `Result`s.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.fuzz.generator import EXAMPLES, REPO

OUTCOMES = ("clean_error", "repair", "success", "broken", "crash", "hang", "memory")
GOOD = frozenset({"clean_error", "repair", "success"})

MEMORY_CAP = 4 * 2**30
# Commands that import TensorFlow are capped on RLIMIT_DATA (heap and anonymous
# mappings) instead of RLIMIT_AS: TensorFlow reserves address space it never
# touches, in proportion to the cores (measured on 2 cores: VmPeak 1.7-2.6 GB,
# VmData 0.45-0.62 GB for a transfer or a short generate of the bundled examples).
# Linux enforces RLIMIT_DATA on mmap since 4.7, so a runaway numpy or TensorFlow
# allocation still fails at the cap.
API_TIME_LIMIT = 60.0  # seconds; a healthy case takes about one
CLI_TIME_LIMIT = 90.0
TF_TIME_LIMIT = 240.0  # a cold TensorFlow start and a short decode

API_TARGETS = ("load", "encode:beat", "encode:duration", "encode:performance")

# Sets the cap, then becomes the real command: no Python runs between fork and exec
# in the parent (preexec_fn is unsafe once the test session has threads).
_LAUNCH = (
    "import os, resource, sys\n"
    "kind, cap = getattr(resource, sys.argv[1]), int(sys.argv[2])\n"
    "resource.setrlimit(kind, (cap, cap))\n"
    "os.execv(sys.executable, [sys.executable, *sys.argv[3:]])\n"
)


@dataclasses.dataclass
class Result:
    target: str
    outcome: str
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome in GOOD


@dataclasses.dataclass
class Child:
    returncode: int | None  # None: killed at the time limit
    stdout: str
    stderr: str

    @property
    def timed_out(self) -> bool:
        return self.returncode is None


def run_capped(argv: list[str], limit: float, rlimit: str = "RLIMIT_AS", cwd=None) -> Child:
    """`python *argv` under the memory cap and the time limit (the whole process
    group is killed at the limit)."""
    cmd = [sys.executable, "-c", _LAUNCH, rlimit, str(MEMORY_CAP), *argv]
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONFAULTHANDLER": "1"}
    proc = subprocess.Popen(
        cmd,
        cwd=cwd or REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=limit)
        return Child(proc.returncode, out, err)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        return Child(None, out, err)


def _tail(text: str, lines: int = 6) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _signal_name(rc: int) -> str:
    try:
        return signal.Signals(-rc).name
    except ValueError:
        return f"signal {-rc}"


def _memory_words(text: str) -> bool:
    return any(
        w in text for w in ("MemoryError", "Unable to allocate", "bad_alloc", "OOM when allocating")
    )


# ------------------------------------------------------------------------- the API


def run_api(path: Path) -> list[Result]:
    """`groove.midi.load(path)`, then each tokenizer's `encode` and `encode_tracks`,
    in one capped child. A target after a clean refusal by `load` inherits it."""
    child = run_capped(["-m", "tests.fuzz.harness", "--api", str(path)], API_TIME_LIMIT)
    results, started = {}, None
    for line in child.stdout.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if "start" in record:
            started = record["start"]
        else:
            results[record["target"]] = Result(**record)
    if started is not None and started not in results:  # the child died inside it
        if child.timed_out:
            results[started] = Result(started, "hang", f"over {API_TIME_LIMIT:.0f} s")
        elif child.returncode < 0:
            detail = f"killed by {_signal_name(child.returncode)}\n{_tail(child.stderr)}"
            results[started] = Result(started, "memory", detail)
        else:
            outcome = "memory" if _memory_words(child.stderr) else "crash"
            detail = f"exit {child.returncode}\n{_tail(child.stderr)}"
            results[started] = Result(started, outcome, detail)
    if not results:
        detail = f"the child reported nothing (exit {child.returncode})\n{_tail(child.stderr)}"
        return [Result("load", "crash", detail)]
    return list(results.values())


def _score_problems(score, max_seconds: float) -> list[str]:
    """What is wrong with a loaded score, by its own invariants and the README's limits."""
    import numpy as np

    n = score.notes
    problems = []
    if score.ticks_per_beat < 1:
        problems.append(f"ticks per beat {score.ticks_per_beat}")
    if len(n) == 0:
        return problems
    checks = {
        "a start before tick 0": n["start"] < 0,
        "an end before its start": n["end"] < n["start"],
        "a pitch outside 0..127": (n["pitch"] < 0) | (n["pitch"] > 127),
        "a velocity outside 0..127": (n["velocity"] < 0) | (n["velocity"] > 127),
        "a track index outside the tracks": (n["track"] < 0) | (n["track"] >= len(score.tracks)),
    }
    for what, bad in checks.items():
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            problems.append(f"{int(bad.sum())} note(s) with {what} (first: {n[i]})")
    last = float(score.seconds(np.array([n["end"].max()]))[0])
    if not last <= max_seconds:
        problems.append(f"the last note ends at {last:.0f} s, past the {max_seconds:.0f} s limit")
    return problems


def _api_child(path: str) -> None:
    import traceback
    import warnings

    from groove import midi
    from groove.errors import GrooveError, GrooveWarning
    from groove.tokenizers import BeatTokenizer, DurationTokenizer, PerformanceTokenizer

    def emit(**record) -> None:
        print(json.dumps(record), flush=True)

    def attempt(target: str, fn: Callable):
        """(value, repaired) or None after emitting the failure."""
        emit(start=target)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                value = fn()
            except MemoryError:
                emit(target=target, outcome="memory", detail=_tail(traceback.format_exc()))
                return None
            except GrooveError as e:
                text = str(e)
                named = path in text and "\n" not in text
                why = "" if named else "the error does not name the file in one line: "
                emit(target=target, outcome="clean_error" if named else "broken", detail=why + text)
                return None
            except Exception as e:
                outcome = "memory" if _memory_words(repr(e)) else "crash"
                emit(target=target, outcome=outcome, detail=_tail(traceback.format_exc()))
                return None
        repaired = [str(w.message) for w in caught if issubclass(w.category, GrooveWarning)]
        return value, repaired

    loaded = attempt("load", lambda: midi.load(path))
    if loaded is None:  # the tokenizers never see a refused file
        return
    score, repaired = loaded
    problems = _score_problems(score, midi.MAX_SECONDS)
    if problems:
        emit(target="load", outcome="broken", detail="loaded, but " + "; ".join(problems))
        return
    repairs = list(score.repairs) or repaired
    emit(target="load", outcome="repair" if repairs else "success", detail="; ".join(repairs))
    for tok in (BeatTokenizer(), DurationTokenizer(), PerformanceTokenizer()):
        target = f"encode:{tok.kind}"

        def encode(tok=tok):
            ids = tok.encode(score)
            by_track = tok.encode_tracks(score)
            for stream in [ids, *by_track.values()]:
                tok.check_ids(stream)  # TokenError (broken) if an id is outside the vocabulary
            return len(ids), sum(len(s) for s in by_track.values())

        done = attempt(target, encode)
        if done is not None:
            (merged, per_track), _ = done
            detail = f"{merged} ids merged, {per_track} per track"
            emit(target=target, outcome="repair" if repairs else "success", detail=detail)


# ------------------------------------------------------------------------- the CLI


@dataclasses.dataclass(frozen=True)
class Command:
    """One CLI command with the hostile file in one of its inputs.

    `setup(work, hostile, seed)` lays out the inputs under `work` and returns the
    argv (after `groove`) and the outputs a success must leave."""

    name: str
    setup: Callable[[Path, Path, int], tuple[list[str], list[Path]]]
    tensorflow: bool = False
    folders: bool = False  # takes folders: an unreadable file is skipped, not fatal


def _copy(src: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(src, folder / src.name))


def _tokenize(work, hostile, seed):
    out = work / "out.jsonl"
    spec = [["-t", "performance"], ["-t", "beat", "--per-track"], ["-t", "duration"]][seed % 3]
    return ["tokenize", str(hostile), "-o", str(out), "-q", *spec], [out]


def _render(work, hostile, seed):
    out = work / "out.wav"
    return ["render", str(hostile), "-o", str(out), "--synth", "sine"], [out]


def _eval_corpus(work, hostile, seed):
    a, b = work / "a", work / "b"
    _copy(hostile, a), _copy(EXAMPLES / "chorale.mid", a)
    _copy(EXAMPLES / "band.mid", b), _copy(EXAMPLES / "song.mid", b)
    report = work / "report.html"
    return ["eval", "corpus", str(a), str(b), "--report", str(report), "-q"], [report]


def _eval_transfer(work, hostile, seed):
    _copy(EXAMPLES / "song.mid", work / "c"), _copy(EXAMPLES / "style.mid", work / "s")
    _copy(hostile, work / "o")
    (work / "pairs.tsv").write_text(f"song.mid\tstyle.mid\t{hostile.name}\n", encoding="utf-8")
    report = work / "report.html"
    argv = ["eval", "transfer", "--content", str(work / "c"), "--style", str(work / "s")]
    argv += ["--output", str(work / "o"), "--pairs", str(work / "pairs.tsv")]
    return [*argv, "--report", str(report), "-q"], [report]


def _data_corpus(work, hostile, seed):
    a = work / "a"
    _copy(hostile, a), _copy(EXAMPLES / "chorale.mid", a)
    out = work / "lm"
    return ["data", "corpus", str(a), "--out", str(out), "-q"], [out / "manifest.json"]


def _transfer_content(work, hostile, seed):
    out = work / "out.mid"
    argv = ["transfer", str(hostile), str(EXAMPLES / "style.mid"), "-o", str(out)]
    return [*argv, "--seed", "0"], [out]


def _transfer_style(work, hostile, seed):
    out = work / "out.mid"
    argv = ["transfer", str(EXAMPLES / "song.mid"), str(hostile), "-o", str(out)]
    return [*argv, "--seed", "0"], [out]


def _generate(work, hostile, seed):
    out = work / "out.mid"
    argv = ["generate", "--primer", str(hostile), "-o", str(out), "--seconds", "2"]
    return [*argv, "--max-tokens", "64", "--seed", "0"], [out]


COMMANDS = {
    c.name: c
    for c in [
        Command("tokenize", _tokenize),
        Command("render", _render),
        Command("eval_corpus", _eval_corpus, folders=True),
        Command("eval_transfer", _eval_transfer, folders=True),
        Command("data_corpus", _data_corpus, folders=True),
        Command("transfer_content", _transfer_content, tensorflow=True),
        Command("transfer_style", _transfer_style, tensorflow=True),
        Command("generate", _generate, tensorflow=True),
    ]
}
CHEAP_COMMANDS = tuple(n for n, c in COMMANDS.items() if not c.tensorflow)
TF_COMMANDS = tuple(n for n, c in COMMANDS.items() if c.tensorflow)


def run_cli(command: str, hostile_bytes: bytes, name: str, seed: int, work: Path) -> Result:
    """`python -m groove COMMAND ...` with a file `name` holding `hostile_bytes`."""
    cmd = COMMANDS[command]
    work.mkdir(parents=True, exist_ok=True)
    hostile = work / name
    hostile.write_bytes(hostile_bytes)
    argv, outputs = cmd.setup(work, hostile, seed)
    limit = TF_TIME_LIMIT if cmd.tensorflow else CLI_TIME_LIMIT
    rlimit = "RLIMIT_DATA" if cmd.tensorflow else "RLIMIT_AS"
    child = run_capped(["-m", "groove", *argv], limit, rlimit, cwd=work)
    target = f"cli:{command}"
    return Result(target, *classify_cli(child, name, outputs, work, limit, cmd.folders))


def classify_cli(
    child: Child, name: str, outputs: list[Path], work: Path, limit: float, folders: bool
) -> tuple[str, str]:
    """(outcome, detail) of one CLI run; see the module docstring."""
    err = child.stderr
    if child.timed_out:
        return "hang", f"over {limit:.0f} s\n{_tail(err)}"
    if child.returncode < 0:
        return "memory", f"killed by {_signal_name(child.returncode)}\n{_tail(err)}"
    if _memory_words(err):
        return "memory", f"exit {child.returncode}\n{_tail(err)}"
    if "Traceback (most recent call last)" in err:
        return "crash", f"exit {child.returncode}\n{_tail(err)}"
    parts = sorted(str(p.relative_to(work)) for p in work.rglob("*.part"))
    leftovers = f"; left {', '.join(parts)}" if parts else ""
    lines = [line for line in err.splitlines() if line.strip()]
    said = [line for line in lines if not line.startswith("groove: warning:")]
    warned = [line for line in lines if line.startswith("groove: warning:")]
    if child.returncode == 2:
        left = [str(p.relative_to(work)) for p in outputs if p.exists()]
        one_line = len(said) == 1 and said[0].startswith("groove: error:") and name in said[0]
        if one_line and not left and not parts:
            return "clean_error", said[0]
        why = "exit 2 but "
        why += "" if one_line else f"not one 'groove: error:' line naming {name}: "
        why += f"left {', '.join(left)} " if left else ""
        return "broken", (why + leftovers + "\n" + _tail(err)).strip()
    if child.returncode != 0:
        return "crash", f"exit {child.returncode}\n{_tail(err)}"
    missing = [str(p.relative_to(work)) for p in outputs if not p.exists() or not p.stat().st_size]
    if missing or parts:
        what = f"missing or empty: {', '.join(missing)}" if missing else ""
        return "broken", f"exit 0 but {what}{leftovers}\n{_tail(err)}"
    skipped = [line for line in lines if name in line and "skipped" in line]
    if folders and skipped:
        return "clean_error", skipped[0]
    if warned:
        return "repair", warned[0]
    return "success", _tail(err, 2)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--api"]:
        _api_child(sys.argv[2])
    else:
        sys.exit("usage: python -m tests.fuzz.harness --api FILE")
