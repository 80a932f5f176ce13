"""Style-transfer triplets on disk: GZIP TFRecord shards, and their `tf.data` reader.

`write_triplets` writes the triplets of `groove.data.triplets.corpus_triplets`
(one split after another, resumable) with a `triplets.json` manifest;
`read_triplets` reads them back for inspection, and `triplet_records` as a
shuffled `tf.data` stream, which `groove.models.transfer.transfer_dataset` turns
into padded, bucketed batches of model inputs.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from groove.data.corpus import SPLITS

# One tokenizer file and one reader for every data folder groove writes.
from groove.data.lm import TOKENIZER, load_tokenizer
from groove.data.triplets import MAX_TOKENS, Triplet, corpus_triplets, read_manifest
from groove.errors import ConfigError
from groove.fileio import atomic_open
from groove.midi.roles import TRANSFER_ROLES, parse_role
from groove.tokenizers import BeatTokenizer, Tokenizer

TRIPLETS = "triplets.json"


# ----------------------------------------------------------------------- TFRecord


def _example(t: Triplet) -> bytes:
    import tensorflow as tf

    def ints(values: Any) -> tf.train.Feature:
        return tf.train.Feature(int64_list=tf.train.Int64List(value=np.asarray(values).tolist()))

    feature = {
        "content": tf.train.Feature(bytes_list=tf.train.BytesList(value=[t.content.tobytes()])),
        "frames": ints([t.content.shape[0]]),
        "style": ints(t.style),
        "target": ints(t.target),
        "role": ints([TRANSFER_ROLES.index(t.role)]),
        "bar_beats": tf.train.Feature(float_list=tf.train.FloatList(value=[t.bar_beats])),
        **{key: ints([value]) for key, value in t.info.items()},
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def write_triplets(
    corpus: str | os.PathLike,
    out: str | os.PathLike,
    *,
    splits: Sequence[str] = SPLITS,
    bars: int = 8,
    roles: Sequence[str] = TRANSFER_ROLES,
    tokenizer: Tokenizer | None = None,
    seed: int = 0,
    shard_size: int = 4096,
    max_tokens: int = MAX_TOKENS,
    progress: bool = True,
) -> dict[str, Any]:
    """Write the triplets of `corpus` as GZIP TFRecord shards in `out`; returns the
    manifest (`triplets.json`). Each split is written to a `.part` folder and
    renamed when complete; a split already written with the same settings is kept.
    """
    from tqdm import tqdm

    tokenizer = tokenizer or BeatTokenizer()
    out = Path(out)
    corpus_manifest = read_manifest(Path(corpus))
    config = {
        "corpus": corpus_manifest["config"],
        "bars": bars,
        "roles": [parse_role(r) for r in roles],
        "seed": seed,
        "max_tokens": max_tokens,
        "tokenizer": {"kind": tokenizer.kind, "config": tokenizer.get_config()},
    }
    manifest_path = out / TRIPLETS
    manifest = {"version": 1, "config": config, "splits": {}}
    if manifest_path.exists():
        old = json.loads(manifest_path.read_text(encoding="utf-8"))
        if old.get("config") != config:
            raise ConfigError(
                f"{out} holds triplets made with other settings; choose another folder"
            )
        manifest = old
    out.mkdir(parents=True, exist_ok=True)
    tokenizer.save(out / TOKENIZER)
    import tensorflow as tf

    for split in splits:
        if split in manifest["splits"] and (out / split).is_dir():
            continue
        part = out / f"{split}.part"
        shutil.rmtree(part, ignore_errors=True)
        part.mkdir()
        stats: dict[str, int] = {}
        lengths = {"content_frames": 0, "style_tokens": 0, "target_tokens": 0}
        shard, writer, n = 0, None, 0
        options = tf.io.TFRecordOptions(compression_type="GZIP")
        triplets = corpus_triplets(
            corpus,
            split,
            bars=bars,
            roles=roles,
            tokenizer=tokenizer,
            seed=seed,
            max_tokens=max_tokens,
            stats=stats,
        )
        for t in tqdm(triplets, desc=split, unit="triplet", disable=None if progress else True):
            if writer is None or n == shard_size:
                if writer is not None:
                    writer.close()
                writer = tf.io.TFRecordWriter(str(part / f"{shard:05d}.tfrecord.gz"), options)
                shard, n = shard + 1, 0
            writer.write(_example(t))
            n += 1
            lengths["content_frames"] += t.content.shape[0]
            lengths["style_tokens"] += len(t.style)
            lengths["target_tokens"] += len(t.target)
        if writer is not None:
            writer.close()
        shutil.rmtree(out / split, ignore_errors=True)
        os.replace(part, out / split)
        count = stats.get("triplets", 0)
        manifest["splits"][split] = {
            "triplets": count,
            "shards": shard,
            "skipped": {k: v for k, v in stats.items() if k != "triplets"},
            "mean": {k: round(v / max(count, 1), 1) for k, v in lengths.items()},
        }
        with atomic_open(manifest_path, "w", encoding="utf-8") as f:
            json.dump(manifest, f, indent=1)
    return manifest


# ------------------------------------------------------------------------ reading


def _parse(serialized):
    import tensorflow as tf

    spec = {
        "content": tf.io.FixedLenFeature([], tf.string),
        "frames": tf.io.FixedLenFeature([], tf.int64),
        "style": tf.io.VarLenFeature(tf.int64),
        "target": tf.io.VarLenFeature(tf.int64),
        "role": tf.io.FixedLenFeature([], tf.int64),
        # Triplets written before the field was added are all 4/4 or were cut as such.
        "bar_beats": tf.io.FixedLenFeature([], tf.float32, default_value=4.0),
        **{key: tf.io.FixedLenFeature([], tf.int64) for key in _INFO},
    }
    f = tf.io.parse_single_example(serialized, spec)
    content = tf.reshape(tf.io.decode_raw(f["content"], tf.uint8), [f["frames"], 128])
    out = {
        "content": content,
        "style": tf.cast(tf.sparse.to_dense(f["style"]), tf.int32),
        "target": tf.cast(tf.sparse.to_dense(f["target"]), tf.int32),
        "role": tf.cast(f["role"], tf.int32),
        "bar_beats": f["bar_beats"],
    }
    out.update({key: tf.cast(f[key], tf.int32) for key in _INFO})
    return out


_INFO = ("chart", "content_style", "target_style", "segment", "example_chart", "example_segment")


def _files(data_dir: Path, split: str) -> list[str]:
    files = sorted(str(p) for p in (data_dir / split).glob("*.tfrecord.gz"))
    if not (data_dir / TRIPLETS).exists():
        raise ConfigError(f"{data_dir}: no {TRIPLETS}; write triplets with 'groove data triplets'")
    if not files:
        raise ConfigError(f"{data_dir}: split {split!r} has no triplets")
    return files


def read_triplets(data_dir: str | os.PathLike, split: str) -> Iterator[Triplet]:
    """The triplets of one split, in the order written (for inspection and tests)."""
    import tensorflow as tf

    ds = tf.data.TFRecordDataset(_files(Path(data_dir), split), compression_type="GZIP")
    for f in ds.map(_parse).as_numpy_iterator():
        yield Triplet(
            content=f["content"],
            style=f["style"],
            target=f["target"],
            role=TRANSFER_ROLES[int(f["role"])],
            info={key: int(f[key]) for key in _INFO},
            bar_beats=float(f["bar_beats"]),
        )


def triplet_records(
    data_dir: str | os.PathLike,
    split: str,
    *,
    shuffle: bool = True,
    repeat: bool = False,
    seed: int = 0,
):
    """The triplets of one split as a `tf.data.Dataset` of feature dicts: "content"
    (uint8 `(frames, 128)`, as `Triplet.content`), "style" and "target" (int32 ids),
    "role" (int32 index into `TRANSFER_ROLES`), "bar_beats" (float32) and the
    `Triplet.info` keys.
    `groove.models.transfer.TransferPreprocessor` turns them into model inputs.

    Args:
        data_dir: Folder written by `write_triplets` / `groove data triplets`.
        split: Which split to read.
        shuffle: Shuffle files and examples (seeded).
        repeat: Repeat forever (for a training loop that counts steps).
        seed: Shuffle seed.
    """
    import tensorflow as tf

    files = _files(Path(data_dir), split)
    ds = tf.data.Dataset.from_tensor_slices(files)
    if shuffle:
        ds = ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    ds = ds.interleave(
        lambda f: tf.data.TFRecordDataset(f, compression_type="GZIP"),
        cycle_length=min(len(files), 4),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    if repeat:
        ds = ds.repeat()
    if shuffle:
        ds = ds.shuffle(4096, seed=seed, reshuffle_each_iteration=True)
    return ds.map(_parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


__all__ = [
    "MAX_TOKENS",
    "Triplet",
    "corpus_triplets",
    "load_tokenizer",
    "read_triplets",
    "triplet_records",
    "write_triplets",
]
