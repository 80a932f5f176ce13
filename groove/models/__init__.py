"""Keras 3 models (written with `keras.ops`, so any back end runs them).

    >>> from groove.models import StyleEncoder, StyleTransferModel, build_model

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

__all__ = list(_TRANSFER)


def __getattr__(name):
    if name in _TRANSFER:
        from groove.models import transfer

        return getattr(transfer, name)
    raise AttributeError(f"module 'groove.models' has no attribute {name!r}")
