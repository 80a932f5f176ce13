"""`TransferPreprocessor`: raw music in, the style-transfer model's inputs out, and back.

One object makes the model's inputs for training (`transfer_dataset`, a `tf.data`
pipeline over `groove data triplets`) and for inference (`segment_batch`, a user's
song and style example), with one per-example function (`example`), so the two
cannot drift apart. `postprocess` turns decoded ids back into a `Score` on the
content's timeline. After KerasHub's preprocessors (`call` for training,
`generate_preprocess` / `generate_postprocess` for inference).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from groove import midi as gmidi
from groove.data.segments import Segment, content_roll, cut, role_score, segments
from groove.midi import Score, Track
from groove.midi.roles import TRACK_NAMES, TRANSFER_ROLES, role_of
from groove.models.transfer.config import TransferDataConfig
from groove.tokenizers import Tokenizer

# What pads each input of a batch (PAD is id 0 for every groove tokenizer).
_PAD_VALUES = {"content": 0.0, "content_mask": 0.0, "style": 0, "role": 0, "tokens": 0,
               "bar_beats": 0.0}  # fmt: skip
# `transfer_dataset` without a style cut: longer than any example a corpus keeps
# (`groove.data.triplets.MAX_TOKENS`).
_NO_STYLE_CUT = 1 << 30
# Target lengths (tokens, EOS included) that split streamed batches into buckets;
# each bucket is one padded shape (see `TransferPreprocessor.batches`).
STREAM_BUCKETS = (256, 512, 1024)
# The longest bar a streamed batch's content is padded for, in quarter notes (12/8).
MAX_BAR_BEATS = 6
_DTYPES = {"content": np.float32, "content_mask": np.float32, "style": np.int32,
           "role": np.int32, "tokens": np.int32, "bar_beats": np.float32}  # fmt: skip


@dataclasses.dataclass(frozen=True)
class TransferPreprocessor:
    """Makes a `StyleTransferModel`'s inputs, and turns its ids back into music.

    Attributes:
        tokenizer: The model's tokenizer (style examples and targets).
        settings: The model's `TransferDataConfig` (bars, frames per beat, ...).
    """

    tokenizer: Tokenizer
    settings: TransferDataConfig

    @classmethod
    def from_model(cls, model: Any, tokenizer: Tokenizer) -> TransferPreprocessor:
        """The preprocessor a trained model was made for."""
        return cls(tokenizer, model.data_settings)

    # ------------------------------------------------------------- one example

    def example(self, content: Any, style: Any, role: Any, target: Any = None,
                bar_beats: Any = 4.0):  # fmt: skip
        """One example's model inputs, as numpy arrays: the one function behind the
        `tf.data` pipeline (through `tf.numpy_function`), the streamed batches of
        `batches` and inference, so the three cannot drift apart.

        Args:
            content: uint8 `(frames, 128)` roll, the loudest sounding velocity (0:
                none), as `groove.data.pipeline.Triplet.content`.
            style: The style example's ids; cut to `settings.style_tokens`.
            role: Index into `TRANSFER_ROLES`.
            target: The target ids (training); None for inference.
            bar_beats: Quarter notes per bar of the segment (4 for 4/4, 6 for 12/8).

        Returns:
            The inputs dict ("content", "content_mask", "style", "role", "bar_beats",
            and with a target "tokens": BOS then the target), and with a target the pair
            `(inputs, target + EOS)`.
        """
        x = np.asarray(content)
        x = x.astype(np.float32) / 127.0 if self.settings.velocity else (x > 0).astype(np.float32)
        inputs = {
            "content": x,
            "content_mask": np.ones(x.shape[:1], np.float32),
            "style": np.asarray(style, np.int32)[: self.settings.style_tokens],
            "role": np.int32(role),
            "bar_beats": np.float32(bar_beats),
        }
        if target is None:
            return inputs
        target = np.asarray(target, np.int32)
        inputs["tokens"] = np.concatenate([[np.int32(self.tokenizer.bos_id)], target])
        return inputs, np.concatenate([target, [np.int32(self.tokenizer.eos_id)]])

    def tf_example(self, content, style, role, target, bar_beats):
        """`example` inside a `tf.data` map (through `tf.numpy_function`)."""
        import tensorflow as tf

        names = ("content", "content_mask", "style", "role", "bar_beats", "tokens")

        def run(*args):
            inputs, out = self.example(*args)
            return (*(inputs[n] for n in names), out)

        dtypes = [tf.as_dtype(_DTYPES[n]) for n in names] + [tf.int32]
        values = tf.numpy_function(run, [content, style, role, target, bar_beats], dtypes)
        shapes = {"content": [None, 128], "content_mask": [None], "style": [None], "role": [],
                  "bar_beats": [], "tokens": [None]}  # fmt: skip
        for name, value in zip(names, values, strict=False):
            value.set_shape(shapes[name])
        values[-1].set_shape([None])
        return dict(zip(names, values[:-1], strict=True)), values[-1]

    @property
    def padding_values(self) -> tuple[dict[str, Any], int]:
        """`(inputs, target)` padding for `tf.data`'s padded batches."""
        pad = self.tokenizer.pad_id
        return {**_PAD_VALUES, "style": pad, "tokens": pad}, pad

    def pad(self, examples: Sequence[dict[str, Any]],
            lengths: dict[str, int] | None = None) -> dict[str, np.ndarray]:  # fmt: skip
        """Examples (dicts of arrays or tensors) as one numpy batch, padded with
        `padding_values` as `tf.data` pads a training batch; `lengths` pads the
        first axis of the named inputs to at least that length."""
        values, _ = self.padding_values
        lengths = lengths or {}
        batch = {}
        for name in examples[0]:
            rows = [np.asarray(e[name]) for e in examples]
            shape = tuple(max(s) for s in zip(*(r.shape for r in rows), strict=True))
            if shape and name in lengths:
                shape = (max(shape[0], lengths[name]), *shape[1:])
            out = np.full((len(rows), *shape), values[name], _DTYPES[name])
            for i, r in enumerate(rows):
                out[(i, *(slice(0, n) for n in r.shape))] = r
            batch[name] = out
        return batch

    def batches(
        self, triplets: Iterable[Any], batch_size: int, *, buckets: Sequence[int] = STREAM_BUCKETS
    ) -> Iterator[tuple[dict, np.ndarray]]:
        """Padded `(inputs, target)` numpy batches of `triplets` (e.g. from
        `groove.data.stream.stream_triplets`), as `transfer_dataset` makes them
        from stored triplets, for a training loop with no `tf.data`.

        Each batch holds examples of one bucket of target length and is padded to
        fixed shapes: tokens to the bucket's bound, style examples to
        `settings.style_tokens`, content to the longest bar the model knows. So a
        compiled training step (XLA, JAX) sees a few shapes only. A bucket's last,
        smaller batch is never emitted (the stream repeats).
        """
        frames = self.settings.bars * MAX_BAR_BEATS * self.settings.frames_per_beat
        bounds = sorted({*(b for b in buckets if b <= self.settings.max_tokens),
                         self.settings.max_tokens + 1})  # fmt: skip
        held: dict[int, list] = {b: [] for b in bounds}
        for t in triplets:
            inputs, target = self.example(t.content, t.style, TRANSFER_ROLES.index(t.role),
                                          t.target, t.bar_beats)  # fmt: skip
            bound = next((b for b in bounds if len(target) <= b), None)
            if bound is None or len(inputs["content"]) > frames:
                continue  # longer than the model is made for
            held[bound].append((inputs, target))
            if len(held[bound]) == batch_size:
                rows, held[bound] = held[bound], []
                lengths = {"tokens": bound, "style": self.settings.style_tokens,
                           "content": frames, "content_mask": frames}  # fmt: skip
                x = self.pad([r[0] for r in rows], lengths)
                y = np.full((batch_size, bound), self.tokenizer.pad_id, np.int32)
                for i, (_, target) in enumerate(rows):
                    y[i, : len(target)] = target
                yield x, y

    # ------------------------------------------------------------- inference

    def roll(self, score: Score, window: Segment) -> np.ndarray:
        """The content of one segment as `example` takes it: a uint8 velocity roll."""
        roll = content_roll(score, window, frames_per_beat=self.settings.frames_per_beat,
                            velocity=True)  # fmt: skip
        return np.rint(roll * 127).astype(np.uint8)

    def style_examples(self, style: Score, role: str) -> list[np.ndarray]:
        """The role's token ids in each segment of the style example that plays it."""
        part = role_score(style, role)
        out = []
        for w in segments(part, self.settings.bars):
            ids = self.tokenizer.encode(cut(part, w))[: self.settings.style_tokens]
            if len(ids):
                out.append(ids)
        return out

    def segment_batch(self, content: Score, style: Score, roles: Sequence[str]):
        """The model inputs of a transfer: every (segment, role) pair of the content.

        Segment k of role r is paired with the style example's segment k (cycling)
        that plays r. One batch of every row: for a long song, `segment_batches`
        gives the same rows a bounded number at a time.

        Returns:
            `(inputs, windows, pairs)`: the numpy input dict, the content's segments,
            and the `(segment index, role)` of each row.
        """
        windows = segments(content, self.settings.bars)
        pairs = [(k, role) for k in range(len(windows)) for role in roles]
        batches = self.segment_batches(content, style, windows, pairs, max(len(pairs), 1))
        return next(batches)[0], windows, pairs

    def segment_batches(self, content: Score, style: Score, windows: Sequence[Segment],
                        pairs: Sequence[tuple[int, str]],
                        rows: int) -> Iterator[tuple[dict[str, np.ndarray], slice]]:  # fmt: skip
        """The inputs of `pairs` ((segment index, role) each), `rows` at a time.

        Yields `(inputs, slice of pairs)`; only one batch's content rolls are held,
        so memory does not grow with the song.
        """
        examples = {role: self.style_examples(style, role) for role in dict.fromkeys(
            r for _, r in pairs)}  # fmt: skip
        for first in range(0, len(pairs), rows):
            chunk = slice(first, min(first + rows, len(pairs)))
            rolls = {k: self.roll(content, windows[k]) for k, _ in pairs[chunk]}
            batch = [
                self.example(rolls[k], examples[role][k % len(examples[role])],
                             TRANSFER_ROLES.index(role), bar_beats=windows[k].beats_per_bar)
                for k, role in pairs[chunk]
            ]  # fmt: skip
            yield self.pad(batch), chunk

    def postprocess(self, content: Score, style: Score, windows: Sequence[Segment],
                    pairs: Sequence[tuple[int, str]], ids: Sequence[np.ndarray],
                    melody: int | None = None) -> Score:  # fmt: skip
        """Decoded parts placed back on the content's timeline, one track per role
        (named as groove's band names them, with the style example's program), plus
        the content's track `melody` unchanged when given."""
        tpb = content.ticks_per_beat
        tracks: list[Track] = []
        tables = []
        index: dict[str, int] = {}
        for (k, role), row in zip(pairs, ids, strict=True):
            if role not in index:
                source = next(t for t in style.tracks if role_of(t) == role)
                index[role] = len(tracks)
                tracks.append(Track(source.program, role == "drums", TRACK_NAMES[role]))
            part, _ = self.tokenizer.decode_score(row, ticks_per_beat=tpb)
            notes = part.notes.copy()
            w = windows[k]
            notes["start"] += w.start
            notes["end"] = np.minimum(notes["end"] + w.start, w.end)
            notes["track"] = index[role]
            tables.append(notes)
        if melody is not None:
            notes = content.notes[content.notes["track"] == melody].copy()
            notes["track"] = len(tracks)
            tracks.append(content.tracks[melody])
            tables.append(notes)
        notes = gmidi.sort_notes(np.concatenate(tables)) if tables else content.notes[:0]
        source = f"<{content.source} in the style of {style.source}>"
        return content.replace(
            notes=notes, tracks=tracks, pedals=content.pedals[:0], repairs=[], source=source
        )


