"""MIDI to audio, through FluidSynth (pyfluidsynth) or a dependency-free sine synth.

    >>> from groove.render import render, render_to_file
    >>> audio = render("song.mid")                      # doctest: +SKIP
    >>> render_to_file("song.mid", "song.wav")          # doctest: +SKIP

Audio is float32, shape (samples, 2), in [-1, 1]. Loudness is normalised by peak:
the loudest sample is scaled to `peak_dbfs` (-1 dBFS by default), so renders of
different files sit at a comparable, never-clipping level. A `Renderer` keeps one
synthesizer, so a batch loads the SoundFont once.
"""

from __future__ import annotations

import os
import wave
from pathlib import Path
from typing import Any

import numpy as np

from groove import midi as gmidi
from groove.errors import RenderError
from groove.fileio import atomic_path

SYSTEM_SOUNDFONTS = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
    "/usr/share/soundfonts/default.sf2",
)
FLUIDSYNTH_INSTALL = "apt-get install -y --no-install-recommends fluidsynth"
DRUM_CHANNEL = 9  # General MIDI channel 10
PERCUSSION_BANK = 128  # SoundFont bank of the GM drum kits
# The longest audio rendered at once, in frames (one sample per channel): an hour at
# 44.1 kHz (half an hour at 88.2 kHz). The audio is held in memory as float32 stereo,
# 1.3 GB at this length; a longer render (a 6-hour file asked for 7.5 GB) is a
# `RenderError` before anything is allocated. Render long pieces in parts.
MAX_RENDER_FRAMES = 3600 * 44100
# Frames converted to 16-bit PCM and written at a time.
_WRITE_FRAMES = 1 << 20
# FluidSynth synthesises in blocks of 64 samples and applies events at block
# boundaries (FLUID_BUFSIZE); each render starts on one, so a reused synth
# renders a file exactly as a fresh one does.
_FLUID_BLOCK = 64


def find_soundfont(soundfont: str | os.PathLike | None = None) -> str:
    """The SoundFont to use, in this order: `soundfont`, the `GROOVE_SOUNDFONT`
    environment variable, a system General MIDI font, the small font that
    pretty_midi ships (TimGM6mb)."""
    for explicit, origin in (
        (soundfont, "soundfont"),
        (os.environ.get("GROOVE_SOUNDFONT"), "GROOVE_SOUNDFONT"),
    ):
        if explicit:
            if not os.path.isfile(explicit):
                raise RenderError(f"{explicit}: no such SoundFont file (from {origin})")
            return os.fspath(explicit)
    for path in SYSTEM_SOUNDFONTS:
        if os.path.isfile(path):
            return path
    import pretty_midi

    shipped = Path(pretty_midi.__file__).with_name("TimGM6mb.sf2")
    if shipped.is_file():
        return str(shipped)
    raise RenderError("no SoundFont found: pass one with --soundfont or set GROOVE_SOUNDFONT")


