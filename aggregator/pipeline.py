"""The stages of a build: files -> articles -> stories -> ranked feeds -> files.

`write_feeds` runs them for `build.run_build`, which holds the lock and has
already found that the inputs changed. Everything the stages decide is a
function of the configuration, the article files, the reference time and the
story ids the previous build kept (`state`); the clock is read only to time the
build and to refuse far-future dates.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aggregator import forking
from aggregator.build import BuildOptions
from aggregator.cache import Result, parse_with_cache
from aggregator.compact import is_draft, merge_input, published, unpack
from aggregator.config import Config
from aggregator.emit import render_atom, render_rss
from aggregator.errors import RefusedError
from aggregator.feedspec import EPOCH, FeedSpec
from aggregator.files import FoundFiles, find_article_files
from aggregator.freshness import freshen, page_record
from aggregator.incremental import (
    PlannedFile,
    build_record,
    plan_feed_files,
    prepared_file,
    write_changed,
)
from aggregator.jsonfeed import render_json
from aggregator.merge import (
    CanonicalUrls,
    Grouping,
    MergeInput,
    group_articles,
    merge_stories,
    story_id_map,
)
from aggregator.model import Article, BuildReport, FetchSummary, Rejection, Story
from aggregator.output import remove_if_present
from aggregator.pages import OPML_NAME, render_index, render_opml
from aggregator.published import PublishedFeed, published_feeds
from aggregator.rank import rank_stories, reference_time
from aggregator.rendering import Renderer
from aggregator.state import (
    LAST_BUILD,
    load_story_ids,
    load_title_pairs,
    save_story_ids,
    save_title_pairs,
    story_ids_record,
    write_record,
)
from aggregator.titlepairs import TitlePairSearch
from aggregator.topics import assign_slugs, display_names
from aggregator.websub import notify_hub

log = logging.getLogger(__name__)

#: How far past the build's clock a publication date may lie before it is refused.
FUTURE_TOLERANCE = timedelta(days=1)

#: The fetcher's cache, in the state directory.
FETCH_CACHE = "fetch-cache.sqlite"

#: Formats written for every feed: file suffix and renderer.
FORMATS: tuple[tuple[str, Renderer], ...] = (
    ("atom", render_atom),
    ("rss", render_rss),
    ("json", render_json),
)
#: The stylesheet every Atom and RSS feed names, at the top of the output.
STYLESHEET = "feed.xsl"
INDEX_HTML = "index.html"
#: Output files that are not feeds (the report lists feeds only).
INDEX_FILES = frozenset({STYLESHEET, OPML_NAME, INDEX_HTML})


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
    return assemble(found, read_articles(config, found, cache=cache), clock)


def read_articles(config: Config, found: FoundFiles, *, cache: bool) -> list[Result]:
    """What each of the `found` files parsed to (see `collect`)."""
    return parse_with_cache(
        found.names,
        found.stamps,
        max_bytes=config.max_file_bytes,
        jobs=config.jobs,
        state_dir=config.state_dir if cache else None,
    )


def assemble(found: FoundFiles, results: Sequence[Result], clock: datetime) -> Collection:
    """The articles and rejections of `read_articles` of the `found` files."""
    articles: list[Article] = []
    digests: dict[str, tuple[Article, str]] = {}
    rejected = list(found.rejected)
    latest = clock + FUTURE_TOLERANCE
    due: datetime | None = None
    for name, (digest, payload) in zip(found.names, results, strict=True):
        if isinstance(payload, str):
            rejected.append(Rejection(display_path(Path(name)), payload))
            continue
        article = unpack(name, payload[0])
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


def merge_inputs(
    names: Sequence[str], results: Sequence[Result], clock: datetime, drafts: bool
) -> list[MergeInput]:
    """The `merge.MergeInput` of each article that `assemble` keeps and merging
    takes (drafts only with `drafts`), in the order of `assemble`'s articles;
    read from the packed `results`, without unpacking them."""
    latest = clock + FUTURE_TOLERANCE
    return [
        merge_input(name, payload[0], payload[1])
        for name, (_, payload) in zip(names, results, strict=True)
        if not isinstance(payload, str)
        and published(payload[0]) <= latest
        and (drafts or not is_draft(payload[0]))
    ]


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
    """The feeds one build publishes, before any byte is written.

    `feeds` and `orphans` hold (path stem relative to the output, spec). `feeds` is
    the all-stories feed, then one per topic by slug; `orphans` are the topic feeds
    an earlier build published whose topic has gone, as empty feeds.
    """

    stories: tuple[Story, ...]
    feeds: tuple[tuple[str, FeedSpec], ...]
    orphans: tuple[tuple[str, FeedSpec], ...]
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


def rank_all(
    articles: Sequence[Article],
    config: Config,
    now: datetime | None,
    *,
    canonical: CanonicalUrls | None = None,
    grouping: Grouping | None = None,
) -> Ranking:
    """Merge copies into stories and rank them. Pure.

    `canonical` remembers canonical URLs; `grouping`, if given, is
    `group_articles` of the articles merged (see `merge_stories`), with the ids
    the previous build kept.
    """
    drafts = sum(1 for a in articles if a.draft)
    included = [a for a in articles if config.drafts or not a.draft]
    reference = reference_time(included, now)
    if reference is None:
        stories: list[Story] = []
    else:
        merged = merge_stories(
            included,
            config.merge,
            config.rank,
            reference,
            canonical=canonical,
            grouping=grouping,
        )
        stories = rank_stories(merged, reference, config.rank)
    names = display_names(name for a in included for name in a.topics)
    return Ranking(tuple(stories), reference, names, drafts, len(included) - len(stories))


def rerank(ranking: Ranking, stories: Sequence[Story], config: Config) -> Ranking:
    """`ranking` with its stories replaced by `stories`, ranked again."""
    if ranking.reference is None:
        return ranking
    ranked = rank_stories(stories, ranking.reference, config.rank)
    return dataclasses.replace(ranking, stories=tuple(ranked))


def select(
    ranking: Ranking, config: Config, published: Mapping[str, PublishedFeed] | None = None
) -> Publication:
    """Which stories go into which feed. Pure.

    `published` is what the output already holds (see `published.published_feeds`):
    it names the orphans and gives an empty feed the updated time it already shows.
    """
    published = published or {}
    names = ranking.topic_names
    slugs = assign_slugs(names)
    stories = ranking.stories
    feeds = [("all", _spec(config, "all", "All stories", stories, names, published))]
    by_topic: dict[str, list[Story]] = {key: [] for key in names}
    for story in stories:
        for key in story.topics:
            by_topic[key].append(story)
    for key in sorted(names, key=lambda k: slugs[k]):
        stem = f"topics/{slugs[key]}"
        feeds.append((stem, _spec(config, stem, names[key], by_topic[key], names, published)))
    current = {stem for stem, _ in feeds}
    orphans = [
        (stem, _orphan_spec(config, stem, feed, published))
        for stem, feed in sorted(published.items())
        if stem.startswith("topics/") and stem not in current
    ]
    return Publication(
        stories=stories,
        feeds=tuple(feeds),
        orphans=tuple(orphans),
        drafts=ranking.drafts,
        duplicates=ranking.duplicates,
        topics=len(names),
    )


def plan(
    articles: Sequence[Article],
    config: Config,
    now: datetime | None,
    published: Mapping[str, PublishedFeed] | None = None,
) -> Publication:
    """Merge, rank and select without fetching. Pure."""
    return select(rank_all(articles, config, now), config, published)


def _base_url(config: Config) -> str:
    base = config.site.base_url
    return base if base.endswith("/") else base + "/"


def _spec(
    config: Config,
    stem: str,
    name: str,
    ranked: Sequence[Story],
    names: dict[str, str],
    published: Mapping[str, PublishedFeed],
) -> FeedSpec:
    site = config.site
    base = _base_url(config)
    stories = tuple(ranked[: config.max_items])
    # Only an empty feed takes its time from the file it replaces; a feed with
    # stories must not depend on what the output held (nor render again for it).
    previous = None if stories else published.get(stem)
    return FeedSpec(
        id=f"{base}{stem}",
        name=name,
        title=f"{site.title}: {name}",
        subtitle=f"{name}, the best stories first, from {site.title}",
        url_stem=f"{base}{stem}",
        site_url=f"{base}{INDEX_HTML}",
        language=site.language,
        author=site.author,
        stories=stories,
        topic_names=names,
        # Root-relative, so the browser fetches it from the feed's own origin:
        # Chromium applies only same-origin stylesheets.
        stylesheet_url=urlsplit(base).path + STYLESHEET,
        hub_url=config.publish.hub,
        updated_if_empty=(previous.updated if previous else None) or EPOCH,
    )


def _orphan_spec(
    config: Config, stem: str, feed: PublishedFeed, published: Mapping[str, PublishedFeed]
) -> FeedSpec:
    """An empty feed for a topic that has gone, under the title its subscribers know."""
    title = feed.title or f"{config.site.title}: {stem.removeprefix('topics/')}"
    spec = _spec(config, stem, title, (), {}, published)
    return dataclasses.replace(spec, title=title, subtitle=f"No stories at the moment in {title}")


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


def prune_feeds(stems: Iterable[str], output: Path) -> list[str]:
    """Delete every format of the feeds `stems`; the paths removed, relative to `output`."""
    removed = []
    for stem in stems:
        for suffix, _ in FORMATS:
            relative = f"{stem}.{suffix}"
            if remove_if_present(output / relative):
                removed.append(relative)
    return removed


def output_plan(
    publication: Publication, config: Config, digests: Mapping[str, tuple[Article, str]]
) -> list[PlannedFile]:
    """Every file of the output, in the order it must appear.

    The stylesheet comes before the feeds that name it; the feeds before the index
    files that list them, so a reader never meets a link to a missing file.
    Orphans are among the feeds unless `publish.prune_orphans`. Feeds are rendered
    only when written (see `incremental.write_changed`).
    """
    kept = () if config.publish.prune_orphans else publication.orphans
    site = config.site
    stylesheet = resources.files("aggregator").joinpath("assets", STYLESHEET).read_bytes()
    return [
        prepared_file(STYLESHEET, stylesheet),
        *plan_feed_files(publication.feeds + kept, FORMATS, digests),
        prepared_file(OPML_NAME, render_opml(site.title, publication.feeds)),
        prepared_file(INDEX_HTML, render_index(site.title, site.language, publication.feeds)),
    ]


def announce(config: Config, report: BuildReport) -> None:
    """Tell the WebSub hub, if one is configured, of the feeds whose bytes changed."""
    base = _base_url(config)
    changed = [f"{base}{feed.path}" for feed in report.feeds if feed.changed]
    if not (config.publish.hub and changed):
        return
    notice = notify_hub(config.publish.hub, changed)
    report.hub_pings = notice.accepted
    for problem in notice.problems:
        log.warning("WebSub: %s", problem)


def write_feeds(
    config: Config,
    options: BuildOptions,
    clock: datetime,
    found: FoundFiles,
    fingerprint: str | None,
    previous: Mapping[str, Any],
    *,
    retain: list[object] | None = None,
) -> BuildReport:
    """Read, plan, fetch if asked, and write; report what happened. Call under the
    build lock (see `build.run_build`, also for `retain`), with the files `found`,
    the inputs' `fingerprint` and the previous build's record.

    With `options.strict` and any rejected file, nothing is fetched or written. Story
    ids are kept in `config.state_dir` from one written build to the next.
    Raises `RefusedError` when the build would drop too many articles (unless
    `options.force`) and `EmitError` when the output cannot be written; in each
    case the previous output is left intact.
    """
    with forking.copies() as copies:
        collection, grouping, ids_record = _collect_and_group(config, found, clock, copies)
        published = published_feeds(config.output)
        canonical = CanonicalUrls()  # for merging, and for ids made here
        ranking = rank_all(
            collection.articles,
            config,
            options.now,
            canonical=canonical,
            grouping=grouping.result(),
        )
        report = BuildReport(
            files=collection.files,
            rejected=list(collection.rejected),
            drafts=ranking.drafts,
            articles=len(ranking.stories),
            duplicates=ranking.duplicates,
            topics=len(ranking.topic_names),
        )
        if options.strict and collection.rejected:
            return report
        if config.fetch.enabled:
            ranking = _freshen(ranking, config, options.progress, report)
        publication = select(ranking, config, published)
        report.articles = len(publication.stories)
        if not options.force:
            check_drop(previous.get("articles"), report.articles, config.publish.max_drop_ratio)
        # Ids first: should writing the feeds fail, the next build still gives
        # these stories the ids their readers may already have seen.
        if ids_record is None:  # fetching may have changed the stories' links
            record = story_ids_record(story_id_map(ranking.stories, canonical))
        else:
            record = ids_record.result()
        save_story_ids(config.state_dir, record)
    planned = output_plan(publication, config, collection.digests)
    written = previous.get("files")
    results, files = write_changed(
        planned, config.output, written if isinstance(written, dict) else {}, jobs=config.jobs
    )
    report.feeds = [r for r in results if r.path not in INDEX_FILES]
    if config.publish.prune_orphans:
        orphans = (stem for stem, _ in publication.orphans)
        report.pruned = prune_feeds(orphans, config.output)
    due = collection.due
    valid_until = None if due is None else due - FUTURE_TOLERANCE
    write_record(
        config.state_dir, LAST_BUILD, build_record(report, fingerprint, files, valid_until)
    )
    if retain is not None:
        retain.append((collection, grouping, canonical, ranking, publication, planned))
    return report


#: How many articles make grouping them worth a copy of this process.
GROUP_ELSEWHERE_FROM = 5000


def _collect_and_group(
    config: Config, found: FoundFiles, clock: datetime, copies: forking.Copies
) -> tuple[Collection, forking.Pending[Grouping], forking.Pending[bytes] | None]:
    """`collect` with the cache, `_group` of the articles merged and, unless
    pages are fetched (which may change the stories' links, or drop dead ones),
    the record of their ids (`state.story_ids_record`).

    Grouping needs only a little of each article, read from the parse results
    without unpacking them: with many articles and more than one job, a copy of
    this process groups them while this one unpacks them, hands the grouping
    over, and then makes the record while this one makes the stories.
    """
    parsed = read_articles(config, found, cache=True)
    inputs = merge_inputs(found.names, parsed, clock, config.drafts)
    group = functools.partial(_group, inputs, config)
    elsewhere = config.jobs != 1 and len(inputs) >= GROUP_ELSEWHERE_FROM
    if config.fetch.enabled:
        grouping = copies.start(group) if elsewhere else forking.later(group)
        return assemble(found, parsed, clock), grouping, None
    record = functools.partial(_ids_record, inputs)
    start = copies.start_then if elsewhere else forking.later_then
    grouping, ids_record = start(group, record)
    return assemble(found, parsed, clock), grouping, ids_record


def _group(inputs: Sequence[MergeInput], config: Config) -> Grouping:
    """`merge.group_articles` of `inputs`, with the ids the previous build kept.

    The search for similar titles starts from the previous build's and is kept
    for the next (see `titlepairs`): only a cache, so it is kept here, in the
    copy that groups, whatever becomes of the build.
    """
    threshold = config.merge.title_similarity
    title_pairs = TitlePairSearch(load_title_pairs(config.state_dir, threshold))
    known = load_story_ids(config.state_dir)
    grouping = group_articles(inputs, config.merge, known, title_pairs)
    save_title_pairs(config.state_dir, title_pairs.last)
    return grouping


def _ids_record(inputs: Sequence[MergeInput], grouping: Grouping) -> bytes:
    """`state.story_ids_record` of the stories `grouping` makes of `inputs`."""
    return story_ids_record(grouping.id_map(inputs))


def _freshen(
    ranking: Ranking,
    config: Config,
    progress: Callable[[int, int], None] | None,
    report: BuildReport,
) -> Ranking:
    """Fetch the pages of the stories about to be published (see `freshness`)."""
    # Here: only a build that fetches needs httpx and htmldate, slow to import.
    from aggregator.fetch import FetchOutcome, default_user_agent, fetch_pages

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
