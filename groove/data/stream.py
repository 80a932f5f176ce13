"""Triplets cut on the fly from a corpus plan, in worker processes.

`groove data triplets` renders and stores every triplet once; a corpus too large
for that (or a machine with no TensorFlow to read TFRecords, such as a JAX GPU
box) can instead **stream** them: `stream_triplets` renders the corpus's charts in
its styles in memory (`groove.data.triplets.corpus_triplets` on the manifest, the
code the stored triplets come from) and yields triplets forever, each pass over the
charts in a new seeded order and with new style examples. Only numpy is needed.

A corpus folder needs only its `manifest.json` (`groove data synth --plan-only`):
the notes are rendered from the seeds it records.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from groove.data.triplets import MAX_TOKENS, Triplet, corpus_triplets, read_manifest
from groove.errors import ConfigError
from groove.midi.roles import TRANSFER_ROLES

# Charts one worker cuts per job: big enough to amortise a job's start, small enough
# that a pass over the charts is spread evenly.
CHARTS_PER_JOB = 4
# Triplets held and drawn from at random, so one job's charts do not form a batch.
SHUFFLE_BUFFER = 4096


def stream_triplets(
    corpus: str | os.PathLike | dict[str, Any],
    split: str,
    *,
    tokenizer: Any,
    bars: int = 8,
    roles: Sequence[str] = TRANSFER_ROLES,
    max_tokens: int = MAX_TOKENS,
    seed: int = 0,
    repeat: bool = True,
    shuffle: bool = True,
    workers: int = 1,
) -> Iterator[Triplet]:
    """The triplets of one split of a corpus, cut as they are needed.

    Args:
        corpus: A corpus folder (only its `manifest.json` is read) or its manifest.
        split: "train", "val", "test" or "itest".
        tokenizer: Tokenizes style examples and targets.
        bars, roles, max_tokens: As in `corpus_triplets`.
        seed: Seeds the chart order, the style examples and the shuffle; pass `p`
            uses `seed + p` for its style examples, so each pass pairs anew.
        repeat: Pass over the charts forever (training); False: once.
        shuffle: Shuffle charts and triplets; False keeps `corpus_triplets`' order
            (with `repeat=False`, exactly its triplets).
        workers: Processes that cut triplets (1: this one).
    """
    manifest = corpus if isinstance(corpus, dict) else read_manifest(Path(corpus))
    charts = sorted({item["chart"] for item in manifest["items"] if item["split"] == split})
    if not charts:
        raise ConfigError(f"the corpus has no charts in split {split!r}")
    options = {"bars": bars, "roles": list(roles), "max_tokens": max_tokens}
    rng = np.random.default_rng([seed, 1])
    buffer: list[Triplet] = []
    pool = ProcessPoolExecutor(workers) if workers > 1 else None
    try:
        for p in range(1 << 62 if repeat else 1):
            order = rng.permutation(charts) if shuffle else np.asarray(charts)
            jobs = [
                (manifest, split, tokenizer, seed + p, options,
                 set(order[i : i + CHARTS_PER_JOB].tolist()))
                for i in range(0, len(order), CHARTS_PER_JOB)
            ]  # fmt: skip
            results = pool.map(_cut, jobs) if pool else map(_cut, jobs)
            for triplets in results:
                if not shuffle:
                    yield from triplets
                    continue
                buffer.extend(triplets)
                while len(buffer) > SHUFFLE_BUFFER:
                    yield buffer.pop(int(rng.integers(len(buffer))))
        rng.shuffle(buffer)
        yield from buffer
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)


def _cut(job) -> list[Triplet]:
    """One job's triplets (run in a worker process)."""
    manifest, split, tokenizer, seed, options, charts = job
    return list(
        corpus_triplets(manifest, split, tokenizer=tokenizer, seed=seed, charts=charts, **options)
    )