def _events(score: gmidi.Score) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Note events in time order, offs before ons at equal times:
    (seconds, is_on, index into `score.notes`)."""
    n = len(score.notes)
    times = np.concatenate([score.seconds(score.notes["end"]), score.seconds(score.notes["start"])])
    is_on = np.concatenate([np.zeros(n, bool), np.ones(n, bool)])
    index = np.concatenate([np.arange(n), np.arange(n)])
    order = np.lexsort((is_on, times))
    return times[order], is_on[order], index[order]


class Renderer:
    """A reusable synthesizer.

    Args:
        soundfont: SoundFont path (see `find_soundfont`); unused by the sine synth.
        sample_rate: Samples per second.
        synth: "fluidsynth" or "sine" (no dependencies; a rough sketch of the music).
        tail: Seconds rendered after the last note ends, for the release and reverb.
        peak_dbfs: Peak level of the normalised output; None leaves the level as is.
    """

    def __init__(
        self,
        soundfont: str | os.PathLike | None = None,
        sample_rate: int = 44100,
        synth: str = "fluidsynth",
        tail: float = 1.0,
        peak_dbfs: float | None = -1.0,
    ):
        if synth not in ("fluidsynth", "sine"):
            raise RenderError(f"unknown synth {synth!r}: use fluidsynth or sine")
        if not 8000 <= sample_rate <= 192000:
            raise RenderError(f"sample rate {sample_rate} is outside 8000-192000 Hz")
        self.sample_rate = int(sample_rate)
        self.synth = synth
        self.tail = float(tail)
        self.peak_dbfs = peak_dbfs
        self._fs = None
        self._pulled = 0  # samples taken from the synth, to realign on its blocks
        if synth == "fluidsynth":
            self.soundfont = find_soundfont(soundfont)
            try:
                import fluidsynth
            except ImportError as e:  # pyfluidsynth raises this when libfluidsynth is absent
                raise RenderError(
                    f"the FluidSynth library is not installed ({e}); install it with "
                    f"'{FLUIDSYNTH_INSTALL}', or use the sine synth (--synth sine)"
                ) from None
            self._fs = fluidsynth.Synth(samplerate=float(self.sample_rate), gain=0.5)
            self._sfid = self._fs.sfload(self.soundfont)
            if self._sfid < 0:
                self.close()
                raise RenderError(f"{self.soundfont}: FluidSynth cannot load this SoundFont")
        else:
            self.soundfont = None

    def __enter__(self) -> Renderer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Free the synthesizer."""
        if self._fs is not None:
            self._fs.delete()
            self._fs = None

    def render(self, midi: Any) -> np.ndarray:
        """Render a MIDI source (path, PrettyMIDI, Score...) to float32 (samples, 2).
        Notes held by the sustain pedal sound until its release."""
        score = gmidi.apply_sustain(gmidi.load(midi))
        seconds = score.duration_seconds + self.tail
        length = int(np.ceil(seconds * self.sample_rate))
        if length > MAX_RENDER_FRAMES:
            raise RenderError(
                f"{score.source or 'the music'}: {seconds:.0f} s of audio at {self.sample_rate} Hz "
                f"is more than the {MAX_RENDER_FRAMES:,} frames rendered at once "
                f"({MAX_RENDER_FRAMES / self.sample_rate:.0f} s); render it in parts"
            )
        if self.synth == "sine":
            audio = _render_sine(score, self.sample_rate, length)
        else:
            audio = self._render_fluidsynth(score, length)
        return _normalize_in_place(audio, self.peak_dbfs)

    def _render_fluidsynth(self, score: gmidi.Score, length: int) -> np.ndarray:
        fs = self._fs
        if fs is None:
            raise RenderError("this Renderer is closed")
        fs.system_reset()  # a clean state between renders of a batch
        if self._pulled:
            # Let the previous render ring out for a second, then realign on a block.
            drain = self.sample_rate + (-(self._pulled + self.sample_rate)) % _FLUID_BLOCK
            fs.get_samples(drain)
            self._pulled = 0
        channel_of_track = np.array(self._assign_channels(score), np.int64)
        times, is_on, index = _events(score)
        notes = score.notes[index]
        samples = np.rint(times * self.sample_rate).astype(np.int64).tolist()
        channels = channel_of_track[notes["track"]].tolist()
        pitches = notes["pitch"].tolist()
        velocities = np.maximum(notes["velocity"], 1).tolist()
        # Filled block by block: the audio is held once, as float32.
        audio = np.zeros((length, 2), np.float32)
        done = 0

        def pull(n: int) -> None:
            block = fs.get_samples(n).reshape(-1, 2)
            keep = block[: max(length - done, 0)]
            audio[done : done + len(keep)] = keep.astype(np.float32) / 32768.0

        for at, on, channel, pitch, velocity in zip(
            samples, is_on.tolist(), channels, pitches, velocities
        ):
            if at > done:
                pull(at - done)
                done = at
            if on:
                fs.noteon(channel, pitch, velocity)
            else:
                fs.noteoff(channel, pitch)
        if length > done:
            pull(length - done)
        self._pulled = max(done, length)
        return audio

    def _assign_channels(self, score: gmidi.Score) -> list[int]:
        """Drums on channel 10 with a percussion bank; each program on its own channel."""
        melodic = [c for c in range(16) if c != DRUM_CHANNEL]
        programs: dict[int, int] = {}
        channels = []
        for track in score.tracks:
            if track.is_drum:
                self._fs.program_select(DRUM_CHANNEL, self._sfid, PERCUSSION_BANK, track.program)
                channels.append(DRUM_CHANNEL)
                continue
            if track.program not in programs:
                # Past 15 programs the channels are shared: MIDI has 16.
                channel = melodic[len(programs) % len(melodic)]
                programs[track.program] = channel
                self._fs.program_select(channel, self._sfid, 0, track.program)
            channels.append(programs[track.program])
        return channels


