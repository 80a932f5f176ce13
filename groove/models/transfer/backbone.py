"""The one-shot style-transfer model: content encoder, style encoder, and a decoder:
the attention GRU of Groove2Groove, or the time-aware Transformer (`decoder.py`).

After Groove2Groove (Cífka, Şimşekli, Richard, IEEE/ACM TASLP 2020, section IV): a
CNN + bidirectional GRU reads the content piano roll, a CNN + GRU reads a tokenized
style example into one vector, and a GRU decoder with additive attention
(Bahdanau, Cho, Bengio, ICLR 2015) writes the target's `BeatTokenizer` ids for one
role. The "known-style" variant (Cífka et al., ISMIR 2019) learns one vector per
training style instead of reading an example.

Everything is `keras.ops`, so the model trains under TensorFlow or JAX, and the
decoder exposes one step (`AttentionDecoder.step`) so generation carries the GRU
state forward instead of re-running the prefix.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import layers, ops

from groove.errors import ConfigError
from groove.models.transfer.config import PACKAGE, PRESETS, TransferConfig, TransferDataConfig
from groove.models.transfer.decoder import TransformerDecoder

# Quarter notes per bar assumed when the inputs give none (4/4).
DEFAULT_BAR_BEATS = 4.0


@keras.saving.register_keras_serializable(package=PACKAGE)
class ContentEncoder(layers.Layer):
    """Piano roll `(batch, frames, 128)` -> states `(batch, frames, 2 * units)`."""

    def __init__(self, conv_filters=(16, 32), units=128, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.conv_filters, self.units, self.dropout = tuple(conv_filters), units, dropout
        self.convs = [
            layers.Conv2D(f, (3, 3), padding="same", activation="relu") for f in self.conv_filters
        ]
        # Pool pitch only: the decoder attends to every frame.
        self.pools = [layers.MaxPooling2D((1, 4), padding="same") for _ in self.conv_filters]
        self.rnn = layers.Bidirectional(layers.GRU(units, return_sequences=True))
        self.drop = layers.Dropout(dropout)

    def call(self, roll, frame_mask=None, training=False):
        # Zero padded frames before every conv: the convs look one frame ahead, and
        # padding must look like the silence past the end of an unpadded roll.
        roll = ops.cast(roll, self.compute_dtype)  # mixed precision computes in 16 bits
        keep = 1.0 if frame_mask is None else ops.cast(frame_mask, roll.dtype)[:, :, None, None]
        x = ops.expand_dims(roll, -1) * keep  # (B, T, 128, 1)
        for conv, pool in zip(self.convs, self.pools, strict=True):
            x = pool(conv(x)) * keep
        shape = ops.shape(x)
        x = ops.reshape(x, (shape[0], shape[1], x.shape[2] * x.shape[3]))  # (B, T, P * F)
        mask = None if frame_mask is None else ops.cast(frame_mask, "bool")
        x = self.rnn(x, mask=mask, training=training)
        return self.drop(x, training=training)

    def get_config(self):
        return {**super().get_config(), "conv_filters": list(self.conv_filters),
                "units": self.units, "dropout": self.dropout}  # fmt: skip


@keras.saving.register_keras_serializable(package=PACKAGE)
class StyleEncoder(layers.Layer):
    """Style-example token ids `(batch, length)` (0 = PAD) -> one vector `(batch, dim)`.

    Embedding, conv + max-pool blocks over time, a GRU over the pooled sequence
    (padding masked), and a tanh projection.
    """

    def __init__(self, vocab_size, embed_dim=64, filters=(128, 128), units=256, dim=128,
                 dropout=0.0, **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        self.vocab_size, self.embed_dim, self.filters = vocab_size, embed_dim, tuple(filters)
        self.units, self.dim, self.dropout = units, dim, dropout
        self.embedding = layers.Embedding(vocab_size, embed_dim)
        self.convs = [layers.Conv1D(f, 5, padding="same", activation="relu") for f in self.filters]
        self.pools = [layers.MaxPooling1D(2, padding="same") for _ in self.filters]
        self.mask_pools = [layers.MaxPooling1D(2, padding="same") for _ in self.filters]
        self.rnn = layers.GRU(units)
        self.project = layers.Dense(dim, activation="tanh")
        self.drop = layers.Dropout(dropout)

    def call(self, ids, training=False):
        mask = ops.cast(ops.not_equal(ids, 0), self.compute_dtype)[..., None]  # (B, S, 1)
        x = self.drop(self.embedding(ids), training=training) * mask
        for conv, pool, mask_pool in zip(self.convs, self.pools, self.mask_pools, strict=True):
            x = pool(conv(x))
            mask = mask_pool(mask)
            x = x * mask
        x = self.rnn(x, mask=ops.cast(mask[..., 0], "bool"), training=training)
        return self.project(x)

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size,
                "embed_dim": self.embed_dim, "filters": list(self.filters), "units": self.units,
                "dim": self.dim, "dropout": self.dropout}  # fmt: skip


@keras.saving.register_keras_serializable(package=PACKAGE)
class AttentionDecoder(layers.Layer):
    """A GRU fed [token embedding; attention context; conditioning] at every step.

    The context comes from additive attention of the previous state over the
    content states (Bahdanau et al. 2015, eq. 5-6); the logits read the new state
    and the context. `call` runs teacher forcing with `ops.scan`; `step` is one
    step of the same computation, for generation with a carried state.
    """

    def __init__(self, vocab_size, embed_dim=64, units=256, attention_units=128, dropout=0.0,
                 **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        self.vocab_size, self.embed_dim, self.units = vocab_size, embed_dim, units
        self.attention_units, self.dropout = attention_units, dropout
        self.embedding = layers.Embedding(vocab_size, embed_dim)
        self.cell = layers.GRUCell(units)
        self.memory_proj = layers.Dense(attention_units, use_bias=False)
        self.query_proj = layers.Dense(attention_units)
        self.score = layers.Dense(1, use_bias=False)
        self.init_state = layers.Dense(units, activation="tanh")
        self.out = layers.Dense(vocab_size, dtype="float32")  # float32 logits under mixed precision
        self.drop = layers.Dropout(dropout)

    def start(self, memory, memory_mask, cond):
        """What every step needs: the attention keys and the first state.

        Returns:
            `(state (B, units), keys (B, T, attention_units))`.
        """
        mask = ops.cast(memory_mask, memory.dtype)[..., None]
        mean = ops.sum(memory * mask, axis=1) / ops.maximum(ops.sum(mask, axis=1), 1.0)
        state = self.init_state(ops.concatenate([cond, mean], axis=-1))
        return state, self.memory_proj(memory)

    def _attend(self, state, keys, memory, memory_mask):
        scores = self.score(ops.tanh(keys + self.query_proj(state)[:, None, :]))[..., 0]  # (B, T)
        # -1e4 stays finite in float16 and still gives padded frames zero weight.
        scores = ops.where(ops.cast(memory_mask, "bool"), scores, ops.full_like(scores, -1e4))
        weights = ops.softmax(scores, axis=-1)
        return ops.sum(weights[..., None] * memory, axis=1)  # (B, 2 * content_units)

    def _cell(self, embedded, state, keys, memory, memory_mask, cond):
        context = self._attend(state, keys, memory, memory_mask)
        state, _ = self.cell(ops.concatenate([embedded, context, cond], axis=-1), [state])
        if isinstance(state, (list, tuple)):
            state = state[0]
        return state, ops.concatenate([state, context], axis=-1)

    def call(self, tokens, memory, memory_mask, cond, training=False):
        state, keys = self.start(memory, memory_mask, cond)
        embedded = self.drop(self.embedding(tokens), training=training)  # (B, L, E)

        def step(carry, x):
            state, out = self._cell(x, carry[0], keys, memory, memory_mask, cond)
            return (state, out), (state, out)

        # The TensorFlow back end's scan wants outputs shaped like the carry, so the
        # carry holds the step's output too.
        first = ops.zeros((ops.shape(state)[0], self.units + memory.shape[-1]), state.dtype)
        _, (_, outputs) = ops.scan(step, (state, first), ops.transpose(embedded, (1, 0, 2)))
        outputs = ops.transpose(outputs, (1, 0, 2))  # (B, L, units + memory dim)
        return self.out(self.drop(outputs, training=training))  # (B, L, vocab)

    def step(self, token, state, keys, memory, memory_mask, cond):
        """One generation step: ids `(B,)` and the state -> `(logits (B, vocab), state)`."""
        state, out = self._cell(self.embedding(token), state, keys, memory, memory_mask, cond)
        return self.out(out), state

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size,
                "embed_dim": self.embed_dim, "units": self.units,
                "attention_units": self.attention_units, "dropout": self.dropout}  # fmt: skip


@keras.saving.register_keras_serializable(package=PACKAGE)
class StyleTransferModel(keras.Model):
    """Content roll + style example (or style id) + role -> target-token logits.

    Inputs (a dict, as `TransferPreprocessor` makes them for training and inference):
        content: float32 `(B, frames, 128)` piano roll; content_mask: `(B, frames)`,
        1 on real frames; style: int32 `(B, S)` style-example ids (one-shot) or
        style_id: int32 `(B,)` (known-style); role: int32 `(B,)`; tokens: int32
        `(B, L)`, BOS then the target (teacher forcing); bar_beats: float32 `(B,)`,
        quarter notes per bar of the segment (optional, default 4; the Transformer
        decoder's time inputs read it).

    Output: logits `(B, L, vocab_size)` for the next token at each position.

    Args:
        config: A `TransferConfig` or its dict.
        tokenizer: The tokenizer's `{"kind", "config"}`, saved with the model.
        data: Data settings saved with the model (a `TransferDataConfig` or its
            dict); `data_config` keeps the dict as saved, `data_settings` reads it.
    """

    def __init__(self, config, tokenizer=None, data=None, **kwargs):
        super().__init__(**kwargs)
        self.config = (
            config if isinstance(config, TransferConfig) else TransferConfig.from_dict(config)
        )
        self.tokenizer_config = tokenizer or {}
        if isinstance(data, TransferDataConfig):
            data = data.to_dict()
        self.data_config = data or {}
        self.data_settings = TransferDataConfig.from_dict(self.data_config)
        c = self.config
        self.content_encoder = ContentEncoder(c.conv_filters, c.content_units, c.dropout)
        if c.styles:
            self.style_encoder = None
            self.style_table = layers.Embedding(c.styles, c.style_dim)
        else:
            self.style_encoder = StyleEncoder(
                c.vocab_size, c.embed_dim, c.style_filters, c.style_units, c.style_dim, c.dropout
            )
            self.style_table = None
        self.role_table = layers.Embedding(c.roles, c.role_dim)
        if c.decoder == "gru":
            self.decoder = AttentionDecoder(
                c.vocab_size, c.embed_dim, c.decoder_units, c.attention_units, c.dropout
            )
        else:
            self.decoder = TransformerDecoder(
                c.vocab_size, _shift_values(self.tokenizer_config, c.vocab_size),
                _resolution(self.tokenizer_config), self.data_settings.frames_per_beat,
                c.hidden_dim, c.num_layers, c.num_heads, c.ff_dim, c.max_relative_position,
                c.dropout, c.style_dim + c.role_dim, c.time_inputs, c.style_attention,
            )  # fmt: skip
        self._build_now()

    @property
    def one_shot(self) -> bool:
        return self.style_encoder is not None

    def _build_now(self):
        """Create every variable with a tiny batch, so a `.keras` file loads at once."""
        dummy = {
            "content": ops.zeros((1, 4, 128)),
            "content_mask": ops.ones((1, 4)),
            "role": ops.zeros((1,), "int32"),
            "tokens": ops.ones((1, 2), "int32"),
        }
        if self.one_shot:
            dummy["style"] = ops.ones((1, 4), "int32")
        else:
            dummy["style_id"] = ops.zeros((1,), "int32")
        self(dummy)

    def encode(self, inputs, training=False):
        """`(memory, memory_mask, cond)`: content states, their mask, and the
        [style vector; role embedding] the decoder is conditioned on."""
        mask = inputs.get("content_mask")
        if mask is None:
            mask = ops.ones(ops.shape(inputs["content"])[:2])
        memory = self.content_encoder(inputs["content"], frame_mask=mask, training=training)
        if self.one_shot:
            style = self.style_encoder(inputs["style"], training=training)
        else:
            style = self.style_table(inputs["style_id"])
        cond = ops.concatenate([style, self.role_table(inputs["role"])], axis=-1)
        return memory, mask, cond

    def call(self, inputs, training=False):
        memory, mask, cond = self.encode(inputs, training=training)
        if self.config.decoder == "gru":
            return self.decoder(inputs["tokens"], memory, mask, cond, training=training)
        return self.decoder(inputs["tokens"], memory, mask, cond, _bar_beats(inputs),
                            _style_ids(self, inputs), training=training)  # fmt: skip

    # ---------------------------------------------------------------- generation

    def start_decoding(self, inputs):
        """Encode a batch for generation: `(context, state)` for `decode_step`.
        `context` stays fixed; `state` is carried from step to step."""
        memory, mask, cond = self.encode(inputs)
        if self.config.decoder == "gru":
            state, keys = self.decoder.start(memory, mask, cond)
            return (keys, memory, mask, cond), state
        return self.decoder.start(memory, mask, cond, _bar_beats(inputs), _style_ids(self, inputs))

    def decode_step(self, token, state, context):
        """One generation step: ids `(B,)` -> `(logits (B, vocab), state)`."""
        if self.config.decoder == "gru":
            return self.decoder.step(token, state, *context)
        return self.decoder.step(token, state, context)

    def grow_state(self, state, position: int):
        """`state` made ready for the token at `position` (the Transformer's cache
        grows; the GRU's state needs nothing)."""
        if self.config.decoder == "gru":
            return state
        return self.decoder.grow(state, position)

    def get_config(self):
        return {"config": self.config.to_dict(), "tokenizer": self.tokenizer_config,
                "data": self.data_config, "name": self.name}  # fmt: skip

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _bar_beats(inputs):
    bar = inputs.get("bar_beats")
    if bar is None:
        bar = ops.full((ops.shape(inputs["role"])[0],), DEFAULT_BAR_BEATS)
    return bar


def _style_ids(model, inputs):
    """The style example's ids when the decoder attends to them, else None."""
    return inputs["style"] if model.config.style_attention else None


def _tokenizer(spec):
    from groove.tokenizers import Tokenizer

    if not spec:
        raise ConfigError("a Transformer decoder needs the tokenizer (pass tokenizer=...)")
    return Tokenizer.from_spec(spec)


def _shift_values(spec, vocab_size: int) -> list[int]:
    """Per token id, the grid steps it moves time by (TIME_SHIFT values, else 0)."""
    from groove.tokenizers.events import SHIFT
    from groove.tokenizers.grammar import event_codes

    codes = event_codes(_tokenizer(spec))
    values = [int(v) if k == SHIFT else 0 for k, v in zip(codes.kind, codes.value, strict=True)]
    if len(values) != vocab_size:
        raise ConfigError(f"the tokenizer has {len(values)} ids, the model {vocab_size}")
    return values


def _resolution(spec) -> int:
    resolution = int(getattr(_tokenizer(spec), "resolution", 0) or 0)
    if resolution < 1:
        raise ConfigError("a Transformer decoder needs a beat-grid tokenizer (beat or duration)")
    return resolution


def build_model(
    vocab_size: int, preset: str = "small", *, tokenizer=None, data=None, **overrides: Any
) -> StyleTransferModel:
    """A new `StyleTransferModel` from a preset ("tiny", "small", "base") and overrides."""
    if preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}")
    config = TransferConfig.from_dict({"vocab_size": vocab_size, **PRESETS[preset], **overrides})
    return StyleTransferModel(config, tokenizer=tokenizer, data=data)
