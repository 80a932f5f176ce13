"""End to end: the command line's flags do what they say.

`groove detokenize --tempo` puts notes at the right seconds; `groove transfer
--keep-melody` copies the song's melody track unchanged; `--temperature`, `--top-k`
and `--top-p` reach the sampler (top-k 1 and a vanishing top-p are greedy decoding,
which is deterministic); `groove train --mixed-precision` trains in mixed precision;
and a bad input file gives exactly one line on stderr, exit code 2, and no output.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pretty_midi
import pytest

from groove import example_path, midi
from groove.cli import main
from groove.data import build_lm_corpus
from groove.midi import Track

CLI = "import sys; from groove.cli import main; sys.exit(main(sys.argv[1:]))"
SONG, STYLE = example_path("song.mid"), example_path("style.mid")
MELODY = Track(73, False, "Melody")  # a flute above everything the song plays


def notes_in_seconds(path, name=None):
    """(start, end, pitch, velocity) of the notes of a MIDI file (of one instrument)."""
    pm = pretty_midi.PrettyMIDI(str(path))
    return sorted(
        (round(n.start, 4), round(n.end, 4), n.pitch, n.velocity)
        for inst in pm.instruments
        if name is None or inst.name == name
        for n in inst.notes
    )


# ---------------------------------------------------------------- detokenize --tempo


@pytest.mark.parametrize("tempo", [90.0, 150.0])
def test_detokenize_tempo_puts_beat_tokens_at_the_right_seconds(tempo, tmp_path):
    # A quarter note on C4, a quarter rest, then a half note on E4 (12 steps a beat).
    tokens = ["NOTE_ON_60", "TIME_SHIFT_12", "NOTE_OFF_60", "TIME_SHIFT_12",
              "NOTE_ON_64", "TIME_SHIFT_24", "NOTE_OFF_64"]  # fmt: skip
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"file": "x.mid", "tokens": tokens}) + "\n")
    out = tmp_path / "out.mid"
    argv = ["detokenize", str(source), "-t", "beat", "-o", str(out), "--tempo", str(tempo)]
    assert main(argv) == 0
    beat = 60.0 / tempo
    got = [(start, end, pitch) for start, end, pitch, _ in notes_in_seconds(out)]
    want = [(0.0, beat, 60), (2 * beat, 4 * beat, 64)]
    np.testing.assert_allclose(np.array(got), np.array(want), atol=2e-3)
    _, tempi = pretty_midi.PrettyMIDI(str(out)).get_tempo_changes()
    assert tempi.tolist() == pytest.approx([tempo], rel=1e-4)


# ----------------------------------------------- transfer --keep-melody and sampling


@pytest.fixture(scope="module")
def song_with_melody(tmp_path_factory):
    """The bundled song plus a flute melody track, the highest part."""
    song = midi.load(SONG)
    tpb = song.ticks_per_beat
    beats = int(song.notes["end"].max() // tpb)
    pitches = [84, 86, 88, 91, 89, 88, 86, 83]
    line = midi.make_notes(
        start=[b * tpb for b in range(beats)],
        end=[b * tpb + tpb * 3 // 4 for b in range(beats)],
        pitch=[pitches[b % len(pitches)] for b in range(beats)],
        velocity=[70 + (b % 5) * 9 for b in range(beats)],
        track=len(song.tracks),
    )
    score = song.replace(
        notes=midi.sort_notes(np.concatenate([song.notes, line])),
        tracks=[*song.tracks, MELODY],
    )
    path = tmp_path_factory.mktemp("e2e_cli") / "song-with-melody.mid"
    midi.save(score, path)
    return path


@pytest.fixture(scope="module")
def transfers(song_with_melody, tmp_path_factory):
    """`groove transfer --roles bass --keep-melody` outputs, by sampling options.

    Without the style example's feel and levels: a sampled transfer (temperature
    above 0, whatever top-k or top-p) draws those from the example, so only the
    decoder's own choices can be compared byte for byte with greedy decoding's.
    """
    folder = tmp_path_factory.mktemp("e2e_cli_out")
    runs = {
        "greedy": ["--temperature", "0"],
        "top-k 1": ["--top-k", "1", "--seed", "7"],
        "top-p tiny": ["--top-p", "1e-9", "--seed", "8"],
        "sampled": ["--temperature", "1", "--seed", "7"],
    }
    out = {}
    for name, options in runs.items():
        path = folder / f"{name.replace(' ', '-')}.mid"
        argv = ["transfer", str(song_with_melody), STYLE, "-o", str(path), "--roles", "bass"]
        assert main([*argv, "--keep-melody", "--no-feel", "--no-dynamics", *options]) == 0, name
        out[name] = path
    return out


def test_keep_melody_copies_the_melody_track_unchanged(song_with_melody, transfers):
    melody = notes_in_seconds(song_with_melody, MELODY.name)
    assert len(melody) > 50
    for name, path in transfers.items():
        out = midi.load(path)
        assert [(t.name, t.program, t.is_drum) for t in out.tracks] == [
            ("Bass", 36, False),  # the style example's bass
            (MELODY.name, MELODY.program, MELODY.is_drum),
        ], name
        assert notes_in_seconds(path, MELODY.name) == melody, name


def test_transfer_top_k_1_and_a_tiny_top_p_are_greedy_and_sampling_differs(transfers):
    greedy = transfers["greedy"].read_bytes()
    assert transfers["top-k 1"].read_bytes() == greedy
    assert transfers["top-p tiny"].read_bytes() == greedy
    assert transfers["sampled"].read_bytes() != greedy


def test_generate_sampling_options_reach_the_sampler(tmp_path):
    def run(name, *options):
        path = tmp_path / f"{name}.mid"
        assert main(["generate", "-o", str(path), "--seconds", "1", *options]) == 0
        return path.read_bytes()

    greedy = run("greedy", "--temperature", "0")
    assert len(notes_in_seconds(tmp_path / "greedy.mid")) > 0
    assert run("greedy-again", "--temperature", "0") == greedy  # deterministic
    assert run("top-k-1", "--top-k", "1", "--seed", "3") == greedy
    assert run("sampled", "--temperature", "1", "--seed", "3") != greedy


# ------------------------------------------------------- train --mixed-precision


def test_train_mixed_precision_from_the_command_line(tmp_path, capsys):
    build_lm_corpus(["music21:bach"], tmp_path / "data", limit=4, progress=False)
    config = tmp_path / "tiny.toml"
    config.write_text(
        '[model]\npreset = "tiny"\ncontext = 32\n[train]\nbatch_size = 4\nsteps = 2\n'
        "eval_every = 2\nwarmup_steps = 1\nval_batches = 1\n"
    )
    argv = ["train", "lm", "--data", str(tmp_path / "data"), "--config", str(config)]
    argv += ["--strategy", "cpu", "-q"]
    assert main([*argv, "--out", str(tmp_path / "mixed"), "--mixed-precision"]) == 0
    assert "groove: 2 steps" in capsys.readouterr().out
    assert keras.config.dtype_policy().name == "float32"  # the global policy is restored
    state = json.loads((tmp_path / "mixed" / "run.json").read_text())
    assert state["settings"]["mixed_precision"] is True and state["step"] == 2
    assert np.isfinite(state["train_loss"])
    mixed = keras.saving.load_model(tmp_path / "mixed" / "last.keras")
    assert all(w.dtype == "float32" for w in mixed.weights)  # float32 weights kept
    # The same seeded run in float32 (bit-for-bit repeatable) ends elsewhere: the
    # forward and backward passes really ran in 16 bits.
    assert main([*argv, "--out", str(tmp_path / "float32")]) == 0
    plain = keras.saving.load_model(tmp_path / "float32" / "last.keras")
    pairs = list(zip(mixed.get_weights(), plain.get_weights(), strict=True))
    assert not all(np.array_equal(a, b) for a, b in pairs)
    assert max(float(np.abs(a - b).max()) for a, b in pairs) < 0.05  # the same training


# ---------------------------------------------------------------- bad input files


def bad_file(folder, kind):
    path = folder / f"{kind}.mid"
    if kind == "not-midi":
        path.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt this is not a MIDI file")
    elif kind == "empty":
        path.write_bytes(b"")
    return path  # "missing": never written


def command(name, bad, out):
    return {
        "transfer": ["transfer", str(bad), STYLE, "-o", str(out)],
        "transfer-style": ["transfer", SONG, str(bad), "-o", str(out)],
        "render": ["render", str(bad), "-o", str(out.with_suffix(".wav"))],
        "generate": ["generate", "--primer", str(bad), "-o", str(out), "--seconds", "1"],
    }[name]


def user_env():
    """The environment a user's shell would give (no test-only log silencing)."""
    return {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}


