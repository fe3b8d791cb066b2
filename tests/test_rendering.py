"""Rendering a build's feeds in one pass gives each file the bytes it has alone,
rendering each story's entries once, and only those it is not given."""

from __future__ import annotations

import dataclasses
import os
import pickle
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from aggregator import rendering
from aggregator.entrystore import StoryEntries
from aggregator.feedspec import Entries, Entry, FeedSpec, story_tags
from aggregator.model import Ranked, Story, StoryRef
from aggregator.pipeline import FORMATS
from aggregator.rendering import FeedFile, render_all
from tests.publishing import SAMPLE, build, feed_files, make_config, spec


def feeds() -> list[FeedSpec]:
    """Three feeds sharing story objects, one under other topic names."""
    whole = spec()
    return [
        whole,
        dataclasses.replace(whole, id="other", stories=whole.stories[1:]),
        dataclasses.replace(whole, stories=whole.stories[::-1], topic_names={}),
    ]


def key(story: Ranked, feed: FeedSpec) -> bytes:
    """A key that tells apart what the entries show here: the story and its tags."""
    return repr([story.id, [feed.topic_names.get(t, t) for t in story.topics]]).encode()


def files_of(specs: Sequence[FeedSpec]) -> list[FeedFile]:
    return [
        FeedFile(form, feed, tuple(key(story, feed) for story in feed.stories))
        for feed in specs
        for form in FORMATS
    ]


def alone(files: Sequence[FeedFile]) -> list[bytes]:
    """Each file as its format renders the feed on its own."""
    return [f.format.document(f.spec, f.format.entries(f.spec, Entries())) for f in files]


def render(
    files: Sequence[FeedFile], known: Mapping[bytes, StoryEntries] | None = None, **options: Any
) -> list[bytes]:
    return render_all(files, FORMATS, known=known, **options)[0]


def test_one_pass_gives_the_bytes_of_each_feed_rendered_alone() -> None:
    files = files_of(feeds())
    rendered, fresh = render_all(files, FORMATS)
    assert rendered == alone(files)
    # Each story once, and once more under the other topic names.
    stories = {story.id for feed in feeds() for story in feed.stories}
    assert len(fresh) == 2 * len(stories)
    assert {len(entries) for entries in fresh.values()} == {len(FORMATS)}


def test_given_entries_are_used_and_not_rendered_again() -> None:
    files = files_of(feeds())
    _, fresh = render_all(files, FORMATS)
    given = dict(list(fresh.items())[:2])
    marked = {k: tuple(b"<!-- kept -->" + e for e in entries) for k, entries in given.items()}
    rendered, again = render_all(files, FORMATS, known=marked)
    assert again.keys() == fresh.keys() - given.keys()
    assert all(again[k] == fresh[k] for k in again)
    # The given entries are the ones the files hold.
    expected = [
        f.format.document(
            f.spec, [({**fresh, **marked})[k][FORMATS.index(f.format)] for k in f.keys]
        )
        for f in files
    ]
    assert rendered == expected
    assert render_all(files, FORMATS, known=fresh) == (alone(files), {})


def test_feeds_of_story_references_render_as_feeds_of_their_stories() -> None:
    stories = {story.id: story for feed in feeds() for story in feed.stories}
    made: list[str] = []

    def story_of(ranked: Ranked) -> Story:
        made.append(ranked.id)
        return stories[ranked.id]

    def reference(story: Story) -> StoryRef:
        return StoryRef(story.id, (0,), story.topics, story.published, story.updated, 0, 0, 1)

    referring = [dataclasses.replace(f, stories=tuple(map(reference, f.stories))) for f in feeds()]
    files = [
        dataclasses.replace(file, spec=feed)
        for file, feed in zip(
            files_of(feeds()), [f for f in referring for _ in FORMATS], strict=True
        )
    ]
    rendered, fresh = render_all(files, FORMATS, story=story_of)
    assert rendered == alone(files_of(feeds()))
    # Once per story and topic names rendered, not once per feed or format.
    assert len(made) == len(fresh) == 2 * len(stories)
    made.clear()
    first = files[0].keys[0]
    render_all(files, FORMATS, story=story_of, known={first: fresh[first]})
    assert len(made) == len(fresh) - 1  # a story whose entries are given is not made
    with pytest.raises(TypeError, match="not a Story"):
        render_all(files, FORMATS)


