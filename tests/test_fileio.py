"""Atomic writes: all or nothing, with the file mode a plain `open` would give; short
temporary names that record their writer, stale ones swept; errors that name the
target; outputs that are inputs refused."""

import os
import stat
import subprocess
import sys

import pytest

from groove.errors import ConfigError
from groove.fileio import (
    _MARK,
    _host,
    atomic_open,
    atomic_path,
    check_distinct,
    check_not_inputs,
    part_label,
    remove_stale_parts,
)


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


def _dead_pid() -> int:
    """The id of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_stale_part_of_a_dead_writer_is_removed_by_the_next_write(tmp_path):
    stale = tmp_path / f".out.mid{_MARK}{_host()}-{_dead_pid()}.abc12345.part"
    stale.write_bytes(b"half a file")
    other_host = tmp_path / f".out.mid{_MARK}00000000-{_dead_pid()}.abc12345.part"
    other_host.write_bytes(b"another machine's")
    alive = tmp_path / f".out.mid{_MARK}{_host()}-{os.getpid()}.abc12345.part"
    alive.write_bytes(b"being written")
    unrelated = tmp_path / ".out.mid.abc12345.part"
    unrelated.write_bytes(b"not ours")
    with atomic_open(tmp_path / "other.txt") as f:
        f.write("x")
    assert not stale.exists()
    assert other_host.exists() and alive.exists() and unrelated.exists()
    assert (tmp_path / "other.txt").read_text() == "x"


def test_the_temporary_name_records_the_writer_and_is_swept_when_it_dies(tmp_path):
    # A writer killed between creating its temporary file and renaming it.
    code = (
        "import os, sys\n"
        "from groove.fileio import atomic_path\n"
        "with atomic_path(sys.argv[1]) as tmp:\n"
        "    open(tmp, 'w').write('half')\n"
        "    print(os.path.basename(tmp), flush=True)\n"
        "    os._exit(9)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "song.mid")],
                         capture_output=True, text=True)  # fmt: skip
    name = out.stdout.strip()
    assert name.startswith(".song.mid.groove-") and name.endswith(".part")
    assert (tmp_path / name).exists()
    assert remove_stale_parts(tmp_path) == [str(tmp_path / name)]
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("length", [200, 241, 250, 255])
def test_any_legal_target_name_can_be_written(tmp_path, length):
    target = tmp_path / ("x" * (length - 4) + ".mid")
    with atomic_open(target, "wb") as f:
        f.write(b"MThd")
    assert target.read_bytes() == b"MThd"
    assert os.listdir(tmp_path) == [target.name]


def test_a_cut_label_keeps_names_apart():
    a, b = "a" * 300 + "1.mid", "a" * 300 + "2.mid"
    assert part_label(a) != part_label(b)
    assert len(os.fsencode(part_label(a))) < 120
    assert part_label("short.mid") == "short.mid"


def test_a_folder_as_target_is_named_in_the_error(tmp_path):
    (tmp_path / "out.mid").mkdir()
    with pytest.raises(IsADirectoryError) as info, atomic_open(tmp_path / "out.mid") as f:
        f.write("x")
    assert info.value.filename == str(tmp_path / "out.mid")
    assert os.listdir(tmp_path / "out.mid") == []


def test_an_unwritable_folder_names_the_target_not_the_temporary_file(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    target = tmp_path / "file" / "out.mid"
    with pytest.raises(OSError) as info, atomic_open(target) as f:
        f.write("x")
    assert info.value.filename == str(target)


def test_an_error_while_writing_names_the_target(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(OSError) as info, atomic_path(target) as tmp:
        raise OSError(28, "No space left on device", tmp)
    assert info.value.filename == str(target)
    assert os.listdir(tmp_path) == []


def test_an_output_that_is_an_input_is_refused(tmp_path):
    song = tmp_path / "song.mid"
    song.write_bytes(b"MThd")
    os.link(song, tmp_path / "hard.mid")
    (tmp_path / "soft.mid").symlink_to(song)
    for spelling in (
        song,
        tmp_path / "hard.mid",
        tmp_path / "soft.mid",
        tmp_path / "." / "song.mid",
    ):
        with pytest.raises(ConfigError, match=r"song\.mid"):
            check_not_inputs([tmp_path / "new.mid", spelling], [None, song])
    check_not_inputs([tmp_path / "new.mid", None], [song])


def test_two_inputs_writing_one_output_are_refused():
    with pytest.raises(
        ConfigError, match=r"a/x\.mid and b/x\.mid would both be written to out/x\.wav"
    ):
        check_distinct(
            [("a/x.mid", "out/x.wav"), ("b/y.mid", "out/y.wav"), ("b/x.mid", "out/x.wav")]
        )
    check_distinct([("a/x.mid", "out/x.wav"), ("a/y.mid", "out/y.wav")])
