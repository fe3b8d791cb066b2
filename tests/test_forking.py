"""Work done by copies of the process: the same result as here, and no copy left."""

from __future__ import annotations

import functools
import os
import pickle
import signal
import threading
from collections.abc import Iterator
from typing import cast

import pytest

from aggregator import forking


@pytest.fixture
def alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """This process as the command line runs it: no thread but the main one (a test
    run may keep others, such as an HTTP server's)."""
    monkeypatch.setattr(threading, "active_count", lambda: 1)


def counting_forks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The pids of the copies started from now on."""
    pids: list[int] = []
    fork = os.fork

    def counting() -> int:
        pid = fork()
        if pid:
            pids.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", counting)
    return pids


def where() -> tuple[int, list[int]]:
    """The pid of the process that computes this, and a result worth pickling."""
    return os.getpid(), list(range(1000))


@pytest.mark.usefixtures("alone")
def test_a_copy_computes_the_result(monkeypatch: pytest.MonkeyPatch) -> None:
    pids = counting_forks(monkeypatch)
    with forking.copies() as copies:
        pending = copies.start(where)
        assert pending.running
        pid, numbers = pending.result()
    assert pids == [pid] and pid != os.getpid()
    assert numbers == list(range(1000))
    assert not pending.running


@pytest.mark.usefixtures("alone")
def test_a_copy_that_fails_has_its_work_done_here(monkeypatch: pytest.MonkeyPatch) -> None:
    here = os.getpid()

    def failing_elsewhere() -> int:
        if os.getpid() != here:
            raise RuntimeError("broken copy")
        return 42

    with forking.copies() as copies:
        assert copies.start(failing_elsewhere).result() == 42


@pytest.mark.usefixtures("alone")
def test_a_result_that_cannot_be_written_is_computed_here(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")  # only copies pickle

    monkeypatch.setattr(pickle, "dump", broken)
    with forking.copies() as copies:
        assert copies.start(where).result()[0] == os.getpid()


@pytest.mark.usefixtures("alone")
def test_leaving_the_block_ends_and_reaps_running_copies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pids = counting_forks(monkeypatch)
    never_written, unused = os.pipe()
    try:
        with pytest.raises(RuntimeError, match="failed here"), forking.copies() as copies:
            copies.start(lambda: os.read(never_written, 1))  # blocks until killed
            raise RuntimeError("failed here")
    finally:
        os.close(never_written)
        os.close(unused)
    assert len(pids) == 1
    with pytest.raises(ChildProcessError):  # already reaped: no zombie left behind
        os.waitpid(pids[0], os.WNOHANG)


def test_no_copy_while_another_thread_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    pids = counting_forks(monkeypatch)
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        assert not forking.can_fork()
        with forking.copies() as copies:
            pending = copies.start(where)
            assert not pending.running
            assert pending.result()[0] == os.getpid()
    finally:
        release.set()
        other.join()
    assert pids == []


def test_later_work_is_done_here_when_asked_for() -> None:
    calls: list[int] = []
    pending = forking.later(lambda: calls.append(os.getpid()) or len(calls))
    assert calls == [] and not pending.running
    assert pending.result() == 1
    assert calls == [os.getpid()]


@pytest.fixture
def deadline() -> Iterator[None]:
    """A test that would wait forever fails after a minute instead."""

    def expired(*args: object) -> None:
        raise TimeoutError("the copy never answered")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(60)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.usefixtures("alone", "deadline")
def test_the_first_result_comes_while_the_copy_works_on_the_next(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pids = counting_forks(monkeypatch)
    go_on, gate = os.pipe()

    def then(first: int) -> tuple[int, int]:
        os.read(go_on, 1)  # until this process has had the first result
        return os.getpid(), first * 2

    try:
        with forking.copies() as copies:
            first, second = copies.start_then(lambda: 21, then)
            assert first.result() == 21
            assert second.running
            os.write(gate, b"!")
            pid, doubled = second.result()
    finally:
        os.close(go_on)
        os.close(gate)
    assert pids == [pid] and pid != os.getpid()
    assert doubled == 42 and not second.running


@pytest.mark.usefixtures("alone", "deadline")
def test_a_copy_that_fails_on_the_next_result_has_it_made_here() -> None:
    here = os.getpid()

    def then(first: tuple[int, list[int]]) -> int:
        if os.getpid() != here:
            raise RuntimeError("broken copy")
        return first[0]

    with forking.copies() as copies:
        first, second = copies.start_then(where, then)
        assert second.result() == first.result()[0] != here  # the first, from the copy


def test_chained_work_done_here_runs_when_asked_for() -> None:
    calls: list[str] = []
    first, second = forking.later_then(
        lambda: calls.append("first") or 1, lambda one: calls.append("then") or one + 1
    )
    assert calls == []
    assert second.result() == 2 and calls == ["first", "then"]
    assert first.result() == 1 and calls == ["first", "then"]  # done once


@pytest.mark.usefixtures("alone", "deadline")
def test_works_started_in_turn_in_one_copy_give_each_result_as_it_is_made(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each result can be had while the copy goes on; works share what they
    need through a cache, so one done here (the copy failed before it) still
    finds it."""
    pids = counting_forks(monkeypatch)
    go_on, gate = os.pipe()
    here = os.getpid()

    @functools.cache
    def shared() -> int:
        return os.getpid()

    def second() -> int:
        os.read(go_on, 1)  # until this process has had the first result
        return shared()

    def third() -> int:
        if os.getpid() != here:
            raise RuntimeError("broken copy")
        return shared()

    try:
        with forking.copies() as copies:
            results = copies.start_each([shared, second, third])
            assert results[0].result() != here
            assert results[1].running
            os.write(gate, b"!")
            assert results[1].result() == results[0].result()  # shared in the copy
            assert results[2].result() == here  # made here: the copy failed before it
    finally:
        os.close(go_on)
        os.close(gate)
    assert pids == [results[0].result()]
    assert [work.running for work in results] == [False] * 3


