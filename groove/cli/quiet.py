"""A quiet run: `groove COMMAND` prints groove's own lines only; `groove --verbose
COMMAND` leaves every library's logs on.

TensorFlow logs through absl's C++ logging, which no Python setting reaches. What
a plain `groove transfer` or `groove generate` printed, and what silences it:

- `I... cpu_feature_guard.cc] This TensorFlow binary is optimized ...` (and its
  second line), XLA's `I... service.cc`, `device_compiler.h` and `dump_mlir_util.cc`
  lines, and `E... util.cc] oneDNN supports DT_BOOL only on platforms with
  AVX-512 ...`: TF_CPP_MIN_LOG_LEVEL=3 (0 logs all, 1 drops INFO, 2 WARNING,
  3 ERROR). TensorFlow reads it at its first log message, so it is set before
  TensorFlow is imported, with `setdefault`: a value of the user's own wins.
- `WARNING: All log messages before absl::InitializeLog() is called are written
  to STDERR` and `I... port.cc] oneDNN custom operations are on ...`, twice:
  logged while the dynamic loader initialises libtensorflow_framework.so.2 and
  _pywrap_profiler_plugin.so, before TensorFlow reads its level, so no environment
  variable reaches them (TF_ENABLE_ONEDNN_OPTS=0 would, by turning oneDNN off,
  which changes the numbers). While `tensorflow` is imported, file descriptor 2
  points at a temporary file; afterwards, the log lines in it below the level are
  dropped and everything else (a Python warning, a message we do not know) is
  passed on to stderr.
- Python's `tensorflow` logger (e.g. tf.function retracing warnings) and absl's
  Python logger: level ERROR.

A command that crashes while TensorFlow loads (a fatal error of the C++ library)
dies with its last words unread: run it again with --verbose.

Everything is put back when the command returns, so `main` can be called again
in the same process.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator

# Environment variables set (unless set already) for a quiet run.
QUIET_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3"}

# The first line absl's C++ logging writes when it logs before absl::InitializeLog().
_ABSL_PREAMBLE = "WARNING: All log messages before absl::InitializeLog() is called"
# absl's C++ log line: severity, MMDD hh:mm:ss.micros (before absl::InitializeLog,
# "0000 00:00:" and the seconds since 1970), thread id, file:line] message.
_ABSL_LINE = re.compile(r"([IWEF])\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [^ :]+:\d+\] ")
_SEVERITIES = "IWEF"  # INFO, WARNING, ERROR, FATAL: 0..3, as TF_CPP_MIN_LOG_LEVEL counts


@contextlib.contextmanager
def quiet_logs() -> Iterator[None]:
    """Run the body with the logs of TensorFlow and the libraries under it off."""
    saved_env = {name: os.environ.get(name) for name in QUIET_ENV}
    for name, value in QUIET_ENV.items():
        os.environ.setdefault(name, value)
    saved_levels: dict[str, int] = {}
    finder = None
    if "tensorflow" in sys.modules:
        _quiet_python_loggers(saved_levels)
    else:
        finder = _QuietImport("tensorflow", lambda: _quiet_python_loggers(saved_levels))
        sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        if finder is not None and finder in sys.meta_path:
            sys.meta_path.remove(finder)
        for name, level in saved_levels.items():
            logging.getLogger(name).setLevel(level)
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _quiet_python_loggers(saved_levels: dict[str, int]) -> None:
    names = ["tensorflow"]
    # absl's logger must be made by absl (it has its own Logger class): touch it
    # only once absl has.
    if "absl.logging" in sys.modules:
        names.append("absl")
    for name in names:
        logger = logging.getLogger(name)
        saved_levels.setdefault(name, logger.level)
        logger.setLevel(max(logger.level, logging.ERROR))


class _QuietImport:
    """A meta path finder that finds nothing itself: on the first import of the
    module `name` it takes itself off `sys.meta_path`, and has the module found as
    usual run with its native log lines dropped (`_native_logs_dropped`)."""

    def __init__(self, name: str, after: Callable[[], None]) -> None:
        self.name = name
        self.after = after  # called once the module is imported

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.name:
            return None
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        loader = getattr(spec, "loader", None)
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        exec_module = loader.exec_module

        def quiet_exec_module(module) -> None:
            try:
                with _native_logs_dropped():
                    exec_module(module)
            finally:
                with contextlib.suppress(AttributeError):
                    del loader.exec_module  # the loader's own method again
            self.after()

        # (a loader without a __dict__ refuses: then it imports as it is)
        with contextlib.suppress(AttributeError):
            loader.exec_module = quiet_exec_module
        return spec


@contextlib.contextmanager
def _native_logs_dropped() -> Iterator[None]:
    """Point file descriptor 2 at a temporary file during the body; then pass on
    what was written to it, less absl's log lines below TF_CPP_MIN_LOG_LEVEL."""
    try:
        level = int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0"))
    except ValueError:
        level = 0
    with contextlib.ExitStack() as stack:
        try:
            caught = stack.enter_context(tempfile.TemporaryFile())
            saved = os.dup(2)
        except OSError:  # no temporary folder, or no stderr: leave stderr alone
            caught = None
        if caught is None:
            yield
            return
        _flush_stderr()
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            _flush_stderr()
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            text = caught.read().decode("utf-8", errors="replace")
            kept = [line for line in text.splitlines(True) if not _drop(line, level)]
            if kept and sys.stderr is not None:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()


def _drop(line: str, level: int) -> bool:
    if level > 0 and line.startswith(_ABSL_PREAMBLE):
        return True
    match = _ABSL_LINE.match(line)
    return match is not None and _SEVERITIES.index(match.group(1)) < level


def _flush_stderr() -> None:
    with contextlib.suppress(AttributeError, OSError, ValueError):
        sys.stderr.flush()
