#!/usr/bin/env bash
# Set up (see setup.sh), then run groove's main job on the bundled examples: play the
# bundled song again in the style of the bundled style example, with the shipped
# model, and render it to audio. Then compose 20 seconds with the shipped Music
# Transformer, render that too, and tokenize and round-trip the examples.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p groove-demo
.venv/bin/groove transfer groove/examples/song.mid groove/examples/style.mid \
    -o groove-demo/song-in-style.mid --render groove-demo/song-in-style.wav --seed 0
.venv/bin/groove generate -o groove-demo/generated.mid --seconds 20 --render --seed 0
exec .venv/bin/groove demo "$@"
