"""Keras 3 models (written with `keras.ops`, so any back end runs them).

Empty for now: the style-transfer and Music Transformer issues fill it.
"""
