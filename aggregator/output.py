"""Writing files so that a reader or a web server never sees half of one.

Bytes go to a temporary file in the target's directory, are flushed to disk, and
replace the target with one rename. A file whose bytes would not change is left
alone, so its mtime (and the ETag a static server derives from it) stays.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from aggregator.errors import EmitError

# Files are published by web servers running as other users: readable by all.
_FILE_MODE = 0o644


def write_if_changed(path: Path, data: bytes) -> bool:
    """Atomically make `path` hold `data`; False when it already did."""
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise EmitError(str(path), f"cannot read the previous file: {exc.strerror}") from None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
        )
    except OSError as exc:
        raise EmitError(str(path), f"cannot write: {exc.strerror}") from None
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, _FILE_MODE)
        os.replace(temporary, path)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise EmitError(str(path), f"cannot write: {exc.strerror}") from None
    return True


def remove_stale_temporaries(directory: Path) -> None:
    """Delete temporary files that a killed build left behind in `directory`."""
    if directory.is_dir():
        for leftover in directory.rglob(".*.tmp"):
            leftover.unlink(missing_ok=True)


def remove_if_present(path: Path) -> bool:
    """Delete `path`; False when there was nothing to delete."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise EmitError(str(path), f"cannot remove: {exc.strerror}") from None
    return True
