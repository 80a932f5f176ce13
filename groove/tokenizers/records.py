"""Token records: the JSON-lines files that `groove tokenize` writes and
`groove detokenize` reads back.

Each line is one JSON object, a *record*:

    {"file": "song.mid", "track": null, "ids": [1, 2, ...], "tokens": ["NOTE_ON_60", ...]}

- `file`: the MIDI file the tokens came from. The records of one file decode to
  one MIDI file (a reader names a record without it `line<N>`).
- `track`: null when the file was encoded as one merged stream; otherwise
  `{"program": int, "is_drum": bool, "name": str}`, one record per track.
- `ids`: the token ids; `tokens`: the same tokens by name. A reader needs only
  one of the two and takes `ids` when both are there.

The tokenizer that wrote the ids is saved beside the records, as
`OUT.tokenizer.json` for `OUT.jsonl` (`sidecar_path`), so that the ids can be
read back without knowing how they were made.

    >>> result = encode_files(paths, tokenizer, per_track=True)      # doctest: +SKIP
    >>> write_records("tokens.jsonl", result.ids, tokenizer, per_track=True)  # doctest: +SKIP
    >>> for name, tracks in read_records("tokens.jsonl", tokenizer).items():  # doctest: +SKIP
    ...     score, report = decode_records(tracks, tokenizer)
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from groove.errors import TokenError
from groove.fileio import atomic_open
from groove.midi import Score, Track
from groove.tokenizers.base import Tokenizer
from groove.tokenizers.events import DecodeReport

# Tokenizer kinds timed in beats: their ids carry no tempo, so decoding takes one.
BEAT_TIMED = ("beat", "duration")


def sidecar_path(path: str | os.PathLike) -> str:
    """The tokenizer file that goes with a records file: `song.jsonl` ->
    `song.tokenizer.json` (a name without `.jsonl` gets the suffix appended)."""
    path = os.fspath(path)
    base = path[: -len(".jsonl")] if path.endswith(".jsonl") else path
    return base + ".tokenizer.json"


def write_records(
    path: str | os.PathLike,
    encoded: Mapping[str, Any],
    tokenizer: Tokenizer,
    *,
    per_track: bool = False,
) -> int:
    """Write token records, then the tokenizer to `sidecar_path(path)`.

    Args:
        path: The `.jsonl` file to write (atomically: a failed write leaves no file).
        encoded: File name -> ids, or with `per_track` file name -> {Track: ids};
            what `encode_files(...).ids` holds.
        tokenizer: The tokenizer that made the ids.
        per_track: Whether `encoded` holds one stream per track.

    Returns:
        The number of records (lines) written.
    """
    lines = 0
    with atomic_open(path, "w", encoding="utf-8") as f:
        for name, ids_of_file in encoded.items():
            items = ids_of_file.items() if per_track else [(None, ids_of_file)]
            for track, ids in items:
                record = {
                    "file": name,
                    "track": None
                    if track is None
                    else {"program": track.program, "is_drum": track.is_drum, "name": track.name},
                    "ids": ids.tolist(),
                    "tokens": tokenizer.ids_to_tokens(ids),
                }
                f.write(json.dumps(record) + "\n")
                lines += 1
    tokenizer.save(sidecar_path(path))
    return lines


def read_records(
    path: str | os.PathLike, tokenizer: Tokenizer
) -> dict[str, dict[Track | None, np.ndarray]]:
    """Read token records, grouped by file.

    Args:
        path: A `.jsonl` file of records. Blank lines are skipped.
        tokenizer: The tokenizer the ids belong to (names in `tokens` are looked up
            in its vocabulary; ids are checked against it).

    Returns:
        File name -> {track (None for a merged stream) -> ids}, in the order of the file.

    Raises:
        TokenError: A line is not a record (naming the line), or holds ids outside
            the tokenizer's vocabulary.
    """
    path = os.fspath(path)
    files: dict[str, dict[Track | None, np.ndarray]] = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                if "ids" in record:
                    ids = record["ids"]
                else:
                    ids = tokenizer.tokens_to_ids(record["tokens"])
                track = record.get("track")
                key = (
                    None
                    if track is None
                    else Track(int(track["program"]), bool(track["is_drum"]), str(track["name"]))
                )
                name = str(record.get("file") or f"line{n}")
            except (ValueError, KeyError, TypeError) as e:
                raise TokenError(f"{path}, line {n}: not a groove token record ({e})") from e
            files.setdefault(name, {})[key] = tokenizer.check_ids(ids)
    return files


def decode_records(
    tracks: Mapping[Track | None, Any], tokenizer: Tokenizer, *, tempo: float = 120.0
) -> tuple[Score, DecodeReport]:
    """One file's records (a value of `read_records`) back to a `Score`.

    Args:
        tracks: {None: ids} for a merged stream, or {Track: ids}.
        tokenizer: The tokenizer the ids belong to.
        tempo: Quarter notes per minute, for tokenizers whose tokens carry no tempo
            (the beat and duration tokenizers); ignored by the others.
    """
    kwargs = {"tempo": tempo} if tokenizer.kind in BEAT_TIMED else {}
    if None in tracks:
        return tokenizer.decode_score(tracks[None], **kwargs)
    return tokenizer.decode_tracks_score(tracks, **kwargs)


__all__ = ["BEAT_TIMED", "decode_records", "read_records", "sidecar_path", "write_records"]
