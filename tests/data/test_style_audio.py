"""A chart played in two styles sounds different; two takes of one style sound alike.

Real FluidSynth renders (skipped without the library) of a 4-bar chart, compared by
their long-term spectral envelope (mean power in 40 mel bands, dB). The benchmark
`benchmarks/style_audio.py` measures more (rhythm, profiles) on longer renders.
"""

from __future__ import annotations

import numpy as np
import pytest

from groove.data import Style, random_chart, render_score
from groove.errors import RenderError
from groove.render import Renderer

SR = 22050
N_FFT, HOP, BANDS = 1024, 256, 40
# The first two 4/4 style seeds: two archetypes (reggae one-drop and metal).
STYLE_SEEDS = (1, 2)


def mel_filterbank(sample_rate: int, n_fft: int, bands: int, f_min: float = 30.0) -> np.ndarray:
    """Triangular mel filters, shape (bands, n_fft // 2 + 1)."""
    mel = np.linspace(*(2595 * np.log10(1 + np.array([f_min, sample_rate / 2]) / 700)), bands + 2)
    edges = 700 * (10 ** (mel / 2595) - 1)
    freqs = np.fft.rfftfreq(n_fft, 1 / sample_rate)
    low, mid, high = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    return np.maximum(0.0, np.minimum((freqs - low) / (mid - low), (high - freqs) / (high - mid)))


def spectral_envelope(audio: np.ndarray) -> np.ndarray:
    """Long-term average power of the mono mix in `BANDS` mel bands, in dB."""
    mono = audio.astype(np.float64).mean(axis=1)
    padded = np.concatenate([mono, np.zeros(N_FFT)])
    starts = HOP * np.arange(1 + (len(mono) - 1) // HOP)
    frames = padded[starts[:, None] + np.arange(N_FFT)] * np.hanning(N_FFT)
    power = (np.abs(np.fft.rfft(frames, axis=1)) ** 2).mean(axis=0)
    return 10 * np.log10(mel_filterbank(SR, N_FFT, BANDS) @ power + 1e-12)


def envelope_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Log-spectral distance in dB between two renders' envelopes, overall level removed
    (the renders are peak-normalised, so level says little about the style)."""
    d = spectral_envelope(a) - spectral_envelope(b)
    return float(np.sqrt(np.mean((d - d.mean()) ** 2)))


def rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(audio.astype(np.float64) ** 2)))


@pytest.fixture(scope="module")
def takes() -> dict[tuple[int, int], np.ndarray]:
    """(style seed, take seed) -> audio of the chart played in that style."""
    try:
        renderer = Renderer(sample_rate=SR)
    except RenderError as e:
        pytest.skip(f"cannot render with FluidSynth: {e}")
    chart = random_chart(7, bars=4, meter="4/4")
    with renderer:
        return {
            (seed, take): renderer.render(
                render_score(chart, Style.random(seed, meter="4/4"), take)
            )
            for seed in STYLE_SEEDS
            for take in (0, 1)
        }


def test_renders_are_audible_and_takes_differ(takes):
    assert all(rms(audio) > 0.01 for audio in takes.values())
    for seed in STYLE_SEEDS:
        # A retake is another performance (timing, velocity, fills), not a copy.
        a, b = takes[seed, 0], takes[seed, 1]
        assert a.shape != b.shape or not np.array_equal(a, b)


def test_styles_differ_in_spectral_envelope_more_than_retakes(takes):
    first, second = STYLE_SEEDS
    a, b = takes[first, 0], takes[second, 0]
    assert a.shape != b.shape or not np.allclose(a, b)
    between_styles = envelope_distance(a, b)
    within = [envelope_distance(takes[seed, 0], takes[seed, 1]) for seed in STYLE_SEEDS]
    # Measured with TimGM6mb: 3.6 dB between the styles, 0.6 and 0.9 dB between takes.
    assert between_styles > 2 * max(within)
    assert between_styles > 1.5
