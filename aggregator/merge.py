"""Recognising one story across its copies: pure functions, no I/O, no clock.

Two articles are one story when
1. they are the same article: a canonical form of one's `webUrl`, `ampWebUrl` or
   `cdnAmpWebUrl` equals one of the other's (see `canonical_url`); or
2. their titles are the same after `title_tokens` normalisation, or near-identical
   (`similar_titles`), and the later one was published within the merge window
   after the first copy of the story it joins. Anchored at the first copy, so a
   headline reused every day makes one story per window, not one endless story.

Merging never compares all pairs: titles are grouped by key; near-identical
titles are looked up (see `titlepairs`), and only articles of similar titles are
paired, within the window.
Story ids stay put while copies come and go (`assign_story_ids`).
"""

from __future__ import annotations

import bisect
import contextlib
import gc
import hashlib
import itertools
import operator
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence, Set
from dataclasses import dataclass
from datetime import datetime

from aggregator.compact import (
    HEAT,
    PROVIDER,
    PUBLISHED,
    QUALITY,
    TOPICS,
    UPDATED,
    URL,
    Head,
    head,
)
from aggregator.config import MergeConfig, RankConfig
from aggregator.headlines import title_tokens
from aggregator.model import Article, Story, StoryRef, newest_time, outlet_name
from aggregator.rank import base_score, comparable_score
from aggregator.titlepairs import Pair, Title, TitlePairSearch
from aggregator.topics import topic_key
from aggregator.urls import canonical_url, link_penalty

STORY_ID_NAMESPACE = uuid.UUID("5b3f6a52-8f39-4f0c-9a0c-7f0f2b9c6c11")
_NAMESPACE_BYTES = STORY_ID_NAMESPACE.bytes


def article_keys(article: Article) -> set[str]:
    """Every canonical URL the article is known by."""
    return _keys(article, canonical_url(article.url), canonical_url)


class CanonicalUrls(dict[str, str]):
    """`canonical_url` of each URL looked up, remembered. Passed to `merge_stories`
    and then to `story_id_map` of the stories it made (or of stories made from
    them), it spares the map computing again what merging computed."""

    def __missing__(self, url: str) -> str:
        self[url] = canonical = canonical_url(url)
        return canonical


# Merging ------------------------------------------------------------------------


class _UnionFind:
    """Disjoint sets of article indices that know their earliest publication time."""

    def __init__(self, times: Sequence[float]) -> None:
        self.parent = list(range(len(times)))
        self.earliest = list(times)

    def find(self, item: int) -> int:
        root = item
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[item] != root:
            self.parent[item], item = root, self.parent[item]
        return root

    def union(self, a: int, b: int) -> None:
        root_a, root_b = self.find(a), self.find(b)
        if root_a != root_b:
            # The smaller index wins, so roots do not depend on the order of unions.
            root, child = min(root_a, root_b), max(root_a, root_b)
            self.parent[child] = root
            self.earliest[root] = min(self.earliest[root], self.earliest[child])


def merge_stories(
    articles: Iterable[Article],
    merge: MergeConfig,
    weights: RankConfig,
    reference: datetime,
    known: Mapping[str, str] | None = None,
    *,
    canonical: CanonicalUrls | None = None,
    title_pairs: TitlePairSearch | None = None,
    grouping: Grouping | None = None,
) -> list[Story]:
    """Group `articles` into stories (see the module docstring).

    The result does not depend on the order of `articles` (each article's `source`
    must be unique); each story's lead is its best-scoring copy at `reference`.

    Story ids: `known` maps canonical URLs to the ids their stories had before
    (`story_id_map` of the previous result). A story keeps a known id one of its
    copies carries, so its id survives copies appearing and disappearing; see
    `assign_story_ids` for the rules that keep ids unique. Without `known`, or for
    a story none of whose URLs is known, the id is `story_id` of the canonical URL
    of its earliest copy, so a first build and a build from the same files with
    their own `known` ids give the same stories.

    `canonical`, if given, remembers the canonical URLs computed, and may be
    given some already (see `CanonicalUrls`); `title_pairs` likewise remembers
    which titles are similar (see `TitlePairSearch`). They change nothing in the result. So for
    `grouping`: when given, it must be `group_articles` of these articles'
    `merge_input`s, in this order, with these `merge` settings and `known` ids,
    and it spares the work.
    """
    given = list(articles)
    to_canonical = canonical_url if canonical is None else canonical.__getitem__
    to_tokens = _TitleTokens().__getitem__
    with _cyclic_gc_paused():
        if grouping is None:
            inputs = [merge_input(a, to_canonical, to_tokens) for a in given]
            grouping = group_articles(inputs, merge, known or {}, title_pairs)
        elif len(grouping.order) != len(given):
            raise ValueError("the grouping is of other articles")
        refs = story_refs([head(a) for a in given], grouping, weights, reference)
        return [ref.story(given.__getitem__) for ref in refs]


