"""`PerformanceTokenizer`: the Performance RNN / Music Transformer event encoding."""

from __future__ import annotations

from typing import Any

import numpy as np

from groove import midi as gmidi
from groove.errors import ConfigError
from groove.midi import TEMPO_DTYPE, Score, Track
from groove.tokenizers.base import SPECIAL_TOKENS
from groove.tokenizers.events import DecodeReport
from groove.tokenizers.grid import GridTokenizer

# decode writes 1 ms ticks: 500 ticks per beat at 120 quarter notes per minute.
_DECODE_QPM, _DECODE_TICKS_PER_BEAT = 120.0, 500


class PerformanceTokenizer(GridTokenizer):
    """Expressive-timing events in seconds (Oore et al. 2018; Huang et al. 2019).

    Vocabulary: PAD, BOS, EOS, NOTE_ON_0..127, NOTE_OFF_0..127,
    TIME_SHIFT_1..max_shift_steps (in steps of `time_step` seconds: 10 ms to 1 s by
    default), VELOCITY_0..velocity_bins-1. A VELOCITY token precedes a NOTE_ON only
    when the velocity bin changes.

    `encode` merges every non-drum track into one stream (a piano performance);
    `encode_tracks` keeps each track, drums included. Times are absolute seconds,
    so the encoding follows the tempo map. With `sustain` on, notes held by the
    sustain pedal (CC64) are lengthened first (see `groove.midi.apply_sustain`).

    Args:
        time_step: Seconds per TIME_SHIFT step.
        max_shift_steps: Largest single shift, in steps; longer gaps use several.
        velocity_bins: Number of velocity bins (1-127 split evenly).
        sustain: Extend notes held by the sustain pedal.

    Example:
        >>> tok = PerformanceTokenizer()
        >>> ids = tok.encode("song.mid")            # doctest: +SKIP
        >>> pm = tok.decode(ids, program=0)         # doctest: +SKIP
    """

    kind = "performance"

    def __init__(
        self,
        time_step: float = 0.01,
        max_shift_steps: int = 100,
        velocity_bins: int = 32,
        sustain: bool = True,
    ):
        if not time_step > 0 or max_shift_steps < 1 or not 1 <= velocity_bins <= 127:
            raise ConfigError(
                "need time_step > 0, max_shift_steps >= 1 and 1 <= velocity_bins <= 127"
            )
        self.time_step = float(time_step)
        self.max_shift_steps = int(max_shift_steps)
        self.sustain = bool(sustain)
        vocab = [*SPECIAL_TOKENS]
        vocab += [f"NOTE_ON_{p}" for p in range(128)]
        vocab += [f"NOTE_OFF_{p}" for p in range(128)]
        vocab += [f"TIME_SHIFT_{s}" for s in range(1, self.max_shift_steps + 1)]
        vocab += [f"VELOCITY_{b}" for b in range(velocity_bins)]
        super().__init__(vocab, velocity_bins)

    def get_config(self) -> dict[str, Any]:
        return {
            "time_step": self.time_step,
            "max_shift_steps": self.max_shift_steps,
            "velocity_bins": self.velocity_bins,
            "sustain": self.sustain,
        }

    def prepare(self, midi: Any) -> Score:
        score = gmidi.load(midi)
        return gmidi.apply_sustain(score) if self.sustain else score

    def _include(self, track: Track) -> bool:
        return not track.is_drum

    def _steps(self, score: Score, ticks: np.ndarray) -> np.ndarray:
        return score.seconds(ticks) / self.time_step

    def decode_score(
        self, ids: Any, *, program: int = 0, is_drum: bool = False, name: str = ""
    ) -> tuple[Score, DecodeReport]:
        """Ids to a one-track `Score` at 120 qpm with 1 ms ticks.

        Args:
            ids: Token ids; any sequence of ids in the vocabulary decodes.
            program, is_drum, name: The instrument of the track.
        """
        on, off, key, velocity, report = self._decode_steps(ids)
        template = Score(
            notes=gmidi.make_notes([], [], []),
            tracks=[],
            ticks_per_beat=_DECODE_TICKS_PER_BEAT,
            tempos=np.array([(0, _DECODE_QPM)], TEMPO_DTYPE),
            source="<decoded>",
        )
        ms_per_step = self.time_step * 1000.0  # one tick is one millisecond
        score = self._tracks_score(
            on, off, key, velocity, ms_per_step, template, Track(int(program), bool(is_drum), name)
        )
        return score, report
