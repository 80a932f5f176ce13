"""The groove command line: help, tokenize/detokenize, demo, bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from groove import example_path, midi
from groove.cli import main
from groove.tokenizers.fidelity import compare


def test_help_does_not_import_heavy_libraries():
    code = (
        "import sys; from groove.cli import build_parser; build_parser().format_help(); "
        "print(sorted(m for m in ('tensorflow', 'keras', 'symusic', 'miditok', 'music21') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["tokenize", "--help"],
        ["detokenize", "--help"],
        ["demo", "--help"],
        ["eval", "--help"],
        ["eval", "transfer", "--help"],
        ["eval", "corpus", "--help"],
    ],
)
def test_every_help_answers(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 0
    assert "usage: groove" in capsys.readouterr().out


@pytest.mark.parametrize("spec", ["performance", "beat", "miditok:MIDILike"])
def test_tokenize_then_detokenize_per_track(spec, tmp_path):
    out = tmp_path / "tokens.jsonl"
    src = example_path("band.mid")
    assert main(["tokenize", src, "-t", spec, "-o", str(out), "--per-track", "-q"]) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["track"]["name"] for r in records] == ["Piano", "Bass", "Drums"]
    assert all(len(r["ids"]) == len(r["tokens"]) > 0 for r in records)
    assert (tmp_path / "tokens.tokenizer.json").exists()
    assert main(["detokenize", str(out), "-o", str(tmp_path / "back.mid")]) == 0
    back = midi.load(tmp_path / "back.mid")
    assert back.tracks == midi.load(src).tracks
    unit = "seconds" if spec == "performance" else "beats"
    if spec == "beat":  # the band plays at 100 qpm; beat tokens carry no tempo
        assert main(["detokenize", str(out), "-o", str(tmp_path / "b.mid"), "--tempo", "100"]) == 0
        back = midi.load(tmp_path / "b.mid")
        unit = "seconds"
    assert compare(midi.load(src), back, unit).same_notes


def test_tokenize_skips_a_bad_file_and_goes_on(tmp_path, capsys):
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"\x00" * 10)
    out = tmp_path / "t.jsonl"
    assert main(["tokenize", example_path("band.mid"), str(bad), "-o", str(out), "-q"]) == 0
    assert len(out.read_text().splitlines()) == 1
    assert "bad.mid" in capsys.readouterr().err


def test_detokenize_accepts_token_names(tmp_path):
    line = {"file": "x.mid", "tokens": ["NOTE_ON_60", "TIME_SHIFT_50", "NOTE_OFF_60"]}
    (tmp_path / "in.jsonl").write_text(json.dumps(line) + "\n")
    assert (
        main(
            [
                "detokenize",
                str(tmp_path / "in.jsonl"),
                "-t",
                "performance",
                "-o",
                str(tmp_path / "out"),
            ]
        )
        == 0
    )
    notes = midi.load(tmp_path / "out" / "x.mid").notes
    assert notes["pitch"].tolist() == [60]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "groove.cli", *args], capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    "content", [b"", b"garbage", b"MThd\x00\x00\x00\x06\x00\x02\x00\x01\x01\xe0"]
)
def test_bad_input_prints_one_line_and_exits_2(content, tmp_path):
    path = tmp_path / "bad.mid"
    path.write_bytes(content)
    out = tmp_path / "never.jsonl"
    result = run_cli("tokenize", str(path), "-o", str(out), "-q")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"groove: error: {path}: ")
    assert not out.exists()


def test_bad_token_file_exits_2_with_the_line_number(tmp_path):
    (tmp_path / "in.jsonl").write_text('{"ids": [1, 2]}\n{"ids": [99999]}\n')
    result = run_cli(
        "detokenize", str(tmp_path / "in.jsonl"), "-t", "beat", "-o", str(tmp_path / "o.mid")
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "outside the vocabulary" in result.stderr
    assert not (tmp_path / "o.mid").exists()
    (tmp_path / "in.jsonl").write_text("not json\n")
    result = run_cli("detokenize", str(tmp_path / "in.jsonl"), "-t", "beat", "-o", "x.mid")
    assert result.returncode == 2 and "line 1" in result.stderr


def test_usage_errors_exit_2():
    assert run_cli("tokenize").returncode == 2
    assert run_cli("nonsense").returncode == 2
    result = run_cli("tokenize", example_path("band.mid"), "-t", "wavenet", "-o", "x.jsonl")
    assert result.returncode == 2 and result.stderr.startswith("groove: error: unknown tokenizer")


def test_demo_round_trips_the_bundled_examples(tmp_path, capsys):
    assert main(["demo", "-o", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.count("all notes kept") == 6  # 2 examples x 3 tokenizers
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        f"{stem}.{kind}.mid"
        for stem in ("band", "chorale")
        for kind in ("performance", "beat", "miditok")
    )