@contextlib.contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cycle collector while merging builds millions of small
    containers that form no cycles: it would scan them again and again for
    nothing (a fifth of the time for 100,000 articles). Reference counting still
    frees everything; the collector's previous state is restored."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


#: What identifies an article among copies, and orders them before merging: the
#: canonical form of its `webUrl`, its publication time (a POSIX timestamp), its
#: title and its source.
Identity = tuple[str, float, str, str]

#: All that grouping needs of one article: its `Identity`, all its canonical URLs
#: (see `article_keys`) and its title's tokens (see `headlines.title_tokens`).
MergeInput = tuple[Identity, Collection[str], tuple[str, ...]]


def merge_input(
    article: Article,
    to_canonical: Callable[[str], str] = canonical_url,
    to_tokens: Callable[[str], tuple[str, ...]] = title_tokens,
) -> MergeInput:
    """The `MergeInput` of `article`; `to_canonical` and `to_tokens` compute (or
    look up) `canonical_url` and `title_tokens`."""
    url = to_canonical(article.url)
    return _identity(article, url), _keys(article, url, to_canonical), to_tokens(article.title)


@dataclass(frozen=True)
class Grouping:
    """Which articles make one story, and the stories' ids: the part of merging
    that needs no article but its `MergeInput`, so that it can be done before the
    articles themselves are at hand (or elsewhere: the result is small).

    `order` lists the articles' positions sorted by `Identity`; `roots[i]` is the
    place in that order of the first copy of the story of the article at place
    `i`; `ids` are the stories' ids, stories in the order of their first copies.
    """

    order: list[int]
    roots: list[int]
    ids: list[str]

    def id_map(self, inputs: Sequence[MergeInput]) -> dict[str, str]:
        """`story_id_map` of the stories this grouping of `inputs` makes, made
        without them."""
        ids = iter(self.ids)
        id_of_root = {place: next(ids) for place, root in enumerate(self.roots) if root == place}
        return {
            url: id_of_root[root]
            for index, root in zip(self.order, self.roots, strict=True)
            for url in inputs[index][1]
        }


def group_articles(
    inputs: Sequence[MergeInput],
    merge: MergeConfig,
    known: Mapping[str, str],
    title_pairs: PairFinder | None = None,
    *,
    taken: Set[str] = frozenset(),
) -> Grouping:
    """Group articles, given as their `MergeInput`s, into stories and name them
    (see `merge_stories`; `title_pairs` as there, or any `PairFinder`). Pure
    but for what `title_pairs` remembers.

    `taken`: ids other stories hold, which none of these may be given (see
    `regrouping`: there, the stories of the articles a change left alone);
    none of these stories may carry one of them by a `known` URL."""
    find_pairs = TitlePairSearch() if title_pairs is None else title_pairs
    with _cyclic_gc_paused():
        # Indexing lists, not calling a lambda, and each input looked up once.
        order = sorted(range(len(inputs)), key=[identity for identity, _, _ in inputs].__getitem__)
        ordered = [inputs[i] for i in order]
        keys = [urls for _, urls, _ in ordered]
        times = [identity[1] for identity, _, _ in ordered]
        tokens = [words for _, _, words in ordered]
        groups = _UnionFind(times)
        _join_same_urls(keys, groups)
        window = merge.window_hours * 3600.0
        _join_titles(times, tokens, window, merge.title_similarity, find_pairs, groups)
        roots = [groups.find(index) for index in range(len(order))]
        ids = _story_ids(_members(roots), times, keys, known, taken)
        return Grouping(order, roots, ids)


def _members(roots: Sequence[int]) -> list[Sequence[int]]:
    """The places of each story's copies, stories in the order of their first
    copies (their roots); most have one copy, which needs no list of its own."""
    more = _several(roots)
    return [more.get(index, (index,)) for index, root in enumerate(roots) if root == index]


def _several(roots: Sequence[int]) -> dict[int, list[int]]:
    """The places of the copies of each story of several, by its first copy's
    place (its root); the first copy first, then the others in place order."""
    more: dict[int, list[int]] = {}
    for index in itertools.compress(range(len(roots)), map(operator.ne, roots, itertools.count())):
        root = roots[index]
        if root in more:
            more[root].append(index)
        else:
            more[root] = [root, index]
    return more


