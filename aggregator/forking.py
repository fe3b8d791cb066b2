"""Work done by a copy of this process, made with `fork`, while this one goes on.

A copy shares everything already in memory, so nothing is sent to it; it hands
back only its result, pickled into a temporary file. Copies are made only where
`fork` exists (POSIX) and while this process runs no other thread: a copy would
inherit locks held by threads that do not exist in it. A copy that fails has its
work done here instead, when its result is asked for, so a failure surfaces as it
would without copies and the result is the same either way. Copies whose result
is no longer wanted, because this process left the block that started them, are
ended and reaped.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from typing import IO, Generic, TypeVar

T = TypeVar("T")


def can_fork() -> bool:
    """True when a copy of this process may be made now (see the module docstring)."""
    return hasattr(os, "fork") and threading.active_count() == 1


class Pending(Generic[T]):
    """The result of `work`, being computed by a copy (or here, on request)."""

    def __init__(self, work: Callable[[], T], pid: int | None, output: IO[bytes] | None) -> None:
        self._work = work
        self._pid = pid
        self._output = output

    @property
    def running(self) -> bool:
        """True while a copy is at work and not yet reaped."""
        return self._pid is not None

    def result(self) -> T:
        """Wait for the copy and return what it computed; compute it here when
        there is no copy or the copy failed."""
        if self._pid is None or self._output is None:
            return self._work()
        _, status = os.waitpid(self._pid, 0)
        self._pid = None
        if status == 0:
            self._output.seek(0)
            try:
                value: T = pickle.load(self._output)  # written by our own copy
                return value
            except (EOFError, pickle.UnpicklingError):
                pass
        return self._work()

    def stop(self) -> None:
        """End and reap the copy, if it still runs. (Not yet reaped, so its pid
        cannot belong to any other process.)"""
        if self._pid is not None:
            os.kill(self._pid, signal.SIGKILL)
            os.waitpid(self._pid, 0)
            self._pid = None


def later(work: Callable[[], T]) -> Pending[T]:
    """`work` to be done here, when its result is asked for."""
    return Pending(work, None, None)


class Copies:
    """Starts copies for one block of work (see `copies`)."""

    def __init__(self, stack: contextlib.ExitStack) -> None:
        self._stack = stack

    def start(self, work: Callable[[], T]) -> Pending[T]:
        """`work` started in a copy of this process, or to be done here when no
        copy may be made (see `can_fork`)."""
        if not can_fork():
            return later(work)
        # Closed by the block's stack, which ruff cannot see through the attribute.
        output = self._stack.enter_context(tempfile.TemporaryFile())  # noqa: SIM115
        pid = os.fork()
        if pid == 0:  # the copy: work, write, and leave without running any cleanup
            status = 1
            try:
                pickle.dump(work(), output, pickle.HIGHEST_PROTOCOL)
                output.flush()
                status = 0
            finally:
                os._exit(status)
        pending = Pending(work, pid, output)
        self._stack.callback(pending.stop)
        return pending


@contextlib.contextmanager
def copies() -> Iterator[Copies]:
    """A block within which work may be started in copies; copies still running
    when it is left (by an exception, or with results never asked for) are ended."""
    with contextlib.ExitStack() as stack:
        yield Copies(stack)
