"""Ship a `groove train lm` run as the package's Music Transformer.

Copies RUN_DIR/model.keras (the best validation checkpoint, no optimizer state) to
groove/models/weights/music_transformer.keras and writes music_transformer_log.json
beside it: the run's settings and history, the data's counts, the held-out test
NLL per token, and the library versions. The model is checked first: it must load,
stay under the 30 MB limit for shipped files, and generate valid MIDI.

    python scripts/ship_lm.py runs/mt-ship [--data runs/lm-bach]
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
from pathlib import Path

WEIGHTS = Path(__file__).resolve().parents[1] / "groove" / "models" / "weights"
LIMIT_MB = 30


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", type=Path, help="a groove train lm run folder")
    p.add_argument("--data", type=Path, help="its data folder (default: from run.json)")
    args = p.parse_args(argv)

    import keras
    import numpy as np
    import tensorflow as tf

    from groove.models import saving
    from groove.models.music_transformer.preprocessor import lm_dataset
    from groove.models.music_transformer.task import generate

    model_path = args.run / "model.keras"
    size_mb = model_path.stat().st_size / 1e6
    if size_mb > LIMIT_MB:
        sys.exit(f"{model_path}: {size_mb:.1f} MB is over the {LIMIT_MB} MB limit")
    state = json.loads((args.run / "run.json").read_text())
    data = args.data or Path(state["settings"]["data"])
    model, tokenizer = saving.load(model_path, "music_transformer")
    [pm] = generate(model=(model, tokenizer), seconds=10, seed=0)
    notes = sum(len(i.notes) for i in pm.instruments)
    if not notes:
        sys.exit(f"{model_path}: generated no notes")

    context = model.config.context
    loss = keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, ignore_class=0, reduction="sum"
    )
    total, count = 0.0, 0
    test = lm_dataset(data, "test", length=context, batch_size=16, transpose=None,
                      stretch=None, shuffle=False, repeat=False)  # fmt: skip
    for x, y in test:
        total += float(loss(y, model(x)))
        count += int((y.numpy() != 0).sum())
    with open(args.run / "history.csv", newline="") as f:
        history = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]
    every = state["settings"]["train"]["eval_every"]
    for row in history:
        row["step"] = int(row.pop("epoch") + 1) * every
    manifest = json.loads((data / "manifest.json").read_text())
    log = {
        "settings": state["settings"],
        "steps": state["step"],
        "best_step": state.get("best_step"),
        "best_val_loss": state.get("best_val_loss"),
        "test_nll": total / count,
        "test_tokens": count,
        "parameters": model.count_params(),
        "size_mb": round(size_mb, 2),
        "data": {
            "config": manifest["config"],
            "counts": manifest["counts"],
            "skipped": manifest["skipped"],
            "files": {split: manifest["files"][split] for split in ("val", "test")},
        },
        "history": history,
        "sample": {"seconds": 10, "seed": 0, "notes": notes},
        "versions": {
            "keras": keras.__version__,
            "tensorflow": tf.__version__,
            "numpy": np.__version__,
            "backend": keras.backend.backend(),
        },
    }
    tmp = WEIGHTS / "music_transformer.tmp.keras"
    shutil.copyfile(model_path, tmp)
    tmp.replace(WEIGHTS / "music_transformer.keras")
    (WEIGHTS / "music_transformer_log.json").write_text(json.dumps(log, indent=1) + "\n")
    print(json.dumps({k: log[k] for k in ("steps", "best_step", "best_val_loss", "test_nll",
                                          "parameters", "size_mb")}))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
