"""The Music Transformer, in four pieces (after KerasHub's model folders):

- `config`: `TransformerConfig` (sizes, presets);
- `backbone`: the network (`MusicTransformer`, `DecoderBlock`);
- `preprocessor`: `MusicTransformerPreprocessor` (windows for training, primers and
  outputs for generation) and `lm_windows` / `lm_dataset` (the training pipeline);
- `task`: `generate`, `generate_ids` and the `CachedDecoder`.

Names load lazily, so the config and preprocessor can be used without Keras.
"""

from groove.lazy import exports

_WHERE = {
    "TransformerConfig": ".config",
    "PRESETS": ".config",
    "DecoderBlock": ".backbone",
    "MusicTransformer": ".backbone",
    "build_music_transformer": ".backbone",
    "sinusoidal_positions": ".backbone",
    "MusicTransformerPreprocessor": ".preprocessor",
    "lm_dataset": ".preprocessor",
    "lm_windows": ".preprocessor",
    "CachedDecoder": ".task",
    "generate": ".task",
    "generate_ids": ".task",
}

__all__ = sorted(_WHERE)


__getattr__ = exports(__name__, _WHERE)
