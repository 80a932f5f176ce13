"""RelativeMultiHeadAttention against a plain numpy reference of relative attention."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from groove.errors import ConfigError
from groove.models.layers import RelativeMultiHeadAttention

BATCH, WIDTH, HEADS, KEY_DIM = 2, 16, 2, 8


def make_layer(max_relative_position=16, length=12, dropout=0.0):
    keras.utils.set_random_seed(0)
    layer = RelativeMultiHeadAttention(
        HEADS, KEY_DIM, max_relative_position=max_relative_position, dropout=dropout
    )
    layer.build((None, length, WIDTH))
    # Nonzero biases so the reference checks they are used.
    rng = np.random.default_rng(1)
    for dense in (layer.query_dense, layer.key_dense, layer.value_dense, layer.output_dense):
        dense.bias.assign(rng.normal(0, 0.1, size=dense.bias.shape).astype("float32"))
    return layer


def inputs(length, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(BATCH, length, WIDTH)).astype("float32")


def weights(dense):
    return np.asarray(dense.kernel.numpy(), np.float64), np.asarray(dense.bias.numpy(), np.float64)


def reference(layer, x):
    """Float64 relative attention that builds the full (L, L, D) relative tensor."""
    x = np.asarray(x, np.float64)
    length = x.shape[1]
    wq, bq = weights(layer.query_dense)
    wk, bk = weights(layer.key_dense)
    wv, bv = weights(layer.value_dense)
    wo, bo = weights(layer.output_dense)
    table = np.asarray(layer.relative_embeddings.numpy(), np.float64)  # (h, M, d)
    m = table.shape[1]
    q = np.einsum("btw,whd->bhtd", x, wq) + bq[None, :, None, :]
    k = np.einsum("btw,whd->bhtd", x, wk) + bk[None, :, None, :]
    v = np.einsum("btw,whd->bhtd", x, wv) + bv[None, :, None, :]
    # rel[h, i, j] = embedding of clipped distance i - j (zeros where j > i, masked anyway).
    rel = np.zeros((HEADS, length, length, KEY_DIM))
    for i in range(length):
        for j in range(i + 1):
            rel[:, i, j] = table[:, m - 1 - min(i - j, m - 1)]
    logits = np.einsum("bhid,bhjd->bhij", q, k) + np.einsum("bhid,hijd->bhij", q, rel)
    logits /= np.sqrt(KEY_DIM)
    causal = np.tril(np.ones((length, length), bool))
    logits = np.where(causal, logits, -np.inf)
    logits -= logits.max(axis=-1, keepdims=True)
    probs = np.exp(logits)
    probs /= probs.sum(axis=-1, keepdims=True)
    context = np.einsum("bhij,bhjd->bihd", probs, v)
    return np.einsum("bihd,hdw->biw", context, wo) + bo


def assert_close(actual, expected, tol=1e-5):
    actual = np.asarray(actual, np.float64)
    scale = max(1.0, float(np.max(np.abs(expected))))
    np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol * scale)


def run_cached(layer, x, index_as_tensor=False):
    length = x.shape[1]
    cache = layer.init_cache(BATCH, length)
    outputs = []
    for t in range(length):
        index = keras.ops.convert_to_tensor(t, "int32") if index_as_tensor else t
        y, cache = layer.call_with_cache(x[:, t : t + 1], cache, index)
        assert tuple(y.shape) == (BATCH, 1, WIDTH)
        outputs.append(keras.ops.convert_to_numpy(y))
    return np.concatenate(outputs, axis=1), cache


@pytest.mark.filterwarnings("ignore:You are using a softmax over axis -1")  # length 1
@pytest.mark.parametrize("length", [1, 5, 12])
def test_matches_numpy_reference(length):
    layer = make_layer(max_relative_position=16, length=length)
    x = inputs(length)
    y = keras.ops.convert_to_numpy(layer(x))
    assert y.shape == (BATCH, length, WIDTH)
    assert y.dtype == np.float32
    assert_close(y, reference(layer, x))


def test_relative_table_shape_and_weights():
    layer = make_layer(max_relative_position=7)
    assert tuple(layer.relative_embeddings.shape) == (HEADS, 7, KEY_DIM)
    # 4 projections x (kernel, bias) + the relative table.
    assert len(layer.trainable_weights) == 9


def test_relative_term_matters():
    """Zeroing the relative table changes the output, so the term is really used."""
    layer = make_layer(max_relative_position=16, length=8)
    x = inputs(8)
    before = keras.ops.convert_to_numpy(layer(x))
    layer.relative_embeddings.assign(np.zeros(layer.relative_embeddings.shape, "float32"))
    after = keras.ops.convert_to_numpy(layer(x))
    assert np.max(np.abs(before[:, 1:] - after[:, 1:])) > 1e-4
    assert_close(after, reference(layer, x))


def test_causal():
    length = 10
    layer = make_layer(length=length)
    x = inputs(length)
    base = keras.ops.convert_to_numpy(layer(x))
    rng = np.random.default_rng(5)
    for t in (0, 3, 8):
        perturbed = x.copy()
        perturbed[:, t + 1 :] += rng.normal(size=perturbed[:, t + 1 :].shape).astype("float32")
        out = keras.ops.convert_to_numpy(layer(perturbed))
        np.testing.assert_allclose(out[:, : t + 1], base[:, : t + 1], rtol=0, atol=1e-6)
        assert np.max(np.abs(out[:, t + 1 :] - base[:, t + 1 :])) > 1e-3


@pytest.mark.parametrize("index_as_tensor", [False, True])
def test_cached_steps_match_full_sequence(index_as_tensor):
    length = 12
    layer = make_layer(max_relative_position=16, length=length)
    x = inputs(length, seed=3)
    full = keras.ops.convert_to_numpy(layer(x))
    stepped, cache = run_cached(layer, x, index_as_tensor=index_as_tensor)
    assert_close(stepped, full)
    assert tuple(cache.shape) == (BATCH, 2, HEADS, length, KEY_DIM)
    # The cache holds every position's key and value once the sequence is done.
    keys = keras.ops.convert_to_numpy(layer.key_dense(x)).transpose(0, 2, 1, 3)  # heads first
    np.testing.assert_allclose(keras.ops.convert_to_numpy(cache)[:, 0], keys, atol=1e-6)


def test_cache_longer_than_sequence():
    """Unfilled cache slots after ``index`` are masked, so a longer cache changes nothing."""
    length = 6
    layer = make_layer(length=length)
    x = inputs(length, seed=4)
    full = keras.ops.convert_to_numpy(layer(x))
    cache = layer.init_cache(BATCH, 9)
    for t in range(length):
        y, cache = layer.call_with_cache(x[:, t : t + 1], cache, t)
        assert_close(keras.ops.convert_to_numpy(y)[:, 0], full[:, t])


def test_beyond_max_relative_position_clips():
    length = 10
    layer = make_layer(max_relative_position=4, length=length)
    x = inputs(length, seed=2)
    y = keras.ops.convert_to_numpy(layer(x))
    expected = reference(layer, x)
    assert_close(y, expected)
    stepped, _ = run_cached(layer, x)
    assert_close(stepped, expected)


def test_clipping_shares_farthest_embedding():
    """Only the farthest row of the table matters for distances past the window."""
    length = 10
    layer = make_layer(max_relative_position=4, length=length)
    x = inputs(length, seed=6)
    before = keras.ops.convert_to_numpy(layer(x))
    table = layer.relative_embeddings.numpy()
    table[:, 0] += 1.0  # row 0 = farthest distance, 3, shared by distances >= 3
    layer.relative_embeddings.assign(table)
    after = keras.ops.convert_to_numpy(layer(x))
    # Positions 0..2 never see distance >= 3.
    np.testing.assert_allclose(after[:, :3], before[:, :3], rtol=0, atol=1e-6)
    assert np.max(np.abs(after[:, 3:] - before[:, 3:])) > 1e-4
    assert_close(after, reference(layer, x))


def test_config_round_trip():
    layer = RelativeMultiHeadAttention(
        3, 5, max_relative_position=33, dropout=0.25, name="rel_attention"
    )
    config = layer.get_config()
    assert config["num_heads"] == 3
    assert config["key_dim"] == 5
    assert config["max_relative_position"] == 33
    assert config["dropout"] == 0.25
    clone = RelativeMultiHeadAttention.from_config(config)
    assert clone.get_config() == config
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert isinstance(restored, RelativeMultiHeadAttention)
    assert restored.get_config() == config


def test_dropout_only_in_training():
    length = 6
    layer = make_layer(length=length, dropout=0.5)
    x = inputs(length)
    inference = keras.ops.convert_to_numpy(layer(x, training=False))
    assert_close(inference, reference(layer, x))
    trained = keras.ops.convert_to_numpy(layer(x, training=True))
    assert np.max(np.abs(trained - inference)) > 1e-4


@pytest.mark.parametrize(
    "kwargs",
    [
        {"num_heads": 0, "key_dim": 4},
        {"num_heads": 2, "key_dim": 0},
        {"num_heads": 2, "key_dim": 4, "max_relative_position": 0},
        {"num_heads": 2, "key_dim": 4, "dropout": 1.0},
    ],
)
def test_rejects_bad_sizes(kwargs):
    with pytest.raises(ConfigError):
        RelativeMultiHeadAttention(**kwargs)
