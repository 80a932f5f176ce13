#!/usr/bin/env bash
# Install everything groove needs on a fresh Debian/Python machine: FluidSynth
# (apt, when missing), a virtual environment in .venv and the package with its
# dev, jax and web extras. Re-running it is cheap: pip runs again only when pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! ldconfig -p 2>/dev/null | grep -q libfluidsynth; then
    echo "setup: installing FluidSynth (apt)" >&2
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends fluidsynth
fi

python3 - <<'PY'
import sys
if sys.version_info < (3, 10):
    sys.exit(f"setup: groove needs Python >= 3.10, this is {sys.version.split()[0]}")
PY

[ -x .venv/bin/python ] || python3 -m venv .venv
stamp=.venv/.groove-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "setup: installing groove and its dependencies into .venv" >&2
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e ".[dev,jax,web]"  # jax: the JAX back-end tests
    echo "$want" > "$stamp"
fi
