"""The Music Transformer: a decoder-only Transformer over MIDI event tokens.

After Huang et al., "Music Transformer" (ICLR 2019): a stack of pre-norm decoder
blocks (Xiong et al., ICML 2020, for why pre-norm trains without a long warmup)
whose self-attention has learned relative positions (`RelativeMultiHeadAttention`).
Set `relative=False` for the absolute-position baseline: the same stack with plain
causal attention and sinusoidal position encodings (Vaswani et al., NeurIPS 2017),
so the two compare on equal terms.

With `style_dim > 0` the model is conditioned on a style vector (for instance
`groove.style_embedding`): each block adds a learned projection of it to its input.

For generation, `init_cache` / `prefill` / `call_with_cache` run the stack one token
at a time over a key/value cache (see `groove.generate`). Everything is `keras.ops`,
so the model trains under TensorFlow or JAX.
"""

from __future__ import annotations

import math
from typing import Any

import keras
from keras import layers, ops

from groove.errors import ConfigError
from groove.models.layers import CausalSelfAttention, CrossAttention, RelativeMultiHeadAttention
from groove.models.music_transformer.config import PACKAGE, PRESETS, TransformerConfig


def sinusoidal_positions(positions, width: int, dtype: str = "float32"):
    """Vaswani et al. (2017) position encodings ``(len(positions), width)``: sines in
    the first half, cosines in the second, wavelengths 2 pi .. 10000 * 2 pi."""
    half = width // 2
    rates = ops.exp(ops.arange(half, dtype="float32") * (-math.log(10000.0) / max(half - 1, 1)))
    angles = ops.cast(positions, "float32")[:, None] * rates[None, :]
    encoding = ops.concatenate([ops.sin(angles), ops.cos(angles)], axis=-1)
    if width % 2:
        encoding = ops.pad(encoding, [[0, 0], [0, 1]])
    return ops.cast(encoding, dtype)


