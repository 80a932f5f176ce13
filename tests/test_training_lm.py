"""`groove train lm`: real (tiny) Music Transformer training on music21 Bach chorales,
on one device, on two logical CPU devices, under JAX, and with the NaN guard."""

from __future__ import annotations

import json
import os
import shutil
import textwrap

import keras
import numpy as np
import pytest

import groove.models.music_transformer.backbone  # noqa: F401  (registers the classes for load_model)
from groove.cli import main
from groove.data.lm import build_lm_corpus
from groove.errors import ConfigError, TrainingError
from groove.models.music_transformer.preprocessor import lm_dataset
from groove.training import train_lm
from tests.conftest import JAX_FAST_COMPILE, JAX_TWO_HOST_DEVICES, run_child

TINY = """
[model]
preset = "tiny"
context = 32
[train]
batch_size = 4
steps = 4
eval_every = 2
warmup_steps = 1
val_batches = 2
"""
# Two steps and one evaluation, for the tests that need a trained run but not its
# history.
SHORT = TINY.replace("steps = 4", "steps = 2").replace("val_batches = 2", "val_batches = 1")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("lm")
    build_lm_corpus(["music21:bach"], root / "data", limit=8, progress=False)
    (root / "tiny.toml").write_text(TINY)
    (root / "short.toml").write_text(SHORT)
    return root


class Kill(keras.callbacks.Callback):
    """Stops the run (as Ctrl-C would) after its first checkpoint."""

    def on_epoch_end(self, epoch, logs=None):
        raise KeyboardInterrupt


@pytest.fixture(scope="module")
def killed_run(corpus, tmp_path_factory):
    """A tiny run stopped after its first checkpoint (step 2 of 4). Tests that resume
    it work on a copy."""
    run = tmp_path_factory.mktemp("killed") / "run"
    with pytest.raises(KeyboardInterrupt):
        train_lm(corpus / "data", str(corpus / "tiny.toml"), run, strategy="cpu", verbose=0,
                 callbacks=[Kill()])  # fmt: skip
    return run


def val_tokens(corpus):
    data = lm_dataset(corpus / "data", "val", length=32, batch_size=4, transpose=None,
                      stretch=None, shuffle=False, repeat=False)  # fmt: skip
    return next(iter(data))[0].numpy()


