"""One chord chart played in several styles: how different is the MIDI, and the audio?

The chart is `random_chart(7, bars=8, meter="4/4")`. It is played by
`groove.data.render_score` in `--styles` random 4/4 styles (`Style.random(seed,
meter="4/4")` for seeds 1..N, take seed 0), and once more in style 1 with take seed
1: a "retake", the same style played again (other humanised timing and velocity,
ghost notes, fills). Each is saved as MIDI and rendered to WAV with the CLI,
`groove render *.mid -o DIR` (FluidSynth, the default SoundFont).

Per render, from the MIDI: notes per beat, tempo, the roles that play and their
GM programs, and where onsets fall within the beat (nearest 1/12 beat). From the
WAV (numpy/scipy only, mono mix, 2048-sample Hann frames, hop 512):

- a long-term average spectral envelope: the mean power in 40 mel bands
  (30 Hz to 16 kHz), in dB;
- an onset-strength envelope: spectral flux of the log-compressed mel magnitudes
  (positive differences summed over bands), frame by frame, then put on a beat
  grid (12 cells per beat, the maximum over each cell) with the style's tempo, so
  renders at different tempi line up bar by bar;
- RMS loudness (dBFS; every render's peak is normalised to -1 dBFS) and the
  spectral centroid of the long-term average spectrum.

Per pair, the retake pair against every pair of different styles:

- `profile`: groove.eval style-profile similarity, macro over roles (per role the
  mean of `style_similarity` over its `ROLE_KINDS`, then the mean over the roles
  that either render plays; a role only one plays scores 0). 1 = same style;
- `beat-hist`: cosine similarity of the onset-in-beat histograms;
- `LSD dB`: log-spectral distance of the spectral envelopes, the RMS over bands of
  their dB difference after removing the mean difference (the overall level), so it
  measures timbre, not loudness;
- `onset r`: Pearson correlation of the beat-grid onset envelopes (same rhythm,
  same place in the bar: near 1);
- `ACF r`: correlation of their autocorrelations over lags 1/12 to 8 beats
  (periodicity of the rhythm, independent of where in the bar).

The claim checked: different styles differ clearly more than the retake (lower
profile, beat-hist, onset r and ACF r, higher LSD). Run from the repository root:

    .venv/bin/python benchmarks/style_audio.py [--out DIR] [--styles N]
        [--sample-rate HZ] [--soundfont SF2]

Without `--out` the files go to a new temporary folder, printed at the end.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import shlex
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np
import pretty_midi

from groove import midi
from groove.data import Style, random_chart, render_score
from groove.eval import ROLE_KINDS, ROLES, style_profiles, style_similarity
from groove.midi.notes import notes_of
from groove.midi.roles import role_of
from groove.render import find_soundfont

REPO = Path(__file__).resolve().parents[1]
CHART_SEED, BARS, METER = 7, 8, "4/4"
TAKE_SEED, RETAKE_SEED = 0, 1
N_FFT, HOP = 2048, 512
BANDS, F_MIN, F_MAX = 40, 30.0, 16000.0
CELLS_PER_BEAT = 12  # resolves 16ths (3 cells) and 8th-note triplets (4 cells)
ACF_BEATS = 8
FLUX_GAIN = 100.0  # log(1 + gain * magnitude): compression before the flux
SILENT_DBFS = -50.0


@dataclasses.dataclass
class Render:
    """One take: its style, MIDI facts and audio features."""

    name: str
    style: Style
    take: int
    score: midi.Score
    wav: Path | None = None
    envelope_db: np.ndarray | None = None  # (BANDS,) long-term mean power, dB
    onset_grid: np.ndarray | None = None  # (beats * CELLS_PER_BEAT,) onset strength
    rms_dbfs: float = float("nan")
    centroid_hz: float = float("nan")


# ------------------------------------------------------------------ audio features


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """A 16-bit WAV as mono float64 in [-1, 1], and its sample rate."""
    with wave.open(str(path)) as w:
        rate, channels = w.getframerate(), w.getnchannels()
        pcm = np.frombuffer(w.readframes(w.getnframes()), "<i2")
    return pcm.reshape(-1, channels).mean(axis=1) / 32768.0, rate


def power_spectrogram(audio: np.ndarray, n_fft: int = N_FFT, hop: int = HOP) -> np.ndarray:
    """|STFT|^2 of Hann frames, shape (frames, n_fft // 2 + 1); frame k starts at k * hop."""
    padded = np.concatenate([audio, np.zeros(n_fft)])
    frames = 1 + (len(audio) - 1) // hop
    index = np.arange(n_fft)[None, :] + hop * np.arange(frames)[:, None]
    return np.abs(np.fft.rfft(padded[index] * np.hanning(n_fft), axis=1)) ** 2


def mel_filterbank(
    sample_rate: int, n_fft: int = N_FFT, bands: int = BANDS, f_min: float = F_MIN
) -> np.ndarray:
    """Triangular mel filters (HTK mel scale), shape (bands, n_fft // 2 + 1)."""
    f_max = min(F_MAX, sample_rate / 2)
    mel = np.linspace(*(2595 * np.log10(1 + np.array([f_min, f_max]) / 700)), bands + 2)
    edges = 700 * (10 ** (mel / 2595) - 1)
    freqs = np.fft.rfftfreq(n_fft, 1 / sample_rate)
    low, mid, high = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (freqs - low) / (mid - low)
    falling = (high - freqs) / (high - mid)
    return np.maximum(0.0, np.minimum(rising, falling))


def onset_strength(power: np.ndarray, filters: np.ndarray) -> np.ndarray:
    """Spectral flux per frame: positive frame-to-frame increases of the
    log-compressed mel magnitudes, summed over bands. Shape (frames,)."""
    log_mel = np.log1p(FLUX_GAIN * np.sqrt(power @ filters.T))
    flux = np.maximum(np.diff(log_mel, axis=0, prepend=log_mel[:1]), 0.0)
    return flux.sum(axis=1)


def on_beat_grid(onset: np.ndarray, frame_s: float, qpm: float, beats: float) -> np.ndarray:
    """The onset envelope on a grid of `CELLS_PER_BEAT` cells per beat (the largest
    value in each cell), over the first `beats` beats."""
    cells = round(beats * CELLS_PER_BEAT)
    cell = np.floor(np.arange(len(onset)) * frame_s * qpm / 60 * CELLS_PER_BEAT).astype(int)
    keep = cell < cells
    grid = np.zeros(cells)
    np.maximum.at(grid, cell[keep], onset[keep])
    return grid


def autocorrelation(x: np.ndarray, lags: int) -> np.ndarray:
    """Autocorrelation of the mean-removed signal at lags 1..lags, over lag 0."""
    x = x - x.mean()
    full = np.correlate(x, x, mode="full")[len(x) - 1 :]
    return full[1 : lags + 1] / full[0]


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a, b)[0, 1])


