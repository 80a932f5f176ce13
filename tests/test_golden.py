"""The shipped models' outputs do not change by accident.

`groove transfer` and `groove generate` on the bundled examples, with fixed
seeds, must write the same MIDI bytes as the golden files in tests/golden/.
Those were written before issue 13's restructuring (which promised no change in
behaviour). Regenerate them only when a change is meant to change the outputs,
and say so in the commit:

    python tests/test_golden.py --write
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from groove import example_path
from groove.cli import main

GOLDEN = Path(__file__).resolve().parent / "golden"
SONG, STYLE, CHORALE = (example_path(n) for n in ("song.mid", "style.mid", "chorale.mid"))

# name -> (CLI arguments without -o, files written); transfer runs SONG in STYLE
CASES = {
    "transfer-seed0": (["transfer", "--seed", "0"], ["transfer-seed0.mid"]),
    "transfer-melody-topk": (
        ["transfer", "--seed", "3", "--keep-melody", "--top-k", "8", "--roles", "bass,drums"],
        ["transfer-melody-topk.mid"],
    ),
    "transfer-greedy": (
        ["transfer", "--temperature", "0", "--roles", "keys"],
        ["transfer-greedy.mid"],
    ),
    "generate-seed0": (["generate", "--seconds", "10", "--seed", "0"], ["generate-seed0.mid"]),
    "generate-primer": (
        ["generate", "--primer", CHORALE, "--seconds", "4", "--seed", "1", "--top-p", "0.9"],
        ["generate-primer.mid"],
    ),
    "generate-batch": (
        ["generate", "--num-samples", "2", "--seconds", "3", "--seed", "2", "--temperature", "0.8"],
        ["generate-batch-1.mid", "generate-batch-2.mid"],
    ),
}


def _run(name: str, folder: Path) -> list[Path]:
    argv, files = CASES[name]
    if argv[0] == "transfer":
        argv = [argv[0], SONG, STYLE, *argv[1:]]
    assert main([*argv, "-o", str(folder / f"{name}.mid")]) == 0
    return [folder / f for f in files]


@pytest.mark.parametrize("name", sorted(CASES))
def test_cli_output_bytes_are_unchanged(name, tmp_path):
    for path in _run(name, tmp_path):
        assert path.read_bytes() == (GOLDEN / path.name).read_bytes(), path.name


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        for case in CASES:
            for written in _run(case, Path(tmp)):
                shutil.copy(written, GOLDEN / written.name)
                print("wrote", GOLDEN / written.name)
