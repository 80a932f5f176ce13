"""End to end: a killed training run resumes where it stopped.

Tiny Music Transformer runs on eight music21 Bach chorales (a few seconds each):
the resumed run must start from exactly the weights and optimizer state saved at the
kill, and a `groove train lm` process killed with SIGKILL must finish with
`--resume`, its step count right.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

import groove.models.music_transformer.backbone  # noqa: F401  (registers the classes for load_model)
from groove.cli import main
from groove.data import build_lm_corpus
from groove.errors import GrooveWarning, TrainingError
from groove.training import train_lm

CONFIG = """
[model]
preset = "tiny"
context = 32
[train]
batch_size = 4
steps = {steps}
eval_every = 2
warmup_steps = 1
val_batches = 1
"""

CLI = "import sys; from groove.cli import main; sys.exit(main(sys.argv[1:]))"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e_resume")
    build_lm_corpus(["music21:bach"], root / "data", limit=8, progress=False)
    return root / "data"


def config(tmp_path, steps):
    path = tmp_path / f"tiny{steps}.toml"
    path.write_text(CONFIG.format(steps=steps))
    return str(path)


class Kill(keras.callbacks.Callback):
    """Interrupts the run (as Ctrl-C would) after its first checkpoint."""

    def on_epoch_end(self, epoch, logs=None):
        raise KeyboardInterrupt


class AtStart(keras.callbacks.Callback):
    """Records the weights and optimizer state the run starts from."""

    def on_train_begin(self, logs=None):
        self.weights = [np.array(w) for w in self.model.get_weights()]
        self.optimizer = optimizer_state(self.model)


def optimizer_state(model) -> dict[str, np.ndarray]:
    return {v.path: v.numpy() for v in model.optimizer.variables}


@pytest.fixture(scope="module")
def killed(corpus, tmp_path_factory):
    """`(run folder, config)`: a 4-step run interrupted after its first checkpoint.
    Tests copy the folder before resuming or changing it."""
    root = tmp_path_factory.mktemp("killed")
    run, cfg = root / "run", config(root, 4)
    with pytest.raises(KeyboardInterrupt):
        train_lm(corpus, cfg, run, strategy="cpu", verbose=0, callbacks=[Kill()])
    return run, cfg


def test_the_resumed_run_starts_from_the_weights_and_optimizer_saved_at_the_kill(
    corpus, killed, tmp_path
):
    run, cfg = tmp_path / "run", killed[1]
    shutil.copytree(killed[0], run)
    at_kill = keras.saving.load_model(run / "last.keras")
    saved_weights, saved_optimizer = at_kill.get_weights(), optimizer_state(at_kill)
    assert int(at_kill.optimizer.iterations.numpy()) == 2
    assert any(np.abs(w).sum() > 0 for k, w in saved_optimizer.items() if "iteration" not in k)

    start = AtStart()
    model, state = train_lm(corpus, cfg, run, strategy="cpu", resume=True, verbose=0,
                            callbacks=[start])  # fmt: skip
    assert len(start.weights) == len(saved_weights)
    for got, want in zip(start.weights, saved_weights, strict=True):
        np.testing.assert_array_equal(got, want)
    assert start.optimizer.keys() == saved_optimizer.keys()
    for key, want in saved_optimizer.items():
        np.testing.assert_array_equal(start.optimizer[key], want, err_msg=key)
    # ...and goes on to the end: two steps before the kill, two after.
    assert state["step"] == 4 and int(model.optimizer.iterations.numpy()) == 4


def test_a_training_process_killed_with_sigkill_resumes_from_the_command_line(
    corpus, tmp_path, capsys
):
    run, cfg = tmp_path / "run", config(tmp_path, 8)
    argv = ["train", "lm", "--data", str(corpus), "--config", cfg, "--out", str(run)]
    argv += ["--strategy", "cpu", "-q"]
    with open(tmp_path / "stderr.txt", "w") as err:
        proc = subprocess.Popen([sys.executable, "-c", CLI, *argv],
                                stdout=subprocess.DEVNULL, stderr=err)  # fmt: skip
    try:
        # Wait for the first complete checkpoint (last.keras, then run.json, is written).
        deadline = time.monotonic() + 300
        while not ((run / "last.keras").is_file() and (run / "run.json").is_file()):
            if proc.poll() is not None:
                pytest.fail(f"the run ended early ({proc.returncode}):\n"
                            + (tmp_path / "stderr.txt").read_text()[-3000:])  # fmt: skip
            if time.monotonic() > deadline:
                pytest.fail("no checkpoint within 300 s")
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(60)
    assert proc.returncode == -signal.SIGKILL
    killed_at = json.loads((run / "run.json").read_text())["step"]
    assert 2 <= killed_at < 8, "the process finished before it was killed"
    at_kill = keras.saving.load_model(run / "last.keras")
    assert int(at_kill.optimizer.iterations.numpy()) == killed_at

    capsys.readouterr()
    assert main([*argv, "--resume"]) == 0
    assert "groove: 8 steps" in capsys.readouterr().out
    state = json.loads((run / "run.json").read_text())
    assert state["step"] == 8 and state["epoch"] == 4
    last = keras.saving.load_model(run / "last.keras")
    assert int(last.optimizer.iterations.numpy()) == 8  # continued, not restarted
    assert (run / "model.keras").is_file()


class KeepFirstStateThenKill(keras.callbacks.Callback):
    """Copies run.json after the first checkpoint, and interrupts after the second:
    putting the copy back leaves the folder as a kill between writing the second
    last.keras and its run.json would."""

    def __init__(self, run):
        super().__init__()
        self.run, self.first = run, None

    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0:
            self.first = (self.run / "run.json").read_text()
        else:
            raise KeyboardInterrupt


def test_a_kill_between_last_keras_and_run_json_neither_repeats_nor_loses_a_period(
    corpus, tmp_path
):
    run, cfg = tmp_path / "run", config(tmp_path, 6)
    kill = KeepFirstStateThenKill(run)
    with pytest.raises(KeyboardInterrupt):
        train_lm(corpus, cfg, run, strategy="cpu", verbose=0, callbacks=[kill])
    (run / "run.json").write_text(kill.first)  # run.json one period behind last.keras
    assert json.loads(kill.first)["step"] == 2
    with pytest.warns(GrooveWarning, match=r"stopped while writing its step-4 checkpoint"):
        model, state = train_lm(corpus, cfg, run, strategy="cpu", resume=True, verbose=0)
    # Steps 3-4 were not trained again: six optimizer steps in all, as run.json says.
    assert int(model.optimizer.iterations.numpy()) == 6
    assert state["step"] == 6 and state["epoch"] == 3
    assert json.loads((run / "run.json").read_text())["step"] == 6


def test_a_run_json_ahead_of_its_checkpoint_is_refused(corpus, killed, tmp_path):
    run, cfg = tmp_path / "run", killed[1]
    shutil.copytree(killed[0], run)
    state = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**state, "step": 4, "epoch": 2}))
    with pytest.raises(TrainingError, match=r"last\.keras is at step 2 but run\.json at step 4"):
        train_lm(corpus, cfg, run, strategy="cpu", resume=True, verbose=0)
