"""The pipeline: files -> articles -> stories -> ranked feeds -> files in the output.

`run_build` wires the stages and collects the `BuildReport`. Everything it
decides is a function of the configuration, the article files and the reference
time; the clock is read only to time the build and to refuse far-future dates.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from aggregator.cache import parse_with_cache
from aggregator.compact import unpack
from aggregator.config import Config
from aggregator.emit import FeedSpec, render_atom, render_rss
from aggregator.errors import RefusedError
from aggregator.incremental import (
    build_record,
    input_fingerprint,
    plan_feed_files,
    reusable_report,
    write_changed,
)
from aggregator.lock import build_lock
from aggregator.merge import merge_stories
from aggregator.model import Article, BuildReport, Rejection, Story
from aggregator.output import remove_stale_temporaries
from aggregator.rank import rank_stories, reference_time
from aggregator.sources import FoundFiles, find_article_files
from aggregator.state import LAST_BUILD, read_record, write_record
from aggregator.topics import assign_slugs, display_names

#: How far past the build's clock a publication date may lie before it is refused.
FUTURE_TOLERANCE = timedelta(days=1)

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


@dataclass(frozen=True)
class Collection:
    """The articles read from the sources, and the files that were refused.

    `digests` maps an article's source to the article and a digest of it (see
    `compact.digest`), for telling changed feeds from unchanged ones. `due` is the
    earliest publication time among the articles refused as being in the future.
    """

    files: int
    articles: tuple[Article, ...]
    rejected: tuple[Rejection, ...]
    digests: Mapping[str, tuple[Article, str]] = field(default_factory=dict)
    due: datetime | None = None


def collect(
    config: Config, clock: datetime, found: FoundFiles | None = None, *, cache: bool = False
) -> Collection:
    """Read every article file under the configured sources (or the `found` ones).

    Files are parsed over `config.jobs` processes. With `cache`, unchanged files
    are taken from the parse cache in the state directory and the cache is
    updated: call it so only under the build lock.
    """
    if found is None:
        found = find_article_files(config.sources)
    results = parse_with_cache(
        found.names,
        found.stamps,
        max_bytes=config.max_file_bytes,
        jobs=config.jobs,
        state_dir=config.state_dir if cache else None,
    )
    articles: list[Article] = []
    digests: dict[str, tuple[Article, str]] = {}
    rejected = list(found.rejected)
    latest = clock + FUTURE_TOLERANCE
    due: datetime | None = None
    for name, (digest, payload) in zip(found.names, results, strict=True):
        if isinstance(payload, str):
            rejected.append(Rejection(display_path(Path(name)), payload))
            continue
        article = unpack(name, payload)
        if article.published > latest:
            rejected.append(
                Rejection(
                    display_path(Path(name)),
                    f"publishedDateTime: {article.published.isoformat()} is in the future",
                )
            )
            due = article.published if due is None else min(due, article.published)
            continue
        articles.append(article)
        digests[article.source] = (article, digest)
    files = len(found.names) + len(found.rejected)
    return Collection(files, tuple(articles), tuple(rejected), digests, due)


def display_path(path: Path) -> str:
    """`path` relative to the working directory when it lies below it."""
    relative = os.path.relpath(path)
    return path.as_posix() if relative.startswith("..") else relative


@dataclass(frozen=True)
class Publication:
    """The feeds one build publishes, before any byte is written."""

    stories: tuple[Story, ...]
    feeds: tuple[tuple[str, FeedSpec], ...]  # (path stem relative to the output, spec)
    drafts: int
    duplicates: int
    topics: int


def plan(articles: Sequence[Article], config: Config, now: datetime | None) -> Publication:
    """Merge, rank and select: which stories go into which feed. Pure."""
    drafts = sum(1 for a in articles if a.draft)
    included = [a for a in articles if config.drafts or not a.draft]
    reference = reference_time(included, now)
    if reference is None:
        stories: list[Story] = []
    else:
        merged = merge_stories(included, config.merge, config.rank, reference)
        stories = rank_stories(merged, reference, config.rank)
    names = display_names(name for a in included for name in a.topics)
    slugs = assign_slugs(names)
    feeds = [("all", _spec(config, "all", "All stories", stories, names))]
    by_topic: dict[str, list[Story]] = {key: [] for key in names}
    for story in stories:
        for key in story.topics:
            by_topic[key].append(story)
    for key in sorted(names, key=lambda k: slugs[k]):
        stem = f"topics/{slugs[key]}"
        feeds.append((stem, _spec(config, stem, names[key], by_topic[key], names)))
    return Publication(
        stories=tuple(stories),
        feeds=tuple(feeds),
        drafts=drafts,
        duplicates=len(included) - len(stories),
        topics=len(names),
    )


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
    """Read, plan and write under the build lock; report what happened.

    With `options.strict` and any rejected file, nothing is written. Raises
    `LockedError` when another build runs, `RefusedError` when the build would drop
    too many articles (unless `options.force`), `SourceError` for a missing source
    directory and `EmitError` when the output cannot be written; in each case the
    previous output is left intact.
    """
    started = time.perf_counter()
    with build_lock(config.state_dir):
        remove_stale_temporaries(config.output)
        found = find_article_files(config.sources)
        fingerprint = input_fingerprint(config, options, found)
        previous = read_record(config.state_dir, LAST_BUILD) or {}
        reused = reusable_report(previous, fingerprint, config=config, clock=clock)
        if reused is not None:  # same inputs as the last build: the same files
            reused.seconds = time.perf_counter() - started
            return reused
        collection = collect(config, clock, found, cache=True)
        publication = plan(collection.articles, config, options.now)
        report = BuildReport(
            files=collection.files,
            rejected=list(collection.rejected),
            drafts=publication.drafts,
            articles=len(publication.stories),
            duplicates=publication.duplicates,
            topics=publication.topics,
        )
        if not (options.strict and collection.rejected):
            if not options.force:
                check_drop(previous.get("articles"), report.articles, config.publish.max_drop_ratio)
            planned = plan_feed_files(publication.feeds, FORMATS, collection.digests)
            written = previous.get("files")
            report.feeds, files = write_changed(
                planned, config.output, written if isinstance(written, dict) else {}
            )
            due = collection.due
            valid_until = None if due is None else due - FUTURE_TOLERANCE
            record = build_record(report, fingerprint, files, valid_until)
            write_record(config.state_dir, LAST_BUILD, record)
    report.seconds = time.perf_counter() - started
    return report
