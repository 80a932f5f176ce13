"""Keras 3 models (written with `keras.ops`, so any back end runs them), one folder
per model (`transfer`, `music_transformer`: config, backbone, preprocessor, task),
plus the shared `layers`, `sampling` (samplers and the one decode loop) and `saving`
(one loader, the shipped paths).

    >>> from groove.models import StyleEncoder, StyleTransferModel, build_model
    >>> from groove.models import MusicTransformer, build_music_transformer

The names load lazily, so `groove.models.sampling` can be used without Keras.
"""

from groove.lazy import exports

_WHERE = {
    "AttentionDecoder": ".transfer.backbone",
    "ContentEncoder": ".transfer.backbone",
    "StyleEncoder": ".transfer.backbone",
    "StyleTransferModel": ".transfer.backbone",
    "TransferConfig": ".transfer.config",
    "build_model": ".transfer.backbone",
    "DecoderBlock": ".music_transformer.backbone",
    "MusicTransformer": ".music_transformer.backbone",
    "TransformerConfig": ".music_transformer.config",
    "build_music_transformer": ".music_transformer.backbone",
    "CausalSelfAttention": ".layers",
    "RelativeMultiHeadAttention": ".layers",
}

__all__ = sorted(_WHERE)


__getattr__ = exports(__name__, _WHERE)
