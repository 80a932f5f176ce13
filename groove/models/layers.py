"""Causal self-attention with a key/value cache, and its relative-position variant.

`CausalSelfAttention` is plain multi-head causal self-attention (Vaswani et al. 2017)
with the cache a generator needs; it is the absolute-position baseline's attention.
`RelativeMultiHeadAttention` adds the Music Transformer's learned relative positions
(Huang, Vaswani, Uszkoreit, Shazeer, Simon, Hawthorne, Dai, Hoffman, Dinculescu and
Eck, "Music Transformer: Generating Music with Long-Term Structure", ICLR 2019): each
head learns one embedding per relative distance, and the logit between query ``i``
and key ``j`` gains ``Q_i . E_{i-j}``. The full-sequence path computes those terms with
the paper's memory-efficient "skewing" (section 3.4.1); the one-token path used for
generation reads them straight from the relative table for the cached positions.

We write the attention ourselves rather than use `keras.layers.MultiHeadAttention`
because that layer has neither a relative term nor a key/value cache; KerasHub's
cached attention has no relative term either. Everything is `keras.ops`, so the
layers run under TensorFlow or JAX.
"""

from __future__ import annotations

import math
from typing import Any

import keras
from keras import layers, ops

from groove.errors import ConfigError

PACKAGE = "groove"


