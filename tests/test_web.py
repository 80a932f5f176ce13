"""`groove serve`: the web app as its users meet it, through a real server.

One `groove serve` process per module (it takes seconds to start: TensorFlow and both
models load once). Against it:

- the API (gradio_client) gives a transfer that is real music as long as the song,
  seeded requests that repeat byte for byte, audible audio and the numbers table; a
  style file's roles with their tracks; bad input as the CLI's one-line message that
  names the user's file and never a server path or a stack trace; compose samples;
- a real browser (headless Chromium, Playwright) uploads the bundled example, plays
  the transfer and composes, and sees a bad upload's message (screenshots go to
  $GROOVE_SCREENSHOTS when set);
- a burst of 8 concurrent transfers all completes, gives the same seeded music, and
  the server's memory does not grow with the number of requests (a summary goes to
  $GROOVE_WEB_LOAD_REPORT when set);
- a clean stop (SIGTERM, as kill, systemd and Docker send; Ctrl+C goes the same
  way) removes the server's temporary folder, and no request leaves its folder behind.

Without gradio, or without chromium or playwright, the tests that need them skip,
except under CI=true, where they must run (scripts/setup.sh installs the web and dev
extras, .ci/run installs chromium).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import wave
from pathlib import Path

import numpy as np
import pytest

from groove import example_path, midi
from groove.midi.roles import role_of
from tests.conftest import IN_CI, smf, smf_track

if not all(importlib.util.find_spec(name) for name in ("gradio", "gradio_client")):
    if IN_CI:  # scripts/setup.sh installs the web extra: its absence is a failure
        raise ImportError("CI=true but gradio is not installed (pip install -e '.[web]')")
    pytest.skip("groove serve needs the web extra: pip install 'groove-music[web]'",
                allow_module_level=True)  # fmt: skip

from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

SONG, STYLE = example_path("song.mid"), example_path("style.mid")
CHORALE = example_path("chorale.mid")  # no drums
START_SECONDS = 180  # TensorFlow's import and two models, on a loaded 2-core machine
STOP_SECONDS = 60
REQUEST_SECONDS = 120  # one request, in the browser
WAIT_MS = REQUEST_SECONDS * 1000  # Playwright's expect waits 5 s unless told
LOAD_REQUESTS = 8
LOAD_SECONDS = 240  # the whole burst (the queue runs one request at a time)
MEMORY_MARGIN = 1.5 * 2**30
# Without the network flags Chromium waits on services it cannot reach (closed network).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


# ---- the server -----------------------------------------------------------------------


@dataclasses.dataclass
class Server:
    url: str
    process: subprocess.Popen
    tmpdir: Path  # the server's TMPDIR: its groove-web-* folder is made here
    log: Path

    def log_tail(self, chars: int = 6000) -> str:
        return self.log.read_text(errors="replace")[-chars:]

    def workdir(self) -> Path:
        """The folder `serve()` made (requests, the outbox, Gradio's upload cache)."""
        found = sorted(self.tmpdir.glob("groove-web-*"))
        assert len(found) == 1, f"expected one groove-web-* folder in {self.tmpdir}: {found}"
        return found[0]

    def memory(self, field: str) -> int:
        """A /proc/<pid>/status memory field (VmRSS: now, VmHWM: peak), in bytes."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        match = re.search(rf"^{field}:\s+(\d+) kB$", status, re.MULTILINE)
        assert match, f"no {field} in /proc/{self.process.pid}/status"
        return int(match.group(1)) * 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(url: str) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def default_sigint() -> None:
    """In the child: Ctrl+C's default, even when this test run ignores SIGINT (a shell
    starts background jobs so), so the server stops the way a user stops it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("serve")
    tmpdir = base / "tmp"
    tmpdir.mkdir()
    log = base / "serve.log"
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    env = dict(os.environ, TMPDIR=str(tmpdir), GRADIO_ANALYTICS_ENABLED="False",
               PYTHONUNBUFFERED="1")  # fmt: skip
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "groove", "serve", "--host", "127.0.0.1", "--port", str(port)],
            stdout=out, stderr=subprocess.STDOUT, env=env, preexec_fn=default_sigint,
        )  # fmt: skip
    running = Server(url, process, tmpdir, log)
    try:
        deadline = time.monotonic() + START_SECONDS
        while not answers(url):
            if process.poll() is not None:
                pytest.fail(f"groove serve exited with {process.returncode} before it "
                            f"answered:\n{running.log_tail()}")  # fmt: skip
            if time.monotonic() > deadline:
                pytest.fail(f"groove serve did not answer {url} within {START_SECONDS} s:\n"
                            f"{running.log_tail()}")  # fmt: skip
            time.sleep(0.5)  # polling for readiness, bounded by the deadline
        yield running
        # No request may leave its folder, or a stack trace, behind (a test that failed
        # may have left one running: it gets the time of a request to end).
        workdir = running.workdir()
        deadline = time.monotonic() + REQUEST_SECONDS
        while list(workdir.glob("request-*")) and time.monotonic() < deadline:
            time.sleep(0.5)  # polling, bounded by the deadline
        assert not list(workdir.glob("request-*")), "a request's folder was left behind"
        assert "Traceback" not in log.read_text(errors="replace"), running.log_tail()
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)  # kill's, systemd's and Docker's stop
            try:
                process.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                pytest.fail(f"groove serve did not stop on SIGTERM:\n{running.log_tail()}")
    assert process.returncode == 0, running.log_tail()
    # serve() removes its folder at exit (atexit): uploads and outputs do not pile up.
    assert not list(tmpdir.glob("groove-web-*")), running.log_tail()


