"""`groove serve`: a local web app for style transfer and composition (Gradio).

The app is a face on the Python API and holds no music logic of its own:

- **Transfer** calls `groove.models.transfer.task.transfer_score` (with its progress
  callback driving the page's progress bar), renders with `groove.render.render`,
  draws with `groove.eval.plots.piano_rolls` and scores with
  `groove.eval.systems.score_triple` (the numbers `groove eval transfer` gives).
- **Compose** calls `groove.generate`.

Each model is loaded once per process (`Models`) and shared by every request.
Requests wait in Gradio's queue, at most `QUEUE_SIZE` of them, and
`CONCURRENCY` run at once, so a burst of requests cannot exhaust memory.

Files: every request works in its own temporary folder (`_Request`), which is removed
when the request ends. Uploads are copied in under fixed names (content.mid,
style.mid, primer.mid), so no name a user gives ever becomes part of a server path;
the user's file name appears only in messages. The MIDI files handed back for download
are written to a per-process outbox under the same fixed names, one folder per
request, swept after `OUTBOX_SECONDS` and removed when the server stops. Gradio's own
upload cache lives in a per-process folder (`GRADIO_TEMP_DIR`), also swept after
`OUTBOX_SECONDS` (Blocks' `delete_cache`) and removed at exit.

Bad input is handled as the CLI handles it: a `GrooveError` (or an OSError) becomes
the CLI's one-line message in the page, never a stack trace. Gradio is an optional
extra: `pip install groove-music[web]`.
"""

from __future__ import annotations

import atexit
import dataclasses
import functools
import logging
import math
import os
import shutil
import signal
import tempfile
import threading
import time
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from groove.errors import ConfigError, GrooveError, GrooveWarning, MidiError

# ---- limits (documented in the README's guarantees) --------------------------------
# An upload larger than this is refused (by Gradio's upload route and again here).
MAX_UPLOAD_BYTES = 2 * 1024 * 1024
# A song longer than this is refused: a transfer decodes about 10 s of music per
# second of CPU, and a request holds the one decoding slot for its whole length.
MAX_SONG_SECONDS = 600.0
# Roles generated in one request, at most (every transfer role is five).
MAX_ROLES = 5
# Compose: seconds of new music and samples per request, at most.
MAX_COMPOSE_SECONDS = 60.0
MAX_COMPOSE_SAMPLES = 4
# Requests waiting in the queue beyond which a new one is refused ("queue is full").
QUEUE_SIZE = 16
# Requests decoding at once, transfers and compositions together (one Gradio
# concurrency group). The models use every core for one request, so more would only
# share the CPU and multiply memory. Listing a style file's roles is not in the group.
CONCURRENCY = 1
# Outputs (and Gradio's upload cache) older than this are removed.
OUTBOX_SECONDS = 900
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
SAMPLE_RATE = 44100
# Piano rolls draw the first this many beats of each piece.
ROLL_BEATS = 32.0

log = logging.getLogger("groove.web")

_NEEDS_GRADIO = "groove serve needs the web extra: pip install 'groove-music[web]'"


def _gradio():
    try:
        import gradio
    except ImportError:
        raise ConfigError(_NEEDS_GRADIO) from None
    return gradio


# ---- what the app calls ---------------------------------------------------------------


class Models:
    """The transfer model and the Music Transformer, each loaded on first use, once
    per process, and shared by every request (loading takes seconds; a model is
    read-only while decoding)."""

    def __init__(self, transfer: str | os.PathLike | None = None,
                 lm: str | os.PathLike | None = None):  # fmt: skip
        self.paths = {"transfer": transfer, "music_transformer": lm}
        self.loaded: dict[str, Any] = {}
        self.lock = threading.Lock()

    def get(self, kind: str) -> Any:
        """`(model, tokenizer)` of `kind` ("transfer" or "music_transformer")."""
        with self.lock:
            if kind not in self.loaded:
                from groove.models import saving

                self.loaded[kind] = saving.load(self.paths[kind], kind)
            return self.loaded[kind]

    def check(self) -> None:
        """Load both now (`groove serve` does, so a bad --model fails at start)."""
        self.get("transfer")
        self.get("music_transformer")


