"""A plain `groove` run prints groove's own lines only; `groove --verbose` lets
TensorFlow and absl log."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from groove import example_path
from groove.cli.quiet import _native_logs_dropped, _QuietImport, quiet_logs

SONG, STYLE = example_path("song.mid"), example_path("style.mid")
ABSL_LINE = re.compile(r"^[IWEF]\d{4} \S+ +\d+ \S+:\d+\] ", re.MULTILINE)
# Lines TensorFlow 2.21 on an AVX-512 CPU printed before every `groove transfer`.
PREAMBLE = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
ONEDNN = (
    "I0000 00:00:1796061675.475403   18448 port.cc:153] oneDNN custom operations are on. "
    "You may see slightly different numerical results due to floating-point round-off "
    "errors from different computation orders. To turn them off, set the environment "
    "variable `TF_ENABLE_ONEDNN_OPTS=0`."
)
DT_BOOL = (
    "E0000 00:00:1796060971.668638    9704 util.cc:131] oneDNN supports DT_BOOL only on "
    "platforms with AVX-512. Falling back to the default Eigen-based implementation if present."
)


def groove(*args: str, **env: str) -> subprocess.CompletedProcess:
    """`python -m groove ARGS` with no TF_CPP_* variable but those in `env`."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TF_CPP_")}
    return subprocess.run(
        [sys.executable, "-m", "groove", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**environ, **env},
    )


@pytest.mark.slow
def test_transfer_prints_only_its_own_line(tmp_path):
    out = tmp_path / "out.mid"
    # local_device.cc logs at VLOG 1 in every TensorFlow run; a quiet run hides even that.
    argv = ["transfer", SONG, STYLE, "-o", str(out), "--seed", "0"]
    result = groove(*argv, TF_CPP_VMODULE="local_device=1")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert re.fullmatch(rf"groove: wrote {re.escape(str(out))} \(\d+ notes, \d+ tracks\)", line)
    assert out.stat().st_size > 0


@pytest.mark.slow
def test_verbose_lets_tensorflow_log(tmp_path):
    out = tmp_path / "out.mid"
    argv = ["--verbose", "transfer", SONG, STYLE, "-o", str(out), "--seed", "0"]
    result = groove(*argv, TF_CPP_VMODULE="local_device=1")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert ABSL_LINE.search(result.stderr), result.stderr  # TensorFlow's C++ log reached stderr
    assert result.stderr.splitlines()[-1].startswith(f"groove: wrote {out} (")
    assert out.stat().st_size > 0


def test_errors_stay_one_line(tmp_path):
    result = groove("transfer", SONG, str(tmp_path / "none.mid"), "-o", str(tmp_path / "o.mid"))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"groove: error: {tmp_path / 'none.mid'}")


def test_quiet_logs_sets_and_restores_the_environment(monkeypatch):
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    finders = list(sys.meta_path)
    with quiet_logs():
        assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "3"
    assert "TF_CPP_MIN_LOG_LEVEL" not in os.environ
    assert sys.meta_path == finders
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "1")  # the user's own setting wins
    with quiet_logs():
        assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "1"
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "1"


@pytest.mark.parametrize(
    "level, kept",
    [
        ("3", ["a Python warning", "F0000 00:00:17.5 1 x.cc:1] fatal"]),
        ("1", ["a Python warning", DT_BOOL, "F0000 00:00:17.5 1 x.cc:1] fatal"]),
        ("0", [PREAMBLE, ONEDNN, "a Python warning", DT_BOOL, "F0000 00:00:17.5 1 x.cc:1] fatal"]),
    ],
)
def test_native_log_lines_below_the_level_are_dropped(level, kept, capfd, monkeypatch):
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", level)
    lines = [PREAMBLE, ONEDNN, "a Python warning", DT_BOOL, "F0000 00:00:17.5 1 x.cc:1] fatal"]
    with _native_logs_dropped():
        for line in lines:
            os.write(2, (line + "\n").encode())
    assert capfd.readouterr().err.splitlines() == kept


def test_a_first_import_runs_with_its_log_lines_dropped(tmp_path, capfd, monkeypatch):
    (tmp_path / "noisy_lib.py").write_text(
        "import os\n"
        f"os.write(2, b{PREAMBLE + chr(10)!r})\n"
        f"os.write(2, b{ONEDNN + chr(10)!r})\n"
        "os.write(2, b'not a log line\\n')\n"
        "VALUE = 42\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
    imported = []
    finder = _QuietImport("noisy_lib", lambda: imported.append(True))
    monkeypatch.setattr(sys, "meta_path", [finder, *sys.meta_path])
    monkeypatch.delitem(sys.modules, "noisy_lib", raising=False)
    import noisy_lib

    assert noisy_lib.VALUE == 42
    assert capfd.readouterr().err == "not a log line\n"
    assert imported == [True]
    assert finder not in sys.meta_path
    assert "exec_module" not in vars(noisy_lib.__spec__.loader)  # the loader is itself again
