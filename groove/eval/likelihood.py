"""Model likelihood of token sequences: negative log-likelihood and perplexity."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from groove.errors import ConfigError


def _as_sequences(ids: Any) -> list[np.ndarray]:
    if isinstance(ids, np.ndarray) and ids.ndim == 2:
        return list(ids)
    if len(ids) and np.ndim(ids[0]) == 0:
        return [np.asarray(ids)]
    return [np.asarray(seq) for seq in ids]


def token_nll(
    model: Callable[[Any], Any],
    ids: Any,
    *,
    pad_id: int | None = None,
    batch_size: int = 32,
) -> float:
    """Mean negative log-likelihood, in nats per token, of token sequences under a model.

    Each token from the second on is scored given the tokens before it: the model
    reads `seq[:-1]` and its output at position t is the distribution of `seq[t + 1]`.

    Args:
        model: A Keras model (or any callable) mapping int32 ids of shape
            `(batch, time)` to logits (unnormalised log-probabilities) of shape
            `(batch, time, vocab)`. It must be causal: a position may not look ahead.
        ids: One sequence of ids, a list of sequences of any lengths, or a 2-D array.
        pad_id: Target tokens equal to this id are not scored.
        batch_size: Sequences per model call.

    Returns:
        The mean over every scored token, in nats. NaN when no sequence has two tokens.
    """
    import keras

    sequences = [s.astype(np.int64) for s in _as_sequences(ids) if len(s) >= 2]
    total, count = 0.0, 0
    for i in range(0, len(sequences), batch_size):
        batch = sequences[i : i + batch_size]
        length = max(len(s) for s in batch) - 1
        inputs = np.zeros((len(batch), length), dtype=np.int32)
        targets = np.zeros((len(batch), length), dtype=np.int64)
        mask = np.zeros((len(batch), length), dtype=bool)
        for row, seq in enumerate(batch):
            inputs[row, : len(seq) - 1] = seq[:-1]
            targets[row, : len(seq) - 1] = seq[1:]
            mask[row, : len(seq) - 1] = True
        if pad_id is not None:
            mask &= targets != pad_id
        logits = np.asarray(keras.ops.convert_to_numpy(model(inputs)), dtype=np.float64)
        if logits.shape[:2] != inputs.shape or logits.ndim != 3:
            raise ConfigError(
                f"the model returned shape {logits.shape} for input {inputs.shape}; "
                "expected (batch, time, vocab) logits"
            )
        if targets[mask].size and targets[mask].max() >= logits.shape[-1]:
            raise ConfigError(
                f"token id {int(targets[mask].max())} is outside the model's "
                f"vocabulary of {logits.shape[-1]}"
            )
        # log-softmax, shifted by the maximum for numerical stability
        shifted = logits - logits.max(axis=-1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
        picked = np.take_along_axis(log_probs, targets[..., None], axis=-1)[..., 0]
        total -= float(picked[mask].sum())
        count += int(mask.sum())
    return total / count if count else math.nan


def perplexity(model: Callable[[Any], Any], ids: Sequence[Any], **kwargs: Any) -> float:
    """exp(`token_nll`): the model's effective number of choices per token."""
    return math.exp(token_nll(model, ids, **kwargs))
