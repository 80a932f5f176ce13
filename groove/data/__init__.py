"""Training data: chord charts, styles, the synthetic parallel corpus.

- `groove.data.charts`: chord charts as plain data, `random_chart(seed)`, and a text
  format (`| C | Am7 | Dm7 G7 | C |`).
- `groove.data.chord_recognition`: `chart_from_midi` reads a chart from a real song.
- `groove.data.styles`: `Style.random(seed)`, seeded from genre archetypes.
- `groove.data.band`: `render(chart, style, seed)` plays a chart in a style.
- `groove.data.corpus`: `build_corpus`, the split, resumable, reproducible corpus.
- `groove.data.segments`: cut any song at downbeats; the content piano roll.
- `groove.data.pipeline`: style-transfer triplets as TFRecord, read with `tf.data`.
- `groove.data.lm`: language-model data from MIDI folders or the music21 corpus.

Each model's preprocessor (`groove.models.*.preprocessor`) turns this data into
model inputs.
"""

from groove.data.band import render, render_score
from groove.data.charts import Chart, Chord, parse_chart, random_chart
from groove.data.chord_recognition import chart_from_midi
from groove.data.corpus import build_corpus, plan_corpus
from groove.data.lm import build_lm_corpus
from groove.data.segments import Segment, content_roll, cut, segments, song_rolls
from groove.data.styles import Style

__all__ = [
    "Chart",
    "Chord",
    "Segment",
    "Style",
    "build_corpus",
    "build_lm_corpus",
    "chart_from_midi",
    "content_roll",
    "cut",
    "parse_chart",
    "plan_corpus",
    "random_chart",
    "render",
    "render_score",
    "segments",
    "song_rolls",
]
