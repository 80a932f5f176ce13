"""Distribution strategies by name, and mixed precision, for training runs.

Under TensorFlow a name maps to a `tf.distribute` strategy; under JAX to
`keras.distribution.DataParallel`. Used by `groove.training.fit`.
"""

from __future__ import annotations

import contextlib

from groove.errors import ConfigError, TrainingError

STRATEGIES = ("auto", "cpu", "mirrored", "multiworker", "tpu")


class Distribution:
    """A strategy by name: `scope()` to build and compile in, and the replica count.

    TensorFlow: "auto" is a `MirroredStrategy` over several GPUs, else the default;
    "cpu" pins one CPU; "mirrored" mirrors over every GPU, or every logical CPU
    device when there is no GPU; "multiworker" reads `TF_CONFIG`; "tpu" connects to
    the TPU cluster. JAX: "auto", "mirrored" and "tpu" shard batches over every
    device with `keras.distribution.DataParallel` when there are several,
    "multiworker" first calls `keras.distribution.initialize()`, "cpu" uses one device.
    """

    def __init__(self, name: str = "auto"):
        import keras

        if name not in STRATEGIES:
            raise ConfigError(f"unknown strategy {name!r}; choose from {', '.join(STRATEGIES)}")
        self.name, self.backend = name, keras.backend.backend()
        self.strategy = None  # tf.distribute strategy
        self.replicas = 1
        if self.backend == "tensorflow":
            self._tensorflow(name)
        elif self.backend == "jax":
            self._jax(name)
        elif name not in ("auto", "cpu"):
            raise ConfigError(f"strategy {name!r} needs the tensorflow or jax back end")

    def _tensorflow(self, name):
        import tensorflow as tf

        gpus = tf.config.list_logical_devices("GPU")
        if (name == "auto" and len(gpus) > 1) or name == "mirrored":
            devices = [d.name for d in gpus or tf.config.list_logical_devices("CPU")]
            self.strategy = tf.distribute.MirroredStrategy(devices)
        elif name == "cpu":
            self.strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
        elif name == "multiworker":
            self.strategy = tf.distribute.MultiWorkerMirroredStrategy()
        elif name == "tpu":
            try:
                resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
                tf.config.experimental_connect_to_cluster(resolver)
                tf.tpu.experimental.initialize_tpu_system(resolver)
            except (ValueError, tf.errors.NotFoundError) as e:
                raise TrainingError(f"--strategy tpu: no TPU found ({e})") from None
            self.strategy = tf.distribute.TPUStrategy(resolver)
        if self.strategy is not None:
            self.replicas = self.strategy.num_replicas_in_sync

    def _jax(self, name):
        import jax
        import keras

        if name == "multiworker":
            keras.distribution.initialize()
        devices = jax.devices()
        if name == "tpu" and devices[0].platform != "tpu":
            raise TrainingError("--strategy tpu: no TPU found")
        if name != "cpu" and len(devices) > 1:
            keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
            self.replicas = len(devices)

    def scope(self):
        return self.strategy.scope() if self.strategy is not None else contextlib.nullcontext()

    def close(self):
        if self.backend == "jax" and self.replicas > 1:
            import keras

            keras.distribution.set_distribution(None)


@contextlib.contextmanager
def precision(mixed: bool):
    """Mixed precision for the models built inside: float16 on a GPU, bfloat16 elsewhere."""
    import keras

    if not mixed:
        yield None
        return
    old = keras.config.dtype_policy()
    policy = "mixed_float16" if _has_gpu() else "mixed_bfloat16"
    keras.config.set_dtype_policy(policy)
    try:
        yield policy
    finally:
        keras.config.set_dtype_policy(old)


def _has_gpu() -> bool:
    import keras

    if keras.backend.backend() == "jax":
        import jax

        return jax.devices()[0].platform == "gpu"
    import tensorflow as tf

    return bool(tf.config.list_logical_devices("GPU"))
