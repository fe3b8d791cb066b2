"""The pipeline: files -> articles -> stories -> ranked feeds -> files in the output.

`run_build` wires the stages and collects the `BuildReport`. Everything it
decides is a function of the configuration, the article files, the reference
time and the story ids the previous build kept (`state`); the clock is read only
to time the build and to refuse far-future dates.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from aggregator.config import Config
from aggregator.emit import FeedSpec, render_atom, render_rss
from aggregator.errors import SourceError
from aggregator.merge import merge_stories, story_id_map
from aggregator.model import Article, BuildReport, FeedResult, Rejection, Story
from aggregator.output import write_if_changed
from aggregator.rank import rank_stories, reference_time
from aggregator.sources import find_article_files, read_article
from aggregator.state import load_story_ids, save_story_ids
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
    write: bool = True


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
class Publication:
    """The feeds one build publishes, before any byte is written."""

    stories: tuple[Story, ...]
    feeds: tuple[tuple[str, FeedSpec], ...]  # (path stem relative to the output, spec)
    drafts: int
    duplicates: int
    topics: int


def plan(
    articles: Sequence[Article],
    config: Config,
    now: datetime | None,
    known_ids: Mapping[str, str] | None = None,
) -> Publication:
    """Merge, rank and select: which stories go into which feed. Pure.

    `known_ids` are the story ids of the previous build (see `merge_stories`).
    """
    drafts = sum(1 for a in articles if a.draft)
    included = [a for a in articles if config.drafts or not a.draft]
    reference = reference_time(included, now)
    if reference is None:
        stories: list[Story] = []
    else:
        merged = merge_stories(included, config.merge, config.rank, reference, known_ids)
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


def write_feeds(feeds: Iterable[tuple[str, FeedSpec]], output: Path) -> list[FeedResult]:
    """Render every feed in every format and write what changed."""
    results = []
    for stem, spec in feeds:
        for suffix, render in FORMATS:
            relative = f"{stem}.{suffix}"
            changed = write_if_changed(output / relative, render(spec))
            results.append(FeedResult(relative, len(spec.stories), changed))
    return results


def run_build(config: Config, options: BuildOptions, clock: datetime) -> BuildReport:
    """Read, plan and (unless `options.write` is false) write; report what happened.

    With `options.strict` and any rejected file, nothing is written. Story ids are
    kept in `config.state_dir` from one written build to the next.
    """
    started = time.perf_counter()
    collection = collect(config, clock)
    known_ids = load_story_ids(config.state_dir)
    publication = plan(collection.articles, config, options.now, known_ids)
    report = BuildReport(
        files=collection.files,
        rejected=list(collection.rejected),
        drafts=publication.drafts,
        articles=len(publication.stories),
        duplicates=publication.duplicates,
        topics=publication.topics,
    )
    if options.write and not (options.strict and collection.rejected):
        # Ids first: should writing the feeds fail, the next build still gives
        # these stories the ids their readers may already have seen.
        save_story_ids(config.state_dir, story_id_map(publication.stories))
        report.feeds = write_feeds(publication.feeds, config.output)
    report.seconds = time.perf_counter() - started
    return report
