"""Finding article files: the walk of the source directories, and when a file's
size and modification time can be trusted to tell its versions apart.

No file is read here: a build with nothing to do (see `build`) needs only this.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

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


def find_article_files(roots: Iterable[Path]) -> FoundFiles:
    """Every article file under `roots`, recursively, in a stable order.

    Symbolic links are followed only to regular files inside the same root; a
    dangling link, a link loop or a link that leads outside is rejected. Directories
    are never followed through links, so a directory loop cannot hang the walk.
    A missing root raises `SourceError`: an empty publication is never what a user
    meant.
    """
    names: list[str] = []
    stamps: list[FileStamp | None] = []
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
            stamps.append(_stamp(entry))
    return FoundFiles(tuple(names), tuple(rejected), tuple(stamps))


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


def _stamp(entry: os.DirEntry[str]) -> FileStamp | None:
    try:
        status = entry.stat()
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
