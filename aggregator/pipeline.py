"""The stages of a build: files -> articles -> stories -> ranked feeds -> files.

`write_feeds` runs them for `build.run_build`, which holds the lock and has
already found that the inputs changed. The first, reading the articles
(`collection`) with their grouping made alongside, is
`grouping.collect_and_group`; the rest are here. Everything the stages decide is a
function of the configuration, the article files, the reference time and the
story ids the previous build kept (`state`); the clock is read only to time the
build and to refuse far-future dates.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import operator
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

from aggregator import forking
from aggregator.build import BuildOptions
from aggregator.collection import FUTURE_TOLERANCE, Collection
from aggregator.compact import DRAFT, TOPICS, Head, merge_input
from aggregator.config import Config
from aggregator.emit import atom_document, atom_entries, rss_document, rss_entries
from aggregator.errors import RefusedError
from aggregator.feedspec import EPOCH, FeedSpec, Format
from aggregator.files import FoundFiles
from aggregator.freshness import freshen, page_record
from aggregator.grouping import collect_and_group
from aggregator.incremental import (
    PlannedFile,
    build_record,
    plan_feed_files,
    prepared_file,
    write_changed,
)
from aggregator.jsonfeed import json_document, json_entries
from aggregator.merge import (
    Grouping,
    alone,
    copy_score,
    group_articles,
    story_id_map,
    story_refs_apart,
)
from aggregator.model import Article, BuildReport, FetchSummary, Ranked, Story, StoryRef
from aggregator.output import remove_if_present
from aggregator.pages import OPML_NAME, render_index, render_opml
from aggregator.published import PublishedFeed, published_feeds
from aggregator.rank import rank_presorted, rank_stories, reference_time, scored_place
from aggregator.state import LAST_BUILD, stage_story_ids, story_ids_record, write_record
from aggregator.topics import assign_slugs, display_names
from aggregator.websub import notify_hub

log = logging.getLogger(__name__)

#: How a ranking, a publication and its feeds hold their stories (see `Ranking`).
_S = TypeVar("_S", bound=Ranked, covariant=True)

#: The fetcher's cache, in the state directory.
FETCH_CACHE = "fetch-cache.sqlite"

#: Formats written for every feed: file suffix and renderer.
FORMATS = (
    Format("atom", atom_entries, atom_document),
    Format("rss", rss_entries, rss_document),
    Format("json", json_entries, json_document),
)
#: The stylesheet every Atom and RSS feed names, at the top of the output.
STYLESHEET = "feed.xsl"
INDEX_HTML = "index.html"
#: Output files that are not feeds (the report lists feeds only).
INDEX_FILES = frozenset({STYLESHEET, OPML_NAME, INDEX_HTML})


@dataclass(frozen=True)
class Ranking(Generic[_S]):
    """Every story, best first, with what selection needs to know.

    `rank_all` ranks `StoryRef`s; `story` gives each as a `Story`, unpacking its
    articles from the collection (`article_at`) once; `unpacked` all of them.
    """

    stories: tuple[_S, ...]
    reference: datetime | None
    topic_names: dict[str, str]
    drafts: int
    duplicates: int
    article_at: Callable[[int], Article]
    _made: dict[str, Story] = field(default_factory=dict, compare=False, repr=False)

    def story(self, ranked: Ranked) -> Story:
        """`ranked` as a `Story` (itself when it is one)."""
        if isinstance(ranked, Story):
            return ranked
        assert isinstance(ranked, StoryRef)
        story = self._made.get(ranked.id)
        if story is None:
            story = self._made[ranked.id] = ranked.story(self.article_at)
        return story

    def unpacked(self) -> Ranking[Story]:
        """This ranking, every story a `Story`."""
        return self.with_stories(tuple(map(self.story, self.stories)))

    def with_stories(self, stories: Sequence[Story]) -> Ranking[Story]:
        """This ranking with `stories` (in that order) in place of its own."""
        return Ranking(
            tuple(stories),
            self.reference,
            self.topic_names,
            self.drafts,
            self.duplicates,
            self.article_at,
        )


@dataclass(frozen=True)
class Publication(Generic[_S]):
    """The feeds one build publishes, before any byte is written.

    `feeds` and `orphans` hold (path stem relative to the output, spec). `feeds` is
    the all-stories feed, then one per topic by slug; `orphans` are the topic feeds
    an earlier build published whose topic has gone, as empty feeds. `story`
    gives a story of the feeds as a `Story` (see `Ranking.story`).
    """

    stories: tuple[_S, ...]
    feeds: tuple[tuple[str, FeedSpec[_S]], ...]
    orphans: tuple[tuple[str, FeedSpec[_S]], ...]
    drafts: int
    duplicates: int
    topics: int
    story: Callable[[Ranked], Story]

    @property
    def shown(self) -> tuple[_S, ...]:
        """The stories that appear in at least one feed, each once."""
        seen: dict[str, _S] = {}
        for _, spec in self.feeds:
            for story in spec.stories:
                seen.setdefault(story.id, story)
        return tuple(seen.values())


def rank_all(
    collection: Collection,
    config: Config,
    now: datetime | None,
    *,
    grouping: Callable[[], Grouping] | None = None,
) -> Ranking[StoryRef]:
    """Merge copies into stories and rank them. Pure.

    `grouping`, if given, gives `group_articles` of the articles merged (see
    `merge_inputs`), with the ids the previous build kept; it is asked for
    once the work that needs no grouping is done (it may be in the making in
    a copy of this process).
    """
    heads = [payload[0][0] for payload in collection.payloads]
    drafts = sum(1 for head in heads if head[DRAFT])
    included = [i for i, head in enumerate(heads) if config.drafts or not head[DRAFT]]
    singles = alone(heads, included)
    newest = [when for _, _, _, when, _, _, _ in singles]
    reference = reference_time(newest, now)
    names = display_names(_topic_uses(heads, included))
    stories: list[StoryRef] = []
    if reference is not None:
        # Most stories have one copy: order them while the grouping is made,
        # and score every copy for choosing the lead of a story of several.
        weights = config.rank
        scores = [
            copy_score(heat, quality, when, reference, weights)
            for _, _, _, when, heat, quality, _ in singles
        ]
        places = list(map(scored_place, scores, newest))
        alone_order = sorted(range(len(places)), key=places.__getitem__)
        presorted = list(map(singles.__getitem__, alone_order))
        presorted_places = list(map(places.__getitem__, alone_order))
        if grouping is None:
            sources, payloads = collection.sources, collection.payloads
            inputs = [merge_input(sources[i], *payloads[i]) for i in included]
            grouped = group_articles(inputs, config.merge, {})
        else:
            grouped = grouping()
            if len(grouped.order) != len(included):
                raise ValueError("the grouping is of other articles")
        alone_refs, kept, others = story_refs_apart(
            heads,
            grouped,
            singles=singles,
            scores=scores,
            alone_order=alone_order,
            presorted=presorted,
        )
        alone_places = list(itertools.compress(presorted_places, kept))
        stories = rank_presorted(alone_refs, alone_places, others, reference, weights)
    return Ranking(
        tuple(stories), reference, names, drafts, len(included) - len(stories), collection.article
    )


def _topic_uses(heads: Sequence[Head], included: Sequence[int]) -> Counter[str]:
    """How many of the articles at `included` in `heads` name each topic: counted
    by combination of topics first, as a few combinations recur across thousands
    of articles."""
    combinations = Counter(map(operator.itemgetter(TOPICS), map(heads.__getitem__, included)))
    uses: Counter[str] = Counter()
    for names, articles in combinations.items():
        for name in names:
            uses[name] += articles
    return uses


def rerank(ranking: Ranking[Ranked], stories: Sequence[Story], config: Config) -> Ranking[Story]:
    """`ranking` with its stories replaced by `stories`, ranked again."""
    if ranking.reference is not None:
        stories = rank_stories(stories, ranking.reference, config.rank)
    return ranking.with_stories(stories)


def select(
    ranking: Ranking[_S], config: Config, published: Mapping[str, PublishedFeed] | None = None
) -> Publication[_S]:
    """Which stories go into which feed. Pure.

    `published` is what the output already holds (see `published.published_feeds`):
    it names the orphans and gives an empty feed the updated time it already shows.
    """
    published = published or {}
    names = ranking.topic_names
    slugs = assign_slugs(names)
    stories = ranking.stories
    feeds = [("all", _spec(config, "all", "All stories", stories, names, published))]
    by_topic: dict[str, list[_S]] = {key: [] for key in names}
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
        story=ranking.story,
    )


def plan(
    articles: Sequence[Article],
    config: Config,
    now: datetime | None,
    published: Mapping[str, PublishedFeed] | None = None,
) -> Publication[Story]:
    """Merge, rank and select `articles` without fetching. Pure."""
    return select(rank_all(Collection.of(articles), config, now).unpacked(), config, published)


def _base_url(config: Config) -> str:
    base = config.site.base_url
    return base if base.endswith("/") else base + "/"


def _spec(
    config: Config,
    stem: str,
    name: str,
    ranked: Sequence[_S],
    names: dict[str, str],
    published: Mapping[str, PublishedFeed],
) -> FeedSpec[_S]:
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
) -> FeedSpec[Any]:
    """An empty feed for a topic that has gone, under the title its subscribers know."""
    title = feed.title or f"{config.site.title}: {stem.removeprefix('topics/')}"
    spec: FeedSpec[Any] = _spec(config, stem, title, (), {}, published)
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
        for form in FORMATS:
            relative = f"{stem}.{form.suffix}"
            if remove_if_present(output / relative):
                removed.append(relative)
    return removed


def output_plan(
    publication: Publication[Ranked], config: Config, collection: Collection
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
        *plan_feed_files(publication.feeds + kept, FORMATS, collection.copy_digests),
        prepared_file(OPML_NAME, render_opml(site.title, publication.feeds)),
        prepared_file(
            INDEX_HTML,
            render_index(site.title, site.language, publication.feeds, publication.story),
        ),
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
    fingerprint: Callable[[Mapping[str, str]], str | None],
    previous: Mapping[str, Any],
    *,
    retain: list[object] | None = None,
) -> BuildReport:
    """Read, plan, fetch if asked, and write; report what happened. Call under the
    build lock (see `build.run_build`, also for `retain`), with the files `found`,
    what gives the inputs' fingerprint given the checks of the files read before
    they had settled (see `incremental.InputFingerprint`) and the previous
    build's record.

    With `options.strict` and any rejected file, nothing is fetched or written. Story
    ids are kept in `config.state_dir` from one written build to the next.
    Raises `RefusedError` when the build would drop too many articles (unless
    `options.force`) and `EmitError` when the output cannot be written; in each
    case the previous output is left intact.
    """
    with forking.copies() as copies:
        collection, grouping, ids_staged = collect_and_group(config, found, clock, copies)
        published = published_feeds(config.output)
        ranking: Ranking[Ranked] = rank_all(
            collection, config, options.now, grouping=grouping.result
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
        planned = output_plan(publication, config, collection)

        def save_ids() -> None:
            # Before any feed is written: should writing them fail, the next build
            # still gives these stories the ids their readers may already have seen.
            # Made and written by the copy that grouped, while this one rendered.
            staged = ids_staged.result()
            if staged is None:  # fetching may have changed the stories' links
                ids = story_id_map(map(ranking.story, ranking.stories))
                staged = stage_story_ids(config.state_dir, story_ids_record(ids))
            staged.put_in_place()

        written = previous.get("files")
        results, files = write_changed(
            planned,
            config.output,
            written if isinstance(written, dict) else {},
            FORMATS,
            jobs=config.jobs,
            story=publication.story,
            before_writing=save_ids,
            state_dir=config.state_dir,
        )
    report.feeds = [r for r in results if r.path not in INDEX_FILES]
    if config.publish.prune_orphans:
        orphans = (stem for stem, _ in publication.orphans)
        report.pruned = prune_feeds(orphans, config.output)
    due = collection.due
    valid_until = None if due is None else due - FUTURE_TOLERANCE
    checks = collection.checks
    record = build_record(report, fingerprint(checks), checks, files, valid_until)
    write_record(config.state_dir, LAST_BUILD, record)
    if retain is not None:
        retain.append((collection, grouping, ranking, publication, planned))
    return report


def _freshen(
    ranking: Ranking[Ranked],
    config: Config,
    progress: Callable[[int, int], None] | None,
    report: BuildReport,
) -> Ranking[Story]:
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

    unpacked = ranking.unpacked()
    stories, freshness = freshen(unpacked.stories, shown, fetch, keep_dead=config.fetch.keep_dead)
    report.fetch = FetchSummary(
        counts=freshness.counts,
        pages=[page_record(page) for page in freshness.pages.values()],
        dead=[{"path": s.lead.source, "url": s.lead.url} for s in freshness.dead],
        budget_exhausted=freshness.budget_exhausted,
    )
    return rerank(ranking, stories, config)
