#!/usr/bin/env bash
# Set up (see setup.sh), then run groove's main job on the bundled examples.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/groove demo "$@"
