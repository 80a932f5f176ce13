"""Scoring music: content preservation, style fit, descriptive metrics, likelihood.

All times are in beats (quarter notes) unless a name says otherwise. Every metric
accepts what `groove.midi.load` reads (a path, bytes, a `pretty_midi.PrettyMIDI`, a
music21 stream) or a `Score`.

- `chroma_similarity(a, b)`: does `b` keep the harmony of `a`? (Lu & Su 2018)
- `style_profile`, `style_profiles`, `style_similarity`, `style_fit`: does it play in
  the style of an example? (Groove2Groove's style profiles, per instrument role;
  `transfer_profiles` is the fixed set `groove eval transfer` reports)
- `groove.eval.musical`: moment-by-moment checks (onset phase, chord tones, held
  notes, part continuity); `groove.eval.baselines.overlay`: the trivial baseline
- `descriptive_metrics` and `overlapping_area`: muspy's metrics in beats, and how
  two sets of pieces compare (Yang & Lerch 2020)
- `token_nll`, `perplexity`: how likely a model finds token sequences
- `evaluate_transfer`, `evaluate_corpus`: whole folders, with JSON and HTML reports
"""

from groove.eval.content import chroma_similarity, chromagram
from groove.eval.descriptive import (
    METRICS,
    descriptive_metrics,
    drum_pattern_consistency,
    empty_beat_rate,
    groove_consistency,
    intra_inter_overlap,
    overlapping_area,
    pitch_class_entropy,
    pitch_range,
    polyphony,
    polyphony_rate,
    scale_consistency,
)
from groove.eval.likelihood import perplexity, token_nll
from groove.eval.style import (
    KINDS,
    ROLE_KINDS,
    TRANSFER_ROLE_KINDS,
    StyleProfile,
    pool_profiles,
    style_fit,
    style_profile,
    style_profiles,
    style_similarity,
    transfer_profiles,
)
from groove.midi.roles import ROLES, role_of

__all__ = [
    "KINDS",
    "METRICS",
    "ROLES",
    "ROLE_KINDS",
    "TRANSFER_ROLE_KINDS",
    "StyleProfile",
    "chroma_similarity",
    "chromagram",
    "descriptive_metrics",
    "drum_pattern_consistency",
    "empty_beat_rate",
    "groove_consistency",
    "intra_inter_overlap",
    "overlapping_area",
    "perplexity",
    "pitch_class_entropy",
    "pitch_range",
    "polyphony",
    "polyphony_rate",
    "pool_profiles",
    "role_of",
    "scale_consistency",
    "style_fit",
    "style_profile",
    "style_profiles",
    "style_similarity",
    "token_nll",
    "transfer_profiles",
]
