"""`groove serve`: the web app (Gradio, the optional `web` extra)."""

from __future__ import annotations

import argparse
import sys


def register(subparsers) -> None:
    from groove.web import DEFAULT_HOST, DEFAULT_PORT  # (no Gradio import: cheap)

    p = subparsers.add_parser(
        "serve",
        help="a local web app: upload a song and a style, listen, download",
        description="Serve groove's web app: a Transfer tab (a song and a style example in, "
        "the song played in that style out, as audio, piano rolls, MIDI and numbers) and a "
        "Compose tab (the Music Transformer). Needs the web extra: "
        "pip install 'groove-music[web]'.",
    )
    p.add_argument(
        "--host", default=DEFAULT_HOST,
        help="address to listen on (default: %(default)s, this machine only; 0.0.0.0 lets "
        "anyone who can reach this machine use the app and its CPU)",
    )  # fmt: skip
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (default: %(default)s)")
    p.add_argument("--model", help="a .keras style-transfer model (default: the shipped one)")
    p.add_argument("--lm-model", help="a .keras Music Transformer (default: the shipped one)")
    p.add_argument("--open", action="store_true", help="open the page in a browser")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from groove.errors import ConfigError
    from groove.web import serve

    if not 0 < args.port < 65536:
        raise ConfigError(f"--port must be 1 to 65535, got {args.port}")
    print(f"groove: serving on http://{args.host}:{args.port} (Ctrl+C stops)", file=sys.stderr)
    serve(args.host, args.port, args.model, args.lm_model, open_browser=args.open)
    return 0
