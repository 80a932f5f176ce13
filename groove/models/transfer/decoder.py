"""The time-aware Transformer decoder of the style-transfer model.

The GRU decoder of Groove2Groove (`backbone.AttentionDecoder`) is never told where
it is in the music: it must count TIME_SHIFT tokens to know the beat, and its
attention over the content never aligned with the current time (issue 14's
diagnosis: attention mass near the current beat was no better than uniform). This
decoder is told, at every step, what the token stream already implies exactly:

- the beat phase (grid steps since the last beat),
- the position in the bar (grid steps since the last bar line),
- the beats left before the segment ends,
- the content of the current beat (the content encoder's states of that beat,
  averaged),

added to the token embedding, beside relative self-attention over the tokens (the
Music Transformer's, `groove.models.layers.RelativeMultiHeadAttention`) and
cross-attention to the content states in every block, which stays as an addition,
not the only way in. The style vector and role condition every block.

With `style_attention`, the cross-attention's memory also holds the style example's
tokens, each embedded as the decoder embeds its own (token, beat phase and bar
position, then a width-5 convolution for the neighbouring VELOCITY and DURATION
tokens). A query at bar position p can then find what the example plays at p: the
one style vector has to squeeze a whole groove into 128 numbers, and the style fit of
models that read only the vector stayed near 0.4 (issue 14).

Time is the sum of the TIME_SHIFT values of the tokens so far (a constant table
from the tokenizer), so training (`call`) and generation (`step`) compute it the
same way, inside the model.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import layers, ops

from groove.models.music_transformer.backbone import DecoderBlock
from groove.models.transfer.config import PACKAGE

# Longest bar the position input tells apart, in beats (a 12/8 bar is 6); farther
# positions share the last embedding.
MAX_BAR_BEATS = 8
# Beats left in the segment told apart; more share the last embedding (8 bars of
# 12/8 are 48 beats).
MAX_LEFT_BEATS = 64


def _unmasked(x):
    """`x` as a new tensor without the Keras mask the content encoder's masked GRU
    attaches: cross-attention masks padding with `memory_mask` itself, and its
    key/value layers would warn on every call that they drop a mask (adding 0 is
    exact)."""
    return ops.add(x, ops.zeros((), x.dtype))


@keras.saving.register_keras_serializable(package=PACKAGE)
class TransformerDecoder(layers.Layer):
    """Target-token logits from the tokens so far, the content states and a condition.

    Args:
        vocab_size: The tokenizer's vocabulary.
        shift_values: Per token id, the grid steps it moves time by (0 for all but
            TIME_SHIFT), from the tokenizer.
        resolution: Grid steps per beat (the tokenizer's).
        frames_per_beat: Content frames per beat (the data settings').
        hidden_dim, num_layers, num_heads, ff_dim, max_relative_position, dropout:
            Sizes of the blocks (see `TransferConfig`).
        cond_dim: Size of the condition ([style vector; role embedding]).
        time_inputs: Add the time inputs (see the module); False for the ablation.
        style_attention: Cross-attend to the style example's tokens too (needs
            `time_inputs`); calls then take the style ids.
    """

    def __init__(self, vocab_size, shift_values, resolution, frames_per_beat, hidden_dim=192,
                 num_layers=4, num_heads=4, ff_dim=768, max_relative_position=256, dropout=0.0,
                 cond_dim=0, time_inputs=True, style_attention=False, **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        self.vocab_size, self.hidden_dim = int(vocab_size), int(hidden_dim)
        self.shift_values = [int(v) for v in shift_values]
        self.resolution, self.frames_per_beat = int(resolution), int(frames_per_beat)
        self.num_layers, self.num_heads, self.ff_dim = int(num_layers), int(num_heads), int(ff_dim)
        self.max_relative_position, self.dropout = int(max_relative_position), float(dropout)
        self.cond_dim, self.time_inputs = int(cond_dim), bool(time_inputs)
        self.style_attention = bool(style_attention)
        if self.style_attention and not self.time_inputs:
            raise ValueError("style_attention needs time_inputs")
        self._shift = np.asarray(self.shift_values, np.int32)
        h = self.hidden_dim
        self.embedding = layers.Embedding(self.vocab_size, h, name="embedding")
        self.memory_proj = layers.Dense(h, name="memory_proj")
        self.cond_proj = layers.Dense(h, name="cond_proj")
        if self.time_inputs:
            self.phase_embedding = layers.Embedding(self.resolution, h, name="phase")
            self.bar_embedding = layers.Embedding(MAX_BAR_BEATS * self.resolution, h, name="bar")
            self.left_embedding = layers.Embedding(MAX_LEFT_BEATS + 1, h, name="left")
            self.beat_proj = layers.Dense(h, name="beat_content")
        if self.style_attention:
            self.style_conv = layers.Conv1D(h, 5, padding="same", name="style_conv")
        self.drop = layers.Dropout(self.dropout)
        self.blocks = [
            DecoderBlock(h, self.num_heads, self.ff_dim, True, self.max_relative_position,
                         self.dropout, self.cond_dim, cross_attention=True, name=f"block_{i}")
            for i in range(self.num_layers)
        ]  # fmt: skip
        self.final_norm = layers.LayerNormalization(epsilon=1e-5, name="final_norm")
        self.head = layers.Dense(self.vocab_size, dtype="float32", name="logits")

    # ------------------------------------------------------------------ inputs

    def _times(self, tokens):
        """Grid steps from the segment's start after each token `(B, L)`: the time
        of the token each position predicts."""
        return ops.cumsum(ops.take(ops.convert_to_tensor(self._shift), tokens), axis=1)

    def _steps(self, memory_mask, bar_beats):
        """`(end, bar)` in grid steps `(B,)`: the segment's length (from its real
        content frames) and its bar length."""
        per_frame = self.resolution / self.frames_per_beat
        real = ops.sum(ops.cast(memory_mask, "float32"), axis=1)
        end = ops.cast(ops.round(real * per_frame), "int32")
        bar = ops.cast(ops.round(ops.cast(bar_beats, "float32") * self.resolution), "int32")
        return end, ops.maximum(bar, 1)

    def _embed(self, tokens, time, memory, memory_mask, cond, end, bar, training=False):
        """Token embeddings `(B, L, hidden)` plus the condition and the time inputs."""
        x = self.embedding(tokens) + ops.cast(self.cond_proj(cond), self.compute_dtype)[:, None]
        if self.time_inputs:
            r = self.resolution
            x = x + self._positions(time, bar)
            left = ops.clip((end[:, None] - time + r - 1) // r, 0, MAX_LEFT_BEATS)
            x = x + self.left_embedding(left)
            x = x + self.beat_proj(self._beat_content(time, memory, memory_mask))
        return self.drop(x, training=training)

    def _positions(self, time, bar):
        """Beat-phase plus bar-position embeddings of times `(B, L)` in steps."""
        r = self.resolution
        position = ops.minimum(time % bar[:, None], MAX_BAR_BEATS * r - 1)
        return self.phase_embedding(time % r) + self.bar_embedding(position)

    def _memory(self, memory, memory_mask, style, bar):
        """The cross-attention memory: the content states, then (with
        `style_attention`) the style example's tokens `(B, S)` embedded where they
        play; and its mask."""
        if not self.style_attention:
            return memory, memory_mask
        if style is None:
            raise ValueError("this decoder attends to the style example: pass its ids")
        style = ops.cast(style, "int32")
        real = ops.cast(ops.not_equal(style, 0), memory.dtype)
        x = self.embedding(style) + self._positions(self._times(style), bar)
        x = self.style_conv(x * real[..., None]) * real[..., None]
        memory = ops.concatenate([memory, ops.cast(x, memory.dtype)], axis=1)
        mask = ops.concatenate([ops.cast(memory_mask, memory.dtype), real], axis=1)
        return memory, mask

    def _beat_content(self, time, memory, memory_mask):
        """The mean memory state `(B, L, hidden)` of the frames of the beat each
        time `(B, L)` falls in (zero past the content's end)."""
        fpb = self.frames_per_beat
        frames = ops.shape(memory)[1]
        first = (time // self.resolution) * fpb  # (B, L)
        index = first[..., None] + ops.arange(fpb, dtype="int32")  # (B, L, fpb)
        inside = ops.cast(index < frames, memory.dtype)
        index = ops.minimum(index, frames - 1)
        b, length = ops.shape(index)[0], ops.shape(index)[1]
        flat = ops.reshape(index, (b, -1))  # (B, L * fpb)
        gathered = ops.take_along_axis(memory, flat[..., None], axis=1)
        weight = ops.take_along_axis(ops.cast(memory_mask, memory.dtype), flat, axis=1)
        weight = ops.reshape(weight, (b, length, fpb)) * inside
        gathered = ops.reshape(gathered, (b, length, fpb, ops.shape(memory)[-1]))
        total = ops.sum(gathered * weight[..., None], axis=2)
        return total / ops.maximum(ops.sum(weight, axis=2), 1.0)[..., None]

    # ---------------------------------------------------------------- training

    def call(self, tokens, memory, memory_mask, cond, bar_beats, style=None, training=False):
        """Teacher forcing: logits `(B, L, vocab)` for the token after each of `tokens`
        (`style`: the style example's ids, for `style_attention`)."""
        # Ids index the shift table; a strategy may build the model on float batches.
        tokens = ops.cast(tokens, "int32")
        memory = _unmasked(self.memory_proj(memory))
        end, bar = self._steps(memory_mask, bar_beats)
        time = self._times(tokens)
        x = self._embed(tokens, time, memory, memory_mask, cond, end, bar, training)
        memory, memory_mask = self._memory(memory, memory_mask, style, bar)
        cond = ops.cast(cond, self.compute_dtype)
        for block in self.blocks:
            kv = block.cross_attention.memory_kv(memory)
            x = block(x, style=cond, training=training, memory=(kv, memory_mask))
        return self.head(self.final_norm(x))

    # -------------------------------------------------------------- generation

    def start(self, memory, memory_mask, cond, bar_beats, style=None, batch_cache: int = 128):
        """What generation needs: `(context, state)`.

        `context` never changes: the projected content states and their mask, each
        block's cross-attention keys and values and the mask over them (with
        `style_attention` they cover the style tokens too), the condition, and the
        segment's end and bar length in steps. `state` is `(cache, time, index)`: the
        self-attention key/value cache `(B, layers, 2, heads, length, key_dim)` (grown by `grow`),
        the time in steps and the position of the next token.
        """
        memory = _unmasked(self.memory_proj(memory))
        end, bar = self._steps(memory_mask, bar_beats)
        full, full_mask = self._memory(memory, memory_mask, style, bar)
        kvs = ops.stack([blk.cross_attention.memory_kv(full) for blk in self.blocks], axis=1)
        cond = ops.cast(cond, self.compute_dtype)
        b = ops.shape(memory)[0]
        cache = ops.zeros((b, self.num_layers, 2, self.num_heads, batch_cache,
                           self.hidden_dim // self.num_heads), self.compute_dtype)  # fmt: skip
        state = (cache, ops.zeros((b,), "int32"), ops.zeros((), "int32"))
        return (memory, memory_mask, kvs, full_mask, cond, end, bar), state

    @staticmethod
    def grow(state, position: int):
        """`state` with a cache long enough for the token at `position` (doubled
        when full), so early steps attend over a short cache."""
        cache, time, index = state
        length = cache.shape[-2]
        if position < length:
            return state
        pad = [[0, 0]] * (len(cache.shape) - 2) + [[0, length], [0, 0]]
        return ops.pad(cache, pad), time, index

    def step(self, token, state, context):
        """One generation step: ids `(B,)` -> `(logits (B, vocab), state)`."""
        memory, memory_mask, kvs, full_mask, cond, end, bar = context
        cache, time, index = state
        token = ops.cast(token, "int32")
        time = time + ops.take(ops.convert_to_tensor(self._shift), token)
        x = self._embed(token[:, None], time[:, None], memory, memory_mask, cond, end, bar)
        caches = []
        for i, block in enumerate(self.blocks):
            x, layer_cache = block.call_with_cache(
                x, cache[:, i], index, style=cond, memory=(kvs[:, i], full_mask)
            )
            caches.append(layer_cache)
        logits = self.head(self.final_norm(x))[:, 0]
        return logits, (ops.stack(caches, axis=1), time, index + 1)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "vocab_size": self.vocab_size,
                "shift_values": self.shift_values, "resolution": self.resolution,
                "frames_per_beat": self.frames_per_beat, "hidden_dim": self.hidden_dim,
                "num_layers": self.num_layers, "num_heads": self.num_heads,
                "ff_dim": self.ff_dim, "max_relative_position": self.max_relative_position,
                "dropout": self.dropout, "cond_dim": self.cond_dim,
                "time_inputs": self.time_inputs,
                "style_attention": self.style_attention}  # fmt: skip