class _Request:
    """A request's own temporary folder, removed when the request ends; uploads are
    copied in under fixed names."""

    def __init__(self, workdir: Path):
        self.path = Path(tempfile.mkdtemp(prefix="request-", dir=workdir))

    def __enter__(self) -> _Request:
        return self

    def __exit__(self, *exc: Any) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    def upload(self, given: Any, name: str, what: str) -> tuple[Path, str]:
        """Copy an upload to `name` in this folder; returns the copy and the name to
        show in messages (the user's base name, never used as a path)."""
        if given is None:
            raise ConfigError(f"no {what} file: upload a MIDI file")
        source = Path(given if isinstance(given, (str, os.PathLike)) else given.name)
        shown = source.name or what
        try:
            size = source.stat().st_size
        except OSError:
            raise MidiError(shown, "the upload could not be read; upload it again") from None
        if size > MAX_UPLOAD_BYTES:
            raise MidiError(
                shown, f"the file is {size / 2**20:.1f} MB, over the "
                f"{MAX_UPLOAD_BYTES / 2**20:g} MB limit of an upload",
            )  # fmt: skip
        copy = self.path / name
        shutil.copyfile(source, copy)
        return copy, shown


def _shown(error: Exception, names: dict[str, str]) -> str:
    """The CLI's one-line message, with the request folder's paths replaced by the
    names the user knows."""
    text = str(error)
    if isinstance(error, OSError):
        text = f"{error.filename or ''}: {error.strerror or error}"
    for path, name in names.items():
        text = text.replace(path, name)
    return " ".join(f"groove: error: {text}".split())


def _load(path: Path, shown: str, max_seconds: float | None = None):
    """The upload's score; errors name the user's file, not the copy."""
    from groove import midi

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", GrooveWarning)
            score = midi.load(path)
    except MidiError as e:
        raise MidiError(shown, e.reason) from None
    score = score.replace(source=shown)
    if max_seconds is not None and score.duration_seconds > max_seconds:
        raise MidiError(
            shown,
            f"the song is {score.duration_seconds / 60:.1f} minutes long, over the web "
            f"app's {max_seconds / 60:g}-minute limit (groove transfer on the command line "
            "takes longer songs)",
        )
    return score


def style_roles(style: Any) -> list[tuple[str, str]]:
    """`(label, role)` for each transfer role the style file plays: the label names
    the track the transfer imitates and its General MIDI program."""
    from groove.data.segments import role_score
    from groove.midi.roles import TRANSFER_ROLES

    found = []
    for role in TRANSFER_ROLES:
        part = role_score(style, role)
        if not len(part.notes):
            continue
        tracks = [part.tracks[i] for i in np.unique(part.notes["track"])]
        if role == "drums":
            names = ", ".join(t.name or "(unnamed)" for t in tracks[:3])
            label = f"drums: {names}" + (f" (+{len(tracks) - 3})" if len(tracks) > 3 else "")
        else:
            t = tracks[0]
            label = f"{role}: {t.name or '(unnamed)'} (program {t.program})"
        found.append((label, role))
    return found


@dataclasses.dataclass
class TransferResult:
    """What the transfer tab shows: the MIDI to download, the audio, the piano rolls
    and the numbers (one row per system)."""

    midi: Path
    audio: np.ndarray  # (samples, 2) float32
    rolls: bytes  # PNG
    numbers: dict[str, dict[str, float]]
    notes: int


SYSTEM_LABELS = {
    "output": "this transfer",
    "overlay": "baseline: the style looped over the song",
    "source": "baseline: the song itself",
    "style": "baseline: the style example itself",
}


