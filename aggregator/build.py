"""The pipeline: files -> articles -> stories -> ranked feeds -> files in the output.

`run_build` wires the stages and collects the `BuildReport`. Everything it
decides is a function of the configuration, the article files and the reference
time; the clock is read only to time the build and to refuse far-future dates.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from aggregator.config import Config
from aggregator.emit import FeedSpec, render_atom, render_rss
from aggregator.errors import RefusedError, SourceError
from aggregator.fetch import FetchOutcome, default_user_agent, fetch_pages
from aggregator.freshness import freshen, page_record
from aggregator.lock import build_lock
from aggregator.merge import merge_stories
from aggregator.model import Article, BuildReport, FeedResult, FetchSummary, Rejection, Story
from aggregator.output import publish, remove_stale_temporaries
from aggregator.rank import rank_stories, reference_time
from aggregator.sources import find_article_files, read_article
from aggregator.state import LAST_BUILD, read_record, write_record
from aggregator.topics import assign_slugs, display_names

#: How far past the build's clock a publication date may lie before it is refused.
FUTURE_TOLERANCE = timedelta(days=1)

#: The fetcher's cache, in the state directory.
FETCH_CACHE = "fetch-cache.sqlite"

#: Formats written for every feed: file suffix and renderer.
FORMATS: tuple[tuple[str, Callable[[FeedSpec], bytes]], ...] = (
    ("atom", render_atom),
    ("rss", render_rss),
)


@dataclass(frozen=True)
class BuildOptions:
    """What the command line adds to the configuration."""

    now: datetime | None = None
    strict: bool = False
    force: bool = False
    progress: Callable[[int, int], None] | None = None  # fetching: (done, total)


@dataclass(frozen=True)
class Collection:
    """The articles read from the sources, and the files that were refused."""

    files: int
    articles: tuple[Article, ...]
    rejected: tuple[Rejection, ...]


def collect(config: Config, clock: datetime) -> Collection:
    """Read every article file under the configured sources."""
    found = find_article_files(config.sources)
    articles: list[Article] = []
    rejected = list(found.rejected)
    latest = clock + FUTURE_TOLERANCE
    for path in found.paths:
        try:
            article = read_article(path, max_bytes=config.max_file_bytes)
        except SourceError as error:
            rejected.append(Rejection(display_path(path), error.reason))
            continue
        if article.published > latest:
            rejected.append(
                Rejection(
                    display_path(path),
                    f"publishedDateTime: {article.published.isoformat()} is in the future",
                )
            )
            continue
        articles.append(article)
    files = len(found.paths) + len(found.rejected)
    return Collection(files, tuple(articles), tuple(rejected))


def display_path(path: Path) -> str:
    """`path` relative to the working directory when it lies below it."""
    relative = os.path.relpath(path)
    return path.as_posix() if relative.startswith("..") else relative


@dataclass(frozen=True)
class Ranking:
    """Every story, best first, with what selection needs to know."""

    stories: tuple[Story, ...]
    reference: datetime | None
    topic_names: dict[str, str]
    drafts: int
    duplicates: int


@dataclass(frozen=True)
class Publication:
    """The feeds one build publishes, before any byte is written."""

    stories: tuple[Story, ...]
    feeds: tuple[tuple[str, FeedSpec], ...]  # (path stem relative to the output, spec)
    drafts: int
    duplicates: int
    topics: int

    @property
    def shown(self) -> tuple[Story, ...]:
        """The stories that appear in at least one feed, each once."""
        seen: dict[str, Story] = {}
        for _, spec in self.feeds:
            for story in spec.stories:
                seen.setdefault(story.id, story)
        return tuple(seen.values())


def rank_all(articles: Sequence[Article], config: Config, now: datetime | None) -> Ranking:
    """Merge copies into stories and rank them. Pure."""
    drafts = sum(1 for a in articles if a.draft)
    included = [a for a in articles if config.drafts or not a.draft]
    reference = reference_time(included, now)
    if reference is None:
        stories: list[Story] = []
    else:
        merged = merge_stories(included, config.merge, config.rank, reference)
        stories = rank_stories(merged, reference, config.rank)
    names = display_names(name for a in included for name in a.topics)
    return Ranking(tuple(stories), reference, names, drafts, len(included) - len(stories))


def rerank(ranking: Ranking, stories: Sequence[Story], config: Config) -> Ranking:
    """`ranking` with its stories replaced by `stories`, ranked again."""
    if ranking.reference is None:
        return ranking
    ranked = rank_stories(stories, ranking.reference, config.rank)
    return dataclasses.replace(ranking, stories=tuple(ranked))


def select(ranking: Ranking, config: Config) -> Publication:
    """Which stories go into which feed. Pure."""
    names = ranking.topic_names
    slugs = assign_slugs(names)
    stories = ranking.stories
    feeds = [("all", _spec(config, "all", "All stories", stories, names))]
    by_topic: dict[str, list[Story]] = {key: [] for key in names}
    for story in stories:
        for key in story.topics:
            by_topic[key].append(story)
    for key in sorted(names, key=lambda k: slugs[k]):
        stem = f"topics/{slugs[key]}"
        feeds.append((stem, _spec(config, stem, names[key], by_topic[key], names)))
    return Publication(
        stories=stories,
        feeds=tuple(feeds),
        drafts=ranking.drafts,
        duplicates=ranking.duplicates,
        topics=len(names),
    )


def plan(articles: Sequence[Article], config: Config, now: datetime | None) -> Publication:
    """Merge, rank and select without fetching. Pure."""
    return select(rank_all(articles, config, now), config)


def _spec(
    config: Config, stem: str, topic: str, ranked: Sequence[Story], names: dict[str, str]
) -> FeedSpec:
    site = config.site
    base = site.base_url if site.base_url.endswith("/") else site.base_url + "/"
    return FeedSpec(
        id=f"{base}{stem}",
        title=f"{site.title}: {topic}",
        subtitle=f"{topic}, the best stories first, from {site.title}",
        url_stem=f"{base}{stem}",
        site_url=f"{base}index.html",
        language=site.language,
        author=site.author,
        stories=tuple(ranked[: config.max_items]),
        topic_names=names,
        hub_url=config.publish.hub,
    )


@dataclass(frozen=True)
class RenderedFile:
    """One output file's bytes; `path` is relative to the output directory."""

    path: str
    entries: int
    data: bytes


