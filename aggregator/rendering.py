"""Rendering the feed files a build writes, deriving each story's entry once.

A story is in the "all" feed and in its topics' feeds, and every feed is written
in each format; one `Entries` serves a whole pass, so what an entry shows of a
story alone (`feedspec.Entry`) is derived once per story, not once per feed and
format. The bytes are those each renderer gives for its feed on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from aggregator.feedspec import Entries, FeedSpec

#: A format's renderer: the feed's bytes, taking entries from (and adding to) `Entries`.
Renderer = Callable[[FeedSpec, Entries], bytes]
#: One file to render: its format's renderer and its feed.
Rendering = tuple[Renderer, FeedSpec]


def render_all(renderings: Sequence[Rendering]) -> list[bytes]:
    """Each file's bytes, in order."""
    entries = Entries()
    return [render(spec, entries) for render, spec in renderings]
