"""The stages of a build: files -> articles -> stories -> ranked feeds -> files.

`write_feeds` runs them for `build.run_build`, which holds the lock and has
already found that the inputs changed. Everything the stages decide is a
function of the configuration, the article files, the reference time and the
story ids the previous build kept (`state`); the clock is read only to time the
build and to refuse far-future dates.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any, Generic, TypeVar, cast
from urllib.parse import urlsplit

from aggregator import forking
from aggregator.build import BuildOptions
from aggregator.cache import (
    Early,
    Entry,
    Fresh,
    Result,
    cache_key,
    cache_usable,
    changed_since_cache,
    parse_with_cache,
)
from aggregator.compact import (
    DRAFT,
    TOPICS,
    Packed,
    Payload,
    derive,
    digest,
    is_draft,
    merge_input,
    pack,
    published,
    unpack,
)
from aggregator.config import Config
from aggregator.emit import render_atom, render_rss
from aggregator.errors import RefusedError
from aggregator.feedspec import EPOCH, FeedSpec
from aggregator.files import FoundFiles, find_article_files, settled_before
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
    Grouping,
    MergeInput,
    alone,
    copy_score,
    group_articles,
    story_id_map,
    story_refs,
)
from aggregator.mergestore import (
    Row,
    Rows,
    RowWriter,
    load_rows,
    merged_inputs,
    row_of,
    rows_of,
    save_rows,
    store_usable,
)
from aggregator.model import (
    Article,
    BuildReport,
    FetchSummary,
    Ranked,
    Rejection,
    Story,
    StoryRef,
)
from aggregator.output import remove_if_present
from aggregator.pages import OPML_NAME, render_index, render_opml
from aggregator.parallel import Chunk, available_cores, parse_chunks, parse_one
from aggregator.published import PublishedFeed, published_feeds
from aggregator.rank import Place, rank_stories, reference_time, scored_place
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
from aggregator.titlepairs import Pair, Title, TitlePairs, find_title_pairs, narrowed, widened
from aggregator.topics import assign_slugs, display_names
from aggregator.websub import notify_hub

log = logging.getLogger(__name__)

#: How a ranking, a publication and its feeds hold their stories (see `Ranking`).
_S = TypeVar("_S", bound=Ranked, covariant=True)

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

    Articles stay packed (see `compact`) until asked for, by position: a build
    unpacks only those of the feeds it renders. `digests[i]` is
    `compact.digest` of the article at position `i`, for telling changed
    feeds from unchanged ones. `due` is the earliest publication time among the
    articles refused as being in the future.
    """

    files: int
    sources: tuple[str, ...]
    payloads: tuple[Payload, ...]
    digests: tuple[str, ...]
    rejected: tuple[Rejection, ...]
    due: datetime | None = None
    reread: Callable[[str], Packed | None] | None = field(default=None, compare=False)
    _unpacked: dict[int, Article] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(cls, articles: Iterable[Article]) -> Collection:
        """The collection of `articles`, each digested from its fields."""
        given = list(articles)
        payloads = tuple((pack(a), derive(a)) for a in given)
        digests = tuple(digest(packed) for packed, _ in payloads)
        return cls(len(given), tuple(a.source for a in given), payloads, digests, ())

    def article(self, position: int) -> Article:
        """The article at `position`, unpacked the first time it is asked for.

        Should its packed form not unpickle (a damaged or planted cache entry:
        see `compact.unpack`), the file is read again with `reread`.
        """
        article = self._unpacked.get(position)
        if article is None:
            source, packed = self.sources[position], self.payloads[position][0]
            try:
                article = unpack(source, packed)
            except Exception:  # unpickling damaged data raises errors of many kinds
                again = self.reread(source) if self.reread is not None else None
                if again is None:
                    raise
                log.warning("%s: parse cache entry damaged, read the file again", source)
                article = unpack(source, again)
            self._unpacked[position] = article
        return article

    @property
    def articles(self) -> tuple[Article, ...]:
        """Every article, unpacked."""
        return tuple(map(self.article, range(len(self.sources))))

    def copy_digests(self, story: Ranked) -> list[str]:
        """The digests of the story's copies, lead first: of the articles at its
        positions, or, for a `Story`, of its articles (their own digest when
        they are articles of this collection as unpacked, else of their fields:
        fetching may have changed them)."""
        if isinstance(story, StoryRef):
            return [self.digests[position] for position in story.copies]
        assert isinstance(story, Story)
        return [self._digest(article) for article in story.articles]

    def _digest(self, article: Article) -> str:
        position = self._positions.get(article.source)
        if position is not None and self._unpacked.get(position) is article:
            return self.digests[position]
        return digest(pack(article))

    @functools.cached_property
    def _positions(self) -> dict[str, int]:
        return {source: position for position, source in enumerate(self.sources)}


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
    return assemble(found, read_articles(config, found, cache=cache), clock, config)