def render_feeds(feeds: Iterable[tuple[str, FeedSpec]]) -> list[RenderedFile]:
    """Every feed in every format."""
    return [
        RenderedFile(f"{stem}.{suffix}", len(spec.stories), render(spec))
        for stem, spec in feeds
        for suffix, render in FORMATS
    ]


def check_drop(previous: int | None, current: int, max_drop_ratio: float) -> None:
    """Refuse a publication that lost more than `max_drop_ratio` of the previous one.

    A vanished mount or a half-synced folder looks like mass deletion; publishing it
    would empty every subscriber's feed.
    """
    if previous and current < previous * (1 - max_drop_ratio):
        raise RefusedError(
            "articles",
            f"this build has {current} articles where the previous one had {previous} "
            f"(more than {max_drop_ratio:.0%} fewer); nothing was written. If that is "
            "intended, build again with --force",
        )


def run_build(config: Config, options: BuildOptions, clock: datetime) -> BuildReport:
    """Read, plan, fetch if asked, and write under the build lock; report what happened.

    With `options.strict` and any rejected file, nothing is fetched or written.
    Raises `LockedError` when another build runs, `RefusedError` when the build would
    drop too many articles (unless `options.force`), `SourceError` for a missing
    source directory and `EmitError` when the output cannot be written; in each case
    the previous output is left intact.
    """
    started = time.perf_counter()
    with build_lock(config.state_dir):
        remove_stale_temporaries(config.output)
        collection = collect(config, clock)
        ranking = rank_all(collection.articles, config, options.now)
        report = BuildReport(
            files=collection.files,
            rejected=list(collection.rejected),
            drafts=ranking.drafts,
            articles=len(ranking.stories),
            duplicates=ranking.duplicates,
            topics=len(ranking.topic_names),
        )
        if not (options.strict and collection.rejected):
            if config.fetch.enabled:
                ranking = _freshen(ranking, config, options.progress, report)
            publication = select(ranking, config)
            report.articles = len(publication.stories)
            if not options.force:
                previous = read_record(config.state_dir, LAST_BUILD) or {}
                check_drop(previous.get("articles"), report.articles, config.publish.max_drop_ratio)
            rendered = render_feeds(publication.feeds)
            changed = publish({config.output / f.path: f.data for f in rendered})
            report.feeds = [
                FeedResult(f.path, f.entries, config.output / f.path in changed) for f in rendered
            ]
            write_record(config.state_dir, LAST_BUILD, {"articles": report.articles})
    report.seconds = time.perf_counter() - started
    return report


def _freshen(
    ranking: Ranking,
    config: Config,
    progress: Callable[[int, int], None] | None,
    report: BuildReport,
) -> Ranking:
    """Fetch the pages of the stories about to be published (see `freshness`)."""
    deadline = time.monotonic() + config.fetch.budget
    user_agent = default_user_agent(config.fetch.contact_url)

    def fetch(urls: list[str]) -> FetchOutcome:
        budget = max(deadline - time.monotonic(), 0.001)
        limits = dataclasses.replace(config.fetch, budget=budget)
        cache = config.state_dir / FETCH_CACHE
        return fetch_pages(urls, limits, cache, user_agent=user_agent, progress=progress)

    def shown(stories: Sequence[Story]) -> Sequence[Story]:
        return select(rerank(ranking, stories, config), config).shown

    stories, freshness = freshen(ranking.stories, shown, fetch, keep_dead=config.fetch.keep_dead)
    report.fetch = FetchSummary(
        counts=freshness.counts,
        pages=[page_record(page) for page in freshness.pages.values()],
        dead=[{"path": s.lead.source, "url": s.lead.url} for s in freshness.dead],
        budget_exhausted=freshness.budget_exhausted,
    )
    return rerank(ranking, stories, config)
