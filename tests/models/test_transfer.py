"""The style-transfer model: shapes, masks, causality, step decoding, saving, training."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from groove.models.transfer import (  # noqa: E402
    StyleEncoder,
    StyleTransferModel,
    TransferConfig,
    build_model,
)

VOCAB = 60


def batch(rng, b=3, frames=12, style=10, length=9, known_style=False):
    x = {
        "content": (rng.random((b, frames, 128)) > 0.9).astype("float32"),
        "content_mask": np.ones((b, frames), "float32"),
        "role": rng.integers(0, 5, b).astype("int32"),
        "tokens": rng.integers(3, VOCAB, (b, length)).astype("int32"),
    }
    if known_style:
        x["style_id"] = rng.integers(0, 4, b).astype("int32")
    else:
        x["style"] = rng.integers(3, VOCAB, (b, style)).astype("int32")
    return x


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return build_model(VOCAB, "tiny")


def test_logits_have_one_row_per_target_position(model):
    x = batch(np.random.default_rng(0))
    assert tuple(model(x).shape) == (3, 9, VOCAB)
    known = build_model(VOCAB, "tiny", styles=4)
    assert not known.one_shot and tuple(
        known(batch(np.random.default_rng(0), known_style=True)).shape
    ) == (3, 9, VOCAB)


def test_decoder_is_causal(model):
    x = batch(np.random.default_rng(1))
    y = np.asarray(model(x))
    changed = dict(x, tokens=x["tokens"].copy())
    changed["tokens"][:, 5:] = 7
    z = np.asarray(model(changed))
    np.testing.assert_allclose(z[:, :5], y[:, :5], atol=1e-5)
    assert not np.allclose(z[:, 5:], y[:, 5:])


def test_padding_changes_nothing(model):
    rng = np.random.default_rng(2)
    x = batch(rng, b=2, frames=12, style=10)
    y = np.asarray(model(x))
    # Extra content frames marked as padding, holding notes: ignored.
    padded = dict(x)
    padded["content"] = np.concatenate([x["content"], np.ones((2, 6, 128), "float32")], 1)
    padded["content_mask"] = np.concatenate([x["content_mask"], np.zeros((2, 6), "float32")], 1)
    # Extra PAD (id 0) at the end of the style example: ignored.
    padded["style"] = np.concatenate([x["style"], np.zeros((2, 7), "int32")], 1)
    np.testing.assert_allclose(np.asarray(model(padded)), y, atol=1e-4)
    # But the content itself matters.
    other = dict(x, content=np.roll(x["content"], 5, axis=2))
    assert not np.allclose(np.asarray(model(other)), y, atol=1e-4)


def test_step_by_step_decoding_equals_teacher_forcing(model):
    x = batch(np.random.default_rng(3))
    y = np.asarray(model(x))
    memory, mask, cond = model.encode(x)
    state, keys = model.decoder.start(memory, mask, cond)
    steps = []
    for t in range(x["tokens"].shape[1]):
        logits, state = model.decoder.step(x["tokens"][:, t], state, keys, memory, mask, cond)
        steps.append(np.asarray(logits))
    np.testing.assert_allclose(np.stack(steps, 1), y, atol=1e-5)


def test_saves_and_loads_as_one_keras_file_with_its_tokenizer(tmp_path):
    tokenizer = {"kind": "beat", "config": {"resolution": 12}}
    model = build_model(VOCAB, "tiny", tokenizer=tokenizer, data={"bars": 8})
    x = batch(np.random.default_rng(4))
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, StyleTransferModel)
    assert loaded.tokenizer_config == tokenizer and loaded.data_config == {"bars": 8}
    assert loaded.config == model.config
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(model(x)))


def test_style_encoder_stands_alone():
    encoder = StyleEncoder(VOCAB, 8, (8,), 8, 6)
    vectors = np.asarray(encoder(np.random.default_rng(5).integers(1, VOCAB, (4, 20))))
    assert vectors.shape == (4, 6) and np.abs(vectors).max() <= 1
    config = TransferConfig.from_dict(build_model(VOCAB, "tiny").config.to_dict())
    assert config.conv_filters == (4, 8)


def test_training_on_real_triplets_lowers_the_loss(tmp_path):
    from groove.data.corpus import build_corpus
    from groove.data.pipeline import load_tokenizer, write_triplets
    from groove.models.transfer.preprocessor import transfer_dataset

    build_corpus(tmp_path / "c", 8, 6, styles_per_chart=4, progress=False)
    write_triplets(tmp_path / "c", tmp_path / "t", splits=["train"], bars=2, progress=False)
    vocab = load_tokenizer(tmp_path / "t").vocab_size
    ds = transfer_dataset(tmp_path / "t", "train", batch_size=8, bucket_boundaries=None).take(2)
    keras.utils.set_random_seed(0)
    model = build_model(vocab, "tiny")
    model.compile(
        keras.optimizers.Adam(1e-2, clipnorm=1.0),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0),
    )
    history = model.fit(ds.cache(), epochs=8, verbose=0, shuffle=False).history["loss"]
    assert np.isfinite(history).all()
    assert history[-1] < 0.8 * history[0]


def test_settings_are_checked_and_unknown_keys_named():
    from groove.errors import ConfigError
    from groove.models.transfer import PRESETS, TransferDataConfig

    with pytest.raises(ConfigError, match=r"unknown style-transfer model setting.*decoder_unitz"):
        build_model(VOCAB, "tiny", decoder_unitz=48)
    with pytest.raises(ConfigError, match=r"unknown style-transfer data setting.*frames"):
        StyleTransferModel(TransferConfig(VOCAB, **PRESETS["tiny"]), data={"frames": 4})
    with pytest.raises(ConfigError, match="dropout"):
        TransferConfig(VOCAB, dropout=1.5)
    with pytest.raises(ConfigError, match="positive"):
        TransferDataConfig(bars=0)
    # A model saved with fewer data settings reads the rest as their defaults.
    assert TransferDataConfig.from_dict({"bars": 4}) == TransferDataConfig(bars=4)
