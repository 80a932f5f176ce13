"""Rebuild the MIDI files bundled in groove/examples/ (deterministic).

- chorale.mid: J. S. Bach, chorale BWV 66.6, from the music21 corpus (public domain).
- band.mid: a four-bar pop groove written here (drums, bass, piano) to try styles on.
- song.mid: a 16-bar chord chart written here, played by groove's band in a pop-ballad
  style (style seed 9012): the content of the README's style transfer.
- style.mid: an 8-bar random chart in a funk style (style seed 9010; bass, guitar,
  keys, drums): the style example. Neither style seed is one the shipped model
  trained on.

Run: .venv/bin/python scripts/make_examples.py
"""

from pathlib import Path

import numpy as np

from groove import midi
from groove.midi import TEMPO_DTYPE, TIME_SIGNATURE_DTYPE, Score, Track

OUT = Path(__file__).resolve().parents[1] / "groove" / "examples"


def chorale() -> Score:
    from music21 import corpus

    return midi.load(corpus.parse("bach/bwv66.6"))


def band() -> Score:
    tpb, bars = 480, 4
    chords = [(57, [57, 60, 64]), (53, [53, 57, 60]), (48, [48, 52, 55]), (55, [55, 59, 62])]
    start, end, pitch, velocity, track = [], [], [], [], []

    def note(t0, t1, p, v, tr):
        start.append(int(t0))
        end.append(int(t1))
        pitch.append(p)
        velocity.append(v)
        track.append(tr)

    for bar, (root, triad) in enumerate(chords[:bars]):
        b0 = bar * 4 * tpb
        for beat in range(4):  # drums: kick on 1 and 3, snare on 2 and 4, eighth hats
            t = b0 + beat * tpb
            note(t, t + 60, 36 if beat % 2 == 0 else 38, 100 if beat % 2 == 0 else 90, 2)
            for half in range(2):
                note(t + half * tpb // 2, t + half * tpb // 2 + 60, 42, 70 - 15 * half, 2)
        for t, dur in [(0, 1.5), (1.5, 0.5), (2, 1.5), (3.5, 0.5)]:  # bass
            note(b0 + t * tpb, b0 + (t + dur) * tpb - 20, root - 12 + (7 if t == 3.5 else 0), 95, 1)
        for t in (0, 1.5, 2.5):  # piano: syncopated triads
            for p in triad:
                note(b0 + t * tpb, b0 + (t + 0.9) * tpb, p + 12, 75, 0)
    notes = midi.make_notes(start, end, pitch, velocity, track)
    return Score(
        notes=notes,
        tracks=[Track(0, False, "Piano"), Track(33, False, "Bass"), Track(0, True, "Drums")],
        ticks_per_beat=tpb,
        tempos=np.array([(0, 100.0)], TEMPO_DTYPE),
        time_signatures=np.array([(0, 4, 4)], TIME_SIGNATURE_DTYPE),
        source="band",
    )


SONG_CHART = "| C | G | Am | F | C | G | F | F | Am | F | C | G | Am | F | G | G |"


def song() -> Score:
    from groove.data import Style, render_score
    from groove.data.charts import parse_chart

    return render_score(parse_chart(SONG_CHART, "4/4"), Style.random(9012, meter="4/4"), 0)


def style() -> Score:
    from groove.data import Style, random_chart, render_score

    return render_score(random_chart(9010, bars=8, meter="4/4"), Style.random(9010, meter="4/4"), 0)


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    midi.save(chorale(), OUT / "chorale.mid")
    midi.save(band(), OUT / "band.mid")
    midi.save(song(), OUT / "song.mid")
    midi.save(style(), OUT / "style.mid")
    for f in sorted(OUT.glob("*.mid")):
        print(f, midi.load(f))