def log_spectral_distance(a_db: np.ndarray, b_db: np.ndarray) -> float:
    """RMS over bands of the dB difference, the mean difference (level) removed."""
    d = a_db - b_db
    return float(np.sqrt(np.mean((d - d.mean()) ** 2)))


def analyse_audio(r: Render, beats: float) -> None:
    audio, rate = read_wav(r.wav)
    power = power_spectrogram(audio)
    filters = mel_filterbank(rate)
    mean_power = power.mean(axis=0)
    r.envelope_db = 10 * np.log10(filters @ mean_power + 1e-12)
    freqs = np.fft.rfftfreq(N_FFT, 1 / rate)
    magnitude = np.sqrt(mean_power)
    r.centroid_hz = float(freqs @ magnitude / max(magnitude.sum(), 1e-12))
    r.rms_dbfs = float(20 * np.log10(np.sqrt(np.mean(audio**2)) + 1e-12))
    r.onset_grid = on_beat_grid(onset_strength(power, filters), HOP / rate, r.style.tempo, beats)


# ------------------------------------------------------------------- MIDI features


def onset_in_beat(score: midi.Score) -> np.ndarray:
    """Share of onsets at each 1/12 beat within the beat (nearest cell), shape (12,)."""
    start = notes_of(score).start
    cell = np.floor(start * CELLS_PER_BEAT + 0.5).astype(int) % CELLS_PER_BEAT
    counts = np.bincount(cell, minlength=CELLS_PER_BEAT).astype(float)
    return counts / max(counts.sum(), 1.0)


