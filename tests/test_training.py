"""`groove train transfer` and `groove.training`: real (tiny) training runs on a
synthetic corpus, on one device and on two logical CPU devices."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import textwrap

import keras
import numpy as np
import pytest

import groove.models.transfer.backbone  # noqa: F401  (registers the model classes for load_model)
from groove.cli import main
from groove.data import Style, random_chart, render_score
from groove.data.corpus import build_corpus
from groove.data.pipeline import write_triplets
from groove.data.segments import segments
from groove.errors import ConfigError, TrainingError
from groove.models.transfer.preprocessor import transfer_dataset
from groove.models.transfer.task import transfer_score
from groove.tokenizers import DurationTokenizer
from groove.training import fit, load_config, train_transfer
from tests.conftest import JAX_FAST_COMPILE, JAX_TWO_HOST_DEVICES, run_child

CLI = "import sys; from groove.cli import main; sys.exit(main(sys.argv[1:]))"

TINY = """
[model]
preset = "tiny"
[train]
batch_size = 8
steps = 4
eval_every = 2
warmup_steps = 1
val_batches = 2
style_tokens = 128
"""
# The time-aware Transformer decoder (on DurationTokenizer triplets), in 2 steps: a
# Transformer run traces more, so it evaluates after each step to stay quick.
TRANSFORMER = (
    TINY.replace('preset = "tiny"\n', 'preset = "tiny"\ndecoder = "transformer"\n')
    .replace("steps = 4", "steps = 2")
    .replace("eval_every = 2", "eval_every = 1")
    .replace("val_batches = 2", "val_batches = 1")
)
# Two steps and one evaluation, for the tests that need a trained run but not its
# history (each step, and each evaluation, traces or compiles more on a new shape).
SHORT = {
    "gru": TINY.replace("steps = 4", "steps = 2").replace("val_batches = 2", "val_batches = 1"),
    "transformer": TRANSFORMER.replace("eval_every = 1", "eval_every = 2"),
}
# The GRU recipe at a learning rate that learns within 30 steps, evaluated every 10:
# one run that both the checkpoint test and the validation-loss test read.
LEARN = (
    TINY.replace("steps = 4", "steps = 30").replace("eval_every = 2", "eval_every = 10")
    + "learning_rate = 0.003\n"
)


@pytest.fixture(scope="module")
def triplets(tmp_path_factory):
    root = tmp_path_factory.mktemp("train")
    build_corpus(root / "corpus", 40, 20, styles_per_chart=2, progress=False)
    write_triplets(root / "corpus", root / "triplets", splits=("train", "val"), progress=False)
    (root / "tiny.toml").write_text(TINY)
    (root / "tiny_short.toml").write_text(SHORT["gru"])
    return root


@pytest.fixture(scope="module")
def duration_triplets(triplets):
    """The same corpus as DurationTokenizer triplets, beside the Transformer's TOML."""
    write_triplets(triplets / "corpus", triplets / "duration", splits=("train", "val"),
                   tokenizer=DurationTokenizer(), progress=False)  # fmt: skip
    (triplets / "transformer.toml").write_text(TRANSFORMER)
    (triplets / "transformer_short.toml").write_text(SHORT["transformer"])
    return triplets


@pytest.fixture(scope="module")
def gru_run(triplets, tmp_path_factory):
    """`(model, state, run folder)`: the GRU recipe's 30-step run (LEARN)."""
    (triplets / "learn.toml").write_text(LEARN)
    run = tmp_path_factory.mktemp("gru") / "run"
    model, state = train_transfer(triplets / "triplets", str(triplets / "learn.toml"), run,
                                  strategy="cpu", verbose=0)  # fmt: skip
    return model, state, run


@pytest.fixture(params=["gru", "transformer"])
def trained(request, triplets, tmp_path):
    """`(decoder, triplets folder, model, state, run folder)`: the GRU's shared run, or
    a 2-step run of the tiny Transformer on DurationTokenizer triplets."""
    if request.param == "gru":
        return ("gru", triplets / "triplets", *request.getfixturevalue("gru_run"))
    data = request.getfixturevalue("duration_triplets") / "duration"
    run = tmp_path / "run"
    model, state = train_transfer(data, str(triplets / "transformer.toml"), run, strategy="cpu",
                                  verbose=0)  # fmt: skip
    return "transformer", data, model, state, run


