"""`MusicTransformerPreprocessor`: music in, the Music Transformer's token windows
out, and generated ids back to music.

Training (`lm_windows`, `lm_dataset`) and generation (`generate_preprocess`,
`generate_postprocess`) go through the same object, after KerasHub's
`CausalLMPreprocessor`: a piece is BOS + its event ids + EOS; a training window of
`context + 1` ids gives the inputs (all but the last) and the targets (all but the
first); a primer is BOS + its ids, with no EOS, so the model goes on from it.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from groove.data.lm import LMSplit, augment, load_split, load_tokenizer
from groove.errors import ConfigError, MidiError
from groove.tokenizers import Tokenizer


@dataclasses.dataclass(frozen=True)
class MusicTransformerPreprocessor:
    """Token ids in and out of a `MusicTransformer`.

    Attributes:
        tokenizer: The model's event tokenizer.
    """

    tokenizer: Tokenizer

    def sequence(self, score: Any) -> np.ndarray:
        """A whole piece as the model learns it: BOS + its ids + EOS (int32)."""
        t = self.tokenizer
        return np.concatenate([[t.bos_id], t.encode(score), [t.eos_id]]).astype(np.int32)

    @staticmethod
    def call(window: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A training window of `context + 1` ids -> `(inputs, targets)`, each
        `context` long: the targets are the inputs shifted left by one."""
        return window[:-1], window[1:]

    def generate_preprocess(self, primer: Any = None) -> np.ndarray:
        """The ids of a primer as the model hears it (anything `groove.midi.load`
        reads; None for none), without BOS; `MidiError` when it has no notes."""
        if primer is None:
            return np.zeros(0, np.int32)
        ids = self.tokenizer.encode(self.tokenizer.prepare(primer))
        if not len(ids):
            name = primer if isinstance(primer, (str, os.PathLike)) else "the primer"
            raise MidiError(str(name), "it has no notes to continue")
        return ids

    def prompt(self, primer_ids: np.ndarray, batch: int) -> np.ndarray:
        """BOS + the primer, one row per sample: `(batch, 1 + len(primer_ids))` int32."""
        prompt = np.concatenate([[self.tokenizer.bos_id], primer_ids]).astype(np.int32)
        return np.tile(prompt, (batch, 1))

    def generate_postprocess(self, primer_ids: np.ndarray, new_ids: Sequence[np.ndarray],
                             program: int = 0) -> list[Any]:  # fmt: skip
        """One `pretty_midi.PrettyMIDI` per sample: the primer, then its new ids."""
        return [
            self.tokenizer.decode(np.concatenate([primer_ids, ids]), program=program)
            for ids in new_ids
        ]


def lm_windows(
    data: LMSplit,
    tokenizer: Tokenizer,
    *,
    length: int,
    transpose: tuple[int, int] | None = (-3, 3),
    stretch: tuple[float, float] | None = (0.95, 1.05),
    crop: str = "auto",
    seed: int = 0,
    shuffle: bool = True,
    repeat: bool = True,
) -> Iterator[np.ndarray]:
    """Windows of `length + 1` token ids (int32) for next-token training, in numpy.

    Each epoch visits every file once, in an order shuffled from `seed` (or in
    stored order). Each visit draws a transposition in `transpose` and a speed in
    `stretch` (see `augment`), tokenizes the file as BOS + `tokenizer.encode` +
    EOS and cuts windows from it: BOS appears only in a window that starts the
    file, EOS only in one that ends it, and PAD fills a window past the end.

    Args:
        data, tokenizer: A split and the tokenizer (`load_split`, `load_tokenizer`).
        length: Model context, in tokens; windows hold `length + 1`.
        transpose: (low, high) semitones, both included, or None for none.
        stretch: (low, high) tempo factors (seconds scale by the inverse), or None.
        crop: "random": one window per visit, at a uniform start. "all":
            consecutive windows with stride `length`, so each token of the file
            is a target exactly once (for held-out likelihood). "auto": "all"
            when `transpose` and `stretch` are both None, else "random".
        seed: Seeds the file order, the augmentation and the crops.
        shuffle: Shuffle the file order each epoch.
        repeat: Go on epoch after epoch, forever, instead of stopping after one.
    """
    if len(data) == 0:
        raise ConfigError("the split holds no files; build the corpus from more files")
    if length < 1:
        raise ConfigError(f"length must be at least 1 token, got {length}")
    if transpose is not None and not transpose[0] <= transpose[1]:
        raise ConfigError(f"transpose must be (low, high) semitones, got {transpose}")
    if stretch is not None and not 0 < stretch[0] <= stretch[1]:
        raise ConfigError(f"stretch must be (low, high) positive factors, got {stretch}")
    if crop not in ("auto", "random", "all"):
        raise ConfigError(f"crop must be auto, random or all, got {crop!r}")
    if crop == "auto":
        crop = "all" if transpose is None and stretch is None else "random"
    return _windows(data, tokenizer, length, transpose, stretch, crop, seed, shuffle, repeat)


