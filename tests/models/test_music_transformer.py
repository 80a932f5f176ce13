"""The Music Transformer: cached decoding equals the full pass, causality, positions,
style conditioning, saving, config checks, mixed precision, and a real (tiny)
training run on Bach chorales from music21's corpus."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

from groove.data.lm import build_lm_corpus, load_tokenizer
from groove.errors import ConfigError
from groove.models import MusicTransformer, build_music_transformer
from groove.models.saving import load
from groove.tokenizers import PerformanceTokenizer, Tokenizer
from groove.training import train_lm

VOCAB, BATCH, LENGTH, STYLE = 40, 2, 12, 3

NAMES = "bwv66.6 bwv153.1 bwv269 bwv347 bwv86.6 bwv253 bwv254 bwv26.6"
CHORALES = [f"music21:bach/{name}" for name in NAMES.split()]
TINY = """
[model]
preset = "tiny"
[train]
batch_size = 4
steps = 30
eval_every = 10
learning_rate = 3e-3
warmup_steps = 0
"""


def make_model(seed=0, **overrides):
    keras.utils.set_random_seed(seed)
    return build_music_transformer(VOCAB, "tiny", **overrides)


def tokens(seed=0, length=LENGTH):
    return np.random.default_rng(seed).integers(0, VOCAB, (BATCH, length)).astype("int32")


def styles(seed=1):
    return np.random.default_rng(seed).normal(size=(BATCH, STYLE)).astype("float32")


def logits(model, x, style=None):
    inputs = x if style is None else {"tokens": x, "style": style}
    return keras.ops.convert_to_numpy(model(inputs))


# ------------------------------------------------------------- cache and causality


@pytest.mark.filterwarnings("ignore:You are using a softmax over axis -1")  # a 1-token prompt
@pytest.mark.parametrize(
    ("overrides", "prompt", "index_as_tensor"),
    [
        ({"relative": True}, 5, False),
        ({"relative": False}, 5, False),
        ({"relative": True, "max_relative_position": 4}, 1, True),  # distances clip
        ({"relative": False}, 1, True),
        ({"relative": True, "style_dim": STYLE}, 4, False),
        ({"relative": False, "style_dim": STYLE}, 4, True),
    ],
    ids=["relative", "absolute", "relative-clipped-tensor-index", "absolute-tensor-index",
         "relative-style", "absolute-style-tensor-index"],
)  # fmt: skip
def test_cached_steps_give_the_full_sequence_logits(overrides, prompt, index_as_tensor):
    model = make_model(**overrides)
    x = tokens()
    style = styles() if model.config.style_dim else None
    full = logits(model, x, style)
    assert full.shape == (BATCH, LENGTH, VOCAB) and full.dtype == np.float32
    cache = model.init_cache(BATCH)  # layers, keys+values, heads, context, key_dim
    assert tuple(cache.shape) == (BATCH, 2, 2, 2, 64, 16)
    first, cache = model.prefill(x[:, :prompt], cache, style=style)
    stepped = [keras.ops.convert_to_numpy(first)]
    for t in range(prompt, LENGTH):
        index = keras.ops.convert_to_tensor(t, "int32") if index_as_tensor else t
        out, cache = model.call_with_cache(x[:, t : t + 1], cache, index, style=style)
        assert tuple(out.shape) == (BATCH, 1, VOCAB)
        stepped.append(keras.ops.convert_to_numpy(out))
    np.testing.assert_allclose(np.concatenate(stepped, axis=1), full, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("relative", [True, False])
def test_later_tokens_do_not_change_earlier_logits(relative):
    model = make_model(relative=relative)
    x = tokens()
    base = logits(model, x)
    for t in (0, 4, 10):
        changed = x.copy()
        changed[:, t + 1 :] = (changed[:, t + 1 :] + 1) % VOCAB
        out = logits(model, changed)
        np.testing.assert_allclose(out[:, : t + 1], base[:, : t + 1], rtol=0, atol=1e-6)
        assert np.abs(out[:, t + 1 :] - base[:, t + 1 :]).max() > 1e-3


@pytest.mark.parametrize("relative", [True, False])
def test_sequences_longer_than_the_context_run_and_agree_on_the_common_part(relative):
    model = make_model(relative=relative)
    x = tokens(length=80)  # context 64; relative distances clip, sinusoids extend
    long, short = logits(model, x), logits(model, x[:, :64])
    assert long.shape == (BATCH, 80, VOCAB) and np.isfinite(long).all()
    np.testing.assert_allclose(long[:, :64], short, rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------------ positions


def spread_over_positions(model, token=7):
    """Largest logit difference between positions of a run of one repeated token."""
    out = logits(model, np.full((1, LENGTH), token, "int32"))[0]
    return float(np.abs(out - out[:1]).max())


def test_the_absolute_variant_hears_positions():
    assert spread_over_positions(make_model(relative=False)) > 1e-3


def test_the_relative_variant_has_no_absolute_position_signal():
    # Every key and value of a run of one token is the same, so attention, however it
    # weighs them by distance, gives the same output at every position.
    assert spread_over_positions(make_model(relative=True)) < 1e-5


def test_the_relative_variant_uses_its_relative_table():
    model = make_model(relative=True)
    x = tokens()
    before = logits(model, x)
    for block in model.blocks:
        table = block.attention.relative_embeddings
        table.assign(np.zeros(table.shape, "float32"))
    after = logits(model, x)
    np.testing.assert_allclose(after[:, 0], before[:, 0], rtol=1e-5, atol=1e-5)  # one key
    assert np.abs(after[:, 1:] - before[:, 1:]).max() > 1e-3


# ---------------------------------------------------------------------------- style


def test_the_style_vector_conditions_each_sample_and_is_required():
    model = make_model(style_dim=STYLE)
    x = tokens()
    a = logits(model, x, np.zeros((BATCH, STYLE), "float32"))
    b = logits(model, x, np.ones((BATCH, STYLE), "float32"))
    assert np.abs(a - b).max() > 1e-3
    mixed = logits(model, x, np.array([[0.0] * STYLE, [1.0] * STYLE], "float32"))
    np.testing.assert_allclose(mixed[0], a[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(mixed[1], b[1], rtol=1e-5, atol=1e-5)
    with pytest.raises(ConfigError, match="conditioned"):
        model(x)
    with pytest.raises(ConfigError, match="conditioned"):
        model({"tokens": x})


# ----------------------------------------------------------------- saving, configs


@pytest.mark.parametrize("overrides", [{"relative": True, "style_dim": STYLE}, {"relative": False}])
def test_a_saved_model_loads_with_identical_logits_and_its_tokenizer(overrides, tmp_path):
    tokenizer = PerformanceTokenizer(velocity_bins=16, sustain=False)
    spec = {"kind": "performance", "config": tokenizer.get_config()}
    keras.utils.set_random_seed(0)
    model = build_music_transformer(len(tokenizer), "tiny", tokenizer=spec, **overrides)
    path = tmp_path / "lm.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, MusicTransformer)
    assert loaded.config == model.config
    assert Tokenizer.from_spec(loaded.tokenizer_config) == tokenizer
    x = np.random.default_rng(0).integers(0, len(tokenizer), (BATCH, LENGTH)).astype("int32")
    style = styles() if model.config.style_dim else None
    np.testing.assert_array_equal(logits(loaded, x, style), logits(model, x, style))
    again, tok = load(path, "music_transformer")  # what `groove generate --model` does
    assert isinstance(again, MusicTransformer) and tok == tokenizer


@pytest.mark.parametrize(
    ("preset", "overrides", "reason"),
    [
        ("tiny", {"hidden_dim": 30, "num_heads": 4}, "multiple of num_heads"),
        ("huge", {}, "unknown preset 'huge'"),
        ("tiny", {"num_layer": 3}, "unknown Music Transformer setting.*num_layer"),
        ("tiny", {"dropout": 1.0}, "dropout"),
        ("tiny", {"context": 1}, "context >= 2"),
        ("tiny", {"max_relative_position": 0}, "max_relative_position"),
    ],
)
def test_bad_settings_are_config_errors(preset, overrides, reason):
    with pytest.raises(ConfigError, match=reason):
        build_music_transformer(VOCAB, preset, **overrides)


def test_presets_and_overrides_set_the_sizes():
    model = build_music_transformer(VOCAB, "tiny", num_layers=3, context=32)
    assert (model.config.num_layers, model.config.context, model.config.hidden_dim) == (3, 32, 32)
    assert len(model.blocks) == 3
    assert tuple(model.init_cache(1).shape) == (1, 3, 2, 2, 32, 16)


# -------------------------------------------------------------- mixed precision


def test_mixed_precision_keeps_float32_weights_and_logits():
    before = keras.config.dtype_policy()
    keras.mixed_precision.set_dtype_policy("mixed_bfloat16")
    try:
        mixed = make_model(style_dim=STYLE)
    finally:
        keras.mixed_precision.set_dtype_policy(before)
    assert keras.config.dtype_policy().name == before.name
    x, style = tokens(), styles()
    out = mixed({"tokens": x, "style": style})
    assert out.dtype == "float32"
    assert all(w.dtype == "float32" for w in mixed.weights)
    step, _ = mixed.prefill(x, mixed.init_cache(BATCH), style=style)
    assert step.dtype == "float32"
    # The same weights in float32 compute the same function, up to bfloat16 rounding.
    plain = make_model(style_dim=STYLE)
    plain.set_weights(mixed.get_weights())
    reference = logits(plain, x, style)
    assert np.abs(keras.ops.convert_to_numpy(out) - reference).max() < 0.05 * max(
        1.0, np.abs(reference).max()
    )


# ------------------------------------------------------------ a real training run


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Eight Bach chorales (6 train, 1 val, 1 test) and 30 steps of the tiny preset."""
    root = tmp_path_factory.mktemp("lm")
    manifest = build_lm_corpus(CHORALES, root / "corpus", seed=0, progress=False)
    (root / "tiny.toml").write_text(TINY)
    model, state = train_lm(root / "corpus", str(root / "tiny.toml"), root / "run", verbose=0)
    return root, manifest, model, state