class App:
    """The app's two jobs as plain functions of files and settings (what the Gradio
    handlers call, and what the tests may call without a server)."""

    def __init__(self, models: Models, workdir: str | os.PathLike | None = None):
        self.models = models
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="groove-web-"))
        self.outbox = self.workdir / "outbox"
        self.outbox.mkdir(parents=True, exist_ok=True)

    def request(self) -> _Request:
        return _Request(self.workdir)

    def _outbox(self, files: dict[str, Path]) -> dict[str, Path]:
        """Move a request's outputs to a fresh outbox folder (swept later: Gradio
        copies them to its cache after the handler returns)."""
        cutoff = time.time() - OUTBOX_SECONDS
        for old in self.outbox.iterdir():
            try:
                if old.stat().st_mtime < cutoff:
                    shutil.rmtree(old, ignore_errors=True)
            except OSError:
                pass
        box = self.outbox / uuid.uuid4().hex
        box.mkdir()
        return {name: Path(shutil.move(path, box / name)) for name, path in files.items()}

    def transfer(
        self,
        content: Any,
        style: Any,
        roles: list[str] | None,
        temperature: float,
        top_p: float | None,
        seed: int | None,
        keep_melody: bool,
        progress: Callable[[float, str], None] | None = None,
    ) -> TransferResult:
        from groove import midi
        from groove.eval.plots import piano_rolls, png
        from groove.eval.systems import Cache, Triple, score_triple
        from groove.midi.roles import role_of
        from groove.models.transfer.task import transfer_score
        from groove.render import render

        report = progress or (lambda fraction, what: None)
        with self.request() as req:
            content_path, content_name = req.upload(content, "content.mid", "song")
            style_path, style_name = req.upload(style, "style.mid", "style")
            names = {str(content_path): content_name, str(style_path): style_name}
            try:
                song = _load(content_path, content_name, MAX_SONG_SECONDS)
                example = _load(style_path, style_name)
                if roles is not None:
                    roles = list(dict.fromkeys(roles))
                    if not roles:
                        raise ConfigError("choose at least one role to play")
                    if len(roles) > MAX_ROLES:
                        raise ConfigError(f"at most {MAX_ROLES} roles at once")
                report(0.0, "loading the model")
                model = self.models.get("transfer")
                report(0.02, "transferring")

                def rows(done: int, total: int) -> None:
                    report(0.8 * done / max(total, 1), f"transferring ({done}/{total} parts)")

                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", GrooveWarning)
                    out = transfer_score(
                        song, example, model, roles=roles, temperature=temperature,
                        top_p=top_p, seed=seed, keep_melody=keep_melody, progress=rows,
                    )  # fmt: skip
                out = out.replace(source="the transfer")
                output_path = req.path / "groove-transfer.mid"
                midi.save(out, output_path)
                report(0.8, "rendering")
                audio = render(out, sample_rate=SAMPLE_RATE)
                report(0.9, "scoring")
                # Style fit over the roles played: the example's other roles say
                # nothing about this output.
                played = roles or sorted({role_of(out.tracks[t])
                                          for t in np.unique(out.notes["track"])})  # fmt: skip
                keep = np.array([role_of(t) in played for t in example.tracks] + [False])
                reference = req.path / "style-roles.mid"
                midi.save(example.replace(notes=example.notes[keep[example.notes["track"]]]),
                          reference)  # fmt: skip
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", GrooveWarning)
                    scored = score_triple(Cache([]), Triple(content_path, reference, output_path))
                numbers = {} if scored is None else scored[1]
                rolls = png(piano_rolls([
                    (f"song: {content_name}", song),
                    (f"style: {style_name}", example),
                    ("transfer", out),
                ], max_beats=ROLL_BEATS))  # fmt: skip
            except (GrooveError, OSError) as e:
                raise _UserError(_shown(e, names)) from None
            [midi_out] = self._outbox({"groove-transfer.mid": output_path}).values()
        report(1.0, "done")
        table = {
            system: {
                "content_preservation": numbers[system]["content_preservation"],
                "style_fit": numbers[system]["style_fit_mean"],
                "chord_tone_rate": numbers[system]["chord_tone_rate"],
                "onset_phase_beat": numbers[system]["onset_phase_beat"],
            }
            for system in SYSTEM_LABELS
            if system in numbers
        }
        return TransferResult(midi_out, audio, rolls, table, len(out.notes))

    def compose(
        self,
        primer: Any,
        seconds: float,
        samples: int,
        temperature: float,
        top_p: float | None,
        seed: int | None,
        progress: Callable[[float, str], None] | None = None,
    ) -> tuple[list[Path], np.ndarray, bytes]:
        """`groove.generate`: the samples' MIDI files, the first sample's audio and the
        piano rolls of every sample."""
        from groove import midi
        from groove.eval.plots import piano_rolls, png
        from groove.models.music_transformer.task import generate
        from groove.render import render

        report = progress or (lambda fraction, what: None)
        if not 0 < seconds <= MAX_COMPOSE_SECONDS:
            raise _UserError(
                f"groove: error: seconds must be more than 0 and at most "
                f"{MAX_COMPOSE_SECONDS:g} in the web app"
            )
        if not 1 <= samples <= MAX_COMPOSE_SAMPLES:
            raise _UserError(f"groove: error: samples must be 1 to {MAX_COMPOSE_SAMPLES}")
        with self.request() as req:
            names: dict[str, str] = {}
            try:
                source = None
                if primer is not None:
                    path, shown = req.upload(primer, "primer.mid", "primer")
                    names[str(path)] = shown
                    source = _load(path, shown, MAX_SONG_SECONDS)
                report(0.0, "loading the model")
                model = self.models.get("music_transformer")
                report(0.1, "composing")
                pms = generate(source, model, seconds=float(seconds), num_samples=int(samples),
                               temperature=temperature, top_p=top_p, seed=seed)  # fmt: skip
                scores = [midi.load(pm) for pm in pms]
                files = {}
                for i, score in enumerate(scores, 1):
                    files[f"groove-compose-{i}.mid"] = req.path / f"groove-compose-{i}.mid"
                    midi.save(score, files[f"groove-compose-{i}.mid"])
                report(0.8, "rendering")
                audio = render(scores[0], sample_rate=SAMPLE_RATE)
                rolls = png(piano_rolls([(f"sample {i}", s) for i, s in enumerate(scores, 1)],
                                        max_beats=ROLL_BEATS))  # fmt: skip
            except (GrooveError, OSError) as e:
                raise _UserError(_shown(e, names)) from None
            out = list(self._outbox(files).values())
        report(1.0, "done")
        return out, audio, rolls

    def close(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)