def profile_similarity(a: midi.Score, b: midi.Score) -> float:
    """groove.eval style-profile similarity, macro over the roles either plays."""
    pa, pb = style_profiles(a, ROLES), style_profiles(b, ROLES)
    per_role = []
    for role in ROLES:
        sims = [style_similarity(pa[role, k], pb[role, k]) for k in ROLE_KINDS[role]]
        sims = [s for s in sims if not np.isnan(s)]  # NaN: neither plays this role
        if sims:
            per_role.append(np.mean(sims))
    return float(np.mean(per_role)) if per_role else float("nan")


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


# ----------------------------------------------------------------------- the run


def make_renders(styles: int) -> list[Render]:
    chart = random_chart(CHART_SEED, bars=BARS, meter=METER)
    renders = []
    for seed in range(1, styles + 1):
        style = Style.random(seed, meter=METER)
        renders.append(Render(f"style{seed}", style, TAKE_SEED, render_score(chart, style, 0)))
    first = renders[0].style
    renders.append(
        Render("style1-retake", first, RETAKE_SEED, render_score(chart, first, RETAKE_SEED))
    )
    return renders


def render_with_cli(
    renders: list[Render], out: Path, sample_rate: int, soundfont: str | None
) -> None:
    """Save the MIDI files, then one `groove render` call for all of them."""
    midi_dir, audio_dir = out / "midi", out / "audio"
    midi_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for r in renders:
        path = midi_dir / f"{r.name}.mid"
        midi.save(r.score, path)
        paths.append(path)
        r.wav = audio_dir / f"{r.name}.wav"
    args = ["render", *map(str, paths), "-o", str(audio_dir), "--sample-rate", str(sample_rate)]
    if soundfont:
        args += ["--soundfont", soundfont]
    print("$ groove " + shlex.join(args))
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "groove.cli", *args], cwd=REPO, capture_output=True, text=True
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"groove render failed ({done.returncode}):\n{done.stderr}")
    audio_s = sum(r.score.duration_seconds + 1.0 for r in renders)
    print(f"  {len(renders)} files, {audio_s:.1f} s of audio in {wall:.1f} s (with start-up)")


def programs(style: Style) -> str:
    parts = [
        f"{role} {p.program} ({pretty_midi.program_to_instrument_name(p.program)})"
        for role, p in style.parts.items()
    ]
    return ", ".join([*parts, f"drums {sorted(style.drums)}" if style.drums else "no drums"])


def describe(r: Render, beats: float) -> str:
    s = r.style
    feel = (
        "straight"
        if s.swing == 0.5
        else f"swing {s.swing:.2f} ({'16ths' if s.swing16 else '8ths'})"
    )
    roles = sorted({role_of(t) for t in r.score.tracks}, key=ROLES.index)
    return (
        f"{r.name:<14} {s.name} (take {r.take}): {s.tempo:.1f} qpm, {feel}, "
        f"{r.score.duration_seconds:.1f} s; roles {'/'.join(roles)}; {programs(s)}; "
        f"{len(r.score.notes)} notes = {len(r.score.notes) / beats:.1f}/beat; "
        f"centroid {r.centroid_hz:.0f} Hz, RMS {r.rms_dbfs:.1f} dBFS"
    )


def print_histograms(renders: list[Render]) -> None:
    print("Onsets within the beat (% of notes, nearest 1/12 beat; 0 = on the beat):")
    cells = " ".join(f"{k:>3}" for k in range(CELLS_PER_BEAT))
    print(f"  {'render':<14} {cells}")
    for r in renders:
        hist = onset_in_beat(r.score)
        print(f"  {r.name:<14} " + " ".join(f"{100 * h:>3.0f}" for h in hist))


