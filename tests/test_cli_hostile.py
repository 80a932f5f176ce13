"""Hostile and careless command lines (issue 15, item 7 and output safety): each one
gets one line on stderr naming the file or option, exit code 2, and nothing written;
the real CLI runs in a subprocess, as a user runs it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from groove import example_path
from tests.conftest import note_events, smf, smf_track

ROOT = Path(__file__).resolve().parents[1]


def groove(*args: str | os.PathLike, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "groove", *map(str, args)],
        capture_output=True, text=True, cwd=cwd, timeout=600,
    )  # fmt: skip


def assert_refused(result: subprocess.CompletedProcess, *named: str | os.PathLike) -> str:
    """Exit 2 with one line, `groove: error: ...`, naming each of `named`."""
    assert result.returncode == 2, result.stderr[-3000:]
    assert result.stderr.count("\n") == 1, result.stderr[-3000:]
    assert result.stderr.startswith("groove: error: ")
    for name in named:
        assert str(name) in result.stderr
    return result.stderr


@pytest.fixture
def song(tmp_path) -> Path:
    path = tmp_path / "song.mid"
    shutil.copy(example_path("song.mid"), path)
    return path


@pytest.fixture
def style(tmp_path) -> Path:
    path = tmp_path / "style.mid"
    shutil.copy(example_path("style.mid"), path)
    return path


# ---- generate: options the sampler or the decoder choked on -----------------------

GENERATE = {
    "seconds inf": (["--seconds", "inf"], "--seconds"),
    "seconds 1e300": (["--seconds", "1e300"], "--seconds"),
    "seconds nan": (["--seconds", "nan"], "--seconds"),
    "seconds 100000 (hours of decoding)": (["--seconds", "100000"], "at most 600"),
    "seconds 0": (["--seconds", "0"], "--seconds"),
    "max-tokens 10**9": (["--max-tokens", "1000000000"], "--max-tokens"),
    "num-samples 10000 (10.5 GB)": (["--num-samples", "10000"], "--num-samples must be 1 to 64"),
    "num-samples 0": (["--num-samples", "0"], "--num-samples"),
    "seed -1": (["--seed", "-1"], "--seed must be 0 to 4294967295"),
    "seed 2**32": (["--seed", str(2**32)], "--seed"),
    "temperature inf (an empty file)": (["--temperature", "inf"], "--temperature"),
    "temperature nan": (["--temperature", "nan"], "--temperature"),
    "temperature -1": (["--temperature", "-1"], "--temperature"),
    "top-p 0": (["--top-p", "0"], "--top-p"),
    "top-p 1.5": (["--top-p", "1.5"], "--top-p"),
    "top-p nan": (["--top-p", "nan"], "--top-p"),
    "top-k 0": (["--top-k", "0"], "--top-k"),
}


@pytest.mark.parametrize("case", GENERATE)
def test_generate_refuses_a_bad_option_in_one_line(case, tmp_path):
    options, words = GENERATE[case]
    out = tmp_path / "out.mid"
    assert_refused(groove("generate", "-o", out, *options), words)
    assert os.listdir(tmp_path) == []


TRANSFER = {
    "seed -1": (["--seed", "-1"], "--seed"),
    "roles ,": (["--roles", ","], "--roles names no role"),
    "roles empty": (["--roles", ""], "--roles names no role"),
    "temperature inf": (["--temperature", "inf"], "--temperature"),
}


@pytest.mark.parametrize("case", TRANSFER)
def test_transfer_refuses_a_bad_option_in_one_line(case, song, style, tmp_path):
    options, words = TRANSFER[case]
    out = tmp_path / "out.mid"
    assert_refused(groove("transfer", song, style, "-o", out, *options), words)
    assert not out.exists()


# ---- outputs that are inputs ------------------------------------------------------


def test_transfer_never_writes_over_its_content_or_its_style(song, style, tmp_path):
    before = song.read_bytes(), style.read_bytes()
    (tmp_path / "link.mid").symlink_to(style)
    for out, named in ((song, song), (style, style), (tmp_path / "link.mid", "link.mid")):
        assert_refused(groove("transfer", song, style, "-o", out), named, "overwrite the input")
    assert (song.read_bytes(), style.read_bytes()) == before
    assert sorted(os.listdir(tmp_path)) == ["link.mid", "song.mid", "style.mid"]


def test_generate_never_writes_over_its_primer(song, tmp_path):
    before = song.read_bytes()
    assert_refused(groove("generate", "--primer", song, "-o", song), song)
    # OUT-1.mid, OUT-2.mid for two samples: the first is the primer.
    primer = tmp_path / "take-1.mid"
    shutil.copy(song, primer)
    result = groove("generate", "--primer", primer, "-o", tmp_path / "take.mid", "--num-samples", 2)
    assert_refused(result, primer)
    assert song.read_bytes() == before == primer.read_bytes()
    assert sorted(os.listdir(tmp_path)) == ["song.mid", "take-1.mid"]


def test_tokenize_never_writes_over_a_midi_file(song, tmp_path):
    before = song.read_bytes()
    assert_refused(groove("tokenize", song, "-o", song, "-q"), song, "overwrite the input")
    assert song.read_bytes() == before
    assert os.listdir(tmp_path) == ["song.mid"]


def test_detokenize_never_writes_over_its_records(tmp_path):
    records = tmp_path / "x.mid"  # records, oddly named; the output would be x.mid too
    line = {"file": "x.mid", "tokens": ["NOTE_ON_60", "TIME_SHIFT_50", "NOTE_OFF_60"]}
    records.write_text(json.dumps(line) + "\n")
    result = groove("detokenize", records, "-o", records, "-t", "performance")
    assert_refused(result, records)
    assert records.read_text() == json.dumps(line) + "\n"


# ---- two inputs, one output ---------------------------------------------------------


def test_render_refuses_two_inputs_of_one_name_into_a_folder(tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        shutil.copy(example_path("chorale.mid"), tmp_path / folder / "x.mid")
    out = tmp_path / "out"
    result = groove(
        "render", tmp_path / "a/x.mid", tmp_path / "b/x.mid", "-o", out, "--synth", "sine"
    )
    assert_refused(result, tmp_path / "a/x.mid", tmp_path / "b/x.mid", out / "x.wav")
    assert not out.exists()


def test_detokenize_refuses_two_records_of_one_name(tmp_path):
    records = tmp_path / "t.jsonl"
    lines = [
        {"file": f"{folder}/x.mid", "tokens": ["NOTE_ON_60", "TIME_SHIFT_50", "NOTE_OFF_60"]}
        for folder in ("a", "b")
    ]
    records.write_text("".join(json.dumps(line) + "\n" for line in lines))
    out = tmp_path / "out"
    result = groove("detokenize", records, "-o", out, "-t", "performance")
    assert_refused(result, "a/x.mid and b/x.mid", out / "x.mid")
    assert not out.exists()


# ---- render: a 5.9-hour file, long names, bad targets -------------------------------


def test_render_of_a_six_hour_file_is_refused_before_it_is_allocated(tmp_path):
    # One note held 5.9 hours at 120 qpm: 7.5 GB of sine-synth audio; 44 bytes.
    long = tmp_path / "long.mid"
    long.write_bytes(smf([smf_track(note_events(60, length=20_390_400))]))
    assert len(long.read_bytes()) < 50
    out = tmp_path / "long.wav"
    result = groove("render", long, "-o", out, "--synth", "sine")
    assert_refused(result, long, "render it in parts")
    assert not out.exists()


def test_render_writes_a_target_with_a_250_character_name(tmp_path):
    out = tmp_path / ("x" * 246 + ".wav")
    result = groove("render", example_path("chorale.mid"), "-o", out, "--synth", "sine")
    assert result.returncode == 0, result.stderr
    assert out.stat().st_size > 1000
    assert os.listdir(tmp_path) == [out.name]


def test_a_folder_in_place_of_the_output_is_named_not_the_temporary_file(tmp_path):
    out = tmp_path / "out.wav"
    out.mkdir()
    message = assert_refused(
        groove("render", example_path("chorale.mid"), "-o", out, "--synth", "sine"), out
    )
    assert ".part" not in message
    blocked = tmp_path / "file"
    blocked.write_text("a file where a folder should be")
    message = assert_refused(
        groove("tokenize", example_path("chorale.mid"), "-o", blocked / "t.jsonl", "-q"),
        blocked / "t.jsonl",
    )
    assert ".part" not in message
    assert os.listdir(out) == [] and sorted(os.listdir(tmp_path)) == ["file", "out.wav"]


# ---- transfer --model given the other kind of model ---------------------------------


def test_transfer_with_a_music_transformer_file_says_so(song, style, tmp_path):
    import keras

    from groove.models import saving
    from groove.models.music_transformer.backbone import build_music_transformer
    from groove.tokenizers import PerformanceTokenizer

    keras.utils.set_random_seed(0)
    tok = PerformanceTokenizer()
    spec = {"kind": tok.kind, "config": tok.get_config()}
    lm = tmp_path / "lm.keras"
    saving.save_for_inference(build_music_transformer(len(tok), "tiny", tokenizer=spec), lm)
    out = tmp_path / "out.mid"
    result = groove("transfer", song, style, "-o", out, "--model", lm)
    assert_refused(result, lm, "not a groove style-transfer model; it holds a Music Transformer")
    assert not out.exists()


def test_tokenize_of_a_bad_file_without_quiet_prints_only_the_error(tmp_path):
    """The progress bar is drawn on a terminal only: into a pipe, as here, the error
    is the one line on stderr."""
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"not midi at all")
    assert_refused(groove("tokenize", bad, "-o", tmp_path / "out.jsonl"), bad)
    assert not (tmp_path / "out.jsonl").exists()