def _windows(data, tokenizer, length, transpose, stretch, crop, seed, shuffle, repeat):
    pad, sequence = tokenizer.pad_id, MusicTransformerPreprocessor(tokenizer).sequence
    rng = np.random.default_rng(seed)
    while True:
        for index in rng.permutation(len(data)) if shuffle else range(len(data)):
            semitones = int(rng.integers(transpose[0], transpose[1] + 1)) if transpose else 0
            speed = float(rng.uniform(stretch[0], stretch[1])) if stretch else 1.0
            score = augment(data.score(index), semitones, speed)
            ids = sequence(score)
            if crop == "random":
                starts = [int(rng.integers(0, max(len(ids) - length - 1, 0) + 1))]
            else:
                starts = range(0, len(ids) - 1, length)
            for start in starts:
                window = np.full(length + 1, pad, np.int32)
                piece = ids[start : start + length + 1]
                window[: len(piece)] = piece
                yield window
        if not repeat:
            return


def lm_dataset(
    data_dir: str | os.PathLike,
    split: str,
    *,
    length: int,
    batch_size: int,
    transpose: tuple[int, int] | None = (-3, 3),
    stretch: tuple[float, float] | None = (0.95, 1.05),
    crop: str = "auto",
    seed: int = 0,
    shuffle: bool = True,
    repeat: bool = True,
    drop_remainder: bool = False,
) -> Any:
    """A `tf.data.Dataset` of `(inputs, targets)` batches for a causal language model.

    Both are int32 of shape (batch, length); `targets` is `inputs` shifted left by
    one token (one window of `length + 1`; see `lm_windows` for the arguments).
    Mask the loss where `targets == tokenizer.pad_id`. Train with the defaults;
    for val / test pass `transpose=None, stretch=None, shuffle=False,
    repeat=False`: every file once, in consecutive windows, unaugmented. The same
    `seed` gives the same batches each time the dataset is iterated.

    Example:
        >>> train = lm_dataset("lm", "train", length=512, batch_size=16)  # doctest: +SKIP
        >>> inputs, targets = next(iter(train))                           # doctest: +SKIP
    """
    import tensorflow as tf

    if batch_size < 1:
        raise ConfigError(f"batch_size must be at least 1, got {batch_size}")
    preprocessor = MusicTransformerPreprocessor(load_tokenizer(data_dir))
    windows = functools.partial(
        lm_windows, load_split(data_dir, split), preprocessor.tokenizer, length=length,
        transpose=transpose, stretch=stretch, crop=crop, seed=seed, shuffle=shuffle, repeat=repeat,
    )  # fmt: skip
    windows()  # check the arguments now, not at the first batch

    def pairs() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for window in windows():
            yield preprocessor.call(window)

    spec = tf.TensorSpec((length,), tf.int32)
    dataset = tf.data.Dataset.from_generator(pairs, output_signature=(spec, spec))
    return dataset.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)