def pair_rows(renders: list[Render]) -> list[dict]:
    retake = renders[-1]
    pairs = [(renders[0], retake, "retake")]
    pairs += [(a, b, "styles") for a, b in itertools.combinations(renders[:-1], 2)]
    lags = ACF_BEATS * CELLS_PER_BEAT
    rows = []
    for a, b, kind in pairs:
        rows.append(
            {
                "pair": f"{a.name} / {b.name}",
                "kind": kind,
                "profile": profile_similarity(a.score, b.score),
                "beat-hist": cosine(onset_in_beat(a.score), onset_in_beat(b.score)),
                "LSD dB": log_spectral_distance(a.envelope_db, b.envelope_db),
                "onset r": pearson(a.onset_grid, b.onset_grid),
                "ACF r": pearson(
                    autocorrelation(a.onset_grid, lags), autocorrelation(b.onset_grid, lags)
                ),
            }
        )
    return rows


COLUMNS = ("profile", "beat-hist", "LSD dB", "onset r", "ACF r")
HIGHER_IS_DIFFERENT = {"LSD dB"}


def print_pair_table(rows: list[dict]) -> bool:
    header = f"{'pair':<30} {'kind':<7}" + "".join(f" {c:>9}" for c in COLUMNS)
    print(header)
    print("-" * len(header))
    for row in rows:
        print(f"{row['pair']:<30} {row['kind']:<7}" + "".join(f" {row[c]:>9.3f}" for c in COLUMNS))
    print()
    retake = rows[0]
    others = rows[1:]
    if not others:
        print("only one style: nothing to compare the retake with (use --styles 2 or more)")
        return False
    every = True
    for c in COLUMNS:
        values = np.array([row[c] for row in others])
        more = c in HIGHER_IS_DIFFERENT
        closest = values.min() if more else values.max()  # the least different style pair
        ok = closest > retake[c] if more else closest < retake[c]
        every &= bool(ok)
        print(
            f"{c:<10} retake {retake[c]:7.3f}   style pairs: mean {values.mean():7.3f}, "
            f"least different {closest:7.3f}   every style pair differs more: "
            f"{'yes' if ok else 'no'}"
        )
    return every


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="folder for MIDI and WAV (default: a temp folder)")
    parser.add_argument("--styles", type=int, default=4, help="random 4/4 styles (seeds 1..N)")
    parser.add_argument("--sample-rate", type=int, default=44100, help="render rate, Hz")
    parser.add_argument("--soundfont", help="a .sf2 SoundFont (default: groove's discovery)")
    args = parser.parse_args(argv)
    if args.styles < 1:
        parser.error("--styles must be at least 1")
    out = args.out or Path(tempfile.mkdtemp(prefix="groove-style-audio-"))

    chart = random_chart(CHART_SEED, bars=BARS, meter=METER)
    beats = chart.duration_beats
    print(f"Chart random_chart({CHART_SEED}, bars={BARS}, meter={METER!r}): {chart.to_text()}")
    print(f"SoundFont: {find_soundfont(args.soundfont)}; {args.sample_rate} Hz")
    renders = make_renders(args.styles)
    render_with_cli(renders, out, args.sample_rate, args.soundfont)
    for r in renders:
        analyse_audio(r, beats)
    print()

    print("Renders:")
    for r in renders:
        print("  " + describe(r, beats))
        if r.rms_dbfs < SILENT_DBFS:
            print(f"  warning: {r.name} is nearly silent ({r.rms_dbfs:.1f} dBFS RMS)")
    print()
    print_histograms(renders)
    print()
    print(
        "Pairs: profile and beat-hist from the MIDI (1 = same); LSD dB, onset r and ACF r\n"
        "from the WAV files (LSD: 0 = same spectral envelope; r: 1 = same rhythm)."
    )
    print()
    every = print_pair_table(pair_rows(renders))
    print()
    print(
        f"Different styles differ more than the retake on every measure: {'yes' if every else 'no'}"
    )
    print(f"Files: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
