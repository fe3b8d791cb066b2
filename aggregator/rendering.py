"""Rendering the feed files a build writes, deriving each story's entry once, on
all cores when there is enough to render.

A story is in the "all" feed and in its topics' feeds, and every feed is written
in each format; one `Entries` serves a whole pass, so what an entry shows of a
story alone (`feedspec.Entry`) is derived once per story, not once per feed and
format, and a feed's formats, rendered one after the other, share what they can
(`Entries.shared`). The bytes are those each renderer gives for its feed on its own.

With several cores, copies of this process made by `fork` render parts of the
files: a copy shares the feeds already in memory, so nothing is sent to it, and
it hands back only bytes, through a temporary file. Each part is whole feeds,
parts are balanced by entries. Used only where `fork` is (POSIX) and while this
process runs no other thread (a copy would inherit locks held by threads that do
not exist in it). A copy that fails has its part rendered here instead, so a
failure surfaces as it would without copies. The bytes are the same either way.
"""

from __future__ import annotations

import contextlib
import heapq
import os
import pickle
import signal
import tempfile
import threading
from collections.abc import Callable, Sequence
from typing import IO

from aggregator.feedspec import Entries, FeedSpec
from aggregator.parallel import available_cores

#: A format's renderer: the feed's bytes, taking entries from (and adding to) `Entries`.
Renderer = Callable[[FeedSpec, Entries], bytes]
#: One file to render: its format's renderer and its feed.
Rendering = tuple[Renderer, FeedSpec]

#: Entries a process must have to render to be worth a copy of this one (a copy
#: costs a few milliseconds; an entry about 0.05 ms in each format).
ENTRIES_PER_PROCESS = 2000


def render_all(renderings: Sequence[Rendering], *, jobs: int = 1) -> list[bytes]:
    """Each file's bytes, in order, over up to `jobs` processes (0: all cores)."""
    parts = _parts(renderings, _process_count(renderings, jobs))
    if len(parts) == 1:
        return _render(renderings)
    rendered: list[bytes | None] = [None] * len(renderings)
    running: set[int] = set()
    with contextlib.ExitStack() as stack:
        stack.callback(_stop, running)  # copies left when this process fails
        copies = []
        for part in parts[1:]:
            output = stack.enter_context(tempfile.TemporaryFile())
            copies.append((part, output, _start_copy(renderings, part, output)))
            running.add(copies[-1][2])
        for index, data in zip(parts[0], _render([renderings[i] for i in parts[0]]), strict=True):
            rendered[index] = data
        for part, output, pid in copies:
            running.discard(pid)
            done = _collect_copy(pid, output, renderings, part)
            for index, data in zip(part, done, strict=True):
                rendered[index] = data
    return [data for data in rendered if data is not None]


def _stop(pids: set[int]) -> None:
    """End and reap copies whose work is no longer wanted. (Not yet reaped, so
    their pids cannot belong to any other process.)"""
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def _render(renderings: Sequence[Rendering]) -> list[bytes]:
    entries = Entries()
    return [render(spec, entries) for render, spec in renderings]


def _process_count(renderings: Sequence[Rendering], jobs: int) -> int:
    if not hasattr(os, "fork") or threading.active_count() > 1:
        return 1
    wanted = jobs if jobs > 0 else available_cores()
    entries = sum(len(spec.stories) for _, spec in renderings)
    return max(1, min(wanted, entries // ENTRIES_PER_PROCESS))


def _parts(renderings: Sequence[Rendering], count: int) -> list[list[int]]:
    """The indices of `renderings` in `count` parts of about equal entries, each
    feed (all its formats, which share work) in one part, each part in order."""
    if count == 1:
        return [list(range(len(renderings)))]
    by_feed: dict[int, list[int]] = {}
    for index, (_, spec) in enumerate(renderings):
        by_feed.setdefault(id(spec), []).append(index)
    loads = [(0, part) for part in range(count)]
    parts: list[list[int]] = [[] for _ in range(count)]
    # Largest feeds first, each to the lightest part so far.
    for indices in sorted(by_feed.values(), key=lambda i: -len(renderings[i[0]][1].stories)):
        load, part = heapq.heappop(loads)
        parts[part].extend(indices)
        size = (len(renderings[indices[0]][1].stories) + 1) * len(indices)
        heapq.heappush(loads, (load + size, part))
    return [sorted(part) for part in parts if part]


def _start_copy(renderings: Sequence[Rendering], part: list[int], output: IO[bytes]) -> int:
    """Fork a copy that renders `part` into the file `output`; its pid."""
    pid = os.fork()
    if pid == 0:  # the copy: render, write, and leave without running any cleanup
        status = 1
        try:
            pickle.dump(_render([renderings[i] for i in part]), output)
            output.flush()
            status = 0
        finally:
            os._exit(status)
    return pid


def _collect_copy(
    pid: int, output: IO[bytes], renderings: Sequence[Rendering], part: list[int]
) -> list[bytes]:
    """What the copy `pid` rendered, or, if it failed, `part` rendered here."""
    _, status = os.waitpid(pid, 0)
    if status == 0:
        output.seek(0)
        try:
            rendered: list[bytes] = pickle.load(output)  # written by our own copy
        except (EOFError, pickle.UnpicklingError):
            rendered = []
        if len(rendered) == len(part):
            return rendered
    return _render([renderings[i] for i in part])