#: The story of one copy, but for its id: the fields of `StoryRef` after `id`
#: (see `alone`).
Alone = tuple[tuple[int], tuple[str, ...], datetime, datetime, float, float, int]


def alone(heads: Sequence[Head], positions: Sequence[int] | None = None) -> list[Alone]:
    """For each article at `positions` (by default 0, 1, ...) in `heads`, the
    story it would make as its only copy, but for the story's id. Made before
    the grouping is known (most stories have one copy), it leaves `story_refs`
    less to do once it is."""
    topics_of = _TopicKeys()
    where = range(len(heads)) if positions is None else positions
    return [
        (
            (position,),
            topics_of[h[TOPICS]],
            h[PUBLISHED],
            newest_time(h[PUBLISHED], h[UPDATED]),
            h[HEAT],
            h[QUALITY],
            1,
        )
        for position, h in zip(where, map(heads.__getitem__, where), strict=True)
    ]


def story_refs(
    heads: Sequence[Head],
    grouping: Grouping,
    weights: RankConfig,
    reference: datetime,
    *,
    positions: Sequence[int] | None = None,
    singles: Sequence[Alone] | None = None,
    scores: Sequence[float] | None = None,
) -> list[StoryRef]:
    """The stories of `grouping` as `StoryRef`s, leads chosen as `merge_stories`
    says. The articles grouped are at `positions` (by default 0, 1, ...) in
    `heads`, which holds their `compact.Head`s; the refs name those positions.
    `singles`, if given, is `alone(heads, positions)`, and `scores` each
    article's `copy_score`, in the same order."""
    with _cyclic_gc_paused():
        if singles is None:
            singles = alone(heads, positions)
        return _story_refs(heads, grouping, weights, reference, singles, scores)


def copy_score(
    heat: float, quality: float, newest: datetime, reference: datetime, weights: RankConfig
) -> float:
    """What orders the copies of a story, lowest first: the negated
    `rank.comparable_score` of the copy as if it were a story of its own (the
    first member of its `rank.place`)."""
    return -comparable_score(base_score(heat, quality, weights), newest, reference, weights)


def _story_refs(
    heads: Sequence[Head],
    grouping: Grouping,
    weights: RankConfig,
    reference: datetime,
    singles: Sequence[Alone],
    scores: Sequence[float] | None,
) -> list[StoryRef]:
    order = grouping.order
    if scores is None:
        scores = [
            copy_score(h, q, newest, reference, weights) for _, _, _, newest, h, q, _ in singles
        ]
    refs = []
    for places, story_id_ in zip(_members(grouping.roots), grouping.ids, strict=True):
        if len(places) == 1:  # most stories: one copy, nothing to rank or combine
            refs.append(StoryRef(story_id_, *singles[order[places[0]]]))
        else:
            indices = [order[place] for place in places]
            refs.append(_story_ref(story_id_, indices, heads, singles, scores))
    return refs


def story_refs_apart(
    heads: Sequence[Head],
    grouping: Grouping,
    *,
    singles: Sequence[Alone],
    scores: Sequence[float],
    alone_order: Sequence[int],
    presorted: Sequence[Alone],
) -> tuple[list[StoryRef], list[bool], list[StoryRef]]:
    """`story_refs` (with `singles` and `scores`) apart: the stories of one copy
    in an order given ahead, and the others in the grouping's order.

    `alone_order` holds the indices of `singles` in the order wanted for their
    stories were they all alone, e.g. by their place alone, and `presorted` is
    `singles` in that order: both are made while the grouping is. The
    result: the refs of the stories of one copy, in that order; for each index
    of `alone_order`, whether its article is such a story (the others' are
    passed over); and the refs of the other stories. Most stories have one
    copy: their refs are made without visiting them one by one in Python.
    """
    with _cyclic_gc_paused():
        order, roots, ids = grouping.order, grouping.roots, grouping.ids
        more = _several(roots)
        firsts = list(
            itertools.compress(range(len(roots)), map(operator.eq, roots, itertools.count()))
        )
        several = list(map(more.__contains__, firsts))
        one = list(map(operator.not_, several))
        id_of = dict(
            zip(
                map(order.__getitem__, itertools.compress(firsts, one)),
                itertools.compress(ids, one),
                strict=True,
            )
        )
        alone_ids = list(map(id_of.get, alone_order))
        kept = list(map(operator.is_not, alone_ids, itertools.repeat(None)))
        # (id, *single) made and made a StoryRef without a call in Python per story.
        fields = map(
            operator.add,
            zip(itertools.compress(alone_ids, kept)),
            itertools.compress(presorted, kept),
        )
        alone_refs: list[StoryRef] = list(map(tuple.__new__, itertools.repeat(StoryRef), fields))
        others = [
            _story_ref(story, list(map(order.__getitem__, more[first])), heads, singles, scores)
            for first, story in zip(
                itertools.compress(firsts, several), itertools.compress(ids, several), strict=True
            )
        ]
        return alone_refs, kept, others