class _UserError(Exception):
    """A one-line message for the page (the CLI's, for the same mistake)."""


def _number(value: float) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:.3f}"


def numbers_markdown(numbers: dict[str, dict[str, float]]) -> str:
    """The transfer's numbers beside the baselines, as a Markdown table."""
    if not numbers:
        return "No numbers: the output could not be scored."
    rows = [
        "| | content preservation | style fit | chord tones | beat phase |",
        "|---|---|---|---|---|",
    ]
    for system, values in numbers.items():
        label = SYSTEM_LABELS[system]
        label = f"**{label}**" if system == "output" else label
        rows.append(
            f"| {label} | {_number(values['content_preservation'])} | "
            f"{_number(values['style_fit'])} | {_number(values['chord_tone_rate'])} | "
            f"{_number(values['onset_phase_beat'])} |"
        )
    rows.append("")
    rows.append(
        "Content preservation: chroma similarity with the song (1 keeps its harmony "
        "exactly). Style fit: similarity of rhythm and pitch profiles with the style "
        "example, over the roles played. Chord tones: notes that belong to the song's "
        "harmony of the moment. Beat phase: where onsets fall in the beat, against the "
        "example. `groove eval transfer` explains each."
    )
    return "\n".join(rows)


# ---- the page ----------------------------------------------------------------------------


def _audio(audio: np.ndarray) -> tuple[int, np.ndarray]:
    """Float audio as Gradio's (rate, int16 samples)."""
    return SAMPLE_RATE, np.clip(np.rint(audio * 32767.0), -32768, 32767).astype(np.int16)


def _image(data: bytes):
    import io

    from PIL import Image

    return Image.open(io.BytesIO(data))


