"""Work done by a copy of this process, made with `fork`, while this one goes on.

A copy shares everything already in memory, so nothing is sent to it; it hands
back only its results, each pickled onto the end of a temporary file as soon as
it is made (a copy may make two, the second from the first: `Copies.start_then`,
or several in turn: `Copies.start_each`), and says where it ends on a pipe.
Copies are made only where `fork` exists (POSIX) and while this process runs
no other thread: a copy would inherit locks held by threads that do not exist
in it. A copy that fails has its work done here instead, when its result is
asked for, so a failure surfaces as it would without copies and the result is
the same either way. Copies whose results are no longer wanted, because this
process left the block that started them, are ended and reaped.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import pickle
import signal
import struct
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import IO, Any, Generic, TypeVar, cast

T = TypeVar("T")
U = TypeVar("U")


def available_cores() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1  # pragma: no cover - platforms without affinity


def can_fork() -> bool:
    """True when a copy of this process may be made now (see the module docstring)."""
    return hasattr(os, "fork") and threading.active_count() == 1


class _Copy:
    """A running copy: it appends each of its results to a file, in order, and
    tells where each ends on a pipe, then exits."""

    def __init__(self, pid: int, ready: int, output: IO[bytes], results: int) -> None:
        self.pid: int | None = pid
        self._ready = ready
        self._output = output
        self._results = results
        self._ends = [0]  # where each result told of ends in the file, after a 0
        self._ended = False  # the pipe closed: the copy said all it will

    def receive(self, index: int) -> tuple[bool, object]:
        """(True, the result numbered `index`) once the copy wrote it; (False,
        None) if it ended (or failed) before."""
        while len(self._ends) <= index + 1 and not self._ended:
            told = os.read(self._ready, _END.size)  # written whole: shorter than PIPE_BUF
            if len(told) == _END.size:
                self._ends.append(_END.unpack(told)[0])
            else:
                self._ended = True
        if self._ended or len(self._ends) > self._results:
            self._reap()
        if len(self._ends) <= index + 1:
            return False, None
        part = _Part(self._output.fileno(), self._ends[index], self._ends[index + 1])
        try:
            return True, pickle.load(io.BufferedReader(part))  # written by our own copy
        except (EOFError, pickle.UnpicklingError):
            return False, None

    def stop(self) -> None:
        """End and reap the copy, if it still runs. (Not yet reaped, so its pid
        cannot belong to any other process.)"""
        if self.pid is not None:
            os.kill(self.pid, signal.SIGKILL)
            self._reap()

    def _reap(self) -> None:
        if self.pid is not None:
            os.waitpid(self.pid, 0)
            os.close(self._ready)
            self.pid = None


#: What a copy tells on its pipe once a result is written: where it ends.
_END = struct.Struct("=Q")


class _Part(io.RawIOBase):
    """The bytes of a file from `start` to `end`, read without moving the
    file's offset, which a copy shares and may still write at."""

    def __init__(self, fd: int, start: int, end: int) -> None:
        super().__init__()
        self._fd = fd
        self._at = start
        self._end = end

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = os.pread(self._fd, min(len(buffer), self._end - self._at), self._at)
        buffer[: len(data)] = data
        self._at += len(data)
        return len(data)


class Pending(Generic[T]):
    """A result being computed by a copy, or to be computed here on request
    (which is also what happens when the copy failed)."""

    def __init__(self, work: Callable[[], T], copy: _Copy | None = None, index: int = 0) -> None:
        self._work = work
        self._copy = copy
        self._index = index
        self._value: tuple[T] | None = None

    @property
    def running(self) -> bool:
        """True while a copy is at work and not yet reaped."""
        return self._copy is not None and self._copy.pid is not None

    def result(self) -> T:
        """Wait for the copy's result and return it; compute it here when there
        is no copy or the copy failed. Asked again, the same value."""
        if self._value is None:
            received, value = False, None
            if self._copy is not None:
                received, value = self._copy.receive(self._index)
            self._value = (cast(T, value) if received else self._work(),)
        return self._value[0]


def later(work: Callable[[], T]) -> Pending[T]:
    """`work` to be done here, when its result is asked for."""
    return Pending(work)


def later_then(first: Callable[[], T], then: Callable[[T], U]) -> tuple[Pending[T], Pending[U]]:
    """`first` and then `then` of its result, both done here when asked for."""
    return _chained(first, then, None)


def _chained(
    first: Callable[[], T], then: Callable[[T], U], copy: _Copy | None
) -> tuple[Pending[T], Pending[U]]:
    earlier = Pending(first, copy, 0)
    return earlier, Pending(lambda: then(earlier.result()), copy, 1)


