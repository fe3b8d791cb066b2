"""The typed values that flow through the pipeline.

Everything here is frozen and already validated: `sources` builds these from
untrusted files and every later stage trusts them. Invariants:
- every `datetime` is timezone-aware UTC;
- every URL is an absolute http or https URL;
- every text is free of characters XML 1.0 forbids, and titles are single-line.
The article file's `secured` blob has no field here on purpose: it never enters the
pipeline, so it cannot leak into any output or log. The value types have slots, no
`__dict__`: a build holds one or more per article, and merging reads them often.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple, Protocol
from urllib.parse import urlsplit


@dataclass(frozen=True, slots=True)
class Provider:
    name: str
    domain: str = ""


@dataclass(frozen=True, slots=True)
class Image:
    url: str
    width: int | None = None
    height: int | None = None
    title: str = ""


@dataclass(frozen=True, slots=True)
class Related:
    """Coverage of the same event by another article: listed with an entry, never merged."""

    title: str
    url: str
    excerpt: str = ""
    published: datetime | None = None
    provider: Provider | None = None
    quality: float = 0.0
    images: tuple[Image, ...] = ()


@dataclass(frozen=True, slots=True)
class Article:
    """One article file. `source` is the path it came from, as the user named it."""

    source: str
    title: str
    url: str
    published: datetime
    updated: datetime | None = None
    excerpt: str = ""
    body: str = ""
    amp_url: str | None = None
    cdn_amp_url: str | None = None
    category: str = ""
    type: str = ""
    heat: float = 0.0
    quality: float = 0.0
    draft: bool = False
    provider: Provider | None = None
    topics: tuple[str, ...] = ()
    images: tuple[Image, ...] = ()
    related: tuple[Related, ...] = ()

    @property
    def outlet(self) -> str:
        """The outlet's name, or the link's host when the file names no provider."""
        return outlet_name(None if self.provider is None else self.provider.name, self.url)

    @property
    def newest(self) -> datetime:
        """The later of published and updated."""
        return newest_time(self.published, self.updated)


def outlet_name(provider: str | None, url: str) -> str:
    """`Article.outlet` of an article with this provider name and link."""
    if provider is not None:
        return provider
    return urlsplit(url).hostname or url


def newest_time(published: datetime, updated: datetime | None) -> datetime:
    """`Article.newest` of an article with these times."""
    if updated is not None and updated > published:
        return updated
    return published


@dataclass(frozen=True, slots=True)
class Story:
    """One news story: the best-ranked copy (`lead`) and the copies merged into it.

    `copies` excludes the lead and is in rank order. `id` is the same for every URL
    variant and copy of the story, and stays while copies come and go (given the
    ids of the previous build: see `merge.merge_stories`). `topics` are topic keys (see
    `topics.topic_key`), sorted. `published` is the earliest copy's, `updated` the
    newest time of any copy; `heat` and `quality` are the highest among the copies.
    """

    id: str
    lead: Article
    copies: tuple[Article, ...]
    topics: tuple[str, ...]
    published: datetime
    updated: datetime
    heat: float
    quality: float

    @property
    def articles(self) -> tuple[Article, ...]:
        return (self.lead, *self.copies)

    @property
    def providers(self) -> int:
        """How many distinct outlets reported the story (at least 1)."""
        if not self.copies:
            return 1
        return len({article.outlet for article in self.articles})


class StoryRef(NamedTuple):
    """A `Story` whose copies are named by their positions among the articles
    merged rather than held: all that ranking and selection read, so that only
    the stories a build renders need their articles at hand (see `story`).

    `copies` holds the positions of the lead, then of the other copies, in rank
    order; `providers` is `Story.providers`; the other fields are the story's.
    A named tuple, not a frozen dataclass: a build makes one per story (80,000
    at 100,000 articles), and a tuple is made in a third of the time.
    """

    id: str
    copies: tuple[int, ...]
    topics: tuple[str, ...]
    published: datetime
    updated: datetime
    heat: float
    quality: float
    providers: int

    def story(self, article_at: Callable[[int], Article]) -> Story:
        """The story itself, given the article at each position."""
        lead, *others = self.copies
        return Story(
            self.id,
            article_at(lead),
            tuple(article_at(position) for position in others),
            self.topics,
            self.published,
            self.updated,
            self.heat,
            self.quality,
        )


class Ranked(Protocol):
    """What ranking, selection and the feeds' lists read of a story: a `Story`
    or a `StoryRef`."""

    @property
    def id(self) -> str: ...
    @property
    def topics(self) -> tuple[str, ...]: ...
    @property
    def published(self) -> datetime: ...
    @property
    def updated(self) -> datetime: ...
    @property
    def heat(self) -> float: ...
    @property
    def quality(self) -> float: ...
    @property
    def providers(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Rejection:
    """An article file that could not become an article, and why."""

    path: str
    reason: str


@dataclass(frozen=True, slots=True)
class FeedResult:
    """One written feed file: `path` is relative to the output directory."""

    path: str
    entries: int
    changed: bool


@dataclass
class FetchSummary:
    """What fetching did: counts by page status, every page's result, dead stories."""

    counts: dict[str, int]
    pages: list[dict[str, object]]
    dead: list[dict[str, str]]
    budget_exhausted: bool


@dataclass
class BuildReport:
    """What a build did. `to_json()` gives the `--report` document (keys are a contract).

    `hub_pings` counts the publish notifications the WebSub hub accepted; `pruned`
    lists the orphan feed files deleted (`publish.prune_orphans`).
    """

    files: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    drafts: int = 0
    articles: int = 0
    duplicates: int = 0
    topics: int = 0
    feeds: list[FeedResult] = field(default_factory=list)
    seconds: float = 0.0
    hub_pings: int = 0
    pruned: list[str] = field(default_factory=list)
    fetch: FetchSummary | None = None

    @property
    def changed(self) -> int:
        return sum(1 for feed in self.feeds if feed.changed)

    def to_json(self) -> dict[str, object]:
        return {
            "files": self.files,
            "rejected": [{"path": r.path, "reason": r.reason} for r in self.rejected],
            "drafts": self.drafts,
            "articles": self.articles,
            "duplicates": self.duplicates,
            "topics": self.topics,
            "feeds": [
                {"path": f.path, "entries": f.entries, "changed": f.changed} for f in self.feeds
            ],
            "seconds": round(self.seconds, 3),
            "hub_pings": self.hub_pings,
            "pruned": list(self.pruned),
            **self._fetch_json(),
        }

    def _fetch_json(self) -> dict[str, object]:
        if self.fetch is None:
            return {}
        return {
            **self.fetch.counts,
            "fetch_budget_exhausted": self.fetch.budget_exhausted,
            "dead_links": self.fetch.dead,
            "pages": self.fetch.pages,
        }