def test_cli_trains_checkpoints_and_resumes(corpus, killed_run, tmp_path, capsys):
    run = tmp_path / "run"
    args = ["train", "lm", "--data", str(corpus / "data"), "--out", str(run), "-q"]
    assert main([*args, "--config", str(corpus / "tiny.toml"), "--strategy", "cpu"]) == 0
    assert "4 steps, best validation loss" in capsys.readouterr().out
    assert {"model.keras", "last.keras", "run.json", "history.csv"} <= {
        p.name for p in run.iterdir()
    }
    assert any((run / "logs").rglob("events.out.tfevents.*"))  # TensorBoard
    state = json.loads((run / "run.json").read_text())
    assert state["step"] == 4 and state["settings"]["train"]["transpose"] == 3
    last = keras.saving.load_model(run / "last.keras")
    assert int(last.optimizer.iterations.numpy()) == 4
    best = keras.saving.load_model(run / "model.keras")
    x = val_tokens(corpus)
    # model.keras is the checkpoint with the lowest validation loss in the history:
    # the last one exactly when the best step is the last step.
    val = [float(line.split(",")[-1]) for line in
           (run / "history.csv").read_text().splitlines()[1:]]  # fmt: skip
    assert len(val) == 2 and state["best_val_loss"] == pytest.approx(min(val))
    assert state["best_step"] == 2 * (int(np.argmin(val)) + 1)
    same = np.array_equal(np.asarray(best(x)), np.asarray(last(x)))
    assert same == (state["best_step"] == 4)
    assert best.config.context == 32 and best.tokenizer_config["kind"] == "performance"

    assert main([*args, "--config", str(corpus / "tiny.toml")]) == 2  # the folder holds a run
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "holds a run already" in err[0]
    missing = ["train", "lm", "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "r")]
    assert main(missing) == 2
    assert "no manifest.json" in capsys.readouterr().err

    # --resume: a run stopped after its first checkpoint finishes from the command line.
    killed = tmp_path / "killed"
    shutil.copytree(killed_run, killed)
    resume = ["train", "lm", "--data", str(corpus / "data"), "--out", str(killed), "-q",
              "--config", str(corpus / "tiny.toml"), "--strategy", "cpu", "--resume"]  # fmt: skip
    assert main(resume) == 0
    assert "4 steps, best validation loss" in capsys.readouterr().out
    assert json.loads((killed / "run.json").read_text())["step"] == 4
    resumed = keras.saving.load_model(killed / "last.keras")
    assert int(resumed.optimizer.iterations.numpy()) == 4  # 2 before the stop, 2 after
    assert len((killed / "history.csv").read_text().splitlines()) == 1 + 2
    nothing = [*resume[:5], str(tmp_path / "none"), *resume[6:]]
    assert main(nothing) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nothing to resume" in err[0]


def test_resume_continues_a_killed_run(corpus, killed_run, tmp_path):
    run = tmp_path / "run"
    config = str(corpus / "tiny.toml")
    shutil.copytree(killed_run, run)
    assert json.loads((run / "run.json").read_text())["step"] == 2
    model, state = train_lm(corpus / "data", config, run, strategy="cpu", resume=True, verbose=0)
    assert state["step"] == 4 and int(model.optimizer.iterations.numpy()) == 4


# Extended run (--runslow) only: tests/models/test_music_transformer.py trains the same
# recipe (tiny, learning rate 3e-3, no warmup, an evaluation every 10 steps) through
# train_lm on eight Bach chorales and asserts more: the validation loss falls at each
# evaluation and ends well below a uniform guess.
@pytest.mark.extended
def test_validation_loss_falls(corpus, tmp_path):
    config = tmp_path / "learn.toml"
    config.write_text(
        '[model]\npreset = "tiny"\ncontext = 32\n[train]\nbatch_size = 8\nsteps = 40\n'
        "eval_every = 10\nwarmup_steps = 0\nlearning_rate = 3e-3\nval_batches = 4\n"
    )
    train_lm(corpus / "data", str(config), tmp_path / "run", verbose=0)
    losses = [float(line.split(",")[-1]) for line in
              (tmp_path / "run" / "history.csv").read_text().splitlines()[1:]]  # fmt: skip
    assert len(losses) == 4
    assert losses[-1] < losses[0] - 0.5  # from about ln(vocab) = 5.9 towards the data


def test_a_nan_loss_stops_the_run_and_saves_nothing_bad(corpus, tmp_path):
    config = tmp_path / "explode.toml"  # a huge step with no clipping overflows the weights
    config.write_text(
        '[model]\npreset = "tiny"\ncontext = 32\n[train]\nbatch_size = 4\nsteps = 4\n'
        "eval_every = 2\nwarmup_steps = 0\nlearning_rate = 1e38\nclipnorm = 0\n"
    )
    with pytest.raises(TrainingError, match="became NaN by step") as caught:
        train_lm(corpus / "data", str(config), tmp_path / "run", verbose=0)
    assert "run" in str(caught.value)
    assert not (tmp_path / "run" / "model.keras").exists()


# Extended run (--runslow) only: tests/test_e2e_cli.py trains the same tiny recipe with
# --mixed-precision through `groove train lm` and asserts more (finite loss, float32
# weights, the global policy restored, and weights that differ from a float32 run's).
@pytest.mark.extended
def test_mixed_precision_trains_with_float32_weights(corpus, tmp_path):
    model, state = train_lm(corpus / "data", str(corpus / "short.toml"), tmp_path / "run",
                            strategy="cpu", mixed_precision=True, verbose=0)  # fmt: skip
    assert np.isfinite(state["train_loss"])
    assert all(w.dtype == "float32" for w in model.weights)
    assert keras.config.dtype_policy().name == "float32"  # the global policy is restored


def test_bad_settings_are_config_errors(corpus, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[model]\npreset = "tiny"\nhidden_dim = 30\nnum_heads = 4\n')
    with pytest.raises(ConfigError, match="multiple of num_heads"):
        train_lm(corpus / "data", str(bad), tmp_path / "run", verbose=0)
    bad.write_text("[train]\nstyle_tokens = 3\n")  # a transfer setting, not a language-model one
    with pytest.raises(ConfigError, match=r"bad.toml: unknown \[train\] setting"):
        train_lm(corpus / "data", str(bad), tmp_path / "run", verbose=0)


TWO_DEVICES = textwrap.dedent(
    """
    import json, sys
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    import numpy as np
    from groove.training import train_lm
    data, config, run = sys.argv[1:]
    model, state = train_lm(data, config, run, strategy="mirrored", verbose=0)
    x = np.arange(64, dtype="int32").reshape(2, 32) % 200 + 3
    same = bool((model(x).numpy() == keras.saving.load_model(run + "/last.keras")(x).numpy()).all())
    print(json.dumps({"replicas": state["replicas"], "loss": state["train_loss"], "same": same}))
    """
)


def test_mirrored_strategy_on_two_logical_cpu_devices(corpus, tmp_path):
    args = [str(corpus / "data"), str(corpus / "short.toml"), str(tmp_path / "run")]
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = run_child(TWO_DEVICES, args, env)
    result = json.loads(out.strip().splitlines()[-1])
    assert result["replicas"] == 2
    assert np.isfinite(result["loss"]) and result["same"]


# One JAX run serves both JAX tests: data parallel over two host devices, and the
# checkpoint it writes loaded under TensorFlow. (One JAX device is what
# tests/test_gpu_script.py trains on.)
JAX_TRAIN = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    from groove.training import train_lm
    data, config, run = sys.argv[1:]
    model, state = train_lm(data, config, run, strategy="auto", verbose=0)
    x = np.arange(64, dtype="int32").reshape(2, 32) % 200 + 3
    np.save(run + "/jax_logits.npy", np.asarray(model(x)))
    print(json.dumps({"replicas": state["replicas"], "loss": state["train_loss"]}))
    """
)


@pytest.fixture(scope="module")
def jax_run(corpus, tmp_path_factory):
    """`(run folder, child's JSON)`: two tiny steps under JAX on two host devices."""
    pytest.importorskip("jax")
    run = tmp_path_factory.mktemp("jax") / "run"
    args = [str(corpus / "data"), str(corpus / "short.toml"), str(run)]
    env = {**os.environ, "KERAS_BACKEND": "jax",
           "XLA_FLAGS": f"{JAX_TWO_HOST_DEVICES} {JAX_FAST_COMPILE}"}  # fmt: skip
    out = run_child(JAX_TRAIN, args, env)
    return run, json.loads(out.strip().splitlines()[-1])


def test_jax_data_parallel_on_two_host_devices(jax_run):
    _, result = jax_run
    assert result["replicas"] == 2 and np.isfinite(result["loss"])


def test_a_model_trained_under_jax_loads_under_tensorflow_with_the_same_outputs(jax_run):
    run, _ = jax_run
    assert keras.backend.backend() == "tensorflow"
    model = keras.saving.load_model(run / "last.keras")  # relative attention: keras.ops only
    assert int(model.optimizer.iterations.numpy()) == 2
    x = np.arange(64, dtype="int32").reshape(2, 32) % 200 + 3
    ours, theirs = np.asarray(model(x)), np.load(run / "jax_logits.npy")
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4)
    assert (ours.argmax(-1) == theirs.argmax(-1)).all()