@keras.saving.register_keras_serializable(package=PACKAGE)
class CausalSelfAttention(layers.Layer):
    """Causal multi-head self-attention with a key/value cache for generation.

    Args:
        num_heads: number of attention heads.
        key_dim: size of each head's queries, keys and values.
        dropout: dropout rate on the attention weights (training only).

    `call(x)` maps ``(batch, length, width)`` to ``(batch, length, width)``; keys after
    each query are masked out. For generation, `init_cache` makes an empty cache,
    `prefill(x, cache)` runs a prompt and stores its keys and values, and
    `call_with_cache(x, cache, index)` runs one new token at position ``index``.
    """

    def __init__(self, num_heads: int, key_dim: int, dropout: float = 0.0, **kwargs: Any):
        super().__init__(**kwargs)
        if int(num_heads) < 1:
            raise ConfigError(f"num_heads must be at least 1, got {num_heads}")
        if int(key_dim) < 1:
            raise ConfigError(f"key_dim must be at least 1, got {key_dim}")
        if not 0.0 <= float(dropout) < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {dropout}")
        self.num_heads = int(num_heads)
        self.key_dim = int(key_dim)
        self.dropout = float(dropout)
        heads = (None, self.num_heads, self.key_dim)
        self.query_dense = layers.EinsumDense(
            "btd,dhk->bthk", output_shape=heads, bias_axes="hk", name="query"
        )
        self.key_dense = layers.EinsumDense(
            "btd,dhk->bthk", output_shape=heads, bias_axes="hk", name="key"
        )
        self.value_dense = layers.EinsumDense(
            "btd,dhk->bthk", output_shape=heads, bias_axes="hk", name="value"
        )
        self.output_dense: layers.EinsumDense | None = None
        self.attention_dropout = layers.Dropout(self.dropout, name="attention_dropout")

    def build(self, input_shape: tuple) -> None:
        width = input_shape[-1]
        if width is None:
            raise ConfigError(f"{type(self).__name__} needs a known input width")
        self.query_dense.build(input_shape)
        self.key_dense.build(input_shape)
        self.value_dense.build(input_shape)
        self.output_dense = layers.EinsumDense(
            "bthk,hkd->btd", output_shape=(None, width), bias_axes="d", name="output"
        )
        self.output_dense.build((input_shape[0], input_shape[1], self.num_heads, self.key_dim))
        self.built = True

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return tuple(input_shape)

    # Position terms: none here; `RelativeMultiHeadAttention` overrides both.

    def _sequence_position_logits(self, query, length):
        """Logits ``(b, h, L, L)`` that positions add for a whole sequence, or None."""
        return None

    def _cached_position_logits(self, query, index, max_length):
        """Logits ``(b, h, 1, max_length)`` that positions add for one token at ``index``."""
        return None

    def _neg_inf(self) -> float:
        return -6.0e4 if self.compute_dtype == "float16" else -1.0e9

    def _project(self, x):
        scale = ops.cast(1.0 / math.sqrt(self.key_dim), self.compute_dtype)
        return self.query_dense(x) * scale, self.key_dense(x), self.value_dense(x)

    def _attend(self, value, logits, mask, training, value_layout="bkhd"):
        """Masked softmax over ``logits`` (b, h, q, k), then the weighted sum of values
        (laid out ``(b, k, h, d)``, or ``(b, h, k, d)`` as the cache keeps them)."""
        logits = ops.where(mask, logits, ops.cast(self._neg_inf(), logits.dtype))
        weights = ops.softmax(logits, axis=-1)
        weights = self.attention_dropout(weights, training=training)
        context = ops.einsum(f"bhqk,{value_layout}->bqhd", weights, value)
        return self.output_dense(context)

    def _sequence(self, query, key, value, training):
        length = ops.shape(query)[1]
        logits = ops.einsum("bqhd,bkhd->bhqk", query, key)
        position = self._sequence_position_logits(query, length)
        if position is not None:
            logits = logits + position
        positions = ops.arange(length, dtype="int32")
        mask = positions[None, :] <= positions[:, None]  # (L, L): key j <= query i
        return self._attend(value, logits, mask[None, None], training)

    def call(self, x, training: bool = False):
        return self._sequence(*self._project(x), training)

    def init_cache(self, batch: int, max_length: int):
        """A zero key/value cache, ``(batch, 2, num_heads, max_length, key_dim)``.

        Heads come before positions so that a step's two products with the cache read
        it in place (with positions first, every step would transpose the cache)."""
        return ops.zeros(
            (batch, 2, self.num_heads, max_length, self.key_dim), dtype=self.compute_dtype
        )

    def prefill(self, x, cache, training: bool = False):
        """Run a prompt ``(batch, P, width)`` at positions ``0 .. P-1`` as `call` does,
        and store its keys and values at the start of ``cache``; returns ``(y, cache)``."""
        if not self.built:
            self.build(tuple(x.shape))
        query, key, value = self._project(x)
        zero = ops.zeros((), dtype="int32")
        start = [zero, zero, zero, zero]
        heads_first = (0, 2, 1, 3)
        key_cache = ops.slice_update(
            cache[:, 0], start, ops.cast(ops.transpose(key, heads_first), cache.dtype)
        )
        value_cache = ops.slice_update(
            cache[:, 1], start, ops.cast(ops.transpose(value, heads_first), cache.dtype)
        )
        y = self._sequence(query, key, value, training)
        return y, ops.stack([key_cache, value_cache], axis=1)

    def call_with_cache(self, x, cache, index, training: bool = False):
        """Attend from one new token at position ``index`` over the cached keys.

        Args:
            x: ``(batch, 1, width)``, the token at position ``index``.
            cache: ``(batch, 2, num_heads, max_length, key_dim)``, keys then values of the
                earlier positions (zeros elsewhere), as from `init_cache` or `prefill`.
            index: position of the new token, a Python int or scalar integer tensor.

        Returns:
            ``(y, cache)``: the output ``(batch, 1, width)`` and the cache with the new key
            and value written at ``index``.
        """
        if not self.built:
            self.build(tuple(x.shape))
        index = ops.cast(index, "int32")
        zero = ops.zeros((), dtype="int32")
        start = [zero, zero, index, zero]
        query, key, value = self._project(x)  # (b, 1, h, d)
        heads_first = (0, 2, 1, 3)
        key_cache = ops.slice_update(
            cache[:, 0], start, ops.cast(ops.transpose(key, heads_first), cache.dtype)
        )
        value_cache = ops.slice_update(
            cache[:, 1], start, ops.cast(ops.transpose(value, heads_first), cache.dtype)
        )
        cache = ops.stack([key_cache, value_cache], axis=1)

        max_length = ops.shape(key_cache)[2]
        logits = ops.einsum("bqhd,bhkd->bhqk", query, key_cache)  # (b, h, 1, T)
        position = self._cached_position_logits(query, index, max_length)
        if position is not None:
            logits = logits + position
        mask = (ops.arange(max_length, dtype="int32") <= index)[None, None, None, :]
        return self._attend(value_cache, logits, mask, training, "bhkd"), cache

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {"num_heads": self.num_heads, "key_dim": self.key_dim, "dropout": self.dropout}
        )
        return config