def _render_sine(score: gmidi.Score, sample_rate: int, length: int) -> np.ndarray:
    """Additive sines with a decaying envelope; drums as short noise bursts."""
    out = np.zeros(length, np.float32)  # mono: made stereo at the end
    drum = np.array([t.is_drum for t in score.tracks] + [False], bool)[score.notes["track"]]
    starts = np.rint(score.seconds(score.notes["start"]) * sample_rate).astype(np.int64)
    ends = np.rint(score.seconds(score.notes["end"]) * sample_rate).astype(np.int64)
    rng = np.random.default_rng(0)
    for s, e, p, v, d in zip(starts, ends, score.notes["pitch"], score.notes["velocity"], drum):
        n = (
            int(min(max(e - s, 1), length - s))
            if not d
            else int(min(0.08 * sample_rate, length - s))
        )
        if n <= 0:
            continue
        t = np.arange(n, dtype=np.float32) / sample_rate
        amp = (float(v) / 127.0) * np.exp(-3.0 * t)
        if d:
            wave_ = rng.standard_normal(n).astype(np.float32) * np.exp(-40.0 * t)
        else:
            freq = 440.0 * 2 ** ((float(p) - 69) / 12)
            wave_ = np.sin(2 * np.pi * freq * t)
            fade = min(n, int(0.005 * sample_rate))  # 5 ms ramps: no clicks
            wave_[:fade] *= np.linspace(0, 1, fade, dtype=np.float32)
            wave_[n - fade :] *= np.linspace(1, 0, fade, dtype=np.float32)
        out[s : s + n] += (amp * wave_).astype(np.float32)
    return np.repeat(out[:, None], 2, axis=1)


def normalize(audio: np.ndarray, peak_dbfs: float | None = -1.0) -> np.ndarray:
    """Scale so the largest absolute sample is `peak_dbfs` dB below full scale.
    Silence stays silent; None returns `audio` unchanged."""
    if peak_dbfs is None:
        return audio
    peak = float(np.abs(audio).max()) if audio.size else 0.0
    if peak == 0.0:
        return audio
    return (audio * (10 ** (peak_dbfs / 20) / peak)).astype(np.float32)


def _normalize_in_place(audio: np.ndarray, peak_dbfs: float | None) -> np.ndarray:
    """`normalize`, scaling float32 `audio` in place (a long render is held once)."""
    if peak_dbfs is None or audio.dtype != np.float32:
        return normalize(audio, peak_dbfs)
    peak = float(np.abs(audio).max()) if audio.size else 0.0
    if peak > 0.0:
        np.multiply(audio, 10 ** (peak_dbfs / 20) / peak, out=audio)
    return audio


def render(
    midi: Any,
    soundfont: str | os.PathLike | None = None,
    sample_rate: int = 44100,
    synth: str = "fluidsynth",
) -> np.ndarray:
    """Render one MIDI source to float32 stereo audio, shape (samples, 2)."""
    with Renderer(soundfont, sample_rate, synth) as renderer:
        return renderer.render(midi)


def write_audio(audio: np.ndarray, path: str | os.PathLike, sample_rate: int) -> None:
    """Write float audio as 16-bit WAV, or FLAC when the path ends in .flac (needs
    the optional `soundfile` package). Written to a temporary file, then renamed."""
    path = os.fspath(path)
    channels = audio.shape[1] if audio.ndim == 2 else 1

    def blocks():  # 16-bit PCM, a block at a time (a long render is not copied whole)
        for at in range(0, len(audio), _WRITE_FRAMES):
            chunk = audio[at : at + _WRITE_FRAMES]
            yield np.clip(np.rint(chunk * 32767.0), -32768, 32767).astype("<i2")

    if path.lower().endswith(".flac"):
        try:
            import soundfile
        except ImportError:
            raise RenderError(f"{path}: FLAC output needs 'pip install soundfile'") from None
        with (
            atomic_path(path) as tmp,
            soundfile.SoundFile(
                tmp, "w", sample_rate, channels, subtype="PCM_16", format="FLAC"
            ) as f,
        ):
            for pcm in blocks():
                f.write(pcm)
        return
    if not path.lower().endswith(".wav"):
        raise RenderError(f"{path}: write .wav or .flac")
    with atomic_path(path) as tmp, wave.open(tmp, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        for pcm in blocks():
            w.writeframes(pcm.tobytes())


def render_to_file(
    midi: Any,
    path: str | os.PathLike,
    soundfont: str | os.PathLike | None = None,
    sample_rate: int = 44100,
    synth: str = "fluidsynth",
) -> None:
    """Render one MIDI source and write it as WAV (or FLAC)."""
    write_audio(render(midi, soundfont, sample_rate, synth), path, sample_rate)