class Copies:
    """Starts copies for one block of work (see `copies`)."""

    def __init__(self, stack: contextlib.ExitStack) -> None:
        self._stack = stack

    def start(self, work: Callable[[], T]) -> Pending[T]:
        """`work` started in a copy of this process, or to be done here when no
        copy may be made (see `can_fork`)."""
        if not can_fork():
            return later(work)
        return Pending(work, self._fork([lambda _: work()]), 0)

    def start_then(
        self, first: Callable[[], T], then: Callable[[T], U]
    ) -> tuple[Pending[T], Pending[U]]:
        """`first`, and then `then` of its result, started in one copy of this
        process: the result of `first` can be had while the copy works on
        `then`. Both are done here when no copy may be made."""
        if not can_fork():
            return later_then(first, then)
        copy = self._fork([lambda _: first(), lambda value: then(cast(T, value))])
        return _chained(first, then, copy)

    def start_each(
        self, works: Sequence[Callable[[], object]], go: Go | None = None
    ) -> list[Pending[object]]:
        """`works` started one after the other in one copy of this process: the
        result of each can be had while the copy goes on with the next. Each is
        done here when no copy may be made, or the copy ended before it, so
        works share what they need (a `functools.cache`, say), not arguments.
        A work may wait for `go` (see `Go`)."""
        if not can_fork():
            return [later(work) for work in works]
        copy = self._fork([functools.partial(_ignoring, work) for work in works], go)
        return [Pending(work, copy, index) for index, work in enumerate(works)]

    def _fork(self, steps: Sequence[Callable[[object], object]], go: Go | None = None) -> _Copy:
        """A copy that runs `steps`, each on the result of the one before."""
        # Closed by the block's stack, which ruff cannot see through the attribute.
        output = self._stack.enter_context(tempfile.TemporaryFile())  # noqa: SIM115
        ready, told = os.pipe()
        if go is not None:
            go.open()
            self._stack.callback(go.withhold)
        pid = os.fork()
        if go is not None:
            go.forked(in_copy=pid == 0)
        if pid == 0:  # the copy: work, write, and leave without running any cleanup
            status = 1
            try:
                os.close(ready)
                value: object = None
                for step in steps:
                    value = step(value)
                    pickle.dump(value, output, pickle.HIGHEST_PROTOCOL)
                    output.flush()
                    os.write(told, _END.pack(output.tell()))
                status = 0
            finally:
                os._exit(status)
        os.close(told)
        copy = _Copy(pid, ready, output, len(steps))
        self._stack.callback(copy.stop)
        return copy


class Go:
    """Word from this process to a copy of it that waits for something this
    process makes meanwhile (started by `Copies.start_each(go=)`): `give` it
    once that is ready. The copy's `wait` returns True then, or False should
    this process `withhold` it or end first. Without a copy, the works run
    here and `wait` says at once whether the word was given."""

    def __init__(self) -> None:
        self._given = False
        self._heard: bool | None = None
        self._read: int | None = None  # in the copy
        self._write: int | None = None  # here, while the copy may wait

    def open(self) -> None:
        """Before the fork (`Copies.start_each` calls it)."""
        self._read, self._write = os.pipe()

    def forked(self, *, in_copy: bool) -> None:
        """After the fork, in each process (`Copies.start_each` calls it)."""
        assert self._read is not None and self._write is not None
        mine, theirs = (self._read, self._write) if in_copy else (self._write, self._read)
        os.close(theirs)
        self._read, self._write = (mine, None) if in_copy else (None, mine)

    def give(self) -> None:
        """Say that what the copy waits for is ready."""
        self._given = True
        self._close(b"!")

    def withhold(self) -> None:
        """Say that it never will be (also said by ending)."""
        self._close(b"")

    def wait(self) -> bool:
        """In the copy: wait for the word, True when it is given. Here: whether
        it was given."""
        if self._read is None:
            return self._given
        if self._heard is None:
            self._heard = os.read(self._read, 1) == b"!"
            os.close(self._read)
        return self._heard

    def _close(self, word: bytes) -> None:
        if self._write is not None:
            try:
                if word:
                    os.write(self._write, word)
            except BrokenPipeError:  # the copy ended: it waits no more
                pass
            finally:
                os.close(self._write)
                self._write = None


def _ignoring(work: Callable[[], T], _: object) -> T:
    return work()


def run_all(works: Sequence[Callable[[], T]]) -> list[T]:
    """The result of each of `works`, in order: the first done here while copies
    of this process do the others (see `Copies.start`)."""
    if not works:
        return []
    with copies() as started:
        others = [started.start(work) for work in works[1:]]
        return [works[0](), *(pending.result() for pending in others)]


@contextlib.contextmanager
def copies() -> Iterator[Copies]:
    """A block within which work may be started in copies; copies still running
    when it is left (by an exception, or with results never asked for) are ended."""
    with contextlib.ExitStack() as stack:
        yield Copies(stack)
