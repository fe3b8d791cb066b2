"""Rendering a build's feeds in one pass gives each file the bytes it has alone."""

from __future__ import annotations

import dataclasses
import os
import pickle
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from aggregator import rendering
from aggregator.feedspec import Entries, Entry, FeedSpec
from aggregator.model import Ranked, Story, StoryRef
from aggregator.pipeline import FORMATS
from aggregator.rendering import Rendering, render_all
from tests.publishing import SAMPLE, build, feed_files, make_config, spec


def feeds() -> list[FeedSpec]:
    """Three feeds sharing story objects, one under other topic names."""
    whole = spec()
    return [
        whole,
        dataclasses.replace(whole, id="other", stories=whole.stories[1:]),
        dataclasses.replace(whole, stories=whole.stories[::-1], topic_names={}),
    ]


def renderings() -> list[Rendering]:
    return [(render, feed) for feed in feeds() for _, render in FORMATS]


def test_one_pass_gives_the_bytes_of_each_feed_rendered_alone() -> None:
    alone = [render(feed, Entries()) for render, feed in renderings()]
    assert render_all(renderings()) == alone


def test_feeds_of_story_references_render_as_feeds_of_their_stories() -> None:
    stories = {story.id: story for feed in feeds() for story in feed.stories}
    made: list[str] = []

    def story_of(ranked: Ranked) -> Story:
        made.append(ranked.id)
        return stories[ranked.id]

    def reference(story: Story) -> StoryRef:
        return StoryRef(story.id, (0,), story.topics, story.published, story.updated, 0, 0, 1)

    referring = [dataclasses.replace(f, stories=tuple(map(reference, f.stories))) for f in feeds()]
    by_reference: list[Rendering] = [(render, feed) for feed in referring for _, render in FORMATS]
    assert render_all(by_reference, story=story_of) == render_all(renderings())
    # Once per story of each feed, not once per format.
    assert len(made) == sum(len(feed.stories) for feed in feeds())
    with pytest.raises(TypeError, match="not a Story"):
        render_all(by_reference)


def test_entries_derive_each_story_once_by_identity() -> None:
    entries = Entries()
    story = spec().stories[0]
    assert entries[story] is entries[story]
    assert entries[story] == Entry.of(story)
    twin = dataclasses.replace(story)  # equal, another object: derived on its own
    assert entries[twin] == entries[story]
    assert entries[twin] is not entries[story]


def test_entries_share_what_one_feed_made_while_it_is_asked_for_in_a_row() -> None:
    made: list[tuple[FeedSpec, str]] = []

    def maker(name: str) -> Callable[[FeedSpec, Entries], object]:
        def make(feed: FeedSpec, entries: Entries) -> object:
            made.append((feed, name))
            return object()

        return make

    first, second = feeds()[:2]
    one, other = maker("one"), maker("other")
    entries = Entries()
    shared = entries.shared(first, one)
    assert entries.shared(first, one) is shared
    entries.shared(second, one)
    entries.shared(second, other)
    assert entries.shared(first, one) is not shared
    assert made == [(first, "one"), (second, "one"), (second, "other"), (first, "one")]


@pytest.fixture
def alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """This process as the command line runs it: no thread but the main one (a test
    run may keep others, such as an HTTP server's), and copies for a few entries."""
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    monkeypatch.setattr(rendering, "ENTRIES_PER_PROCESS", 1)


@pytest.mark.usefixtures("alone")
def test_copies_of_the_process_render_the_same_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    work = renderings()
    assert rendering._process_count(work, jobs=3) == 3
    parts = rendering._parts(work, 3)
    assert sorted(i for part in parts for i in part) == list(range(len(work)))
    assert all(len({id(work[i][1]) for i in part}) == len(part) // len(FORMATS) for part in parts)
    children = _count_children(monkeypatch)
    assert render_all(work, jobs=3) == render_all(work, jobs=1)
    assert children == [2]  # two copies rendered two parts; this process the third


@pytest.mark.usefixtures("alone")
def test_a_copy_that_fails_has_its_part_rendered_here(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")  # only the copies write

    monkeypatch.setattr(pickle, "dump", broken)
    assert render_all(renderings(), jobs=2) == render_all(renderings(), jobs=1)


def test_no_copies_while_another_thread_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rendering, "ENTRIES_PER_PROCESS", 1)
    with monkeypatch.context() as patched:
        patched.setattr(threading, "active_count", lambda: 1)
        assert rendering._process_count(renderings(), jobs=2) == 2
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        assert rendering._process_count(renderings(), jobs=2) == 1
    finally:
        release.set()
        other.join()


def test_few_entries_are_rendered_here(monkeypatch: pytest.MonkeyPatch) -> None:
    assert rendering._process_count(renderings(), jobs=4) == 1  # far below the threshold
    children = _count_children(monkeypatch)
    render_all(renderings(), jobs=4)
    assert children == [0]


def _count_children(monkeypatch: pytest.MonkeyPatch, pids: list[int] | None = None) -> list[int]:
    """A one-item list counting the copies `render_all` starts; their pids go to `pids`."""
    started = [0]
    fork = os.fork

    def counting() -> int:
        started[0] += 1
        pid = fork()
        if pids is not None and pid:
            pids.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", counting)
    return started


@pytest.mark.usefixtures("alone")
def test_a_build_over_copies_writes_what_one_process_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    children = _count_children(monkeypatch)
    outputs = []
    for jobs in (1, 2):
        config = dataclasses.replace(
            make_config(SAMPLE, tmp_path / f"jobs{jobs}" / "feeds"), jobs=jobs
        )
        build(config)
        files = feed_files(config.output)
        outputs.append({p.relative_to(config.output): p.read_bytes() for p in files})
    assert children[0] >= 1
    assert outputs[0] == outputs[1] and len(outputs[0]) > 20


@pytest.mark.usefixtures("alone")
def test_a_failure_here_ends_and_reaps_the_copies(monkeypatch: pytest.MonkeyPatch) -> None:
    pids: list[int] = []
    _count_children(monkeypatch, pids)
    real = rendering._render
    parent = os.getpid()

    def failing_here(work: list[Rendering], story: Any) -> list[bytes]:
        if os.getpid() == parent:
            raise RuntimeError("broken feed")
        return real(work, story)

    monkeypatch.setattr(rendering, "_render", failing_here)
    with pytest.raises(RuntimeError, match="broken feed"):
        render_all(renderings(), jobs=3)
    assert len(pids) == 2
    for pid in pids:  # already reaped: no zombie left behind
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
