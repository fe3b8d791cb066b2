"""Rendering the feed files a build writes, deriving each story's entry once, on
all cores when there is enough to render.

A story is in the "all" feed and in its topics' feeds, and every feed is written
in each format; one `Entries` serves a whole pass, so what an entry shows of a
story alone (`feedspec.Entry`) is derived once per story, not once per feed and
format, and a feed's formats, rendered one after the other, share what they can
(`Entries.shared`). The bytes are those each renderer gives for its feed on its own.
A feed may hold references to its stories (`model.StoryRef`): each is made a
`Story`, its articles unpacked, by the process that renders the feed.

With several cores, copies of this process (see `forking`) render parts of the
files: a copy shares the feeds already in memory, so nothing is sent to it, and
it hands back only bytes. Each part is whole feeds, parts are balanced by
entries. A copy that fails has its part rendered here instead, so a failure
surfaces as it would without copies. The bytes are the same either way.
"""

from __future__ import annotations

import dataclasses
import functools
import heapq
from collections.abc import Callable, Sequence
from typing import cast

from aggregator import forking
from aggregator.feedspec import Entries, FeedSpec
from aggregator.model import Ranked, Story
from aggregator.parallel import available_cores

#: A format's renderer: the feed's bytes, taking entries from (and adding to) `Entries`.
Renderer = Callable[[FeedSpec[Story], Entries], bytes]
#: One file to render: its format's renderer and its feed.
Rendering = tuple[Renderer, FeedSpec[Ranked]]

#: Entries a process must have to render to be worth a copy of this one (a copy
#: costs a few milliseconds; an entry about 0.05 ms in each format).
ENTRIES_PER_PROCESS = 2000


def render_all(
    renderings: Sequence[Rendering],
    *,
    jobs: int = 1,
    story: Callable[[Ranked], Story] | None = None,
) -> list[bytes]:
    """Each file's bytes, in order, over up to `jobs` processes (0: all cores).

    `story` gives a story of the feeds as a `Story`; without it, every story
    must be one.
    """
    parts = _parts(renderings, _process_count(renderings, jobs))
    if len(parts) == 1:
        return _render(renderings, story)
    rendered: list[bytes | None] = [None] * len(renderings)
    works = [functools.partial(_render, [renderings[i] for i in part], story) for part in parts]
    results = forking.run_all(works)
    for part, done in zip(parts, results, strict=True):
        for index, data in zip(part, done, strict=True):
            rendered[index] = data
    return [data for data in rendered if data is not None]


def _render(
    renderings: Sequence[Rendering], story: Callable[[Ranked], Story] | None
) -> list[bytes]:
    entries = Entries()
    made: dict[int, FeedSpec[Story]] = {}  # by the spec's id: each feed made once
    rendered = []
    for render, spec in renderings:
        feed = made.get(id(spec))
        if feed is None:
            feed = made[id(spec)] = _with_stories(spec, story)
        rendered.append(render(feed, entries))
    return rendered


def _with_stories(
    spec: FeedSpec[Ranked], story: Callable[[Ranked], Story] | None
) -> FeedSpec[Story]:
    """`spec`, each of its stories a `Story`."""
    if story is not None:
        spec = dataclasses.replace(spec, stories=tuple(map(story, spec.stories)))
    elif not all(isinstance(each, Story) for each in spec.stories):
        raise TypeError(f"{spec.url_stem}: a story that is not a Story, and no `story` given")
    return cast("FeedSpec[Story]", spec)


def _process_count(renderings: Sequence[Rendering], jobs: int) -> int:
    if not forking.can_fork():
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