@keras.saving.register_keras_serializable(package=PACKAGE)
class RelativeMultiHeadAttention(CausalSelfAttention):
    """Causal multi-head self-attention with learned relative-position embeddings.

    Args:
        num_heads: number of attention heads.
        key_dim: size of each head's queries, keys and values.
        max_relative_position: number of distinct relative distances learned per head,
            0 .. ``max_relative_position - 1``. Distances beyond the last are CLIPPED: they
            all share the embedding of the farthest distance, ``max_relative_position - 1``.
        dropout: dropout rate on the attention weights (training only).

    The relative table `relative_embeddings` has shape
    ``(num_heads, max_relative_position, key_dim)`` and, as the paper's ``E_r``, runs from
    the farthest distance to distance 0: row ``max_relative_position - 1 - d`` holds the
    embedding of distance ``d``.

    `call(x)` maps ``(batch, length, width)`` to ``(batch, length, width)`` with
    logits ``(Q K^T + S_rel) / sqrt(key_dim)`` where ``S_rel[i, j] = Q_i . E[i - j]`` for
    ``j <= i``, and keys after the query masked out. `call_with_cache(x, cache, index)`
    runs one new token at position ``index`` against a key/value cache made by
    `init_cache` (or `prefill`), for incremental decoding.
    """

    def __init__(
        self,
        num_heads: int,
        key_dim: int,
        max_relative_position: int = 512,
        dropout: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(num_heads, key_dim, dropout=dropout, **kwargs)
        if int(max_relative_position) < 1:
            raise ConfigError(
                f"max_relative_position must be at least 1, got {max_relative_position}"
            )
        self.max_relative_position = int(max_relative_position)
        self.relative_embeddings = None

    def build(self, input_shape: tuple) -> None:
        super().build(input_shape)
        self.relative_embeddings = self.add_weight(
            name="relative_embeddings",
            shape=(self.num_heads, self.max_relative_position, self.key_dim),
            initializer=keras.initializers.RandomNormal(stddev=self.key_dim**-0.5),
            trainable=True,
        )

    def _relative_table(self, length):
        """The ``(heads, length, key_dim)`` table ``E_r`` for distances ``length-1 .. 0``.

        Row ``r`` holds distance ``length - 1 - r``. When ``length`` exceeds
        ``max_relative_position`` the far end repeats the farthest row, which clips the
        distances.
        """
        rows = ops.arange(length, dtype="int32") + (self.max_relative_position - length)
        rows = ops.maximum(rows, 0)
        table = ops.cast(self.relative_embeddings, self.compute_dtype)
        return ops.take(table, rows, axis=1)

    def _sequence_position_logits(self, query, length):
        # Skewing, Huang et al. 2019, section 3.4.1: with E_r ordered from distance L-1
        # down to 0, Q E_r^T has S[i, r] = Q_i . E[L-1-r]. Padding one zero column on the
        # left, reshaping (L, L+1) -> (L+1, L) and dropping the first row moves entry
        # (i, L-1-(i-j)) to (i, j), so S_rel[i, j] = Q_i . E[i-j] for every j <= i
        # (entries with j > i are junk and get masked).
        table = self._relative_table(length)  # (h, L, d)
        rel = ops.einsum("bqhd,hrd->bhqr", query, table)  # (b, h, L, L)
        rel = ops.pad(rel, [[0, 0], [0, 0], [0, 0], [1, 0]])  # (b, h, L, L+1)
        rel = ops.reshape(rel, (-1, self.num_heads, length + 1, length))
        rel = rel[:, :, 1:, :]
        return ops.reshape(rel, (-1, self.num_heads, length, length))

    def _cached_position_logits(self, query, index, max_length):
        # One query: score it against every distance's embedding, then pick each
        # cached key's distance (gathering the scores, not the embeddings, moves
        # key_dim times less memory).
        positions = ops.arange(max_length, dtype="int32")
        distance = ops.clip(index - positions, 0, self.max_relative_position - 1)
        table = ops.cast(self.relative_embeddings, self.compute_dtype)
        scores = ops.einsum("bqhd,hmd->bhqm", query, table)  # (b, h, 1, M)
        return ops.take(scores, self.max_relative_position - 1 - distance, axis=3)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config["max_relative_position"] = self.max_relative_position
        return config


@keras.saving.register_keras_serializable(package=PACKAGE)
class CrossAttention(layers.Layer):
    """Multi-head attention from a sequence to a fixed memory (Vaswani et al. 2017).

    The memory's keys and values are projected once by `memory_kv` and reused at
    every step of generation; `keras.layers.MultiHeadAttention` would project them
    again for each new token.

    Args:
        num_heads: Attention heads.
        key_dim: Size of each head's queries, keys and values.
        width: Output width (the residual stream's).
        dropout: Dropout on the attention weights (training only).
    """

    def __init__(self, num_heads: int, key_dim: int, width: int, dropout: float = 0.0,
                 **kwargs: Any):  # fmt: skip
        super().__init__(**kwargs)
        if min(int(num_heads), int(key_dim), int(width)) < 1:
            raise ConfigError("cross-attention sizes must be positive")
        self.num_heads, self.key_dim, self.width = int(num_heads), int(key_dim), int(width)
        self.dropout = float(dropout)
        heads = (None, self.num_heads, self.key_dim)
        self.query_dense = layers.EinsumDense("btd,dhk->bthk", output_shape=heads,
                                              bias_axes="hk", name="query")  # fmt: skip
        self.key_dense = layers.EinsumDense("btd,dhk->bthk", output_shape=heads,
                                            bias_axes="hk", name="key")  # fmt: skip
        self.value_dense = layers.EinsumDense("btd,dhk->bthk", output_shape=heads,
                                              bias_axes="hk", name="value")  # fmt: skip
        self.output_dense = layers.EinsumDense("bthk,hkd->btd", output_shape=(None, self.width),
                                               bias_axes="d", name="output")  # fmt: skip
        self.attention_dropout = layers.Dropout(self.dropout)

    def memory_kv(self, memory):
        """Keys and values of `memory` `(B, T, d)`, stacked: `(B, 2, T, heads, key_dim)`."""
        return ops.stack([self.key_dense(memory), self.value_dense(memory)], axis=1)

    def call(self, x, kv, memory_mask, training: bool = False):
        """Attend from `x` `(B, L, width)` over `kv` (from `memory_kv`), where
        `memory_mask` `(B, T)` is nonzero on real memory frames."""
        scale = ops.cast(1.0 / math.sqrt(self.key_dim), self.compute_dtype)
        query = self.query_dense(x) * scale
        kv = ops.cast(kv, query.dtype)
        logits = ops.einsum("bqhd,bkhd->bhqk", query, kv[:, 0])
        mask = ops.cast(memory_mask, "bool")[:, None, None, :]
        neg = -6.0e4 if self.compute_dtype == "float16" else -1.0e9
        logits = ops.where(mask, logits, ops.cast(neg, logits.dtype))
        weights = self.attention_dropout(ops.softmax(logits, axis=-1), training=training)
        return self.output_dense(ops.einsum("bhqk,bkhd->bqhd", weights, kv[:, 1]))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "num_heads": self.num_heads, "key_dim": self.key_dim,
                "width": self.width, "dropout": self.dropout}  # fmt: skip
