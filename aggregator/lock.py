"""One build at a time: an exclusive lock on a file in the state directory.

The lock is an `flock` on `<state_dir>/build.lock`, so the kernel releases it the
moment its holder exits or is killed; a stale lock file never blocks anyone.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from aggregator.errors import LockedError, StateError

LOCK_NAME = "build.lock"


@contextmanager
def build_lock(state_dir: Path) -> Iterator[None]:
    """Hold the build lock for the duration; `LockedError` if another build holds it."""
    path = state_dir / LOCK_NAME
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise StateError(str(path), f"cannot create the lock file: {exc.strerror}") from None
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockedError(str(path), "another build is running") from None
        yield
    finally:
        os.close(handle)
