"""token_nll and perplexity with small real Keras models whose answer is known."""

import math

import keras
import numpy as np
import pytest

from groove.errors import ConfigError
from groove.eval import perplexity, token_nll


def bigram_model(transitions: np.ndarray) -> keras.Model:
    """A causal model whose logits at t are log P(next | token t): one-hot, then log P."""
    vocab = len(transitions)
    model = keras.Sequential(
        [
            keras.Input((None,), dtype="int32"),
            keras.layers.Embedding(vocab, vocab, embeddings_initializer="identity"),
            keras.layers.Dense(vocab, use_bias=False),
        ]
    )
    model.layers[-1].set_weights([np.log(transitions)])
    return model


TRANSITIONS = np.array([[0.1, 0.6, 0.3], [0.2, 0.2, 0.6], [0.5, 0.25, 0.25]])


def test_uniform_model_has_perplexity_equal_to_the_vocabulary():
    model = bigram_model(np.full((5, 5), 0.2))
    ids = [0, 3, 1, 4, 4, 2]
    assert token_nll(model, ids) == pytest.approx(math.log(5))
    assert perplexity(model, ids) == pytest.approx(5.0)


def test_bigram_model_on_paper():
    model = bigram_model(TRANSITIONS)
    # 0 -> 1 -> 2 -> 0: P = 0.6, 0.6, 0.5
    expected = -(math.log(0.6) + math.log(0.6) + math.log(0.5)) / 3
    assert token_nll(model, [0, 1, 2, 0]) == pytest.approx(expected)


def test_ragged_batches_score_every_token_once():
    model = bigram_model(TRANSITIONS)
    short, long = [2, 2], [0, 1, 2, 0, 0]
    # 2->2 (0.25) and 0->1, 1->2, 2->0, 0->0 (0.6, 0.6, 0.5, 0.1): 5 tokens in all.
    logs = [0.25, 0.6, 0.6, 0.5, 0.1]
    expected = -sum(math.log(p) for p in logs) / 5
    assert token_nll(model, [short, long]) == pytest.approx(expected)
    assert token_nll(model, [short, long], batch_size=1) == pytest.approx(expected)
    assert token_nll(model, [[1], short, long]) == pytest.approx(expected)  # 1 token: nothing


def test_pad_targets_are_not_scored():
    model = bigram_model(TRANSITIONS)
    padded = np.array([[0, 1, 2, 2], [0, 1, 2, 0]])
    # With 2 as padding: row 1 scores 0->1 only; row 2 scores 0->1 and 2->0.
    expected = -(math.log(0.6) * 2 + math.log(0.5)) / 3
    assert token_nll(model, padded, pad_id=2) == pytest.approx(expected)


def test_bad_ids_and_models_raise_clear_errors():
    model = bigram_model(TRANSITIONS)
    with pytest.raises(ConfigError, match="vocabulary"):
        token_nll(model, [0, 7])
    with pytest.raises(ConfigError, match="expected"):
        token_nll(lambda x: np.zeros((1, 1)), [0, 1])
    assert math.isnan(token_nll(model, [[0]]))
