"""Writing files so that a failure never leaves one half-written, and never onto an input.

`atomic_path` writes beside the target under a temporary name and renames it onto the
target at the end. The temporary name is short whatever the target's name (so any
legal target name works) and records the writer's host and process id:

    .NAME.groove-HOST-PID.RANDOM.part

where NAME is the target's name (its first `LABEL_BYTES` bytes and a hash when it is
longer). A process killed before the rename (kill -9, a power cut) leaves such a
file; the next `atomic_path` into that folder, in any groove process on the same
host, removes every one whose writer is gone (its process id no longer runs), once
per folder and process.

`check_not_inputs` and `check_distinct` are the checks the command line makes
before it writes anything: no output may be one of the inputs (the same file, also
through a link), and no two inputs may write the same output.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import socket
import tempfile
from collections.abc import Iterable, Iterator

from groove.errors import ConfigError

# A temporary file's name keeps at most this many bytes of the target's name (a
# hash of the whole name follows when it is cut), so the temporary name stays far
# below the 255 bytes most file systems allow whatever the target's name.
LABEL_BYTES = 96
PART_SUFFIX = ".part"
_MARK = ".groove-"
# .LABEL.groove-HOST-PID.RANDOM.part (RANDOM: mkstemp's letters, digits and _).
_PART_RE = re.compile(r"\..*\.groove-([0-9a-f]{8})-([0-9]+)\.[a-z0-9_]+\.part", re.DOTALL)
# Folders already swept by this process (a sweep reads the whole folder).
_SWEPT: set[str] = set()


def _host() -> str:
    return hashlib.sha1(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:8]


def part_label(name: str) -> str:
    """The part of a temporary file's name that comes from the target's `name`."""
    raw = os.fsencode(name)
    if len(raw) <= LABEL_BYTES:
        return name
    digest = hashlib.sha1(raw).hexdigest()[:12]
    return os.fsdecode(raw[:LABEL_BYTES]) + "~" + digest


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return True  # not a real writer's id: leave its file alone
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it runs, as another user
        return True
    return True


def remove_stale_parts(directory: str | os.PathLike) -> list[str]:
    """Remove the temporary files that dead groove writers on this host left in
    `directory`; returns their paths. Files of live writers, of other hosts and
    anything not named like a groove temporary file are left alone."""
    directory = os.fspath(directory)
    host = _host()
    removed = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        match = _PART_RE.fullmatch(entry.name)
        if not match or match.group(1) != host or _pid_alive(int(match.group(2))):
            continue
        with contextlib.suppress(OSError):
            if entry.is_file(follow_symlinks=False):
                os.remove(entry.path)
                removed.append(entry.path)
    return removed


def _naming(error: OSError, path: str) -> OSError:
    """`error` again, naming `path` (the target) instead of the temporary file."""
    if error.errno is None:
        return error
    return OSError(error.errno, error.strerror, path)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[str]:
    """Yield a temporary path beside `path`; rename it onto `path` on success.

    On an exception the temporary file is removed and `path` is left as it was.
    An `OSError` about the temporary file (a folder that cannot be written, a full
    disk, a folder where the file should go) names `path` instead.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    try:
        if os.path.isdir(path):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
        os.makedirs(directory, exist_ok=True)
        if directory not in _SWEPT:
            remove_stale_parts(directory)
            _SWEPT.add(directory)
        prefix = f".{part_label(os.path.basename(path))}{_MARK}{_host()}-{os.getpid()}."
        fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=PART_SUFFIX, dir=directory)
    except OSError as e:
        raise _naming(e, path) from None
    os.close(fd)
    # mkstemp makes the file private (0600); give it the mode `open` would have.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        if isinstance(e, OSError) and tmp in (e.filename, e.filename2):
            raise _naming(e, path) from None
        raise


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", **kwargs) -> Iterator:
    """`open` for writing through `atomic_path`."""
    with atomic_path(path) as tmp, open(tmp, mode, **kwargs) as f:
        yield f


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether two paths name one file: the same inode when both exist (links and
    other spellings too), else the same resolved path."""
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return os.path.normcase(os.path.realpath(a)) == os.path.normcase(os.path.realpath(b))


def check_not_inputs(
    outputs: Iterable[str | os.PathLike | None], inputs: Iterable[str | os.PathLike | None]
) -> None:
    """A `ConfigError` naming both when an output is one of the inputs (None
    entries are ignored). Call it before anything is written."""
    inputs = [i for i in inputs if i is not None]
    for out in outputs:
        if out is None:
            continue
        for source in inputs:
            if same_file(out, source):
                raise ConfigError(
                    f"{out}: the output would overwrite the input {source}; write elsewhere"
                )


def check_distinct(targets: Iterable[tuple[str | os.PathLike, str | os.PathLike]]) -> None:
    """A `ConfigError` naming both inputs when two (input, output) pairs write one
    output. Call it before anything is written."""
    seen: dict[str, str | os.PathLike] = {}
    for source, out in targets:
        key = os.path.normcase(os.path.abspath(out))
        if key in seen:
            raise ConfigError(
                f"{seen[key]} and {source} would both be written to {out}; "
                "rename one, or write them to separate folders"
            )
        seen[key] = source