@pytest.fixture(params=["gru", "transformer"])
def recipe(request, triplets):
    """`(decoder, triplets folder, TOML)`: the tiny GRU model on BeatTokenizer
    triplets, or the tiny Transformer on DurationTokenizer ones."""
    if request.param == "gru":
        return "gru", triplets / "triplets", triplets / "tiny.toml"
    request.getfixturevalue("duration_triplets")
    return "transformer", triplets / "duration", triplets / "transformer.toml"


def val_batch(data):
    return next(iter(transfer_dataset(data, "val", batch_size=4, shuffle=False)))


def test_a_run_trains_checkpoints_and_reloads_with_identical_logits(trained):
    decoder, data, model, state, run = trained
    steps, evaluations = {"gru": (30, 3), "transformer": (2, 2)}[decoder]
    assert state["step"] == steps and state["replicas"] == 1
    assert np.isfinite(state["train_loss"]) and np.isfinite(state["best_val_loss"])
    assert {"model.keras", "last.keras", "run.json", "history.csv"} <= {
        p.name for p in run.iterdir()
    }
    assert any((run / "logs").rglob("events.out.tfevents.*"))  # TensorBoard
    history = (run / "history.csv").read_text().splitlines()
    assert len(history) == 1 + evaluations  # and a header
    val = [float(line.split(",")[2]) for line in history[1:]]
    assert val[1] < val[0], val  # a few steps already lower the validation loss
    x, _ = val_batch(data)
    reloaded = keras.saving.load_model(run / "last.keras")
    np.testing.assert_array_equal(model(x), reloaded(x))
    assert int(reloaded.optimizer.iterations) == steps
    best = keras.saving.load_model(run / "model.keras")  # what `groove transfer --model` takes
    assert best.config.decoder == decoder
    assert best.data_config["style_tokens"] == 128
    assert best.tokenizer_config["kind"] == {"gru": "beat", "transformer": "duration"}[decoder]
    # The checkpoint generates: a bass part on the content's bars.
    content = render_score(random_chart(1, bars=8), Style.random(3), 0)
    style = render_score(random_chart(2, bars=8), Style.random(5), 0)
    out = transfer_score(content, style, best, roles=["bass"], seed=0,
                         max_tokens=48, harmony=0, register=False)  # fmt: skip
    assert [t.name for t in out.tracks] == ["Bass"] and len(out.notes) > 0
    assert out.notes["end"].max() <= segments(content, 8)[-1].end


def test_training_lowers_the_validation_loss(gru_run):
    _, state, run = gru_run
    lines = (run / "history.csv").read_text().splitlines()[1:]
    val = [float(line.split(",")[2]) for line in lines]
    assert val[0] > val[1] > val[2], val
    assert state["best_step"] == 30 and state["best_val_loss"] == pytest.approx(val[2])


class Interrupt(keras.callbacks.Callback):
    """Kills the run (as Ctrl-C would) after its first checkpoint."""

    def on_epoch_end(self, epoch, logs=None):
        raise KeyboardInterrupt


@pytest.fixture(scope="module")
def killed_run(triplets, tmp_path_factory):
    """A tiny run killed after its first checkpoint (step 2 of 4). Tests that resume
    it work on a copy."""
    run = tmp_path_factory.mktemp("killed") / "run"
    with pytest.raises(KeyboardInterrupt):
        train_transfer(triplets / "triplets", str(triplets / "tiny.toml"), run, verbose=0,
                       callbacks=[Interrupt()])  # fmt: skip
    return run


def test_resume_continues_a_killed_run_from_its_last_checkpoint(triplets, killed_run, tmp_path):
    run, config = tmp_path / "run", str(triplets / "tiny.toml")
    shutil.copytree(killed_run, run)
    assert json.loads((run / "run.json").read_text())["step"] == 2
    with pytest.raises(TrainingError, match="--resume"):
        train_transfer(triplets / "triplets", config, run, verbose=0)
    model, state = train_transfer(triplets / "triplets", config, run, resume=True, verbose=0)
    assert state["step"] == 4
    assert int(model.optimizer.iterations) == 4  # 2 before the kill, 2 after: not restarted
    assert len((run / "history.csv").read_text().splitlines()) == 1 + 2


def test_a_fresh_process_resumes_a_killed_run_from_the_command_line(triplets, killed_run, tmp_path):
    # A new process has imported none of the model's classes before it loads
    # last.keras: --resume must register them itself.
    run = tmp_path / "run"
    shutil.copytree(killed_run, run)
    argv = ["train", "transfer", "--data", str(triplets / "triplets"), "--config",
            str(triplets / "tiny.toml"), "--out", str(run), "--resume", "-q"]  # fmt: skip
    run_child(CLI, argv, dict(os.environ))
    assert json.loads((run / "run.json").read_text())["step"] == 4
    assert int(keras.saving.load_model(run / "last.keras").optimizer.iterations) == 4