@pytest.mark.parametrize("kind", ["not-midi", "empty", "missing"])
@pytest.mark.parametrize("name", ["transfer", "transfer-style", "render"])
def test_a_bad_file_is_one_line_on_stderr_exit_2_and_no_output(name, kind, tmp_path):
    """As a user's shell sees it: a separate process, its whole stderr."""
    bad = bad_file(tmp_path, kind)
    before = set(tmp_path.iterdir())
    out = tmp_path / "out.mid"
    proc = subprocess.run([sys.executable, "-c", CLI, *command(name, bad, out)],
                          capture_output=True, text=True, env=user_env(), timeout=300)  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("groove: error: ") and bad.name in lines[0]
    assert set(tmp_path.iterdir()) == before  # no output, no temporary file left


@pytest.mark.parametrize("kind", ["not-midi", "empty", "missing"])
def test_generate_with_a_bad_primer_exits_2_with_one_message_and_no_output(kind, tmp_path, capsys):
    bad = bad_file(tmp_path, kind)
    before = set(tmp_path.iterdir())
    assert main(command("generate", bad, tmp_path / "out.mid")) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("groove: error: ") and bad.name in lines[0]
    assert set(tmp_path.iterdir()) == before


def test_generate_with_a_bad_primer_prints_only_one_line_as_a_process(tmp_path):
    """generate loads the model (and TensorFlow, whose C++ start-up logs reach file
    descriptor 2) before it reads the primer: the user must still see one line."""
    bad = bad_file(tmp_path, "empty")
    proc = subprocess.run(
        [sys.executable, "-c", CLI, *command("generate", bad, tmp_path / "out.mid")],
        capture_output=True, text=True, env=user_env(), timeout=300,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [f"groove: error: {bad}: the file is empty (0 bytes)"]
