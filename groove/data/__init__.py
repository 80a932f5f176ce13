"""Training data: synthetic corpus and tf.data pipelines. Empty for now."""