def test_resume_needs_a_run_and_the_same_settings(triplets, killed_run, tmp_path):
    with pytest.raises(TrainingError, match="nothing to resume"):
        train_transfer(triplets / "triplets", "tiny", tmp_path / "none", resume=True, verbose=0)
    before = {p.name: p.read_bytes() for p in killed_run.iterdir() if p.is_file()}
    with pytest.raises(TrainingError, match="other settings"):
        train_transfer(triplets / "triplets", "tiny", killed_run, resume=True, verbose=0)
    assert {p.name: p.read_bytes() for p in killed_run.iterdir() if p.is_file()} == before


def test_a_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(triplets, tmp_path):
    import tensorflow as tf

    data = triplets / "triplets"

    def poisoned(batch, seed):
        # Real batches, then NaN content from the fourth step on (a corrupt shard).
        ds = transfer_dataset(data, "train", batch_size=batch, repeat=True, seed=seed)

        def poison(i, example):
            x, y = example
            bad = tf.where(i >= 3, np.float32("nan"), np.float32(0.0))
            return {**x, "content": x["content"] + bad}, y

        return ds.enumerate().map(poison)

    def build():
        from groove.data.pipeline import load_tokenizer
        from groove.models.transfer import build_model

        return build_model(load_tokenizer(data).vocab_size, "tiny")

    settings = load_config(str(triplets / "tiny.toml"), {"tiny": {}})["train"]
    settings["steps"] = 6
    with pytest.raises(TrainingError, match=r"NaN by step 4; .*last good checkpoint .*\(step 2\)"):
        fit(build, poisoned, None, tmp_path / "run", train=settings, verbose=0)
    kept = keras.saving.load_model(tmp_path / "run" / "last.keras")
    assert all(np.isfinite(w).all() for w in kept.get_weights())
    assert json.loads((tmp_path / "run" / "run.json").read_text())["step"] == 2


@pytest.fixture(scope="module")
def cli_run(triplets, tmp_path_factory):
    """`groove train transfer -q --mixed-precision` on the short recipe: `(run folder,
    its arguments, exit code, stdout, the global dtype policy after it)`. The CLI test
    and the mixed-precision test both read it."""
    run = tmp_path_factory.mktemp("cli") / "run"
    args = ["train", "transfer", "--data", str(triplets / "triplets"), "--out", str(run), "-q"]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main([*args, "--config", str(triplets / "tiny_short.toml"), "--mixed-precision"])
    return run, args, code, out.getvalue(), keras.config.dtype_policy().name


def test_mixed_precision_trains_with_float32_weights(cli_run):
    run, _, code, _, policy = cli_run
    assert code == 0
    state = json.loads((run / "run.json").read_text())
    assert state["settings"]["mixed_precision"] is True and np.isfinite(state["train_loss"])
    model = keras.saving.load_model(run / "last.keras")  # the trained model, as fit returns it
    assert all(w.dtype == "float32" for w in model.weights)
    assert policy == "float32"  # the global policy is restored


TWO_DEVICES = textwrap.dedent(
    """
    import json, sys
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    from groove.models.transfer.preprocessor import transfer_dataset
    from groove.training import train_transfer
    data, config, run = sys.argv[1:]
    model, state = train_transfer(data, config, run, strategy="mirrored", verbose=0)
    x, _ = next(iter(transfer_dataset(data, "val", batch_size=4, shuffle=False)))
    same = bool((model(x).numpy() == keras.saving.load_model(run + "/last.keras")(x).numpy()).all())
    print(json.dumps({"replicas": state["replicas"], "loss": state["train_loss"], "same": same}))
    """
)


# The mirrored loop, its checkpoints and the transfer model's encoders run in the GRU
# case; the Transformer case is in the extended run (--runslow): its blocks train
# under MirroredStrategy in tests/test_training_lm.py, and the float64 ids Keras
# builds a mirrored model on (the replicas' mean batch), which the Transformer
# decoder casts, are tests/models/test_transfer_transformer.py's.
@pytest.mark.parametrize(
    "recipe", ["gru", pytest.param("transformer", marks=pytest.mark.extended)], indirect=True
)
def test_mirrored_strategy_on_two_logical_cpu_devices(recipe, tmp_path):
    _, data, config = recipe
    short = config.with_name(config.stem + "_short.toml")  # one checkpoint to reload
    args = [str(data), str(short), str(tmp_path / "run")]
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = run_child(TWO_DEVICES, args, env)
    result = json.loads(out.strip().splitlines()[-1])
    assert result["replicas"] == 2
    assert np.isfinite(result["loss"]) and result["same"]