def _story_ids(
    stories: Sequence[Sequence[int]],
    times: Sequence[float],
    keys: Sequence[Collection[str]],
    known: Mapping[str, str],
    taken: Set[str] = frozenset(),
) -> list[str]:
    """`assign_story_ids` of `stories`, each the indices of its copies in `times`
    and `keys`, found without listing the copies of every story first: most
    stories have one, known by one URL. With nothing known (or taken), the ids
    of rule 2 alone. `taken`: as for `group_articles`."""
    if not known and not taken:
        return [
            story_id(
                min(keys[indices[0]])
                if len(indices) == 1
                else min((times[i], min(keys[i])) for i in indices)[1]
            )
            for indices in stories
        ]
    carried: list[Collection[str]] = []
    for indices in stories:
        if len(indices) == 1:
            urls = keys[indices[0]]
        else:
            urls = set().union(*map(keys.__getitem__, indices))
        if len(urls) == 1:  # most stories: one copy, known by one URL
            old = known.get(next(iter(urls)))
            carried.append(() if old is None else (old,))
        else:
            carried.append({old for url in urls if (old := known.get(url)) is not None})

    def copies(number: int) -> list[CopyKeys]:
        return [(times[i], keys[i]) for i in stories[number]]

    return _claimed_ids(carried, copies, known, taken)


def _identity(article: Article, url: str) -> Identity:
    """What orders articles before merging; `url` is `canonical_url(article.url)`."""
    return (url, article.published.timestamp(), article.title, article.source)


def _keys(article: Article, url: str, to_canonical: Callable[[str], str]) -> set[str]:
    """`article_keys(article)`, given `canonical_url(article.url)` and what computes
    `canonical_url` of the others."""
    keys = {url}
    for other in (article.amp_url, article.cdn_amp_url):
        if other:
            keys.add(to_canonical(other))
    return keys


def _join_same_urls(keys: Sequence[Collection[str]], groups: _UnionFind) -> None:
    # Unions in any order make the same groups: each url joins the first article with it.
    first_with: dict[str, int] = {}
    for index, article_urls in enumerate(keys):
        for url in article_urls:
            if url in first_with:
                groups.union(first_with[url], index)
            else:
                first_with[url] = index


#: Which distinct titles are similar at a threshold: `titlepairs.find_title_pairs`.
PairFinder = Callable[[Set[Title], float], Iterable[Pair]]


def _join_titles(
    times: Sequence[float],
    tokens: Sequence[tuple[str, ...]],
    window: float,
    threshold: float,
    find_pairs: PairFinder,
    groups: _UnionFind,
) -> None:
    """Join articles whose titles are the same or near-identical, anchored in time.

    Articles are visited in time order. Each joins the story of an earlier article
    with the same `tokens`, or a `similar_titles` one, when it was published at most
    `window` seconds after that story's (or its own story's) first copy. Anchoring at
    the first copy, rather than at the nearest match, keeps a headline reused every
    day from chaining into one story that never ends.
    """
    when_of = times.__getitem__
    articles_with: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for index, words in enumerate(tokens):
        if words:
            articles_with[words].append(index)
    # Each article after the first of its title, and its place among them.
    place_of: dict[int, int] = {}
    for same in articles_with.values():
        if len(same) > 1:
            same.sort(key=lambda i: (times[i], i))  # equal times in index order
            place_of.update((index, place) for place, index in enumerate(same) if place)
    similar = _similar_pairs(
        articles_with, times, window, find_pairs(articles_with.keys(), threshold)
    )
    # Most articles have neither an earlier one of the same title nor a similar one.
    for index in sorted(place_of.keys() | similar.keys(), key=lambda i: (times[i], i)):
        same, place = articles_with[tokens[index]], place_of.get(index, 0)
        when = times[index]
        start = bisect.bisect_left(same, when - window, 0, place, key=when_of)
        candidates = same[start:place]  # in order already, as `same` is
        if index in similar:
            candidates = sorted({*candidates, *similar[index]}, key=lambda i: (times[i], i))
        for other in candidates:
            root, other_root = groups.find(index), groups.find(other)
            if root != other_root and (
                when - min(groups.earliest[root], groups.earliest[other_root]) <= window
            ):
                groups.union(index, other)


