"""groove.render: real FluidSynth output, drums on the drum channel, errors."""

from __future__ import annotations

import wave

import numpy as np
import pytest

from groove import example_path, midi
from groove.cli import main
from groove.errors import RenderError
from groove.midi import Track
from groove.render import Renderer, find_soundfont, normalize, render
from tests.conftest import SHARED_MIDI, score_of

SR = 22050


def rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(audio.astype(np.float64) ** 2)))


@pytest.fixture(scope="module")
def renderer():
    with Renderer(sample_rate=SR) as r:
        yield r


def test_band_is_audible_and_as_long_as_the_midi(renderer):
    score = midi.load(example_path("band.mid"))
    audio = renderer.render(score)
    assert audio.dtype == np.float32 and audio.shape[1] == 2
    assert len(audio) / SR == pytest.approx(score.duration_seconds + renderer.tail, abs=0.01)
    assert rms(audio) > 0.02
    assert np.abs(audio).max() == pytest.approx(10 ** (-1 / 20), rel=1e-4)  # -1 dBFS peak


def test_drums_alone_are_audible_and_play_on_the_drum_channel(renderer):
    hits = [(i * 240, i * 240 + 60, 38 if i % 2 else 36, 110, 0) for i in range(16)]
    as_drums = renderer.render(score_of(hits, [Track(0, True, "Drums")]))
    as_piano = renderer.render(score_of(hits, [Track(0, False, "Piano")]))
    assert rms(as_drums) > 0.02
    # If drums were played as piano (a common bug), both renders would be the same.
    assert rms(as_drums - as_piano) > 0.5 * rms(as_piano)


def test_sustain_pedal_holds_notes(renderer):
    dry = score_of([(0, 240, 60, 100, 0)])  # 0.25 s at 120 qpm
    pedalled = dry.replace(pedals=np.array([(120, 1920, 0)], midi.PEDAL_DTYPE))  # to 2 s
    late = slice(int(1.0 * SR), int(1.8 * SR))
    assert rms(renderer.render(pedalled)[late]) > 5 * rms(renderer.render(dry)[late])


def test_renderer_reuse_sounds_like_a_fresh_synth(renderer):
    score = midi.load(example_path("chorale.mid"))
    renderer.render(example_path("band.mid"))
    reused = renderer.render(score)
    with Renderer(sample_rate=SR) as fresh:
        first = fresh.render(score)
    assert reused.shape == first.shape
    # Sample-aligned: only the chorus and reverb modulation phase differ (about
    # -30 dB). Misaligned blocks or notes left from the last render give ~100%.
    assert rms(reused - first) < 0.05 * rms(first)


def test_shared_multitrack_file_with_drums_renders_to_wav(tmp_path):
    path = SHARED_MIDI / "miditok" / "multitrack" / "Funkytown.mid"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    out = tmp_path / "funky.wav"
    assert main(["render", str(path), "-o", str(out), "--sample-rate", str(SR)]) == 0
    with wave.open(str(out)) as w:
        assert w.getnchannels() == 2 and w.getframerate() == SR
        frames = np.frombuffer(w.readframes(w.getnframes()), "<i2")
    assert len(frames) / 2 / SR == pytest.approx(midi.load(path).duration_seconds + 1.0, abs=0.05)
    assert rms(frames / 32768.0) > 0.02


def test_cli_renders_several_files_to_a_folder(tmp_path):
    assert (
        main(
            [
                "render",
                example_path("band.mid"),
                example_path("chorale.mid"),
                "-o",
                str(tmp_path / "audio"),
                "--synth",
                "sine",
            ]
        )
        == 0
    )
    assert sorted(p.name for p in (tmp_path / "audio").iterdir()) == ["band.wav", "chorale.wav"]


def test_sine_synth_needs_no_soundfont(monkeypatch):
    monkeypatch.setenv("GROOVE_SOUNDFONT", "/nowhere/missing.sf2")
    audio = render(example_path("band.mid"), sample_rate=SR, synth="sine")
    assert rms(audio) > 0.02


def test_missing_soundfont_is_a_clear_error(tmp_path, monkeypatch, capsys):
    with pytest.raises(RenderError, match=r"missing\.sf2: no such SoundFont file"):
        Renderer(tmp_path / "missing.sf2")
    monkeypatch.setenv("GROOVE_SOUNDFONT", str(tmp_path / "env.sf2"))
    with pytest.raises(RenderError, match="from GROOVE_SOUNDFONT"):
        find_soundfont()
    code = main(["render", example_path("band.mid"), "-o", str(tmp_path / "x.wav")])
    assert code == 2 and not (tmp_path / "x.wav").exists()
    assert capsys.readouterr().err.count("\n") == 1


def test_soundfont_discovery_order(tmp_path, monkeypatch):
    font = tmp_path / "mine.sf2"
    font.write_bytes(b"RIFF")
    assert find_soundfont(font) == str(font)
    monkeypatch.setenv("GROOVE_SOUNDFONT", str(font))
    assert find_soundfont() == str(font)
    monkeypatch.delenv("GROOVE_SOUNDFONT")
    assert find_soundfont().endswith(".sf2")


def test_normalize_keeps_silence_and_scales_peaks():
    silent = np.zeros((100, 2), np.float32)
    assert not normalize(silent).any()
    loud = np.full((10, 2), 3.0, np.float32)
    assert np.abs(normalize(loud, -6.0)).max() == pytest.approx(10 ** (-6 / 20), rel=1e-5)


def test_bad_output_extension(tmp_path):
    code = main(
        ["render", example_path("band.mid"), "-o", str(tmp_path / "x.mp3"), "--synth", "sine"]
    )
    assert code == 2
