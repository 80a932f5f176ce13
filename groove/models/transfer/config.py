"""Settings of the style-transfer model: its sizes (`TransferConfig`, with presets)
and the data settings its preprocessor needs (`TransferDataConfig`). Both are saved
in the model's `.keras` file; an unknown key is a `ConfigError`, not a `TypeError`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from groove.errors import ConfigError

PACKAGE = "groove"
# The decoders a `StyleTransferModel` can have.
DECODERS = ("gru", "transformer")


@dataclasses.dataclass(frozen=True)
class TransferConfig:
    """Sizes of a `StyleTransferModel`.

    Attributes:
        vocab_size: Token vocabulary (the tokenizer's).
        roles: Number of instrument roles (`groove.midi.roles.TRANSFER_ROLES`).
        styles: 0 for the one-shot model (a style encoder reads an example); N > 0
            for the known-style model with N learned style vectors.
        conv_filters: Filters of the content CNN's conv + max-pool blocks; each pools
            pitch by 4 and keeps time, so there is one state per frame.
        content_units: GRU units per direction of the content encoder.
        embed_dim: Token embedding size (style encoder and decoder).
        style_filters: Filters of the style encoder's conv + pool blocks (each pools
            time by 2).
        style_units: Units of the style encoder's GRU.
        style_dim: Size of the style vector.
        role_dim: Size of the role embedding.
        decoder_units: Units of the decoder GRU.
        attention_units: Size of the additive attention's hidden layer.
        dropout: Dropout on embeddings, encoder outputs and decoder outputs.
        decoder: "gru", the Groove2Groove decoder (a GRU with additive attention), or
            "transformer": relative self-attention over the tokens, cross-attention
            to the content, and the time inputs below.
        time_inputs: ("transformer") Tell the decoder at every step where it is: the
            beat phase, the position in the bar, the beats left in the segment and
            the content of the current beat.
        style_attention: ("transformer", one-shot, with `time_inputs`) Cross-attend
            to the style example's tokens as well as to the content: each style token
            is embedded with the decoder's own token, beat-phase and bar-position
            embeddings, so the decoder can look up what the example plays at the
            position it is at, not only read the one style vector.
        num_layers, num_heads, hidden_dim, ff_dim, max_relative_position:
            ("transformer") Sizes of the decoder blocks, as in the Music Transformer.
    """

    vocab_size: int
    roles: int = 5
    styles: int = 0
    conv_filters: tuple[int, ...] = (16, 32)
    content_units: int = 128
    embed_dim: int = 64
    style_filters: tuple[int, ...] = (128, 128)
    style_units: int = 256
    style_dim: int = 128
    role_dim: int = 16
    decoder_units: int = 256
    attention_units: int = 128
    dropout: float = 0.1
    decoder: str = "gru"
    time_inputs: bool = True
    style_attention: bool = False
    num_layers: int = 4
    num_heads: int = 4
    hidden_dim: int = 192
    ff_dim: int = 768
    max_relative_position: int = 256

    def __post_init__(self):
        sizes = (self.vocab_size, self.roles, self.content_units, self.embed_dim,
                 self.style_units, self.style_dim, self.role_dim, self.decoder_units,
                 self.attention_units, *self.conv_filters, *self.style_filters)  # fmt: skip
        if self.vocab_size < 4 or min(sizes) < 1 or self.styles < 0:
            raise ConfigError("style-transfer sizes must be positive (vocab_size >= 4)")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.decoder not in DECODERS:
            raise ConfigError(f"decoder must be one of {', '.join(DECODERS)}, got {self.decoder!r}")
        if self.style_attention and (
            self.decoder != "transformer" or self.styles or not self.time_inputs
        ):
            raise ConfigError(
                "style_attention needs the Transformer decoder, a one-shot model "
                "(styles = 0) and time_inputs"
            )
        if min(self.num_layers, self.num_heads, self.ff_dim, self.max_relative_position) < 1:
            raise ConfigError("Transformer decoder sizes must be positive")
        if self.hidden_dim < 1 or self.hidden_dim % self.num_heads:
            raise ConfigError(
                f"hidden_dim ({self.hidden_dim}) must be a multiple of num_heads ({self.num_heads})"
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()
        }

    @classmethod
    def from_dict(cls, config: dict[str, Any]) -> TransferConfig:
        """The config of a dict (lists become tuples); an unknown key is a `ConfigError`."""
        config = _known(cls, config, "style-transfer model")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in config.items()})


PRESETS = {
    "tiny": {"conv_filters": (4, 8), "content_units": 16, "embed_dim": 16, "style_filters": (16,),
             "style_units": 16, "style_dim": 16, "role_dim": 4, "decoder_units": 32,
             "attention_units": 16, "dropout": 0.0, "num_layers": 2, "num_heads": 2,
             "hidden_dim": 32, "ff_dim": 64, "max_relative_position": 64},
    "small": {},
    "base": {"conv_filters": (32, 64), "content_units": 256, "embed_dim": 128,
             "style_filters": (256, 256), "style_units": 512, "style_dim": 256,
             "decoder_units": 512, "attention_units": 256, "num_layers": 6, "num_heads": 6,
             "hidden_dim": 384, "ff_dim": 1536, "max_relative_position": 512},
}  # fmt: skip


@dataclasses.dataclass(frozen=True)
class TransferDataConfig:
    """How a `StyleTransferModel`'s inputs are made (saved with it as `data`).

    Attributes:
        bars: Bars per segment: the content is cut into segments this long, and each
            is played in the style separately.
        frames_per_beat: Content piano-roll frames per beat (quarter note).
        velocity: The content roll carries velocity / 127 instead of 1.
        max_tokens: The longest target in training: the default cap on the tokens
            generated per segment and role.
        style_tokens: Style examples are cut to their first this many ids.
    """

    bars: int = 8
    frames_per_beat: int = 4
    velocity: bool = False
    max_tokens: int = 1023
    style_tokens: int = 512

    def __post_init__(self):
        if min(self.bars, self.frames_per_beat, self.max_tokens, self.style_tokens) < 1:
            raise ConfigError(f"data settings must be positive, got {self.to_dict()}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, config: dict[str, Any]) -> TransferDataConfig:
        """The settings of a saved dict; missing keys take the defaults above (a
        model saved with fewer keys loads as it was trained)."""
        return cls(**_known(cls, config, "style-transfer data"))


def _known(cls, config: dict[str, Any], what: str) -> dict[str, Any]:
    unknown = set(config) - {f.name for f in dataclasses.fields(cls)}
    if unknown:
        raise ConfigError(f"unknown {what} setting(s) {', '.join(sorted(unknown))}")
    return dict(config)
