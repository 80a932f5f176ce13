"""Tokenizing many files at once."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from groove.errors import GrooveError
from groove.tokenizers.base import Tokenizer


@dataclasses.dataclass
class EncodedFiles:
    """What `encode_files` returns.

    Attributes:
        ids: Path -> ids (or, with `per_track`, path -> {Track: ids}), in input order.
        failed: Path -> reason, for each file that could not be read.
    """

    ids: dict[str, Any]
    failed: dict[str, str]


def _encode_one(args: tuple[Tokenizer, str, bool]) -> tuple[str, Any, str | None]:
    tokenizer, path, per_track = args
    try:
        ids = tokenizer.encode_tracks(path) if per_track else tokenizer.encode(path)
        return path, ids, None
    except GrooveError as e:
        return path, None, str(e)


def encode_files(
    paths: Iterable[str | os.PathLike],
    tokenizer: Tokenizer,
    workers: int = 1,
    per_track: bool = False,
    progress: bool = True,
) -> EncodedFiles:
    """Encode many MIDI files, in parallel processes when `workers` > 1.

    A file that cannot be read is recorded in `failed` (with the reason), counted
    on the progress bar, and skipped; the rest go on.

    Args:
        paths: MIDI files.
        tokenizer: Any groove tokenizer.
        workers: Processes to use (1 runs in this process).
        per_track: Use `encode_tracks` instead of `encode`.
        progress: Show a progress bar on stderr.
    """
    from tqdm.auto import tqdm

    jobs = [(tokenizer, os.fspath(p), per_track) for p in paths]
    # disable=None: no bar where stderr is not a terminal (a pipe, a log file).
    bar = tqdm(total=len(jobs), unit="file", disable=None if progress else True, desc="tokenize")
    ids: dict[str, Any] = {}
    failed: dict[str, str] = {}
    with bar:
        if workers > 1 and len(jobs) > 1:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                results = pool.map(_encode_one, jobs, chunksize=max(1, len(jobs) // (8 * workers)))
                for path, result, error in results:
                    _collect(path, result, error, ids, failed, bar)
        else:
            for job in jobs:
                _collect(*_encode_one(job), ids, failed, bar)
    return EncodedFiles(ids=ids, failed=failed)


def _collect(path: str, result: Any, error: str | None, ids: dict, failed: dict, bar: Any) -> None:
    if error is None:
        ids[path] = result
    else:
        failed[path] = error
        bar.set_postfix(skipped=len(failed))
    bar.update(1)


__all__ = ["EncodedFiles", "encode_files"]
