"""Keras 3 models (written with `keras.ops`, so any back end runs them).

    >>> from groove.models import StyleEncoder, StyleTransferModel, build_model
    >>> from groove.models import MusicTransformer, build_music_transformer

The names load lazily, so `groove.models.sampling` can be used without Keras.
"""

_TRANSFER = (
    "AttentionDecoder",
    "ContentEncoder",
    "PRESETS",
    "StyleEncoder",
    "StyleTransferModel",
    "TransferConfig",
    "build_model",
)
_TRANSFORMER = (
    "DecoderBlock",
    "MusicTransformer",
    "TransformerConfig",
    "build_music_transformer",
)
_LAYERS = ("CausalSelfAttention", "RelativeMultiHeadAttention")

__all__ = [*_TRANSFER, *_TRANSFORMER, *_LAYERS]


def __getattr__(name):
    if name in _TRANSFER:
        from groove.models import transfer as module
    elif name in _TRANSFORMER:
        from groove.models import music_transformer as module
    elif name in _LAYERS:
        from groove.models import layers as module
    else:
        raise AttributeError(f"module 'groove.models' has no attribute {name!r}")
    return getattr(module, name)
