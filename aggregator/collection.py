"""The articles read from the sources: what each article file parsed to
(through the parse cache, see `cache`), assembled into a `Collection`, the
files refused with their reasons.

`collect` is the first stage of a build (see `pipeline`); `read_articles` and
`assemble` are its two halves, for `grouping`, which groups the articles while
they are read.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from aggregator.cache import Early, Entry, Fresh, Rests, Result, parse_with_cache
from aggregator.compact import (
    REST_ELSEWHERE,
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
from aggregator.files import FoundFiles, find_article_files
from aggregator.merge import MergeInput
from aggregator.model import Article, Ranked, Rejection, Story, StoryRef
from aggregator.parallel import parse_one

log = logging.getLogger(__name__)

#: How far past the build's clock a publication date may lie before it is refused.
FUTURE_TOLERANCE = timedelta(days=1)


@dataclass(frozen=True)
class Collection:
    """The articles read from the sources, and the files that were refused.

    Articles stay packed (see `compact`) until asked for, by position: a build
    unpacks only those of the feeds it renders. `digests[i]` is
    `compact.digest` of the article at position `i`, for telling changed
    feeds from unchanged ones. `due` is the earliest publication time among the
    articles refused as being in the future. `checks` are the digests of the
    bytes read of files that had not settled, by path (see
    `cache.parse_with_cache`).
    """

    files: int
    sources: tuple[str, ...]
    payloads: tuple[Payload, ...]
    digests: tuple[str, ...]
    rejected: tuple[Rejection, ...]
    due: datetime | None = None
    checks: Mapping[str, str] = field(default_factory=dict)
    reread: Callable[[str], Packed | None] | None = field(default=None, compare=False)
    rest: Callable[[str], bytes | None] | None = field(default=None, compare=False)
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

        A rest left in the parse cache's file (`compact.REST_ELSEWHERE`) is
        read with `rest`. Should the packed form not unpickle (a damaged or
        planted cache entry: see `compact.unpack`), or its rest not be read
        whole, the file is read again with `reread`.
        """
        article = self._unpacked.get(position)
        if article is None:
            source, packed = self.sources[position], self.payloads[position][0]
            if packed[1] == REST_ELSEWHERE and self.rest is not None:
                packed = (packed[0], self.rest(source) or REST_ELSEWHERE)
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
        found = find_article_files(config.sources, jobs=config.jobs)
    checks: dict[str, str] = {}
    rests: list[Rests] = []
    results = read_articles(config, found, cache=cache, checks=checks, rests=rests)
    return assemble(found, results, clock, config, checks, rests)


def read_articles(
    config: Config,
    found: FoundFiles,
    *,
    cache: bool,
    early: Early | None = None,
    held: dict[str, Entry] | None = None,
    checks: dict[str, str] | None = None,
    each: Callable[[list[Fresh]], None] | None = None,
    rests: list[Rests] | None = None,
) -> list[Result]:
    """What each of the `found` files parsed to (see `collect`; `early`,
    `held`, `checks`, `each` and `rests` as for `cache.parse_with_cache`)."""
    return parse_with_cache(
        found.names,
        found.stamps,
        max_bytes=config.max_file_bytes,
        jobs=config.jobs,
        state_dir=config.state_dir if cache else None,
        early=early,
        held=held,
        checks=checks,
        each=each,
        rests=rests,
    )


def assemble(
    found: FoundFiles,
    results: Sequence[Result],
    clock: datetime,
    config: Config,
    checks: Mapping[str, str] | None = None,
    rests: Sequence[Rests] = (),
) -> Collection:
    """The articles and rejections of `read_articles` of the `found` files
    (`checks` and `rests` as it gave them)."""
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
        files,
        tuple(sources),
        tuple(payloads),
        tuple(digests),
        tuple(rejected),
        due,
        dict(checks or {}),
        reread,
        rests[0].get if rests else None,
    )


def _reread(path: str, *, max_bytes: int) -> Packed | None:
    """The packed article the file at `path` holds now (None if it holds none)."""
    _, _, payload, _ = parse_one(path, max_bytes)
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
