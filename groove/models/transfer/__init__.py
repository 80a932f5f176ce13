"""The one-shot style-transfer model, in four main pieces (after KerasHub's model folders):

- `config`: `TransferConfig` (sizes, presets) and `TransferDataConfig` (data settings);
- `backbone`: the network (`StyleTransferModel` and its encoders and decoder);
- `preprocessor`: `TransferPreprocessor` (inputs for training and inference, and
  ids back to music) and `transfer_dataset` (the `tf.data` training pipeline);
- `task`: `transfer`, `transfer_score` and `style_embedding`;
- and what decoding adds from the style example: `rules` (the grammar's options),
  `dynamics` (velocities) and `feel` (micro-timing and exact note lengths).

Names load lazily, so the config and preprocessor can be used without Keras.
"""

from groove.lazy import exports

_WHERE = {
    "TransferConfig": ".config",
    "TransferDataConfig": ".config",
    "PRESETS": ".config",
    "AttentionDecoder": ".backbone",
    "ContentEncoder": ".backbone",
    "StyleEncoder": ".backbone",
    "StyleTransferModel": ".backbone",
    "build_model": ".backbone",
    "TransferPreprocessor": ".preprocessor",
    "transfer_dataset": ".preprocessor",
    "transfer": ".task",
    "transfer_score": ".task",
    "style_embedding": ".task",
}

__all__ = sorted(_WHERE)


__getattr__ = exports(__name__, _WHERE)
