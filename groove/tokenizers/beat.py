"""`BeatTokenizer`: a tempo-independent, beat-relative encoding for style transfer."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from groove import midi as gmidi
from groove.errors import ConfigError
from groove.midi import TEMPO_DTYPE, Score, Track
from groove.tokenizers.base import SPECIAL_TOKENS
from groove.tokenizers.events import DecodeReport
from groove.tokenizers.grid import GridTokenizer


class BeatTokenizer(GridTokenizer):
    """Events on a grid of `resolution` steps per beat (quarter note).

    Vocabulary: PAD, BOS, EOS, NOTE_ON_0..127, NOTE_OFF_0..127, DRUM_ON_0..127,
    DRUM_OFF_0..127, TIME_SHIFT_1..resolution*max_shift_beats (in grid steps), and
    VELOCITY_0..velocity_bins-1 when `velocity_bins` > 0.

    Time moves by TIME_SHIFT tokens (not "SetTime / next beat"): one form for every
    gap, and the same event engine as `PerformanceTokenizer`. Because steps are
    fractions of a beat, the encoding does not depend on tempo; `decode` puts the
    notes back on a tempo you give, or on a reference file's tempo map.

    `encode` merges all tracks into one stream, drum tracks as DRUM tokens;
    `encode_tracks` keeps each track (and its program).

    Args:
        resolution: Grid steps per beat (12 covers 16ths and 8th-note triplets).
        max_shift_beats: Longest single TIME_SHIFT, in beats.
        velocity_bins: Velocity bins (1-127 split evenly), or 0 for no velocity.
    """

    kind = "beat"
    _key_families: ClassVar[dict[str, int]] = {"NOTE": 0, "DRUM": 128}

    def __init__(self, resolution: int = 12, max_shift_beats: int = 2, velocity_bins: int = 8):
        if resolution < 1 or max_shift_beats < 1 or not 0 <= velocity_bins <= 127:
            raise ConfigError(
                "need resolution >= 1, max_shift_beats >= 1 and 0 <= velocity_bins <= 127"
            )
        self.resolution = int(resolution)
        self.max_shift_beats = int(max_shift_beats)
        vocab = [*SPECIAL_TOKENS]
        for family in ("NOTE_ON", "NOTE_OFF", "DRUM_ON", "DRUM_OFF"):
            vocab += [f"{family}_{p}" for p in range(128)]
        vocab += [f"TIME_SHIFT_{s}" for s in range(1, self.resolution * self.max_shift_beats + 1)]
        vocab += [f"VELOCITY_{b}" for b in range(velocity_bins)]
        super().__init__(vocab, velocity_bins)

    def get_config(self) -> dict[str, Any]:
        return {
            "resolution": self.resolution,
            "max_shift_beats": self.max_shift_beats,
            "velocity_bins": self.velocity_bins,
        }

    def _steps(self, score: Score, ticks: np.ndarray) -> np.ndarray:
        return score.beats(ticks) * self.resolution

    def decode_score(
        self,
        ids: Any,
        *,
        tempo: float = 120.0,
        reference: Any = None,
        ticks_per_beat: int = 480,
        program: int = 0,
        name: str = "",
    ) -> tuple[Score, DecodeReport]:
        """Ids to a `Score`: pitched notes on one track, drums on another.

        Args:
            ids: Token ids; any sequence of ids in the vocabulary decodes.
            tempo: Quarter notes per minute, used when there is no `reference`.
            reference: A MIDI source (path, PrettyMIDI, Score...) whose tempo map,
                resolution, time and key signatures the output reuses.
            ticks_per_beat: Output resolution without a `reference`.
            program, name: The instrument of the pitched track.
        """
        if reference is not None:
            ref = gmidi.load(reference)
            template = ref.replace(
                notes=ref.notes[:0],
                tracks=[],
                pedals=ref.pedals[:0],
                repairs=[],
                source="<decoded>",
            )
        else:
            if not (np.isfinite(tempo) and tempo > 0) or ticks_per_beat < 1:
                raise ConfigError(
                    f"tempo must be positive and ticks_per_beat >= 1, "
                    f"got {tempo} and {ticks_per_beat}"
                )
            template = Score(
                notes=gmidi.make_notes([], [], []),
                tracks=[],
                ticks_per_beat=int(ticks_per_beat),
                tempos=np.array([(0, tempo)], TEMPO_DTYPE),
                source="<decoded>",
            )
        on, off, key, velocity, report = self._decode_steps(ids)
        ticks_per_step = template.ticks_per_beat / self.resolution
        score = self._tracks_score(
            on, off, key, velocity, ticks_per_step, template, Track(int(program), False, name)
        )
        return score, report