def read_articles(
    config: Config,
    found: FoundFiles,
    *,
    cache: bool,
    early: Early | None = None,
    held: dict[str, Entry] | None = None,
    each: Callable[[list[Fresh]], None] | None = None,
) -> list[Result]:
    """What each of the `found` files parsed to (see `collect`; `early`,
    `held` and `each` as for `cache.parse_with_cache`)."""
    return parse_with_cache(
        found.names,
        found.stamps,
        max_bytes=config.max_file_bytes,
        jobs=config.jobs,
        state_dir=config.state_dir if cache else None,
        early=early,
        held=held,
        each=each,
    )


def assemble(
    found: FoundFiles, results: Sequence[Result], clock: datetime, config: Config
) -> Collection:
    """The articles and rejections of `read_articles` of the `found` files."""
    sources: list[str] = []
    payloads: list[Payload] = []
    digests: list[str] = []
    rejected = list(found.rejected)
    latest = clock + FUTURE_TOLERANCE
    due: datetime | None = None
    for name, (digest_, payload) in zip(found.names, results, strict=True):
        if isinstance(payload, str):
            rejected.append(Rejection(display_path(Path(name)), payload))
            continue
        moment = published(payload[0])
        if moment > latest:
            rejected.append(
                Rejection(
                    display_path(Path(name)),
                    f"publishedDateTime: {moment.isoformat()} is in the future",
                )
            )
            due = moment if due is None else min(due, moment)
            continue
        sources.append(name)
        payloads.append(payload)
        digests.append(digest_)
    files = len(found.names) + len(found.rejected)
    reread = functools.partial(_reread, max_bytes=config.max_file_bytes)
    return Collection(
        files, tuple(sources), tuple(payloads), tuple(digests), tuple(rejected), due, reread
    )