def test_training_on_chorales_lowers_the_validation_loss(trained):
    root, manifest, _, state = trained
    assert manifest["skipped"] == []
    assert [manifest["counts"][s]["files"] for s in ("train", "val", "test")] == [6, 1, 1]
    assert state["step"] == 30
    lines = (root / "run" / "history.csv").read_text().splitlines()[1:]
    val = [float(line.split(",")[2]) for line in lines]
    assert len(val) == 3  # one evaluation every 10 steps
    assert val[0] > val[1] > val[2], val
    # Well below a uniform guess over the vocabulary.
    assert val[2] < math.log(manifest["tokenizer"]["vocab_size"]) - 0.5


def test_the_run_folder_holds_a_model_generate_can_load(trained):
    root, _, model, _ = trained
    run = root / "run"
    assert {"model.keras", "last.keras", "run.json", "history.csv"} <= {
        p.name for p in run.iterdir()
    }
    x = tokens()
    last = keras.saving.load_model(run / "last.keras")
    np.testing.assert_array_equal(logits(last, x), logits(model, x))
    best, tokenizer = load(run / "model.keras", "music_transformer")
    assert isinstance(best, MusicTransformer)
    assert isinstance(tokenizer, PerformanceTokenizer)
    assert tokenizer == load_tokenizer(root / "corpus") == PerformanceTokenizer()
    assert best.config.vocab_size == len(tokenizer) and best.config.context == 64