def test_config_files_are_checked(tmp_path):
    presets = {"tiny": {}, "small": {}}
    assert load_config("tiny", presets)["model"] == {"preset": "tiny"}
    good = tmp_path / "good.toml"
    good.write_text('[model]\npreset = "tiny"\ndecoder_units = 48\n[train]\nsteps = 10\n')
    config = load_config(str(good), presets)
    assert config["model"] == {"preset": "tiny", "decoder_units": 48}
    assert config["train"]["steps"] == 10 and config["train"]["batch_size"] == 32
    for text, reason in [
        ("[train]\nstep = 3\n", "unknown \\[train\\] setting"),
        ("[model]\npreset = 'huge'\n", "unknown preset"),
        ("[optim]\n", "unknown table"),
        ("[train\n", "not valid TOML"),
    ]:
        bad = tmp_path / "bad.toml"
        bad.write_text(text)
        with pytest.raises(ConfigError, match=f"bad.toml: {reason}"):
            load_config(str(bad), presets)
    with pytest.raises(ConfigError, match="not a preset"):
        load_config("medium", presets)


def test_cli_trains_and_reports_bad_input_in_one_line(cli_run, tmp_path, capsys):
    run, args, code, out, _ = cli_run
    assert code == 0 and "2 steps, best validation loss" in out
    assert (run / "model.keras").is_file()
    assert main([*args, "--config", "tiny"]) == 2  # the folder holds a run
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "holds a run already" in err[0]
    missing = ["train", "transfer", "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "r")]
    assert main(missing) == 2
    assert "no triplets.json" in capsys.readouterr().err


# One JAX run serves both JAX tests: data parallel over two host devices, and the
# checkpoint it writes loaded under TensorFlow. (One JAX device is what
# tests/test_gpu_script.py trains on, and tests/test_training_lm.py.) One step: JAX
# compiles a training step for each batch shape.
ONE_STEP = SHORT["gru"].replace("steps = 2", "steps = 1").replace("every = 2", "every = 1")
JAX_TRAIN_AND_SAVE = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    from groove.models.transfer.preprocessor import transfer_dataset
    from groove.training import train_transfer
    data, config, run = sys.argv[1:]
    model, state = train_transfer(data, config, run, strategy="auto", verbose=0)
    x, _ = next(iter(transfer_dataset(data, "val", batch_size=4, shuffle=False)))
    np.save(run + "/jax_logits.npy", np.asarray(model({k: v.numpy() for k, v in x.items()})))
    print(json.dumps({"replicas": state["replicas"], "loss": state["train_loss"]}))
    """
)


@pytest.fixture(scope="module")
def jax_run(triplets, tmp_path_factory):
    """`(run folder, child's JSON)`: one tiny step under JAX on two host devices."""
    pytest.importorskip("jax")
    root = tmp_path_factory.mktemp("jax")
    (root / "one.toml").write_text(ONE_STEP)
    run = root / "run"
    args = [str(triplets / "triplets"), str(root / "one.toml"), str(run)]
    env = {**os.environ, "KERAS_BACKEND": "jax",
           "XLA_FLAGS": f"{JAX_TWO_HOST_DEVICES} {JAX_FAST_COMPILE}"}  # fmt: skip
    out = run_child(JAX_TRAIN_AND_SAVE, args, env)
    return run, json.loads(out.strip().splitlines()[-1])


def test_jax_data_parallel_on_two_host_devices(jax_run):
    _, result = jax_run
    assert result["replicas"] == 2 and np.isfinite(result["loss"])


def test_a_model_trained_under_jax_loads_under_tensorflow_with_the_same_outputs(triplets, jax_run):
    run, _ = jax_run
    assert keras.backend.backend() == "tensorflow"
    model = keras.saving.load_model(run / "last.keras")
    assert int(model.optimizer.iterations) == 1
    x, _ = val_batch(triplets / "triplets")
    ours, theirs = np.asarray(model(x)), np.load(run / "jax_logits.npy")
    # The GRUs, the attention scan and the convs run other kernels on each back end:
    # equal up to float32 rounding.
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4)
    assert (ours.argmax(-1) == theirs.argmax(-1)).mean() > 0.999