@pytest.fixture(scope="module")
def client(server, tmp_path_factory):
    return Client(server.url, verbose=False,
                  download_files=str(tmp_path_factory.mktemp("downloads")))  # fmt: skip


def transfer(client, content, style=STYLE, roles=(), seed=0):
    """`/transfer`: (wav, image, midi, markdown)."""
    return client.predict(
        handle_file(str(content)), handle_file(str(style)), list(roles), 1.0, 1.0, seed, False,
        api_name="/transfer",
    )  # fmt: skip


# ---- what users check ------------------------------------------------------------------


def read_wav(path) -> tuple[float, float]:
    """(seconds, RMS of the int16 samples)."""
    with wave.open(str(path)) as w:
        assert w.getsampwidth() == 2, "expected 16-bit audio"
        frames = w.readframes(w.getnframes())
        seconds = w.getnframes() / w.getframerate()
    samples = np.frombuffer(frames, np.int16).astype(np.float64)
    return seconds, float(np.sqrt(np.mean(samples**2))) if len(samples) else 0.0


def bar_seconds(score) -> float:
    """Seconds of the first bar (the bundled song keeps one tempo and one metre)."""
    num, den = (4, 4)
    if len(score.time_signatures):
        num, den = int(score.time_signatures[0][1]), int(score.time_signatures[0][2])
    return float(score.seconds(score.ticks_per_beat * 4 * num // den))


def numbers_row(markdown: str, label: str) -> list[float]:
    """The four numbers of a row of the transfer's table."""
    for line in markdown.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0].strip("*") == label:
            return [float("nan") if c == "–" else float(c) for c in cells[1:]]
    raise AssertionError(f"no row {label!r} in the numbers:\n{markdown}")


def assert_one_line_error(error: Exception, name: str, server: Server) -> str:
    message = str(error)
    assert "\n" not in message.strip(), message
    assert message.startswith(f"groove: error: {name}: "), message
    for leak in ("Traceback", "/tmp", "groove-web", str(server.tmpdir)):
        assert leak not in message, message
    return message


@pytest.fixture(scope="module")
def song_transfer(client):
    return transfer(client, SONG)


@pytest.fixture(scope="module")
def song_transfer_midi(song_transfer) -> bytes:
    """The first transfer's MIDI as it came (a later download may reuse the path)."""
    return Path(song_transfer[2]).read_bytes()


# ---- the API ----------------------------------------------------------------------------


def test_a_transfer_is_music_as_long_as_the_song(song_transfer):
    _, _, midi_path, _ = song_transfer
    song, out = midi.load(SONG), midi.load(midi_path)
    assert Path(midi_path).name == "groove-transfer.mid"
    assert len(out.notes) > 0
    assert abs(out.duration_seconds - song.duration_seconds) <= 2 * bar_seconds(song)
    # Every role the style plays (none were named), and only those.
    played = {role_of(out.tracks[t]) for t in np.unique(out.notes["track"])}
    assert played == {"bass", "keys", "guitar", "drums"}


@pytest.mark.slow
def test_the_same_seed_gives_the_same_transfer(client, song_transfer_midi):
    again = transfer(client, SONG)
    assert Path(again[2]).read_bytes() == song_transfer_midi


def test_the_transfer_audio_is_audible_and_as_long_as_the_song(song_transfer):
    wav = song_transfer[0]
    seconds, rms = read_wav(wav)
    song = midi.load(SONG)
    assert abs(seconds - song.duration_seconds) <= 2 * bar_seconds(song)
    assert rms > 100.0  # of 32767: clearly more than silence or dither


def test_the_numbers_show_the_transfer_beside_the_overlay_baseline(song_transfer):
    markdown = song_transfer[3]
    for label in ("this transfer", "baseline: the style looped over the song"):
        row = numbers_row(markdown, label)
        assert len(row) == 4
        content_preservation, style_fit = row[0], row[1]
        assert 0.0 <= content_preservation <= 1.0 and 0.0 <= style_fit <= 1.0, row


def test_the_piano_rolls_are_an_image(song_transfer):
    from PIL import Image

    with Image.open(song_transfer[1]) as image:
        assert image.width > 300 and image.height > 200
        assert len(image.convert("L").getcolors()) > 10  # grey levels: not blank


def test_the_style_roles_name_their_tracks_and_programs(client, tmp_path):
    update = client.predict(handle_file(STYLE), api_name="/style_roles")
    choices = [tuple(choice) for choice in update["choices"]]
    assert [role for _, role in choices] == ["bass", "keys", "guitar", "drums"]
    assert update["value"] == ["bass", "keys", "guitar", "drums"]
    style = midi.load(STYLE)
    for label, role in choices:
        if role == "drums":
            names = [t.name for t in style.tracks if t.is_drum]
            assert label.startswith("drums: ") and any(n in label for n in names), label
        else:
            assert label in {f"{role}: {t.name} (program {t.program})" for t in style.tracks}, label
    # A file that is not MIDI leaves every role to choose and none checked (the page
    # shows a warning), instead of failing the page.
    bad = tmp_path / "bad.mid"
    bad.write_bytes(np.random.default_rng(0).bytes(512))
    update = client.predict(handle_file(str(bad)), api_name="/style_roles")
    assert update["value"] == []
    assert [c if isinstance(c, str) else c[1] for c in update["choices"]] == [
        "bass", "keys", "guitar", "strings", "drums",
    ]  # fmt: skip


def decoding_transfer(client, seed: int):
    """A `/transfer` job of the bundled pair, returned once the server is decoding it
    (it has left the queue)."""
    job = client.submit(
        handle_file(SONG), handle_file(STYLE), [], 1.0, 1.0, seed, False, api_name="/transfer"
    )
    deadline = time.monotonic() + REQUEST_SECONDS
    while job.status().code.name in ("STARTING", "JOINING_QUEUE", "IN_QUEUE", "SENDING_DATA"):
        assert time.monotonic() < deadline, "the transfer never started"
        time.sleep(0.05)  # polling, bounded by the deadline
    return job


@pytest.mark.slow
def test_listing_a_styles_roles_does_not_wait_behind_a_transfer(client, server):
    """A musician uploading a style sees its roles while another request decodes: the
    role listing is outside the decoding's concurrency group (groove.web.CONCURRENCY)."""
    job = decoding_transfer(client, seed=1)
    update = Client(server.url, verbose=False).predict(handle_file(STYLE), api_name="/style_roles")
    answered_first = not job.done()
    job.result(timeout=REQUEST_SECONDS)
    assert [role for _, role in update["choices"]] == ["bass", "keys", "guitar", "drums"]
    assert answered_first, "the role listing waited for the transfer to finish"


@pytest.mark.slow
def test_a_composition_waits_while_a_transfer_decodes(client, server):
    """Transfers and compositions share the decoding slot (groove.web.CONCURRENCY): a
    compose request sent during a transfer is queued, not decoded beside it."""
    job = decoding_transfer(client, seed=2)
    deadline = time.monotonic() + REQUEST_SECONDS
    other = Client(server.url, verbose=False)
    compose = other.submit(None, 2, 1, 1.0, 0.95, 0, api_name="/compose")
    seen = []  # the compose request's status whenever the transfer was decoding
    while not job.done():
        assert time.monotonic() < deadline, "the transfer never finished"
        decoding = job.status().code.name in ("PROCESSING", "PROGRESS")
        state = compose.status().code.name
        if decoding:
            seen.append(state)
        time.sleep(0.05)  # polling, bounded by the deadline
    job.result(timeout=REQUEST_SECONDS)
    compose.result(timeout=REQUEST_SECONDS)
    # The two clients hear the server on their own, so the last look or two may see
    # the composition start before this client hears that the transfer ended: most
    # looks, not all, must find it waiting (sent beside it, none would).
    assert seen.count("IN_QUEUE") >= len(seen) / 2, seen


def test_a_corrupt_upload_is_the_clis_one_line_message(client, server, tmp_path):
    bad = tmp_path / "bad.mid"
    bad.write_bytes(np.random.default_rng(0).bytes(512))
    with pytest.raises(AppError) as caught:
        transfer(client, bad)
    message = assert_one_line_error(caught.value, "bad.mid", server)
    assert "not a Standard MIDI File" in message


def test_a_song_without_notes_is_a_one_line_message(client, server, tmp_path):
    empty = tmp_path / "empty.mid"
    empty.write_bytes(smf([smf_track([])]))
    with pytest.raises(AppError) as caught:
        transfer(client, empty)
    assert "no notes" in assert_one_line_error(caught.value, "empty.mid", server)


def test_a_role_the_style_does_not_play_is_named(client, server):
    with pytest.raises(AppError) as caught:
        transfer(client, SONG, style=CHORALE, roles=["drums"])
    assert "drums" in assert_one_line_error(caught.value, "chorale.mid", server)


@pytest.mark.slow
def test_compose_gives_every_sample_and_audible_audio(client):
    wav, image, files = client.predict(None, 5, 2, 1.0, 0.95, 0, api_name="/compose")
    assert [Path(f).name for f in files] == ["groove-compose-1.mid", "groove-compose-2.mid"]
    scores = [midi.load(f) for f in files]
    assert all(len(score.notes) > 0 for score in scores)
    seconds, rms = read_wav(wav)
    assert seconds > 1.0 and rms > 100.0
    assert Path(image).stat().st_size > 0


# ---- a real browser ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    chromium = shutil.which("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    missing = [name for name, found in (("chromium", chromium), ("playwright", sync_playwright))
               if not found]  # fmt: skip
    if missing:
        reason = f"{' and '.join(missing)} not installed"
        if IN_CI:
            pytest.fail(f"CI=true but {reason} (.ci/run installs chromium, the dev extra "
                        "playwright)")  # fmt: skip
        pytest.skip(reason)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, server):
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.set_default_timeout(REQUEST_SECONDS * 1000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(server.url)
    page.locator("#transfer").wait_for()
    yield page
    page.close()
    assert not errors, f"the page raised: {errors}"


def screenshot(page, tmp_path: Path, name: str) -> None:
    """A full-page screenshot, kept also in $GROOVE_SCREENSHOTS when it is set."""
    path = tmp_path / name
    page.screenshot(path=path, full_page=True)
    folder = os.environ.get("GROOVE_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(folder) / name)


def upload_and_wait_for_roles(page, content) -> None:
    from playwright.sync_api import expect

    page.locator("#content input[type=file]").set_input_files(str(content))
    page.locator("#style input[type=file]").set_input_files(STYLE)
    roles = page.locator("#roles")
    for label in ("bass: Bass (program 36)", "keys: Piano (program 7)", "drums: Drums"):
        expect(roles).to_contain_text(label, timeout=WAIT_MS)
    expect(roles.locator("input[type=checkbox]:checked")).to_have_count(4, timeout=WAIT_MS)


def download(page, link) -> bytes:
    """What the browser gets from a download link."""
    response = page.request.get(link.get_attribute("href"))
    assert response.ok, response.status
    return response.body()


def assert_no_error_shown(page) -> None:
    assert page.locator("[data-testid=toast-body]").count() == 0
    text = page.locator("body").inner_text()
    assert "Error" not in text and "Traceback" not in text


@pytest.mark.slow
def test_the_browser_transfers_and_composes(page, tmp_path):
    from playwright.sync_api import expect

    upload_and_wait_for_roles(page, SONG)
    page.locator("#transfer").click()
    rolls = page.locator("#transfer-rolls img")
    expect(rolls).to_be_visible(timeout=WAIT_MS)
    assert page.evaluate("img => img.complete && img.naturalWidth > 0", rolls.element_handle())
    audio = page.locator("#transfer-audio a[download]")
    expect(audio).to_have_count(1, timeout=WAIT_MS)
    assert download(page, audio)[8:12] == b"WAVE"
    # The player has decoded the audio: it shows the song's length.
    shown = page.locator("#transfer-audio #duration")
    expect(shown).not_to_have_text("0:00", timeout=WAIT_MS)
    minutes, seconds = shown.inner_text().split(":")
    song = midi.load(SONG)
    assert abs(60 * int(minutes) + int(seconds) - song.duration_seconds) <= 2 * bar_seconds(song)
    midi_link = page.locator("#transfer-midi a[download]")
    expect(midi_link).to_have_attribute("download", "groove-transfer.mid", timeout=WAIT_MS)
    assert download(page, midi_link).startswith(b"MThd")
    expect(page.locator("#transfer-numbers")).to_contain_text("this transfer", timeout=WAIT_MS)
    assert_no_error_shown(page)
    screenshot(page, tmp_path, "web-transfer.png")

    page.get_by_role("tab", name="Compose").click()
    page.locator("#compose").click()
    expect(page.locator("#compose-rolls img")).to_be_visible(timeout=WAIT_MS)
    expect(page.locator("#compose-audio a[download]")).to_have_count(1, timeout=WAIT_MS)
    files = page.locator("#compose-midi a[download]")
    expect(files).to_have_count(1, timeout=WAIT_MS)  # one sample unless asked for more
    assert download(page, files.first).startswith(b"MThd")
    expect(page.locator("#compose-audio #duration")).not_to_have_text("0:00", timeout=WAIT_MS)
    assert_no_error_shown(page)
    screenshot(page, tmp_path, "web-compose.png")


@pytest.mark.slow
def test_the_browser_shows_a_bad_uploads_one_line_message(page, tmp_path):
    from playwright.sync_api import expect

    bad = tmp_path / "bad.mid"
    bad.write_bytes(np.random.default_rng(0).bytes(512))
    upload_and_wait_for_roles(page, bad)
    page.locator("#transfer").click()
    toast = page.locator("[data-testid=toast-body]")
    expect(toast).to_contain_text("groove: error: bad.mid: ", timeout=WAIT_MS)
    lines = [line for line in toast.inner_text().splitlines() if "groove" in line]
    assert len(lines) == 1 and lines[0].startswith("groove: error: bad.mid: not a Standard MIDI"), (
        lines
    )
    # The message fades in: the screenshot shows it once it is opaque.
    page.wait_for_function("e => getComputedStyle(e).opacity === '1'",
                           arg=toast.element_handle(), timeout=WAIT_MS)  # fmt: skip
    screenshot(page, tmp_path, "web-error.png")
    text = page.locator("body").inner_text()
    assert "Traceback" not in text and "groove-web" not in text


# ---- load ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_burst_of_transfers_all_finish_and_memory_does_not_grow(server, client, tmp_path):
    song = midi.load(SONG)
    bar = song.ticks_per_beat * 4  # 4/4
    short = tmp_path / "eight-bars.mid"
    midi.save(song.replace(notes=song.notes[song.notes["start"] < 8 * bar]), short)
    roles = ["bass", "drums"]

    began = time.monotonic()
    transfer(client, short, roles=roles)  # alone: every code path warm, and a reference
    alone = time.monotonic() - began
    rss_after_one = server.memory("VmRSS")

    start = threading.Barrier(LOAD_REQUESTS)

    def one(i: int) -> tuple[float, str]:
        own = Client(server.url, verbose=False, download_files=str(tmp_path / f"client-{i}"))
        start.wait(timeout=60)
        began = time.monotonic()
        result = transfer(own, short, roles=roles)
        return time.monotonic() - began, result[2]

    pool = concurrent.futures.ThreadPoolExecutor(LOAD_REQUESTS)
    try:
        futures = [pool.submit(one, i) for i in range(LOAD_REQUESTS)]
        _, pending = concurrent.futures.wait(futures, timeout=LOAD_SECONDS)
        assert not pending, f"{len(pending)} of {LOAD_REQUESTS} requests did not finish"
        results = [f.result() for f in futures]  # raises a request's error
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    peak = server.memory("VmHWM")

    outputs = [Path(path).read_bytes() for _, path in results]
    score = midi.load(results[0][1])
    assert {role_of(score.tracks[t]) for t in np.unique(score.notes["track"])} == set(roles)
    # The shared model serves every request alike: one seed, one answer.
    assert all(out == outputs[0] for out in outputs)

    latencies = sorted(seconds for seconds, _ in results)
    p50, p95 = np.percentile(latencies, [50, 95])
    summary = {
        "requests": LOAD_REQUESTS,
        "alone_s": round(alone, 2),
        "p50_s": round(float(p50), 2),
        "p95_s": round(float(p95), 2),
        "max_s": round(latencies[-1], 2),
        "rss_after_one_mib": round(rss_after_one / 2**20),
        "peak_rss_mib": round(peak / 2**20),
    }
    print(
        f"\ngroove serve load: {LOAD_REQUESTS} concurrent transfers, p50 {p50:.2f} s, "
        f"p95 {p95:.2f} s (one alone {alone:.2f} s), peak RSS {peak / 2**20:.0f} MiB "
        f"(after one request {rss_after_one / 2**20:.0f} MiB)"
    )
    report = os.environ.get("GROOVE_WEB_LOAD_REPORT")
    if report:
        Path(report).write_text(json.dumps(summary, indent=2) + "\n")
    # Requests wait in the queue and run one at a time: memory does not grow per request.
    assert peak < rss_after_one + MEMORY_MARGIN, summary
