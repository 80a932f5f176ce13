#!/usr/bin/env bash
# Train the transfer recipe on one GPU under JAX in a fixed time, then evaluate it.
#
# Run from the repo root, on a machine with JAX (TensorFlow is not needed):
#   bash scripts/gpu_train.sh [RUN_DIR]
# It writes RUN_DIR/corpus/manifest.json (the corpus plan: triplets are cut from it
# as training goes), RUN_DIR/run/ (model.keras, last.keras: a checkpoint at every
# evaluation, history.csv, run.json) and RUN_DIR/eval/ (groove eval transfer on
# validation pairs), and copies the model, its history and the scores to $OUT when
# that is set (the lent machine's return folder).
#
# Settings (environment): GROOVE_RECIPE (default groove/models/weights/transfer_gpu.toml),
# GROOVE_STYLES / GROOVE_CHARTS (600 / 1000), GROOVE_PAIRS (20 validation pairs),
# GROOVE_MIXED (1: bfloat16 compute), GROOVE_WHEELS (a folder of wheels to install
# first, e.g. keras for a machine without it; default .whl when present).
# The CPU test (tests/test_gpu_script.py) runs it with the tiny preset.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${1:-runs/gpu}
RECIPE=${GROOVE_RECIPE:-groove/models/weights/transfer_gpu.toml}
WHEELS=${GROOVE_WHEELS:-.whl}
export KERAS_BACKEND=jax PYTHONUNBUFFERED=1
PY=${GROOVE_PYTHON:-python3}
if [ -d "$WHEELS" ] && ls "$WHEELS"/*.whl >/dev/null 2>&1; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/groove-site "$WHEELS"/*.whl
    export PYTHONPATH=/tmp/groove-site:${PYTHONPATH:-}
fi
export PYTHONPATH=$PWD:${PYTHONPATH:-}
mixed=()
[ "${GROOVE_MIXED:-1}" = "1" ] && mixed=(--mixed-precision)

start=$(date +%s)
"$PY" -m groove data synth --styles "${GROOVE_STYLES:-600}" --charts "${GROOVE_CHARTS:-1000}" \
    --styles-per-chart 4 --seed 0 --plan-only --out "$RUN/corpus" -q
"$PY" -m groove train transfer --data "$RUN/corpus" --config "$RECIPE" --out "$RUN/run" \
    --strategy auto ${mixed[@]+"${mixed[@]}"}
echo "gpu_train: trained in $(( $(date +%s) - start )) s"
mkdir -p "$RUN/eval"
"$PY" scripts/eval_transfer.py --model "$RUN/run/model.keras" --corpus "$RUN/corpus" \
    --split val --pairs "${GROOVE_PAIRS:-20}" --out "$RUN/eval" > "$RUN/eval/summary.txt" 2>&1 \
    || { cat "$RUN/eval/summary.txt"; exit 1; }
cat "$RUN/eval/summary.txt"
if [ -n "${OUT:-}" ]; then
    cp "$RUN/run/model.keras" "$RUN/run/history.csv" "$RUN/run/run.json" "$OUT/"
    cp "$RUN/eval/summary.txt" "$OUT/eval.txt"
fi
echo "gpu_train: done in $(( $(date +%s) - start )) s"
