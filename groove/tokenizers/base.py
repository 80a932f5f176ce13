"""The interface every groove tokenizer follows, and its JSON persistence."""

from __future__ import annotations

import abc
import json
import logging
import os
from typing import Any, ClassVar

import numpy as np

from groove import midi as gmidi
from groove.errors import TokenError
from groove.fileio import atomic_open
from groove.midi import Score, Track
from groove.tokenizers.events import DecodeReport

logger = logging.getLogger("groove.tokenizers")

SPECIAL_TOKENS = ("PAD", "BOS", "EOS")
_REGISTRY: dict[str, type[Tokenizer]] = {}


class Tokenizer(abc.ABC):
    """Symbols <-> ids for MIDI. Subclasses set `kind` and implement the encoders.

    `encode` and `encode_tracks` accept anything `groove.midi.load` reads (a path,
    bytes, PrettyMIDI, a music21 stream or a `Score`). Ids are `np.int32` without
    BOS/EOS: a model's preprocessor adds those. `decode` never raises on ids in the
    vocabulary; it repairs what cannot be played and logs a `DecodeReport`. Ids
    outside the vocabulary raise `TokenError`.
    """

    kind: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any):
        super().__init_subclass__(**kwargs)
        if "kind" in cls.__dict__:
            _REGISTRY[cls.kind] = cls

    def __init__(self, vocab: list[str]):
        self.vocab = list(vocab)
        self._index = {token: i for i, token in enumerate(self.vocab)}
        if len(self._index) != len(self.vocab):
            raise TokenError(f"{type(self).__name__}: duplicate token names in the vocabulary")

    # ---------------------------------------------------------------- vocabulary

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def __len__(self) -> int:
        return len(self.vocab)

    def id_to_token(self, id: int) -> str:
        if not 0 <= int(id) < len(self.vocab):
            raise TokenError(f"id {id} is outside the vocabulary (0..{len(self.vocab) - 1})")
        return self.vocab[int(id)]

    def token_to_id(self, token: str) -> int:
        try:
            return self._index[token]
        except KeyError:
            raise TokenError(f"{token!r} is not a token of this {type(self).__name__}") from None

    def ids_to_tokens(self, ids: Any) -> list[str]:
        return [self.vocab[i] for i in self.check_ids(ids).tolist()]

    def tokens_to_ids(self, tokens: list[str]) -> np.ndarray:
        return np.array([self.token_to_id(t) for t in tokens], np.int32)

    @property
    def pad_id(self) -> int:
        return self.token_to_id("PAD")

    @property
    def bos_id(self) -> int:
        return self.token_to_id("BOS")

    @property
    def eos_id(self) -> int:
        return self.token_to_id("EOS")

    def check_ids(self, ids: Any) -> np.ndarray:
        """`ids` as a 1-D int array; `TokenError` if any is outside the vocabulary."""
        arr = np.asarray(ids)
        if arr.ndim != 1:
            raise TokenError(f"expected a 1-D sequence of ids, got shape {arr.shape}")
        if arr.size == 0:
            return np.zeros(0, np.int64)
        if not np.issubdtype(arr.dtype, np.integer) and (
            not np.issubdtype(arr.dtype, np.floating) or (arr != np.round(arr)).any()
        ):
            raise TokenError(f"token ids must be integers, got {arr.dtype}")
        arr = arr.astype(np.int64)
        bad = np.flatnonzero((arr < 0) | (arr >= len(self.vocab)))
        if len(bad):
            shown = ", ".join(f"{arr[i]} at {i}" for i in bad[:5])
            raise TokenError(
                f"{len(bad)} id(s) outside the vocabulary of {len(self.vocab)} "
                f"({shown}{', ...' if len(bad) > 5 else ''})"
            )
        return arr

    # ------------------------------------------------------------------ encoding

    def prepare(self, midi: Any) -> Score:
        """`midi` as a `Score` the way this tokenizer sees it before encoding (for
        `PerformanceTokenizer`, with the sustain pedal applied): what a round trip
        should give back, up to quantisation."""
        return gmidi.load(midi)

    @abc.abstractmethod
    def encode(self, midi: Any) -> np.ndarray:
        """All of `midi` as one stream of ids (see each tokenizer for what it merges)."""

    @abc.abstractmethod
    def encode_tracks(self, midi: Any) -> dict[Track, np.ndarray]:
        """One stream per track. Tracks with equal (program, drum flag, name) are
        merged, since they would decode to the same instrument anyway."""

    # ------------------------------------------------------------------ decoding

    @abc.abstractmethod
    def decode_score(self, ids: Any, **kwargs: Any) -> tuple[Score, DecodeReport]:
        """Ids to a `Score` and a report of what was repaired."""

    def decode(self, ids: Any, **kwargs: Any) -> Any:
        """Ids to a `pretty_midi.PrettyMIDI`. Repairs are logged (see `decode_score`)."""
        score, report = self.decode_score(ids, **kwargs)
        self._log(report)
        return gmidi.to_pretty_midi(score)

    def decode_tracks(self, ids_by_track: dict[Track, Any], **kwargs: Any) -> Any:
        """`encode_tracks` output back to a `pretty_midi.PrettyMIDI`, one instrument
        per key, with the key's program, drum flag and name."""
        score, report = self.decode_tracks_score(ids_by_track, **kwargs)
        self._log(report)
        return gmidi.to_pretty_midi(score)

    def decode_tracks_score(
        self, ids_by_track: dict[Track, Any], **kwargs: Any
    ) -> tuple[Score, DecodeReport]:
        """Like `decode_tracks`, returning a `Score` and the summed report."""
        tables, tracks, total, template = [], [], DecodeReport(), None
        for track, ids in ids_by_track.items():
            score, report = self.decode_score(ids, **kwargs)
            template = template or score
            total = total + report
            if len(score.notes) == 0:
                continue
            notes = score.notes.copy()
            notes["track"] = len(tracks)
            tables.append(notes)
            tracks.append(track)
        if template is None:
            template, _ = self.decode_score(np.zeros(0, np.int64), **kwargs)
        notes = gmidi.sort_notes(np.concatenate(tables)) if tables else template.notes[:0]
        return template.replace(notes=notes, tracks=tracks), total

    def _log(self, report: DecodeReport) -> None:
        if report.repairs:
            logger.warning("%s.decode: %s", type(self).__name__, report)

    # ------------------------------------------------------------------- persist

    @abc.abstractmethod
    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, JSON-serialisable."""

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Tokenizer:
        return cls(**config)

    def save(self, path: str | os.PathLike) -> None:
        """Write the tokenizer (kind, config and vocabulary) as JSON."""
        payload = {"kind": self.kind, "config": self.get_config(), "vocab": self.vocab}
        with atomic_open(path, "w", encoding="utf-8") as f:
            json.dump(payload, f, indent=1)

    @staticmethod
    def from_spec(spec: dict[str, Any]) -> Tokenizer:
        """A tokenizer from `{"kind": ..., "config": {...}}`, as models store it."""
        try:
            return _REGISTRY[spec["kind"]].from_config(spec["config"])
        except (KeyError, TypeError) as e:
            raise TokenError(f"not a tokenizer description: {spec!r} ({e})") from None

    @staticmethod
    def load(path: str | os.PathLike) -> Tokenizer:
        """Read a tokenizer written by `save`, of whatever kind it is."""
        try:
            with open(path, encoding="utf-8") as f:
                payload = json.load(f)
            cls = _REGISTRY[payload["kind"]]
            tokenizer = cls.from_config(payload["config"])
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise TokenError(f"{path}: not a groove tokenizer file ({e})") from None
        if tokenizer.vocab != payload.get("vocab", tokenizer.vocab):
            raise TokenError(
                f"{path}: the saved vocabulary differs from the one this version of groove "
                f"builds for {payload['kind']}; ids would be misread"
            )
        return tokenizer

    def __eq__(self, other: object) -> bool:
        return (
            type(self) is type(other)
            and self.get_config() == other.get_config()
            and self.vocab == other.vocab
        )

    __hash__ = None

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def track_groups(score: Score) -> dict[Track, np.ndarray]:
    """Map each distinct `Track` to the indices of its notes in `score.notes`.

    Tracks with equal (program, drum flag, name) share one entry; the keys come in
    the order of `score.tracks`, each index array in note order (so the notes it
    picks stay sorted). One stable sort of the notes by group: linear in tracks and
    notes (not one mask per track, which a file of 30,000 tracks made quadratic).
    """
    group_of: dict[Track, int] = {}
    for track in score.tracks:
        group_of.setdefault(track, len(group_of))
    if not group_of:
        return {}
    group = np.array([group_of[t] for t in score.tracks], np.int64)[score.notes["track"]]
    order = np.argsort(group, kind="stable")
    bounds = np.searchsorted(group[order], np.arange(1, len(group_of)))
    return dict(zip(group_of, np.split(order, bounds), strict=True))
