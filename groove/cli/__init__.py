"""The `groove` command line. It parses arguments and calls the Python API.

One module per command, each with `register(subparsers)` (its parser) and its
handler beside it: demo, tokenize (and detokenize), render, transfer, generate,
eval, data, train, serve. Options several commands share are in `options`; `quiet`
keeps TensorFlow's logs off unless `groove --verbose`.

Heavy imports (symusic, miditok, music21, TensorFlow) happen inside the handlers
that need them, so `groove --help` answers at once.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import warnings
from collections.abc import Sequence

from groove import __version__
from groove.cli import data, demo, generate, render, serve, tokenize, train, transfer
from groove.cli import eval as evaluate
from groove.cli.quiet import quiet_logs
from groove.errors import GrooveError, GrooveWarning

# In the order `groove --help` lists them.
COMMANDS = (demo, tokenize, render, transfer, generate, evaluate, data, train, serve)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 2 bad input or usage, 130 interrupted)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    warnings.showwarning = _show_warning
    try:
        with contextlib.nullcontext() if args.verbose else quiet_logs():
            return args.run(args) or 0
    except GrooveError as e:
        print(f"groove: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"groove: error: {e.filename or ''}: {e.strerror or e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("groove: interrupted", file=sys.stderr)
        return 130


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    if issubclass(category, GrooveWarning):
        print(f"groove: warning: {message}", file=sys.stderr)
    else:
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command; each command's `run` is its `args.run`."""
    parser = argparse.ArgumentParser(
        prog="groove",
        description="Symbolic music generation and one-shot style transfer.",
        epilog="Run 'groove COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"groove {__version__}")
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="show the logs of TensorFlow and the libraries under it (hidden by default)",
    )
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
    return parser


__all__ = ["build_parser", "main"]