def test_works_started_in_turn_are_done_here_without_fork(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(threading, "active_count", lambda: 2)  # another thread: no copy
    pids = counting_forks(monkeypatch)
    with forking.copies() as copies:
        results = copies.start_each([lambda: 1, lambda: os.getpid()])
        assert [work.result() for work in results] == [1, os.getpid()]
    assert pids == []


@pytest.mark.usefixtures("alone", "deadline")
@pytest.mark.parametrize("given", [True, False])
def test_a_copy_waits_for_the_word_this_process_gives_or_withholds(given: bool) -> None:
    go = forking.Go()
    here = os.getpid()
    with forking.copies() as copies:
        (heard,) = copies.start_each([lambda: (os.getpid(), go.wait())], go)
        assert heard.running  # waiting
        go.give() if given else go.withhold()
        pid, word = cast(tuple[int, bool], heard.result())
    assert pid != here and word is given


def test_without_a_copy_waiting_is_asking_whether_the_word_was_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(threading, "active_count", lambda: 2)  # another thread: no copy
    go = forking.Go()
    with forking.copies() as copies:
        (heard,) = copies.start_each([go.wait], go)
        go.give()
        assert heard.result() is True


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts descriptors in /proc")
@pytest.mark.usefixtures("alone", "deadline")
def test_results_are_read_whole_while_the_copy_appends_more() -> None:
    """A copy keeps one file for all its results, however many (so as many
    works cost no more descriptors), and this process reads each as soon as it
    is told, while the copy goes on writing after it."""
    open_before = len(os.listdir("/proc/self/fd"))
    works = [functools.partial(lambda n: [n] * 50_000, n) for n in range(40)]
    with forking.copies() as copies:
        results = copies.start_each(works)
        assert len(os.listdir("/proc/self/fd")) - open_before == 2  # the file and a pipe
        assert [work.result() for work in results] == [[n] * 50_000 for n in range(40)]
