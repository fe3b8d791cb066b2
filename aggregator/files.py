"""Article files as files: the walk of the source directories, when a file's
size and modification time can be trusted to tell its versions apart, and,
for when they cannot, reading a file's bytes and their digest.

A build with nothing to do (see `build`) needs only this: it reads no file
but those whose stamps it cannot trust.
"""

from __future__ import annotations

import functools
import hashlib
import os
import stat
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from aggregator.errors import SourceError
from aggregator.model import Rejection

ARTICLE_SUFFIXES = frozenset({".txt", ".md", ".markdown", ".yaml", ".yml"})

#: How long after its last modification a file's size and mtime are trusted to
#: tell its versions apart (coarse timestamps: 2 s on FAT, a clock tick on Linux).
SETTLE_NS = 2_000_000_000


def settled_before() -> int:
    """Files modified before this time (ns since the epoch) have settled."""
    return time.time_ns() - SETTLE_NS


#: What identifies a version of a file without reading it: (size, mtime in ns).
FileStamp = tuple[int, int]


@dataclass(frozen=True)
class FoundFiles:
    """What `find_article_files` saw: files to read, and paths refused outright.

    `names[i]` is the path of a file as a string, `paths[i]` the same as a Path;
    `stamps[i]` is the size and modification time of the file it leads to
    (through a link), or None when it could not be seen; reading then says why.
    """

    names: tuple[str, ...]
    rejected: tuple[Rejection, ...]
    stamps: tuple[FileStamp | None, ...] = ()

    @functools.cached_property
    def paths(self) -> tuple[Path, ...]:
        return tuple(Path(name) for name in self.names)


def find_article_files(roots: Iterable[Path], *, jobs: int = 1) -> FoundFiles:
    """Every article file under `roots`, recursively, in a stable order.

    Symbolic links are followed only to regular files inside the same root; a
    dangling link, a link loop or a link that leads outside is rejected. Directories
    are never followed through links, so a directory loop cannot hang the walk.
    A missing root raises `SourceError`: an empty publication is never what a user
    meant. The files' stamps are taken on `jobs` cores (0: all; see `_stamps`).
    """
    names: list[str] = []
    rejected: list[Rejection] = []
    for root in roots:
        if not root.is_dir():
            reason = "source directory does not exist" if not root.exists() else "not a directory"
            raise SourceError(str(root), reason)
        real_root = root.resolve()
        top = str(root)
        skip = 2 if top == "." else 0  # "./a" is "a" as a Path: spell names as Paths do
        for entry in _walk(top, rejected):
            name = entry.path[skip:]
            if entry.is_symlink():
                problem = _symlink_problem(Path(name), real_root)
                if problem:
                    rejected.append(Rejection(name, problem))
                    continue
            names.append(name)
    return FoundFiles(tuple(names), tuple(rejected), _stamps(names, jobs))


def _walk(directory: str, rejected: list[Rejection]) -> Iterator[os.DirEntry[str]]:
    """Article files (and links) in `directory`, sorted by name, then its
    subdirectories' in name order; like os.walk, links to directories are not
    entered and a directory that cannot be listed is reported."""
    try:
        with os.scandir(directory) as scan:
            entries = sorted(scan, key=lambda entry: entry.name)
    except OSError as error:
        rejected.append(Rejection(directory, f"cannot list directory: {error.strerror}"))
        return
    subdirectories = []
    for entry in entries:
        if _is_directory(entry):
            if not entry.is_symlink():
                subdirectories.append(entry.path)
        elif _suffix(entry.name).lower() in ARTICLE_SUFFIXES:
            yield entry
    for subdirectory in subdirectories:
        yield from _walk(subdirectory, rejected)