@keras.saving.register_keras_serializable(package=PACKAGE)
class DecoderBlock(layers.Layer):
    """Pre-norm block: ``x + Attn(LN(x))``, then ``h + FF(LN(h))``, each branch with
    dropout; a style vector, when given, is projected and added to the input first.

    With `cross_attention`, a pre-norm cross-attention over a memory sits between the
    two (``h + Cross(LN(h), memory)``), as in the Transformer's decoder; the
    style-transfer decoder attends so to the content. Calls then take `memory`:
    `(kv, mask)`, the memory's keys and values from `cross_attention.memory_kv`."""

    def __init__(self, hidden_dim, num_heads, ff_dim, relative=True, max_relative_position=512,
                 dropout=0.0, style_dim=0, cross_attention=False, **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        self.hidden_dim, self.num_heads, self.ff_dim = int(hidden_dim), int(num_heads), int(ff_dim)
        self.relative, self.max_relative_position = bool(relative), int(max_relative_position)
        self.dropout, self.style_dim = float(dropout), int(style_dim)
        self.cross = bool(cross_attention)
        key_dim = self.hidden_dim // self.num_heads
        if self.relative:
            self.attention = RelativeMultiHeadAttention(
                self.num_heads, key_dim, self.max_relative_position, self.dropout, name="attention"
            )
        else:
            self.attention = CausalSelfAttention(
                self.num_heads, key_dim, self.dropout, name="attention"
            )
        self.attention_norm = layers.LayerNormalization(epsilon=1e-5, name="attention_norm")
        self.ff_norm = layers.LayerNormalization(epsilon=1e-5, name="ff_norm")
        self.ff_in = layers.Dense(self.ff_dim, activation="gelu", name="ff_in")
        self.ff_out = layers.Dense(self.hidden_dim, name="ff_out")
        self.residual_dropout = layers.Dropout(self.dropout)
        self.style_projection = (
            layers.Dense(self.hidden_dim, use_bias=False, name="style_projection")
            if self.style_dim
            else None
        )
        if self.cross:
            self.cross_norm = layers.LayerNormalization(epsilon=1e-5, name="cross_norm")
            self.cross_attention = CrossAttention(self.num_heads, key_dim, self.hidden_dim,
                                                  self.dropout, name="cross_attention")  # fmt: skip

    def build(self, input_shape):
        self.attention_norm.build(input_shape)
        self.attention.build(input_shape)
        self.ff_norm.build(input_shape)
        self.ff_in.build(input_shape)
        self.ff_out.build((*input_shape[:-1], self.ff_dim))
        if self.style_projection is not None:
            self.style_projection.build((input_shape[0], self.style_dim))
        if self.cross:
            self.cross_norm.build(input_shape)
        self.built = True

    def _run(self, x, attend, style, training, memory=None):
        """The block around one attention call, `attend(normed) -> (y, cache)`."""
        if self.style_projection is not None:
            x = x + ops.cast(self.style_projection(style), x.dtype)[:, None, :]
        attended, cache = attend(self.attention_norm(x))
        h = x + self.residual_dropout(attended, training=training)
        if self.cross:
            if memory is None:
                raise ConfigError("this block cross-attends: pass memory=(kv, mask)")
            crossed = self.cross_attention(self.cross_norm(h), *memory, training=training)
            h = h + self.residual_dropout(crossed, training=training)
        ff = self.ff_out(self.ff_in(self.ff_norm(h)))
        return h + self.residual_dropout(ff, training=training), cache

    def call(self, x, style=None, training=False, memory=None):
        def attend(normed):
            return self.attention(normed, training=training), None

        return self._run(x, attend, style, training, memory)[0]

    def prefill(self, x, cache, style=None, memory=None):
        def attend(normed):
            return self.attention.prefill(normed, cache)

        return self._run(x, attend, style, False, memory)

    def call_with_cache(self, x, cache, index, style=None, memory=None):
        def attend(normed):
            return self.attention.call_with_cache(normed, cache, index)

        return self._run(x, attend, style, False, memory)

    def get_config(self):
        config = super().get_config()
        config.update(
            {"hidden_dim": self.hidden_dim, "num_heads": self.num_heads, "ff_dim": self.ff_dim,
             "relative": self.relative, "max_relative_position": self.max_relative_position,
             "dropout": self.dropout, "style_dim": self.style_dim,
             "cross_attention": self.cross}
        )  # fmt: skip
        return config


@keras.saving.register_keras_serializable(package=PACKAGE)
class MusicTransformer(keras.Model):
    """Next-token logits over MIDI event tokens.

    Input: int `(B, L)` token ids, or with `style_dim` a dict `{"tokens": (B, L),
    "style": float (B, style_dim)}`. Output: float32 logits `(B, L, vocab_size)` for
    the token after each position. `L` may exceed `context` (relative distances
    clip, sinusoids extend), but training and generation use windows of `context`.

    Args:
        config: A `TransformerConfig` or its dict.
        tokenizer: The tokenizer's `{"kind", "config"}`, saved with the model so one
            `.keras` file is all `groove generate` needs.
    """

    def __init__(self, config, tokenizer=None, **kwargs):
        super().__init__(**kwargs)
        self.config = (
            config if isinstance(config, TransformerConfig) else TransformerConfig.from_dict(config)
        )
        self.tokenizer_config = tokenizer or {}
        c = self.config
        self.embedding = layers.Embedding(c.vocab_size, c.hidden_dim, name="embedding")
        self.embedding_dropout = layers.Dropout(c.dropout)
        self.blocks = [
            DecoderBlock(c.hidden_dim, c.num_heads, c.ff_dim, c.relative,
                         c.max_relative_position, c.dropout, c.style_dim, name=f"block_{i}")
            for i in range(c.num_layers)
        ]  # fmt: skip
        self.final_norm = layers.LayerNormalization(epsilon=1e-5, name="final_norm")
        # float32 logits, also under a mixed-precision policy (a stable softmax).
        self.head = layers.Dense(c.vocab_size, dtype="float32", name="logits")
        self._build_now()

    def _build_now(self):
        """Create every variable with a tiny batch, so a `.keras` file loads at once."""
        tokens = ops.ones((1, 2), "int32")
        if self.config.style_dim:
            self({"tokens": tokens, "style": ops.zeros((1, self.config.style_dim))})
        else:
            self(tokens)

    def _split(self, inputs):
        if isinstance(inputs, dict):
            return inputs["tokens"], inputs.get("style")
        return inputs, None

    def _embed(self, tokens, start, training=False):
        x = self.embedding(tokens)
        if not self.config.relative:
            positions = start + ops.arange(ops.shape(tokens)[1], dtype="int32")
            x = x + sinusoidal_positions(positions, self.config.hidden_dim, x.dtype)[None]
        return self.embedding_dropout(x, training=training)

    def _style(self, style):
        if (style is None) != (not self.config.style_dim):
            raise ConfigError(
                "this Music Transformer is conditioned: pass a style vector"
                if self.config.style_dim
                else "this Music Transformer takes no style vector"
            )
        return None if style is None else ops.cast(style, self.compute_dtype)

    def call(self, inputs, training=False):
        tokens, style = self._split(inputs)
        x = self._embed(tokens, 0, training)
        style = self._style(style)
        for block in self.blocks:
            x = block(x, style=style, training=training)
        return self.head(self.final_norm(x))

    # ------------------------------------------------------------ generation

    def init_cache(self, batch: int, length: int | None = None):
        """An empty cache ``(batch, layers, 2, heads, length, key_dim)`` (length: context)."""
        c = self.config
        shape = (batch, c.num_layers, 2, c.num_heads, length or c.context,
                 c.hidden_dim // c.num_heads)  # fmt: skip
        return ops.zeros(shape, dtype=self.compute_dtype)

    def prefill(self, tokens, cache, style=None):
        """Run a prompt ``(B, P)`` at positions ``0 .. P-1``; returns its logits
        ``(B, P, vocab)`` and the cache holding its keys and values."""
        x = self._embed(tokens, 0)
        style = self._style(style)
        caches = []
        for i, block in enumerate(self.blocks):
            x, layer_cache = block.prefill(x, cache[:, i], style=style)
            caches.append(layer_cache)
        return self.head(self.final_norm(x)), ops.stack(caches, axis=1)

    def call_with_cache(self, token, cache, index, style=None):
        """One token ``(B, 1)`` at position ``index`` (an int or scalar tensor) against
        the cache; returns logits ``(B, 1, vocab)`` and the updated cache."""
        index = ops.cast(index, "int32")
        x = self._embed(token, index)
        style = self._style(style)
        caches = []
        for i, block in enumerate(self.blocks):
            x, layer_cache = block.call_with_cache(x, cache[:, i], index, style=style)
            caches.append(layer_cache)
        return self.head(self.final_norm(x)), ops.stack(caches, axis=1)

    def get_config(self):
        return {"config": self.config.to_dict(), "tokenizer": self.tokenizer_config,
                "name": self.name}  # fmt: skip

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def build_music_transformer(
    vocab_size: int, preset: str = "small", *, tokenizer=None, **overrides: Any
) -> MusicTransformer:
    """A new `MusicTransformer` from a preset ("tiny", "small", "base") and overrides."""
    if preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}")
    config = TransformerConfig.from_dict({"vocab_size": vocab_size, **PRESETS[preset], **overrides})
    return MusicTransformer(config, tokenizer=tokenizer)
