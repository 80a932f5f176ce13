"""scripts/gpu_train.sh, the recipe a lent GPU runs, run here on the CPU with the tiny
preset, under JAX, with TensorFlow made unimportable (the GPU machine has none)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import JAX_FAST_COMPILE

pytest.importorskip("jax")

ROOT = Path(__file__).resolve().parents[1]
TINY = """
[model]
preset = "tiny"
decoder = "transformer"
[train]
batch_size = 4
steps = 2
eval_every = 1
val_batches = 1
warmup_steps = 0
style_tokens = 128
tokenizer = "duration"
max_tokens = 255
bars = 4
workers = 2
max_minutes = 30
"""


def test_the_gpu_script_trains_checkpoints_and_evaluates_without_tensorflow(tmp_path):
    block = tmp_path / "block"
    block.mkdir()
    # Any `import tensorflow` in the script's processes fails, as on the GPU machine.
    (block / "sitecustomize.py").write_text("import sys\nsys.modules['tensorflow'] = None\n")
    recipe = tmp_path / "tiny.toml"
    recipe.write_text(TINY)
    out = tmp_path / "out"
    out.mkdir()
    env = {**os.environ, "PYTHONPATH": str(block), "GROOVE_PYTHON": sys.executable,
           "GROOVE_RECIPE": str(recipe), "GROOVE_STYLES": "30", "GROOVE_CHARTS": "40",
           "GROOVE_PAIRS": "1", "GROOVE_MIXED": "0", "GROOVE_WHEELS": str(tmp_path / "none"),
           "OUT": str(out), "XLA_FLAGS": JAX_FAST_COMPILE}  # fmt: skip
    run = tmp_path / "run"
    done = subprocess.run(["bash", str(ROOT / "scripts" / "gpu_train.sh"), str(run)], env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    # Trained for the recipe's steps, a checkpoint at each evaluation, streamed data.
    state = json.loads((run / "run" / "run.json").read_text())
    assert state["step"] == 2 and state["settings"]["train"]["tokenizer"] == "duration"
    assert len((run / "run" / "history.csv").read_text().splitlines()) == 1 + 2
    assert (run / "run" / "last.keras").is_file()
    assert not list((run / "corpus").glob("*/*.mid"))  # nothing was rendered to disk
    # Evaluated on a validation pair, and the results came back to $OUT.
    scores = json.loads((run / "eval" / "test.json").read_text())
    assert scores and "output" in json.dumps(scores)
    assert {p.name for p in out.iterdir()} >= {"model.keras", "history.csv", "eval.txt"}
    # The model trained under JAX loads under TensorFlow (this process) and runs.
    import keras

    from groove.models import saving

    model, tokenizer = saving.load(out / "model.keras", "transfer")
    assert keras.backend.backend() == "tensorflow" and model.config.decoder == "transformer"
    logits = model({"content": np.zeros((1, 16, 128), np.float32),
                    "content_mask": np.ones((1, 16), np.float32),
                    "style": np.ones((1, 8), np.int32), "role": np.zeros(1, np.int32),
                    "tokens": np.ones((1, 4), np.int32)})  # fmt: skip
    assert np.isfinite(np.asarray(logits)).all() and logits.shape[-1] == tokenizer.vocab_size
