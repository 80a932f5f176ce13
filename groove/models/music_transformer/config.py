"""Sizes of the Music Transformer (`TransformerConfig`) and its presets, saved in the
model's `.keras` file; values are checked and an unknown key is a `ConfigError`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from groove.errors import ConfigError

PACKAGE = "groove"


@dataclasses.dataclass(frozen=True)
class TransformerConfig:
    """Sizes of a `MusicTransformer`.

    Attributes:
        vocab_size: Token vocabulary (the tokenizer's).
        num_layers: Decoder blocks.
        num_heads: Attention heads per block; `hidden_dim` must divide by it.
        hidden_dim: Width of the residual stream and the token embedding.
        ff_dim: Hidden width of each block's feed-forward layer.
        context: Tokens the model sees at once: the training window, and the size of
            the generation cache (longer generation slides the window).
        relative: Relative-position attention (the Music Transformer); False is the
            absolute-position baseline (sinusoidal encodings, plain attention).
        max_relative_position: Relative distances learned per head; farther ones are
            clipped to the farthest (see `RelativeMultiHeadAttention`).
        dropout: Dropout on the attention weights and each residual branch.
        style_dim: Size of a conditioning style vector; 0 for none.
    """

    vocab_size: int
    num_layers: int = 4
    num_heads: int = 4
    hidden_dim: int = 256
    ff_dim: int = 1024
    context: int = 512
    relative: bool = True
    max_relative_position: int = 512
    dropout: float = 0.1
    style_dim: int = 0

    def __post_init__(self):
        if self.vocab_size < 4 or self.num_layers < 1 or self.context < 2:
            raise ConfigError("need vocab_size >= 4, num_layers >= 1 and context >= 2")
        if self.num_heads < 1 or self.hidden_dim % self.num_heads:
            raise ConfigError(
                f"hidden_dim ({self.hidden_dim}) must be a multiple of num_heads ({self.num_heads})"
            )
        if self.ff_dim < 1 or self.max_relative_position < 1 or self.style_dim < 0:
            raise ConfigError("ff_dim and max_relative_position must be positive, style_dim >= 0")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, config: dict[str, Any]) -> TransformerConfig:
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = set(config) - fields
        if unknown:
            raise ConfigError(f"unknown Music Transformer setting(s) {', '.join(sorted(unknown))}")
        return cls(**config)


PRESETS = {
    "tiny": {"num_layers": 2, "num_heads": 2, "hidden_dim": 32, "ff_dim": 64, "context": 64,
             "max_relative_position": 64, "dropout": 0.0},
    "small": {"num_layers": 4, "num_heads": 4, "hidden_dim": 256, "ff_dim": 1024,
              "context": 512, "max_relative_position": 512, "dropout": 0.1},
    "base": {"num_layers": 6, "num_heads": 8, "hidden_dim": 512, "ff_dim": 2048,
             "context": 1024, "max_relative_position": 1024, "dropout": 0.1},
}  # fmt: skip
