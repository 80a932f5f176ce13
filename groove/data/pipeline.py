"""One-shot style-transfer examples from the synthetic corpus, and their `tf.data` reader.

A **triplet** is what the transfer model learns from (Cífka et al. 2020, section IV):

- *content*: a segment of chart C played in style A, as a piano roll (drums left out);
- *style example*: a segment of another chart C' played in style B, one role;
- *target*: the same segment of C played in style B, the same role;
- the role.

`write_triplets` cuts every (chart, style A, style B) of a corpus split with
`groove.data.segments` (the code inference uses on a user's song), tokenizes style
and target with a `BeatTokenizer`, and writes GZIP TFRecord shards.
`transfer_dataset` reads them back as padded, bucketed, shuffled batches of numpy-
convertible tensors, which any Keras back end consumes.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from groove.data.band import render_score
from groove.data.charts import METERS, parse_chart
from groove.data.corpus import MANIFEST, SPLITS

# One tokenizer file and one reader for every data folder groove writes.
from groove.data.lm import TOKENIZER, load_tokenizer
from groove.data.segments import content_roll, cut, role_score, segments
from groove.data.styles import Style
from groove.errors import ConfigError
from groove.fileio import atomic_open
from groove.midi import Score, load
from groove.midi.roles import TRANSFER_ROLES, parse_role
from groove.tokenizers import BeatTokenizer, Tokenizer

TRIPLETS = "triplets.json"
# Longest target or style example kept, in tokens; 8 busy bars of drums take ~1000.
MAX_TOKENS = 2048


@dataclasses.dataclass
class Triplet:
    """One training example.

    Attributes:
        content: uint8 `(frames, 128)` roll of the loudest velocity sounding (0: none),
            4 frames per beat; see `groove.data.segments.content_roll`.
        style: Token ids of the style example (one role, no BOS/EOS).
        target: Token ids of the target (one role, no BOS/EOS).
        role: One of `TRANSFER_ROLES`.
        info: Where it came from: chart, content_style, target_style, segment,
            example_chart, example_segment (indices into the corpus manifest).
    """

    content: np.ndarray
    style: np.ndarray
    target: np.ndarray
    role: str
    info: dict[str, int]


def _bar_end(chart: dict[str, Any], tpb: int) -> int:
    return round(chart["bars"] * METERS[chart["meter"]] * tpb)


def corpus_triplets(
    corpus: str | os.PathLike | dict[str, Any],
    split: str,
    *,
    bars: int = 8,
    roles: Sequence[str] = TRANSFER_ROLES,
    tokenizer: Tokenizer | None = None,
    seed: int = 0,
    max_tokens: int = MAX_TOKENS,
    stats: dict[str, int] | None = None,
    charts: set[int] | None = None,
) -> Iterator[Triplet]:
    """Every triplet of one split of a corpus built by `groove data synth`.

    For each chart, each ordered pair of distinct styles (A, B) that play it, each
    segment and each role that B plays, the style example is a random segment of a
    random other chart that B plays in the same split (seeded; for "itest", in the
    training split, where its styles live). Triplets whose style
    example cannot be found, is silent, or whose tokens exceed `max_tokens` are
    skipped and counted in `stats`.

    Args:
        corpus: The corpus folder (with its `manifest.json`), or a plan from
            `groove.data.corpus.plan_corpus`, rendered in memory (the same notes
            the files hold, without writing them).
        split: "train", "val", "test" or "itest".
        bars: Bars per segment; a chart's last, shorter segment is kept when it has
            at least half as many.
        roles: Roles to make targets for (default all of `TRANSFER_ROLES`).
        tokenizer: Tokenizer for style and target (default `BeatTokenizer()`).
        seed: Seed for the choice of style examples.
        max_tokens: Longest style example or target kept.
        stats: A dict that receives counts of what was kept and skipped.
        charts: Only these charts (indices), to share the work between processes.
    """
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; choose from {', '.join(SPLITS)}")
    roles = [parse_role(r) for r in roles]
    tokenizer = tokenizer or BeatTokenizer()
    if isinstance(corpus, dict):
        manifest, corpus = corpus, None
    else:
        corpus = Path(corpus)
        manifest = read_manifest(corpus)
    stats = {} if stats is None else stats
    charts_info = {c["index"]: c for c in manifest["charts"]}
    # Content and target come from the split; "itest" (test charts in training
    # styles) takes its style examples from the training renders of those styles.
    by_chart: dict[int, dict[int, str]] = {}
    files: dict[tuple[int, int], str] = {}
    by_style: dict[int, list[int]] = {}
    for item in manifest["items"]:
        if item["split"] == split:
            by_chart.setdefault(item["chart"], {})[item["style"]] = item["file"]
        if item["split"] == split or (split == "itest" and item["split"] == "train"):
            files[item["chart"], item["style"]] = item["file"]
            by_style.setdefault(item["style"], []).append(item["chart"])

    cache: dict[str, tuple[Score, list]] = {}
    renders = {item["file"]: item for item in manifest["items"]}
    styles = {s["index"]: s for s in manifest["styles"]}

    def piece(file: str, chart: int) -> tuple[Score, list]:
        if file not in cache:
            if corpus is None:
                item = renders[file]
                score = render_score(
                    parse_chart(charts_info[chart]["text"], charts_info[chart]["meter"]),
                    Style.random(styles[item["style"]]["seed"]),
                    item["render_seed"],
                )
            else:
                score = load(corpus / file)
            end = _bar_end(charts_info[chart], score.ticks_per_beat)
            cache[file] = (score, segments(score, bars, min_bars=(bars + 1) // 2, end=end))
        return cache[file]

    def count(key: str) -> None:
        stats[key] = stats.get(key, 0) + 1

    for chart in sorted(by_chart):
        if charts is not None and chart not in charts:
            continue
        rng = np.random.default_rng([seed, chart])
        players = sorted(by_chart[chart])
        for style_a in players:
            content, windows = piece(by_chart[chart][style_a], chart)
            rolls = [content_roll(content, w, velocity=True) for w in windows]
            for style_b in players:
                if style_b == style_a:
                    continue
                target_score, target_windows = piece(by_chart[chart][style_b], chart)
                others = [c for c in by_style[style_b] if c != chart]
                for role in roles:
                    played = role_score(target_score, role)
                    if not played.tracks:
                        continue
                    for k, window in enumerate(target_windows[: len(windows)]):
                        if not others:
                            count("no_other_chart")
                            continue
                        other = int(rng.choice(others))
                        example, example_windows = piece(files[other, style_b], other)
                        j = int(rng.integers(len(example_windows)))
                        style_ids = tokenizer.encode(
                            cut(role_score(example, role), example_windows[j])
                        )
                        target_ids = tokenizer.encode(cut(played, window))
                        if len(style_ids) == 0:
                            count("silent_style_example")
                            continue
                        if max(len(style_ids), len(target_ids)) > max_tokens:
                            count("too_long")
                            continue
                        count("triplets")
                        yield Triplet(
                            content=np.rint(rolls[k] * 127).astype(np.uint8),
                            style=style_ids.astype(np.int32),
                            target=target_ids.astype(np.int32),
                            role=role,
                            info={
                                "chart": chart,
                                "content_style": style_a,
                                "target_style": style_b,
                                "segment": k,
                                "example_chart": other,
                                "example_segment": j,
                            },
                        )


def read_manifest(corpus: Path) -> dict[str, Any]:
    path = Path(corpus) / MANIFEST
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"{corpus}: no {MANIFEST}; build a corpus with 'groove data synth'"
        ) from None
    except ValueError as e:
        raise ConfigError(f"{path}: not a corpus manifest ({e})") from None


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
        **{key: tf.io.FixedLenFeature([], tf.int64) for key in _INFO},
    }
    f = tf.io.parse_single_example(serialized, spec)
    content = tf.reshape(tf.io.decode_raw(f["content"], tf.uint8), [f["frames"], 128])
    out = {
        "content": content,
        "style": tf.cast(tf.sparse.to_dense(f["style"]), tf.int32),
        "target": tf.cast(tf.sparse.to_dense(f["target"]), tf.int32),
        "role": tf.cast(f["role"], tf.int32),
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
    """
    import tensorflow as tf

    data_dir = Path(data_dir)
    tokenizer = load_tokenizer(data_dir)
    bos, eos, pad = tokenizer.bos_id, tokenizer.eos_id, tokenizer.pad_id
    files = _files(data_dir, split)
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

    def to_model(serialized):
        f = _parse(serialized)
        content = tf.cast(f["content"], tf.float32)
        content = content / 127.0 if velocity else tf.cast(content > 0, tf.float32)
        target = f["target"]
        inputs = {
            "content": content,
            "content_mask": tf.ones(tf.shape(content)[:1], tf.float32),
            "style": f["style"][:max_style_tokens] if max_style_tokens else f["style"],
            "role": f["role"],
            "tokens": tf.concat([[bos], target], 0),
        }
        return inputs, tf.concat([target, [eos]], 0)

    ds = ds.map(to_model, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    padding = ({"content": 0.0, "content_mask": 0.0, "style": pad, "role": 0, "tokens": pad}, pad)
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


__all__ = [
    "MAX_TOKENS",
    "Triplet",
    "corpus_triplets",
    "load_tokenizer",
    "read_triplets",
    "transfer_dataset",
    "write_triplets",
]
