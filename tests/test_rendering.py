"""Rendering a build's feeds in one pass gives each file the bytes it has alone."""

from __future__ import annotations

import dataclasses

from aggregator.feedspec import Entries, Entry, FeedSpec
from aggregator.pipeline import FORMATS
from aggregator.rendering import Rendering, render_all
from tests.publishing import spec


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


def test_entries_derive_each_story_once_by_identity() -> None:
    entries = Entries()
    story = spec().stories[0]
    assert entries[story] is entries[story]
    assert entries[story] == Entry.of(story)
    twin = dataclasses.replace(story)  # equal, another object: derived on its own
    assert entries[twin] == entries[story]
    assert entries[twin] is not entries[story]
