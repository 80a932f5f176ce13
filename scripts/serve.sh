#!/usr/bin/env bash
# Install everything (see setup.sh), then serve groove's web app on this machine only:
# http://127.0.0.1:7860 (arguments go to `groove serve`, e.g. --port 8000).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/groove serve "$@"
