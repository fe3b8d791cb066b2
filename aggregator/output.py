"""Writing the output so that a reader or a web server never sees a broken file.

`publish` writes a whole set of files in two phases. First each changed file's
bytes go to a temporary file beside it and are flushed to disk; a failure there
(disk full, read-only directory) removes the temporaries and leaves every previous
file as it was. Then each temporary replaces its target with one atomic rename, in
the order given, so files listed last (indexes) appear last. A build killed at any
moment leaves each file wholly old or wholly new. A file whose bytes would not
change is left alone, so its mtime (and the ETag a static server derives from it)
stays.

The first phase stages several files at once, on threads: `fsync` mostly waits
for the disk and releases the GIL, and the file system can commit the flushes of
several files together. That changes nothing above. Staging only ever writes
temporaries, which no reader looks at, and the second phase starts only after
every temporary is complete and flushed, so no rename can expose a half-written
file; the renames stay sequential and in order. Should one file fail, the others
still finish staging and then all temporaries are removed, before anything is
renamed. A build killed while staging leaves temporaries and no changed target;
the next build removes them (`remove_stale_temporaries`).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from aggregator.errors import EmitError

# Files are published by web servers running as other users: readable by all.
_FILE_MODE = 0o644
_TEMPORARY_SUFFIX = ".tmp"
#: Files staged at once (see the module docstring).
STAGING_THREADS = 8


def publish(files: Mapping[Path, bytes]) -> set[Path]:
    """Make each path hold its bytes (see the module docstring); returns the changed paths."""
    changed = {path: data for path, data in files.items() if not _holds(path, data)}
    for path, temporary in _stage_all(changed).items():
        try:
            os.replace(temporary, path)
        except OSError as exc:
            raise EmitError(str(path), f"cannot replace: {exc.strerror}") from None
    return set(changed)


def staged_if_changed(path: Path, data: bytes) -> str | None:
    """The first phase of `publish` for one file: a temporary beside `path`,
    holding `data` and flushed to disk, that `os.replace` puts in its place;
    None when `path` holds `data` already. Raises `EmitError` as `publish` does."""
    return None if _holds(path, data) else _stage(path, data)


def remove_stale_temporaries(directory: Path) -> None:
    """Delete temporaries a killed build left in `directory` (call only under the lock)."""
    if directory.is_dir():
        for leftover in directory.rglob(f".*{_TEMPORARY_SUFFIX}"):
            leftover.unlink(missing_ok=True)


def _holds(path: Path, data: bytes) -> bool:
    try:
        if path.stat().st_size != len(data):
            return False
        return path.read_bytes() == data
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise EmitError(str(path), f"cannot read the previous file: {exc.strerror}") from None


def _stage_all(files: Mapping[Path, bytes]) -> dict[Path, str]:
    """Stage every file (`_stage`), several at once; each path's temporary, in order.

    When any fails, every temporary made is removed and the error of the first
    file (in order) that failed is raised.
    """
    if not files:
        return {}
    with ThreadPoolExecutor(max_workers=min(STAGING_THREADS, len(files))) as pool:
        futures = {path: pool.submit(_stage, path, data) for path, data in files.items()}
    # Leaving the `with` waited for every future: each has its result or its error.
    errors = [error for future in futures.values() if (error := future.exception()) is not None]
    if errors:
        for future in futures.values():
            if future.exception() is None:
                Path(future.result()).unlink(missing_ok=True)
        raise errors[0]
    return {path: future.result() for path, future in futures.items()}


def _stage(path: Path, data: bytes) -> str:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=_TEMPORARY_SUFFIX
        )
    except OSError as exc:
        raise EmitError(str(path), f"cannot write: {exc.strerror}") from None
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, _FILE_MODE)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise EmitError(str(path), f"cannot write: {exc.strerror}") from None
    return temporary


def remove_if_present(path: Path) -> bool:
    """Delete `path`; False when there was nothing to delete."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise EmitError(str(path), f"cannot remove: {exc.strerror}") from None
    return True