def test_a_story_has_the_same_entries_in_every_feed_of_the_same_topic_names() -> None:
    whole = feeds()[0]
    for form in FORMATS:
        together = form.entries(whole, Entries())
        apart = [
            form.entries(dataclasses.replace(whole, id=f"x{i}", stories=(s,)), Entries())[0]
            for i, s in enumerate(whole.stories)
        ]
        assert together == apart
    renamed = dataclasses.replace(whole, topic_names={})
    assert story_tags(whole.stories[0], whole.topic_names) != story_tags(whole.stories[0], {})
    assert FORMATS[0].entries(renamed, Entries()) != FORMATS[0].entries(whole, Entries())


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
def forkable(monkeypatch: pytest.MonkeyPatch) -> None:
    """This process as the command line runs it: no thread but the main one (a test
    run may keep others, such as an HTTP server's), and copies for a few stories."""
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    monkeypatch.setattr(rendering, "STORIES_PER_PROCESS", 1)


@pytest.mark.usefixtures("forkable")
def test_copies_of_the_process_render_the_same_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    files = files_of(feeds())
    assert rendering._process_count(3, jobs=3) == 3
    parts = rendering._parts(files, {}, 3)
    assert sorted(i for part in parts for i in part) == list(range(len(files)))
    assert all(
        len({id(files[i].spec) for i in part}) == len(part) // len(FORMATS) for part in parts
    )
    children = _count_children(monkeypatch)
    assert render_all(files, FORMATS, jobs=3) == render_all(files, FORMATS, jobs=1)
    assert children == [2]  # two copies rendered two parts; this process the third


@pytest.mark.usefixtures("forkable")
def test_a_copy_that_fails_has_its_part_rendered_here(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")  # only the copies write

    files = files_of(feeds())
    expected = render_all(files, FORMATS, jobs=1)
    monkeypatch.setattr(pickle, "dump", broken)
    assert render_all(files, FORMATS, jobs=2) == expected


def test_no_copies_while_another_thread_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rendering, "STORIES_PER_PROCESS", 1)
    with monkeypatch.context() as patched:
        patched.setattr(threading, "active_count", lambda: 1)
        assert rendering._process_count(2, jobs=2) == 2
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        assert rendering._process_count(2, jobs=2) == 1
    finally:
        release.set()
        other.join()


def test_few_stories_are_rendered_here(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    assert rendering._process_count(10, jobs=4) == 1  # far below the threshold
    children = _count_children(monkeypatch)
    render_all(files_of(feeds()), FORMATS, jobs=4)
    assert children == [0]


@pytest.mark.usefixtures("forkable")
def test_given_entries_need_no_copies(monkeypatch: pytest.MonkeyPatch) -> None:
    files = files_of(feeds())
    _, fresh = render_all(files, FORMATS)
    children = _count_children(monkeypatch)
    render_all(files, FORMATS, jobs=3, known=fresh)
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


@pytest.mark.usefixtures("forkable")
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


@pytest.mark.usefixtures("forkable")
def test_a_failure_here_ends_and_reaps_the_copies(monkeypatch: pytest.MonkeyPatch) -> None:
    pids: list[int] = []
    _count_children(monkeypatch, pids)
    real = rendering._render_part
    parent = os.getpid()

    def failing_here(files: list[FeedFile], *args: Any) -> Any:
        if os.getpid() == parent:
            raise RuntimeError("broken feed")
        return real(files, *args)

    monkeypatch.setattr(rendering, "_render_part", failing_here)
    with pytest.raises(RuntimeError, match="broken feed"):
        render_all(files_of(feeds()), FORMATS, jobs=3)
    assert len(pids) == 2
    for pid in pids:  # already reaped: no zombie left behind
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