def _seed(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, float) and not value.is_integer():
        raise _UserError("groove: error: the seed must be a whole number")
    return int(value)


def _top_p(value: Any) -> float | None:
    return None if value is None or float(value) >= 1.0 else float(value)


def build(app: App):
    """The Gradio Blocks of the app (not launched)."""
    gr = _gradio()
    from groove import example_path
    from groove.midi.roles import TRANSFER_ROLES

    def fail(message: str):
        return gr.Error(message, print_exception=False)

    def guarded(fn):
        def run(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except _UserError as e:
                raise fail(str(e)) from None
            except Exception:  # a bug: the log has the traceback, the page one line
                log.exception("groove serve: request failed")
                raise fail("groove: internal error (the server's log has the details)") from None

        return functools.wraps(fn)(run)  # (the API page names the real parameters)

    def on_style(style):
        if style is None:
            return gr.update(choices=list(TRANSFER_ROLES), value=[])
        with app.request() as req:
            try:
                path, shown = req.upload(style, "style.mid", "style")
                found = style_roles(_load(path, shown))
            except (GrooveError, OSError) as e:
                gr.Warning(_shown(e, {}))
                return gr.update(choices=list(TRANSFER_ROLES), value=[])
        return gr.update(choices=found, value=[role for _, role in found])

    def on_transfer(content, style, roles, temperature, top_p, seed, keep_melody,
                    progress=gr.Progress()):  # noqa: B008 (Gradio injects it)  # fmt: skip
        """Play the song again in the style of the example."""
        result = app.transfer(
            content, style, list(roles) if roles else None, float(temperature),
            _top_p(top_p), _seed(seed), bool(keep_melody),
            progress=lambda f, what: progress(f, desc=what),
        )  # fmt: skip
        return (
            _audio(result.audio),
            _image(result.rolls),
            str(result.midi),
            numbers_markdown(result.numbers),
        )

    def on_compose(primer, seconds, samples, temperature, top_p, seed,
                   progress=gr.Progress()):  # noqa: B008 (Gradio injects it)  # fmt: skip
        """Compose, or continue the primer, with the Music Transformer."""
        files, audio, rolls = app.compose(
            primer, float(seconds), int(samples), float(temperature), _top_p(top_p),
            _seed(seed), progress=lambda f, what: progress(f, desc=what),
        )  # fmt: skip
        return _audio(audio), _image(rolls), [str(f) for f in files]

    def sampling(top_p: float):
        """Both tabs' sampling controls: temperature, top-p and seed."""
        return (
            gr.Slider(0.0, 1.5, value=1.0, step=0.05, label="Temperature (0: greedy)"),
            gr.Slider(0.05, 1.0, value=top_p, step=0.05, label="Top-p (1: off)"),
            gr.Number(value=0, precision=0, label="Seed"),
        )

    with gr.Blocks(title="groove", delete_cache=(OUTBOX_SECONDS, OUTBOX_SECONDS)) as blocks:
        gr.Markdown(
            "# groove\nPlay a song again in the style of a short example, or compose "
            "with a Music Transformer. MIDI in, MIDI and audio out. "
            f"Uploads up to {MAX_UPLOAD_BYTES // 2**20} MB; songs up to "
            f"{MAX_SONG_SECONDS / 60:g} minutes."
        )
        with gr.Tab("Transfer"):
            with gr.Row():
                with gr.Column():
                    content = gr.File(label="Song (content MIDI)", file_types=[".mid", ".midi"],
                                      elem_id="content")  # fmt: skip
                    style = gr.File(label="Style example (MIDI)", file_types=[".mid", ".midi"],
                                    elem_id="style")  # fmt: skip
                    gr.Examples(
                        [[example_path("song.mid"), example_path("style.mid")]],
                        inputs=[content, style],
                        label="Bundled example",
                    )
                    # Every role is a choice until a style file names what it plays (an
                    # API client may name roles without uploading through the page).
                    roles = gr.CheckboxGroup(
                        label="Roles to play (none checked: every role the style file plays)",
                        choices=list(TRANSFER_ROLES), elem_id="roles",
                    )  # fmt: skip
                    with gr.Accordion("Sampling", open=False):
                        temperature, top_p, seed = sampling(top_p=1.0)
                        keep_melody = gr.Checkbox(label="Keep the song's melody")
                    go = gr.Button("Transfer", variant="primary", elem_id="transfer")
                with gr.Column():
                    audio = gr.Audio(label="Result", type="numpy", interactive=False,
                                     elem_id="transfer-audio")  # fmt: skip
                    # (a Markdown caption: Gradio's label would cover the image's top)
                    gr.Markdown("Piano rolls by role: song, style, transfer (first 32 beats)")
                    rolls = gr.Image(show_label=False, type="pil", interactive=False,
                                     elem_id="transfer-rolls")  # fmt: skip
                    download = gr.File(label="MIDI", interactive=False, elem_id="transfer-midi")
                    numbers = gr.Markdown(elem_id="transfer-numbers")
            style.change(on_style, style, roles, api_name="style_roles")
            go.click(
                guarded(on_transfer),
                [content, style, roles, temperature, top_p, seed, keep_melody],
                [audio, rolls, download, numbers],
                api_name="transfer",
                concurrency_id="decode",
            )
        with gr.Tab("Compose"):
            with gr.Row():
                with gr.Column():
                    primer = gr.File(label="Primer to continue (optional MIDI)",
                                     file_types=[".mid", ".midi"], elem_id="primer")  # fmt: skip
                    seconds = gr.Slider(1, MAX_COMPOSE_SECONDS, value=10, step=1,
                                        label="Seconds of new music")  # fmt: skip
                    samples = gr.Slider(1, MAX_COMPOSE_SAMPLES, value=1, step=1, label="Samples")
                    with gr.Accordion("Sampling", open=False):
                        c_temperature, c_top_p, c_seed = sampling(top_p=0.95)
                    compose = gr.Button("Compose", variant="primary", elem_id="compose")
                with gr.Column():
                    c_audio = gr.Audio(label="Sample 1", type="numpy", interactive=False,
                                       elem_id="compose-audio")  # fmt: skip
                    gr.Markdown("Piano rolls of every sample (first 32 beats)")
                    c_rolls = gr.Image(show_label=False, type="pil", interactive=False,
                                       elem_id="compose-rolls")  # fmt: skip
                    c_files = gr.File(label="MIDI", file_count="multiple", interactive=False,
                                      elem_id="compose-midi")  # fmt: skip
            compose.click(
                guarded(on_compose),
                [primer, seconds, samples, c_temperature, c_top_p, c_seed],
                [c_audio, c_rolls, c_files],
                api_name="compose",
                concurrency_id="decode",
            )
    blocks.queue(max_size=QUEUE_SIZE, default_concurrency_limit=CONCURRENCY)
    return blocks


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def serve(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    model: str | os.PathLike | None = None,
    lm_model: str | os.PathLike | None = None,
    *,
    open_browser: bool = False,
) -> None:
    """Load the models, then serve the app until interrupted (`groove serve`)."""
    workdir = Path(tempfile.mkdtemp(prefix="groove-web-"))
    atexit.register(shutil.rmtree, workdir, True)
    # Gradio's upload cache: this process's own folder (read when gradio is imported).
    os.environ["GRADIO_TEMP_DIR"] = str(workdir / "gradio")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    _gradio()  # (the extra's message before any loading)
    models = Models(model, lm_model)
    models.check()
    app = App(models, workdir)
    blocks = build(app)
    # Gradio stops cleanly on Ctrl+C only; kill, systemd and Docker send SIGTERM. Take it
    # the same way, so atexit removes the server's folder.
    signal.signal(signal.SIGTERM, _interrupt)
    allowed = str(Path(__file__).with_name("examples"))
    blocks.launch(
        server_name=host,
        server_port=port,
        max_file_size=MAX_UPLOAD_BYTES,
        allowed_paths=[allowed],
        inbrowser=open_browser,
        show_error=True,
        quiet=False,
    )
