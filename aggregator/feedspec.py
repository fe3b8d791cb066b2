"""What one feed shows, whatever its format: the `FeedSpec` and each story's `Entry`.

Every renderer (Atom and RSS in `emit`, JSON Feed in `jsonfeed`, the index pages in
`pages`) reads the same `FeedSpec`, so the formats never disagree about a feed.
A story appears in several feeds and each feed in several formats: the parts of
its entry that depend on the story alone (its `Entry`) are derived once per
rendering pass, through `Entries`, which also keeps what the formats of one feed
share. Pure: no I/O.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Generic, TypeVar, cast

from aggregator.model import Image, Ranked, Story
from aggregator.urls import clean_url

#: The `updated` time of an empty feed that has no earlier time to keep.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_T = TypeVar("_T")
#: How a spec holds its stories: `Story` to render, `StoryRef` to plan.
_S = TypeVar("_S", bound=Ranked, covariant=True)


@dataclass(frozen=True)
class FeedSpec(Generic[_S]):
    """Everything one feed shows. `stories` are already ranked and cut to size:
    `Story`s to render; selection and planning hold `StoryRef`s (see `model`).

    `name` is what lists of feeds call it (a topic, or "All stories"); `title` is
    the feed's own title. `url_stem` is the feed's URL without its format suffix
    (`.atom`, `.rss`, `.json`). `updated_if_empty` is the feed's updated time while
    it has no stories: every Atom feed needs one and the clock is never read.
    """

    id: str
    name: str
    title: str
    subtitle: str
    url_stem: str
    site_url: str
    language: str
    author: str
    stories: Sequence[_S]
    topic_names: Mapping[str, str]
    stylesheet_url: str | None = None
    hub_url: str | None = None
    updated_if_empty: datetime = EPOCH

    def self_url(self, suffix: str) -> str:
        """The feed's own URL in the format with file suffix `suffix`."""
        return f"{self.url_stem}.{suffix}"

    @property
    def updated(self) -> datetime:
        """The newest story's time, or `updated_if_empty`."""
        return max((story.updated for story in self.stories), default=self.updated_if_empty)

    @property
    def newest(self) -> _S | None:
        """The most recently published story; among equals the best-ranked."""
        return max(self.stories, key=_published, default=None)


def _published(story: Ranked) -> datetime:
    return story.published


@dataclass(frozen=True)
class Format:
    """A feed format, rendered in two parts (so that a build renders a story's entry
    once, and may keep it; see `rendering`): `entries` gives the entry of each
    story of a spec, `document` the feed of a spec around the entries of its
    stories, in order. A story's entry depends on the story and the spec's
    `topic_names` alone, not on the feed it is in; the document does not depend on
    how its stories are held (`Story` or `StoryRef`)."""

    suffix: str
    entries: Callable[[FeedSpec[Story], Entries], list[bytes]]
    document: Callable[[FeedSpec[Ranked], Sequence[bytes]], bytes]


@dataclass(frozen=True, slots=True)
class Entry:
    """What every format shows of a story that is derived from the story alone.

    `link` is the lead's URL without tracking parameters, `content_html` the
    entry's HTML (`entry_html`) and `image` the image shown with it (`story_image`).
    """

    link: str
    content_html: str
    image: Image | None

    @classmethod
    def of(cls, story: Story) -> Entry:
        """The story's entry parts, derived now."""
        return cls(clean_url(story.lead.url), entry_html(story), story_image(story))


class Entries:
    """Each story's `Entry`, derived the first time it is asked for; and what the
    formats of the feed rendered last share (`shared`).

    Owned by one rendering pass (the feeds and formats a build renders, or a
    part of them) and dropped with it, so nothing outlives a build. Stories are
    told apart by identity: the same story object in several feeds is derived
    once, and a story object is never mistaken for another.
    """

    def __init__(self) -> None:
        # id(story) -> (story, entry); holding the story keeps its id from being reused.
        self._made: dict[int, tuple[Story, Entry]] = {}
        self._shared: tuple[FeedSpec[Story], object, object] | None = None

    def __getitem__(self, story: Story) -> Entry:
        made = self._made.get(id(story))
        if made is None:
            made = self._made[id(story)] = (story, Entry.of(story))
        return made[1]

    def shared(self, spec: FeedSpec[Story], make: Callable[[FeedSpec[Story], Entries], _T]) -> _T:
        """`make(spec, self)`, made again only when asked for another feed or maker.

        For what several formats of one feed can share (`emit` renders Atom and
        RSS from one generator). A pass renders each feed's formats one after
        the other (see `rendering`), so only the latest feed's is kept: memory
        for one feed, not for all. Asked for out of turn, it is made again: the
        same result, with the work done twice.
        """
        if self._shared is None or self._shared[0] is not spec or self._shared[1] is not make:
            self._shared = (spec, make, make(spec, self))
        return cast(_T, self._shared[2])


def story_image(story: Story) -> Image | None:
    """The image shown with a story: the first image of its best-ranked copy that has one."""
    return next((img for article in story.articles for img in article.images), None)


def story_tags(story: Ranked, topic_names: Mapping[str, str]) -> list[str]:
    """The display names of the story's topics, in topic-key order."""
    return [topic_names.get(key, key) for key in story.topics]


def entry_html(story: Story) -> str:
    """The entry's HTML content: excerpt, other outlets, related coverage. All escaped."""
    lead = story.lead
    parts = []
    if lead.excerpt:
        parts.append(f"<p>{_text(lead.excerpt)}</p>")
    parts.append(f'<p><a href="{_attr(clean_url(lead.url))}">Read at {_text(lead.outlet)}</a></p>')
    others = _other_outlets(story)
    if others:
        links = ", ".join(f'<a href="{_attr(url)}">{_text(name)}</a>' for name, url in others)
        parts.append(f"<p>Also reported by: {links}</p>")
    if lead.related:
        items = "".join(
            f'<li><a href="{_attr(item.url)}">{_text(item.title)}</a>'
            + (f" ({_text(item.provider.name)})" if item.provider else "")
            + "</li>"
            for item in lead.related
        )
        parts.append(f"<p>Related coverage:</p><ul>{items}</ul>")
    return "\n".join(parts)


def _other_outlets(story: Story) -> list[tuple[str, str]]:
    """Each other outlet that carried the story, once, with its best copy's link."""
    seen = {story.lead.outlet}
    others = []
    for copy in story.copies:
        if copy.outlet not in seen:
            seen.add(copy.outlet)
            others.append((copy.outlet, clean_url(copy.url)))
    return others


def _text(text: str) -> str:
    return html.escape(text, quote=False)


def _attr(text: str) -> str:
    return html.escape(text, quote=True)