def _similar_pairs(
    articles_with: Mapping[tuple[str, ...], Sequence[int]],
    times: Sequence[float],
    window: float,
    similar_titles: Iterable[Pair],
) -> dict[int, list[int]]:
    """For each article, the earlier ones (by time, then index) within `window`
    whose titles are similar to its own but not the same. `articles_with` maps
    each title to its articles, in that order; `similar_titles` are the pairs of
    its titles that are similar.

    No all-pairs comparison. Whether two titles are similar does not depend on
    time, so it is decided once per pair of distinct titles (see `titlepairs`),
    and only similar titles' articles are paired within the window.
    """
    when_of = times.__getitem__
    pairs: dict[int, set[int]] = defaultdict(set)
    for small, large in similar_titles:
        candidates = articles_with[large]
        for index in articles_with[small]:
            when = times[index]
            start = bisect.bisect_left(candidates, when - window, key=when_of)
            stop = bisect.bisect_right(candidates, when + window, key=when_of)
            for other in candidates[start:stop]:
                first, later = sorted((index, other), key=lambda i: (times[i], i))
                pairs[later].add(first)
    return {index: sorted(firsts) for index, firsts in pairs.items()}


def _story_ref(
    id: str,
    indices: list[int],
    heads: Sequence[Head],
    singles: Sequence[Alone],
    scores: Sequence[float],
) -> StoryRef:
    """The story of the articles whose `Alone` and `copy_score` are at
    `indices` of `singles` and `scores`, given in `Identity` order."""
    copies = [singles[index] for index in indices]
    ranks = [scores[index] for index in indices]
    positions, topics, published, newest, heat, quality, _ = zip(*copies, strict=True)
    copy_heads = [heads[position] for (position,) in positions]
    if len(set(ranks)) == len(ranks):  # usually: the scores alone order the copies
        by_rank = sorted(range(len(copies)), key=ranks.__getitem__)
    else:
        # The link only decides between equal scores: look at it only for those.
        # Last, the copies' order as given: their `Identity` order.
        tied = {score for score, count in Counter(ranks).items() if count > 1}
        by_rank = sorted(
            range(len(copies)),
            key=lambda i: (
                ranks[i],
                link_penalty(copy_heads[i][URL]) if ranks[i] in tied else (False, False),
                published[i],
                i,
            ),
        )
    outlets = {
        outlet_name(None if h[PROVIDER] is None else h[PROVIDER][0], h[URL]) for h in copy_heads
    }
    return StoryRef(
        id=id,
        copies=tuple(positions[i][0] for i in by_rank),
        topics=tuple(sorted({key for keys in topics for key in keys})),
        published=min(published),
        updated=max(newest),
        heat=max(heat),
        quality=max(quality),
        providers=len(outlets),
    )


class _TitleTokens(dict[str, tuple[str, ...]]):
    """The `title_tokens` of each title, remembered: copies of a story often share
    their title."""

    def __missing__(self, title: str) -> tuple[str, ...]:
        self[title] = tokens = title_tokens(title)
        return tokens


class _TopicKeys(dict[tuple[str, ...], tuple[str, ...]]):
    """The sorted, distinct topic keys of a tuple of topic names; remembered, as
    the same combinations of topics recur across thousands of articles, and the
    same few names across all of them."""

    def __init__(self) -> None:
        super().__init__()
        self.key_of: dict[str, str] = {}

    def __missing__(self, names: tuple[str, ...]) -> tuple[str, ...]:
        keys = set()
        for name in names:
            if name not in self.key_of:
                self.key_of[name] = topic_key(name)
            keys.add(self.key_of[name])
        keys.discard("")
        self[names] = result = tuple(sorted(keys))
        return result


# Story ids ------------------------------------------------------------------------

#: One copy of a story, as ids see it: its publication time and canonical URLs.
CopyKeys = tuple[float, Collection[str]]


