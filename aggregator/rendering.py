"""Rendering the feed files a build writes: each story's entries once, and only
those not rendered by an earlier build; on all cores when there are many.

A feed file is its format's document around the entries of its stories (see
`feedspec.Format`). A story's entries are the same in every feed it is in, so a
pass renders them once per story, in every format of the pass at once, and only
for stories whose entries it is not given: the build gives it those that
`entrystore` kept, by the story's key (a digest of everything the entries
depend on, see `incremental`). A story whose entries are given is not even made
a `Story` (its articles unpacked). The bytes are those each format gives for
the feed on its own.

With several cores and many entries to render, copies of this process (see
`forking`) render parts of the files, each part whole feeds, balanced by the
entries they need: a copy shares the feeds already in memory, so nothing is sent
to it, and it hands back only bytes. A story in feeds of two parts has its
entries rendered in both (a cold build of the benchmark's corpus shows 6,749
stories in 8,181 entries of each format). A copy that fails has its part
rendered here instead, so a failure surfaces as it would without copies. The
bytes are the same either way.
"""

from __future__ import annotations

import dataclasses
import functools
import heapq
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import cast

from aggregator import forking
from aggregator.entrystore import StoryEntries
from aggregator.feedspec import Entries, FeedSpec, Format
from aggregator.model import Ranked, Story

#: Stories to render that make a copy of this process worth its start (a copy
#: costs a few milliseconds; a story's entries about 0.15 ms in all formats).
STORIES_PER_PROCESS = 500


@dataclass(frozen=True)
class FeedFile:
    """One feed file to render: its format, its feed, and the key of each of the
    feed's stories (see the module docstring), in order."""

    format: Format
    spec: FeedSpec[Ranked]
    keys: tuple[bytes, ...]


#: A story to render, and a feed it is in (which gives its topics' names).
_Wanted = tuple[Ranked, FeedSpec[Ranked]]


def render_all(
    files: Sequence[FeedFile],
    formats: Sequence[Format],
    *,
    jobs: int = 1,
    story: Callable[[Ranked], Story] | None = None,
    known: Mapping[bytes, StoryEntries] | None = None,
) -> tuple[list[bytes], dict[bytes, StoryEntries]]:
    """Each file's bytes, in order, over up to `jobs` processes (0: all cores); and
    the entries rendered for them, by key: those of the stories whose keys
    `known` lacks, in every one of `formats` (which holds each file's format).

    `story` gives a story of the feeds as a `Story`; without it, every story
    whose entries are rendered must be one.
    """
    known = known or {}
    unknown = {key for file in files for key in file.keys if key not in known}
    parts = _parts(files, known, _process_count(len(unknown), jobs))
    if len(parts) == 1:
        return _render_part(files, formats, story, known)
    works = [
        functools.partial(_render_part, [files[i] for i in part], formats, story, known)
        for part in parts
    ]
    rendered: list[bytes] = [b""] * len(files)
    fresh: dict[bytes, StoryEntries] = {}
    for part, (documents, entries) in zip(parts, forking.run_all(works), strict=True):
        for index, document in zip(part, documents, strict=True):
            rendered[index] = document
        fresh.update(entries)
    return rendered, fresh


def _render_part(
    files: Sequence[FeedFile],
    formats: Sequence[Format],
    story: Callable[[Ranked], Story] | None,
    known: Mapping[bytes, StoryEntries],
) -> tuple[list[bytes], dict[bytes, StoryEntries]]:
    """`render_all` in this process."""
    wanted: dict[bytes, _Wanted] = {}
    for file in files:
        for key, ranked in zip(file.keys, file.spec.stories, strict=True):
            if key not in known and key not in wanted:
                wanted[key] = (ranked, file.spec)
    made = _entries_of(list(wanted.values()), formats, story)
    fresh = dict(zip(wanted, made, strict=True))
    entries = {**known, **fresh}
    rendered = []
    for file in files:
        at = formats.index(file.format)
        rendered.append(file.format.document(file.spec, [entries[key][at] for key in file.keys]))
    return rendered, fresh


def _entries_of(
    wanted: Sequence[_Wanted],
    formats: Sequence[Format],
    story: Callable[[Ranked], Story] | None,
) -> list[StoryEntries]:
    """The entries of each story in every format, in order: the stories of feeds
    with the same topic names rendered as one feed of them, in each format."""
    made = Entries()
    together: dict[int, list[int]] = {}
    for index, (_, spec) in enumerate(wanted):
        together.setdefault(id(spec.topic_names), []).append(index)
    result: list[StoryEntries] = [()] * len(wanted)
    for indices in together.values():
        stories = tuple(_as_story(wanted[index][0], story) for index in indices)
        feed = cast("FeedSpec[Story]", dataclasses.replace(wanted[indices[0]][1], stories=stories))
        by_format = [render.entries(feed, made) for render in formats]
        for index, entries in zip(indices, zip(*by_format, strict=True), strict=True):
            result[index] = entries
    return result


def _as_story(ranked: Ranked, story: Callable[[Ranked], Story] | None) -> Story:
    if story is not None:
        return story(ranked)
    if not isinstance(ranked, Story):
        raise TypeError(f"{ranked.id}: a story that is not a Story, and no `story` given")
    return ranked


def _process_count(stories: int, jobs: int) -> int:
    if not forking.can_fork():
        return 1
    wanted = jobs if jobs > 0 else forking.available_cores()
    return max(1, min(wanted, stories // STORIES_PER_PROCESS))


def _parts(
    files: Sequence[FeedFile], known: Mapping[bytes, StoryEntries], count: int
) -> list[list[int]]:
    """The indices of `files` in `count` parts of about equal work (entries to
    render, and to place), each feed (all its formats, which share entries) in
    one part, each part in order."""
    if count == 1:
        return [list(range(len(files)))]
    by_feed: dict[int, list[int]] = {}
    for index, file in enumerate(files):
        by_feed.setdefault(id(file.spec), []).append(index)

    def work(indices: list[int]) -> int:
        keys = files[indices[0]].keys
        return len(indices) * (len(keys) + 1) + 10 * sum(key not in known for key in keys)

    loads = [(0, part) for part in range(count)]
    parts: list[list[int]] = [[] for _ in range(count)]
    # Largest feeds first, each to the lightest part so far.
    for indices, cost in sorted(((i, work(i)) for i in by_feed.values()), key=lambda w: -w[1]):
        load, part = heapq.heappop(loads)
        parts[part].extend(indices)
        heapq.heappush(loads, (load + cost, part))
    return [sorted(part) for part in parts if part]
