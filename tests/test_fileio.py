"""Atomic writes: all or nothing, with the file mode a plain `open` would give."""

import os
import stat

import pytest

from groove.fileio import atomic_open


def test_a_finished_file_has_the_usual_mode(tmp_path):
    old = os.umask(0o022)
    try:
        with atomic_open(tmp_path / "out.txt") as f:
            f.write("hello")
    finally:
        os.umask(old)
    assert (tmp_path / "out.txt").read_text() == "hello"
    assert stat.S_IMODE((tmp_path / "out.txt").stat().st_mode) == 0o644


def test_a_failed_write_leaves_the_old_file_and_no_debris(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_open(target) as f:
        f.write("half")
        raise RuntimeError("disk on fire")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["out.txt"]