def _is_directory(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def _suffix(name: str) -> str:
    """The suffix as `PurePath.suffix` has it ('.txt'; '' for '.txt' or 'a.')."""
    dot = name.rfind(".")
    return name[dot:] if 0 < dot < len(name) - 1 else ""


#: From how many files a copy of this process takes half of their stamps
#: (see `_stamps`): below, forking costs more than it saves.
STAMPS_ELSEWHERE_FROM = 10_000


def _stamps(names: Sequence[str], jobs: int) -> tuple[FileStamp | None, ...]:
    """The stamp of the file each of `names` leads to (see `FoundFiles`).

    A stamp is a `stat` of the file: about 3 µs each on a 2-core VM, most of a
    build with nothing to do at 100,000 files. With many files and more than
    one core for `jobs`, a copy of this process (see `forking`) takes the
    second half meanwhile; the stamps are the same either way.
    """
    if len(names) < STAMPS_ELSEWHERE_FROM or jobs == 1:
        return tuple(map(_stamp, names))
    from aggregator import forking  # only here: a build of a few files need not import it

    if jobs == 0 and forking.available_cores() == 1:
        return tuple(map(_stamp, names))
    half = len(names) // 2
    with forking.copies() as copies:
        second = copies.start(lambda: list(map(_stamp, names[half:])))
        first = list(map(_stamp, names[:half]))
        return (*first, *second.result())


def _stamp(name: str) -> FileStamp | None:
    try:
        status = os.stat(name)
    except OSError:
        return None
    return status.st_size, status.st_mtime_ns


def _symlink_problem(path: Path, real_root: Path) -> str | None:
    try:
        target = path.resolve(strict=True)
    except FileNotFoundError:
        return "symbolic link to a file that does not exist"
    except (OSError, RuntimeError):
        return "symbolic link loop"
    if not target.is_relative_to(real_root):
        return "symbolic link leads outside the source directory"
    if not target.is_file():
        return "symbolic link to something that is not a regular file"
    return None


#: What `read_file` asks for at a time once it has read the size the file had.
_READ_STEP = 64 * 1024


class FileBytes(NamedTuple):
    """An article file as read: its bytes, and its modification time (ns since
    the epoch) when it was opened."""

    data: bytes
    mtime_ns: int


def read_file(path: Path | str, *, max_bytes: int) -> FileBytes:
    """The bytes of an article file; `SourceError` when it cannot or must not be read.

    One open and one fstat: opened without blocking, so a FIFO or device named
    like an article is refused rather than waited on.
    """
    where = str(path)
    try:
        handle = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise SourceError(where, f"cannot read: {exc.strerror or exc}") from None
    try:
        status = os.fstat(handle)
        if not stat.S_ISREG(status.st_mode):
            raise SourceError(where, "not a regular file")
        if status.st_size > max_bytes:
            raise SourceError(
                where, f"file is {status.st_size} bytes, over the {max_bytes}-byte limit"
            )
        chunks = []
        left = max_bytes + 1
        # `os.read(n)` allocates n bytes first: asking for the size the file
        # has, and then for small steps, spares each file a map and unmap of a
        # buffer as large as the limit. One byte more than that size tells
        # whether the file grew since; the loop reads on until the end or the limit.
        wanted = min(status.st_size + 1, left)
        while left > 0:
            chunk = os.read(handle, wanted)
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
            wanted = min(left, _READ_STEP)
    except OSError as exc:
        raise SourceError(where, f"cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(handle)
    data = b"".join(chunks)
    if len(data) > max_bytes:
        raise SourceError(where, f"file is over the {max_bytes}-byte limit")
    return FileBytes(data, status.st_mtime_ns)


def bytes_digest(data: bytes) -> str:
    """A digest of a file's bytes, telling its versions apart where its size and
    modification time may not."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def file_digest(path: str, *, max_bytes: int) -> str | None:
    """`bytes_digest` of what the file at `path` holds now; None when it cannot
    be read as an article file (see `read_file`)."""
    try:
        return bytes_digest(read_file(path, max_bytes=max_bytes).data)
    except SourceError:
        return None