def transfer_dataset(
    data_dir: str | os.PathLike,
    split: str,
    *,
    batch_size: int = 32,
    shuffle: bool = True,
    repeat: bool = False,
    seed: int = 0,
    velocity: bool = False,
    bucket_boundaries: Sequence[int] | None = (128, 256, 512, 1024),
    drop_remainder: bool = False,
    max_style_tokens: int | None = None,
    preprocessor: TransferPreprocessor | None = None,
):
    """Batches of triplets as a `tf.data.Dataset` of `(inputs, targets)`.

    `inputs` is a dict:

    - "content": float32 `(batch, frames, 128)`, 1 where a note sounds (or its
      velocity / 127 with `velocity`), zero-padded in time;
    - "content_mask": float32 `(batch, frames)`, 1 on real frames, 0 on padding;
    - "style": int32 `(batch, style_len)`, the style example's ids, PAD-padded;
    - "role": int32 `(batch,)`, an index into `TRANSFER_ROLES`;
    - "tokens": int32 `(batch, len)`, BOS then the target ids (decoder input).

    `targets` is int32 `(batch, len)`: the target ids then EOS, PAD-padded, so a
    loss that ignores PAD (id 0) scores exactly the real tokens.

    Args:
        data_dir: Folder written by `write_triplets` / `groove data triplets`.
        split: Which split to read.
        batch_size: Examples per batch.
        shuffle: Shuffle files and examples (seeded).
        repeat: Repeat forever (for a training loop that counts steps).
        seed: Shuffle seed.
        velocity: Content rolls carry velocity / 127 instead of 1.
        bucket_boundaries: Target lengths (tokens) that split batches into buckets of
            similar length, so short examples are not padded to the longest; None
            pads each batch to its own longest example.
        drop_remainder: Drop a last, smaller batch (needed for some distribution
            strategies).
        max_style_tokens: Cut style examples to their first this many ids.
        preprocessor: Makes each example; by default one for the folder's tokenizer
            with `velocity` and `max_style_tokens` (the arguments are then ignored).
    """
    import tensorflow as tf

    from groove.data.pipeline import load_tokenizer, triplet_records

    if preprocessor is None:
        settings = TransferDataConfig(velocity=velocity,
                                      style_tokens=max_style_tokens or _NO_STYLE_CUT)  # fmt: skip
        preprocessor = TransferPreprocessor(load_tokenizer(data_dir), settings)
    ds = triplet_records(data_dir, split, shuffle=shuffle, repeat=repeat, seed=seed)
    ds = ds.map(
        lambda f: preprocessor.tf_example(
            f["content"], f["style"], f["role"], f["target"], f["bar_beats"]
        ),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    padding = preprocessor.padding_values
    if bucket_boundaries:
        ds = ds.bucket_by_sequence_length(
            lambda inputs, target: tf.shape(target)[0],
            bucket_boundaries=list(bucket_boundaries),
            bucket_batch_sizes=[batch_size] * (len(bucket_boundaries) + 1),
            padding_values=padding,
            drop_remainder=drop_remainder,
        )
    else:
        ds = ds.padded_batch(batch_size, padding_values=padding, drop_remainder=drop_remainder)
    return ds.prefetch(tf.data.AUTOTUNE)
