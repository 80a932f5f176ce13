"""`MidiTokTokenizer`: any miditok tokenization behind groove's interface."""

from __future__ import annotations

from typing import Any

import numpy as np

from groove import midi as gmidi
from groove.errors import ConfigError
from groove.midi import Score, Track
from groove.tokenizers.base import Tokenizer, track_groups
from groove.tokenizers.events import DecodeReport, quantize

# Chosen so that a round trip keeps every note: all 128 pitches (drums too), a
# 1/12-beat grid like BeatTokenizer's, 32 velocities, one stream with Program
# tokens, and no time-signature tokens (miditok drops bars in signatures outside
# its range). Anything here can be overridden with `config`.
DEFAULT_CONFIG: dict[str, Any] = {
    "pitch_range": [0, 127],
    "drums_pitch_range": [0, 127],
    "beat_res": [[0, 4, 12], [4, 12, 12]],
    "num_velocities": 32,
    "special_tokens": ["PAD", "BOS", "EOS"],
    "use_programs": True,
    "one_token_stream_for_programs": True,
    "use_time_signatures": False,
}
_RANGE_KEYS = ("beat_res", "beat_res_rest")  # dicts keyed by (start, end) beats in miditok


class MidiTokTokenizer(Tokenizer):
    """A miditok tokenizer (MIDILike, REMI, TSD, ...) with groove's interface.

    Args:
        tokenization: The miditok class name, e.g. "MIDILike" or "REMI".
        config: `miditok.TokenizerConfig` arguments over `DEFAULT_CONFIG`, in JSON
            form: `beat_res` as a list of [start_beat, end_beat, resolution].

    `encode` gives miditok's single stream (with Program tokens). `encode_tracks`
    encodes each track alone and `decode_tracks` restores its program, drum flag and
    name (which miditok's Program tokens cannot carry for drum kits). miditok does
    not report repairs: the `DecodeReport` counts notes, tokens after EOS and
    sequences miditok could not decode (which decode to nothing).
    """

    kind = "miditok"

    def __init__(self, tokenization: str = "MIDILike", config: dict[str, Any] | None = None):
        import miditok

        self.tokenization = tokenization
        self.config = {**DEFAULT_CONFIG, **(config or {})}
        cls = getattr(miditok, tokenization, None)
        if not (isinstance(cls, type) and issubclass(cls, miditok.MusicTokenizer)):
            raise ConfigError(f"miditok has no tokenization named {tokenization!r}")
        params = {
            k: (
                {(a, b): r for a, b, r in v}
                if k in _RANGE_KEYS
                else tuple(v)
                if k.endswith("_range")
                else v
            )
            for k, v in self.config.items()
        }
        try:
            self._tok = cls(miditok.TokenizerConfig(**params))
        except Exception as e:
            raise ConfigError(f"miditok {tokenization} rejects the config: {e}") from e
        if not self._tok.one_token_stream:
            raise ConfigError(
                "groove needs miditok's one_token_stream mode (use_programs "
                "and one_token_stream_for_programs)"
            )
        vocab = sorted(self._tok.vocab, key=self._tok.vocab.get)
        super().__init__(vocab)

    def get_config(self) -> dict[str, Any]:
        return {"tokenization": self.tokenization, "config": self.config}

    # miditok names its special tokens "PAD_None", "BOS_None", "EOS_None".
    @property
    def pad_id(self) -> int:
        return self.token_to_id("PAD_None")

    @property
    def bos_id(self) -> int:
        return self.token_to_id("BOS_None")

    @property
    def eos_id(self) -> int:
        return self.token_to_id("EOS_None")

    @property
    def miditok(self) -> Any:
        """The wrapped `miditok.MusicTokenizer`."""
        return self._tok

    def encode(self, midi: Any) -> np.ndarray:
        return self._encode_score(gmidi.load(midi))

    def encode_tracks(self, midi: Any) -> dict[Track, np.ndarray]:
        score = gmidi.load(midi)
        out = {}
        for track, mask in track_groups(score).items():
            notes = score.notes[mask].copy()
            notes["track"] = 0
            out[track] = self._encode_score(
                score.replace(notes=notes, tracks=[track], pedals=score.pedals[:0])
            )
        return out

    def _encode_score(self, score: Score) -> np.ndarray:
        if len(score.notes) == 0:
            return np.zeros(0, np.int32)
        # Put the notes on miditok's finest grid ourselves: miditok rounds onsets
        # and durations separately, which can move an offset by more than a step;
        # `quantize` keeps both ends within one step.
        steps = max(r for _, _, r in self.config["beat_res"])
        on, off = quantize(
            score.beats(score.notes["start"]) * steps, score.beats(score.notes["end"]) * steps
        )
        gridded = score.resample(steps)
        gridded.notes["start"], gridded.notes["end"] = on, off
        return np.asarray(self._tok.encode(gmidi.to_symusic(gridded)).ids, np.int32)

    def decode_score(self, ids: Any, **kwargs: Any) -> tuple[Score, DecodeReport]:
        """Ids to a `Score` through miditok's own decoder."""
        if kwargs:
            raise TypeError(f"unexpected arguments {sorted(kwargs)}")
        ids = self.check_ids(ids)
        report = DecodeReport()
        eos = np.flatnonzero(ids == self.eos_id)
        if len(eos):
            report.tokens_after_eos = len(ids) - int(eos[0]) - 1
            ids = ids[: eos[0]]
        ids = ids[(ids != self.pad_id) & (ids != self.bos_id)]
        try:
            sym = self._tok.decode(ids.tolist()) if len(ids) else None
        except Exception:  # miditok may reject odd sequences; decode must not raise
            sym, report.decoder_errors = None, 1
        if sym is None:
            score = Score(notes=gmidi.make_notes([], [], []), tracks=[], source="<decoded>")
        else:
            score = gmidi.from_symusic(sym, "<decoded>")
        report.notes = len(score.notes)
        return score, report