def assign_story_ids(stories: Sequence[Sequence[CopyKeys]], known: Mapping[str, str]) -> list[str]:
    """An id for each story, given its copies and the ids `known` from before.

    A story's earliest copy is the one with the smallest (time, smallest URL).
    1. A story keeps a known id that one of its copies' URLs carries. When a story
       carries several (stories that merged), or several stories carry one (a
       story that split), ids go out in this order, each id and story once: first
       to the story holding the URL the id was derived from (`story_id(url)`),
       then by the earliest copy carrying it; ties by id, then story.
    2. A story left without one gets `story_id` of its earliest copy's smallest
       URL, or, if another story holds that already, of its other URLs in turn,
       or of that URL with "#2", "#3", ... appended.
    The ids are distinct. With nothing `known` every story gets the id of rule 2,
    so ids do not depend on history unless a story's earliest copy went away or
    an earlier one came, or stories merged or split.
    """
    if not known:
        return [story_id(_earliest(copies)[1]) for copies in stories]
    carried = [
        {old for _, keys in copies for url in keys if (old := known.get(url)) is not None}
        for copies in stories
    ]
    return _claimed_ids(carried, stories.__getitem__, known)


def _claimed_ids(
    carried: Sequence[Collection[str]],
    copies_of: Callable[[int], Sequence[CopyKeys]],
    known: Mapping[str, str],
    held: Set[str] = frozenset(),
) -> list[str]:
    """`assign_story_ids` of stories given by the distinct known ids each carries
    and by what lists the copies of a story by its number: asked only of the few
    stories that do not carry one id of their own."""
    # Most stories carry one known id that no other story carries: theirs whatever
    # the order below, which only decides between rival claims.
    claimants = Counter(itertools.chain.from_iterable(carried))
    ids: dict[int, str] = {}
    contested = []
    for number, olds in enumerate(carried):
        if len(olds) == 1 and claimants[next(iter(olds))] == 1:
            ids[number] = next(iter(olds))
        elif olds:
            contested.append(number)
    claims: list[tuple[int, float, str, str, int]] = []
    for number in contested:
        best: dict[str, tuple[int, float, str]] = {}
        for when, keys in copies_of(number):
            for url in keys:
                old = known.get(url)
                if old is not None:
                    claim = (0 if story_id(url) == old else 1, when, min(keys))
                    best[old] = min(best.get(old, claim), claim)
        claims.extend((*claim, old, number) for old, claim in best.items())
    taken = {*held, *ids.values()}  # `held` by stories not listed here
    for *_, old, number in sorted(claims):
        if number not in ids and old not in taken:
            ids[number] = old
            taken.add(old)
    firsts = {n: _earliest(copies_of(n)) for n in range(len(carried)) if n not in ids}
    for number in sorted(firsts, key=firsts.__getitem__):
        ids[number] = _fresh_id(copies_of(number), firsts[number][1], taken)
        taken.add(ids[number])
    return [ids[number] for number in range(len(carried))]


def _earliest(copies: Sequence[CopyKeys]) -> tuple[float, str]:
    """A story's earliest copy: its (time, smallest URL). Most stories have one copy."""
    if len(copies) == 1:
        return copies[0][0], min(copies[0][1])
    return min((when, min(keys)) for when, keys in copies)


def _fresh_id(copies: Sequence[CopyKeys], first_url: str, taken: set[str]) -> str:
    """Rule 2 of `assign_story_ids`."""
    others = sorted((when, url) for when, keys in copies for url in keys if url != first_url)
    for url in [first_url, *(url for _, url in others)]:
        if story_id(url) not in taken:
            return story_id(url)
    suffix = 2
    while story_id(f"{first_url}#{suffix}") in taken:
        suffix += 1
    return story_id(f"{first_url}#{suffix}")


def story_id_map(
    stories: Iterable[Story], canonical: CanonicalUrls | None = None
) -> dict[str, str]:
    """Each canonical URL of the stories' copies, mapped to its story's id: what a
    build keeps for the next one's `known`. `canonical`: as for `merge_stories`,
    whose canonical URLs it looks up rather than computing them again."""
    to_canonical = canonical_url if canonical is None else canonical.__getitem__
    return {
        url: story.id
        for story in stories
        for article in story.articles
        for url in _keys(article, to_canonical(article.url), to_canonical)
    }


def story_id(key: str) -> str:
    """The stable id of a story whose earliest copy has canonical URL `key`:
    "urn:uuid:" and the name-based (version 5) UUID of `key` in `STORY_ID_NAMESPACE`."""
    # uuid.uuid5 spelled out: the same bytes, without building a UUID object.
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + key.encode("utf-8")).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    h = digest.hex()
    return f"urn:uuid:{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