def _reread(path: str, *, max_bytes: int) -> Packed | None:
    """The packed article the file at `path` holds now (None if it holds none)."""
    _, _, payload = parse_one(path, max_bytes)
    return None if isinstance(payload, str) else payload[0]


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
    reference = reference_time((single[2] for single in singles), now)
    names = display_names(name for i in included for name in heads[i][TOPICS])
    stories: list[StoryRef] = []
    if reference is not None:
        # Most stories have one copy: place them while the grouping is made,
        # and score every copy for choosing the lead of a story of several.
        weights = config.rank
        scores = [
            copy_score(heat, quality, newest, reference, weights)
            for _, _, newest, heat, quality in singles
        ]
        alone_at: list[Place | None] = [None] * len(heads)
        for position, score, single in zip(included, scores, singles, strict=True):
            alone_at[position] = scored_place(score, single[2])
        if grouping is None:
            sources, payloads = collection.sources, collection.payloads
            inputs = [merge_input(sources[i], *payloads[i]) for i in included]
            grouped = group_articles(inputs, config.merge, {})
        else:
            grouped = grouping()
            if len(grouped.order) != len(included):
                raise ValueError("the grouping is of other articles")
        merged = story_refs(
            heads, grouped, weights, reference, positions=included, singles=singles, scores=scores
        )
        stories = rank_stories(
            merged,
            reference,
            weights,
            lambda story: alone_at[story.copies[0]] if len(story.copies) == 1 else None,
        )
    return Ranking(
        tuple(stories), reference, names, drafts, len(included) - len(stories), collection.article
    )


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
        for suffix, _ in FORMATS:
            relative = f"{stem}.{suffix}"
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
            record = ids_record.result()  # made by the copy that grouped, while this one rendered
            if record is None:  # fetching may have changed the stories' links
                record = story_ids_record(story_id_map(map(ranking.story, ranking.stories)))
            save_story_ids(config.state_dir, record)

        written = previous.get("files")
        results, files = write_changed(
            planned,
            config.output,
            written if isinstance(written, dict) else {},
            jobs=config.jobs,
            story=publication.story,
            before_writing=save_ids,
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
        retain.append((collection, grouping, ranking, publication, planned))
    return report


#: How many article files make grouping their articles worth a copy of this process.
GROUP_ELSEWHERE_FROM = 5000


def _collect_and_group(
    config: Config, found: FoundFiles, clock: datetime, copies: forking.Copies
) -> tuple[Collection, forking.Pending[Grouping], forking.Pending[bytes | None]]:
    """`collect` with the cache, `_group` of the articles merged and, unless
    pages are fetched (which may change the stories' links, or drop dead ones),
    the record of their ids (`state.story_ids_record`; else None).

    Grouping needs only a little of each article (`merge_inputs`): with many
    files and more than one job, a copy of this process groups the articles
    while this one reads and assembles the collection, hands the grouping
    over, and then makes the record while this one ranks and renders. The copy
    starts at once (see `_GroupingAhead`) when the last build kept what
    grouping reads of each file (`mergestore`), or when there is no parse
    cache: then every file is parsed here, and what grouping reads of each is
    kept as it is parsed, for the copy. Otherwise the copy starts once the
    files are read, reads that from their parse results without unpacking
    them, and keeps it for the next build.
    """
    elsewhere = config.jobs != 1 and len(found.names) >= GROUP_ELSEWHERE_FROM
    held: dict[str, Entry] = {}  # the cache's entries, kept as rows only when grouping elsewhere
    ahead = _GroupingAhead.start(config, found, clock, copies) if elsewhere else None
    if ahead is None:
        parsed = read_articles(config, found, cache=True, held=held if elsewhere else None)
    else:
        parsed = ahead.read(held)
        if not ahead.covered_so_far():
            ahead = None  # some file is neither kept nor parsed early: group as below
    collection = assemble(found, parsed, clock, config)
    inputs = functools.cache(
        functools.partial(merge_inputs, found.names, parsed, clock, config.drafts)
    )

    def group() -> Grouping:
        return _group(inputs(), config, spread=elsewhere)

    def record(grouping: Grouping) -> bytes | None:
        if elsewhere:  # what grouping read of each file, for the next build's copy
            save_rows(config.state_dir, cache_key(config.max_file_bytes), rows_of(held))
        return None if config.fetch.enabled else _ids_record(inputs(), grouping)

    if ahead is None:
        start = copies.start_then if elsewhere else forking.later_then
        return collection, *start(group, record)
    merged = sum(1 for (head, _), _ in collection.payloads if config.drafts or not head[DRAFT])
    return collection, *ahead.handed(merged, forking.later_then(group, record))


def _keep_rows(writer: RowWriter, parsed: Iterable[Fresh]) -> None:
    """Store the rows of files just parsed (with no mtime for a file whose
    result the parse cache does not keep, so that the row is never used again)."""
    writer.add(
        (name, (0, None, row_of(payload)) if stamp is None else (*stamp, row_of(payload)))
        for name, stamp, payload in parsed
    )


#: One changed file in this many or more makes parsing them take longer than
#: reading the parse cache of the rest (about 160 µs a file against 4), so the
#: grouping copy parses them on every core rather than on those the build
#: leaves free while it reads.
MANY_CHANGED = 40


class _GroupingAhead:
    """Grouping in a copy of the build that starts as soon as the files are
    found, before the parse cache is read: what grouping reads of each file is
    in the merge input store (`mergestore`) for the files unchanged since the
    last build, and the copy parses the files changed since the parse cache
    was written (`cache.changed_since_cache`, the `early` positions), which
    `cache.parse_with_cache` then takes from it. When some file is in neither,
    there is no grouping ahead (`covered` is False). Without a parse cache
    (`go`), the build parses every file and stores every row, then says so:
    the copy waits for that (and has nothing to parse early).

    `works` are the copy's steps, in order; each may be done here instead (see
    `forking`). `start`, `read`, `covered_so_far` and `handed` are the build's
    side: starting the copy, reading the files with its help, and taking what
    it hands over.
    """

    def __init__(
        self,
        config: Config,
        found: FoundFiles,
        clock: datetime,
        early: Sequence[int],
        *,
        go: forking.Go | None = None,
    ) -> None:
        self.early = early
        self._go = go
        self._steps: list[forking.Pending[object]] = []
        # Copies the copy starts of its own, ended with its last step.
        self._copies = contextlib.ExitStack()
        self._wider: forking.Pending[TitlePairs | None] | None = None
        self._config = config
        self._found = found
        self._clock = clock
        self._key = cache_key(config.max_file_bytes)
        self._settled = settled_before()

    @classmethod
    def start(
        cls, config: Config, found: FoundFiles, clock: datetime, copies: forking.Copies
    ) -> _GroupingAhead | None:
        """The copy started (see the class docstring), unless there is a parse
        cache this build may use but no such store."""
        state, key = config.state_dir, cache_key(config.max_file_bytes)
        if not cache_usable(state, key):  # none, or of other code: every file is parsed
            ahead = cls(config, found, clock, (), go=forking.Go())
        elif store_usable(state, key):
            ahead = cls(config, found, clock, changed_since_cache(state, found.stamps))
        else:
            return None
        ahead._steps = copies.start_each(ahead.works(), ahead._go)
        return ahead

    def read(self, held: dict[str, Entry]) -> list[Result]:
        """Here: `read_articles` with the copy's help: taking the files it
        parsed early, or giving it the rows of every file as they are parsed."""
        config, found = self._config, self._found
        if self._go is None:
            chunks = cast(Callable[[], list[Chunk]], self._steps[0].result)
            return read_articles(config, found, cache=True, early=(self.early, chunks), held=held)
        with RowWriter(config.state_dir, self._key) as writer:
            keep = functools.partial(_keep_rows, writer)
            parsed = read_articles(config, found, cache=True, held=held, each=keep)
        if writer.written:
            self._go.give()
        else:
            self._go.withhold()
        return parsed

    def covered_so_far(self) -> bool:
        """Here, once the files are read: False when the copy said it has no
        row of some file (not asked when it waits for the rows of all: it
        has them, unless they could not be written)."""
        return self._go is not None or bool(self._steps[1].result())

    def handed(
        self, merged: int, here: tuple[forking.Pending[Grouping], forking.Pending[bytes | None]]
    ) -> tuple[forking.Pending[Grouping], forking.Pending[bytes | None]]:
        """Here: the copy's grouping and ids record, unless the grouping is not
        of the `merged` articles read (possible only when a file changed without
        its size and mtime changing) or the copy had none: then `here`'s."""
        ahead = self._steps[2]

        def grouping() -> Grouping:
            made = cast(Grouping | None, ahead.result())
            return made if made is not None and len(made.order) == merged else here[0].result()

        def ids() -> bytes | None:
            made = cast(bytes | None, self._steps[3].result())  # the copy is done with the store
            return made if grouping() is ahead.result() else here[1].result()

        return forking.later(grouping), forking.later(ids)

    def works(self) -> list[Callable[[], object]]:
        """The copy's steps: `parsed`, `covered`, `grouping`, `after`."""
        return [self.parsed, self.covered, self.grouping, self.after]

    def parsed(self) -> list[Chunk]:
        """`parallel.parse_chunks` of the files at the `early` positions, on the
        cores the build leaves free (it reads the cache meanwhile)."""
        return self._chunks

    def covered(self) -> bool:
        """True when every file is in the store or was parsed early. In a
        rebuild, first starts the search for similar titles
        (`_search_more_titles`), which the grouping will take."""
        if self._go is None:
            self._wider = self._search_more_titles()
        return self._inputs is not None

    def grouping(self) -> Grouping | None:
        """`_group` of the articles merged (None when not `covered`)."""
        return None if self._inputs is None else self._grouping

    def after(self) -> bytes | None:
        """Once the grouping is handed over: the store brought up to date and
        the ids record (None when pages are fetched, or not `covered`)."""
        self._copies.close()
        inputs = self._inputs
        if self._read is None or inputs is None:
            return None
        _, kept, changed = self._read
        if changed:
            save_rows(self._config.state_dir, self._key, kept)
        if self._config.fetch.enabled:
            return None
        return _ids_record(inputs, self._grouping)

    def _search_more_titles(self) -> forking.Pending[TitlePairs | None]:
        """The search for similar titles, started in a copy of this one as
        soon as the files changed are parsed, before the rows are read: of the
        titles the last build searched and those of the files parsed early,
        which hold every title merged unless one came from elsewhere (see
        `titlepairs.widened`; the grouping then searches again)."""
        parsed = (result for chunk in self._chunks for result in chunk.results)
        added = {payload[1][1] for _, _, payload in parsed if not isinstance(payload, str)}
        work = functools.partial(_more_titles_searched, added - {()}, self._config)
        return self._copies.enter_context(forking.copies()).start(work)

    @functools.cached_property
    def _chunks(self) -> list[Chunk]:
        config = self._config
        names = [self._found.names[at] for at in self.early]
        jobs = config.jobs  # many files: every core, the build soon waits for them
        if len(names) * MANY_CHANGED <= len(self._found.names):
            jobs = max((jobs or available_cores()) - 1, 1)  # the cores the build leaves free
        return list(parse_chunks(names, max_bytes=config.max_file_bytes, jobs=jobs))

    @functools.cached_property
    def _read(self) -> tuple[list[Row], Rows, bool] | None:
        """Each file's row: the stored one for its size and mtime (as the parse
        cache takes an entry first), else the one parsed early; then the rows
        to keep for the next build (as the parse cache keeps entries: of
        settled files read whole), and whether they changed. None if a file's
        row is neither stored nor parsed. With `go`, every file's row as this
        build stores them, once it says they are."""
        if self._go is not None:
            stored = load_rows(self._config.state_dir, self._key) if self._go.wait() else {}
            try:
                return [stored[name][2] for name in self._found.names], stored, False
            except KeyError:
                return None
        stored = load_rows(self._config.state_dir, self._key)
        parsed = (result for chunk in self._chunks for result in chunk.results)
        fresh = dict(zip(self.early, parsed, strict=True))
        rows: list[Row] = []
        kept: Rows = {}
        added = 0
        for at, (name, stamp) in enumerate(zip(self._found.names, self._found.stamps, strict=True)):
            entry = stored.get(name)
            if entry is not None and stamp is not None and entry[:2] == stamp:
                rows.append(entry[2])
                kept[name] = entry
            elif at in fresh:
                cacheable, _, payload = fresh[at]
                rows.append(row := row_of(payload))
                if cacheable and stamp is not None and stamp[1] < self._settled:
                    kept[name] = (stamp[0], stamp[1], row)
                    added += 1
            else:
                return None
        return rows, kept, added > 0 or len(kept) - added != len(stored)

    @functools.cached_property
    def _inputs(self) -> list[MergeInput] | None:
        if self._read is None:
            return None
        latest = self._clock + FUTURE_TOLERANCE
        return merged_inputs(self._found.names, self._read[0], latest, self._config.drafts)

    @functools.cached_property
    def _grouping(self) -> Grouping:
        assert self._inputs is not None
        return _group(self._inputs, self._config, spread=True, wider=self._wider)


def _group(
    inputs: Sequence[MergeInput],
    config: Config,
    *,
    spread: bool = False,
    wider: forking.Pending[TitlePairs | None] | None = None,
) -> Grouping:
    """`merge.group_articles` of `inputs`, with the ids the previous build kept.

    With `spread`, the search for similar titles (`_similar_titles`) runs in a
    copy of this process from the start, while this one orders the articles
    and joins those of the same links, which the search does not need; unless
    a search of more titles is under way (`wider`), whose result is taken.
    """
    titles = {words for _, _, words in inputs if words}
    search = functools.partial(_similar_titles, titles, config, spread=spread, wider=wider)
    with forking.copies() as copies:
        searched = copies.start(search) if spread and wider is None else forking.later(search)
        known = load_story_ids(config.state_dir)

        def found(asked: Set[Title], threshold: float) -> frozenset[Pair]:
            if threshold != config.merge.title_similarity or asked != titles:
                raise ValueError("similar titles asked for other titles than searched")
            return searched.result().pairs

        return group_articles(inputs, config.merge, known, found)


def _similar_titles(
    titles: Set[Title],
    config: Config,
    *,
    spread: bool = False,
    wider: forking.Pending[TitlePairs | None] | None = None,
) -> TitlePairs:
    """Which of `titles` are similar (see `titlepairs`), searched from the
    previous build's result, which is kept for the next: only a cache, so it is
    kept here, in the process that searches, whatever becomes of the build.
    With `spread`, a search of every title (the first build's, most of its
    grouping) is shared with copies of this process, one per job. `wider`, if
    given, is a search of more titles, taken when it holds them all.
    """
    threshold = config.merge.title_similarity
    wide = None if wider is None else wider.result()
    found = None if wide is None or wide.threshold != threshold else narrowed(wide, titles)
    if found is None:
        parts = (config.jobs or available_cores()) if spread else 1
        previous = load_title_pairs(config.state_dir, threshold)
        found = find_title_pairs(titles, threshold, previous, parts=parts, run=forking.run_all)
    save_title_pairs(config.state_dir, found)
    return found


def _more_titles_searched(added: Set[Title], config: Config) -> TitlePairs | None:
    """`titlepairs.widened` of the previous build's search by `added` (None
    without a previous search to widen)."""
    previous = load_title_pairs(config.state_dir, config.merge.title_similarity)
    return None if previous is None else widened(previous, added)


def _ids_record(inputs: Sequence[MergeInput], grouping: Grouping) -> bytes:
    """`state.story_ids_record` of the stories `grouping` makes of `inputs`."""
    return story_ids_record(grouping.id_map(inputs))


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
