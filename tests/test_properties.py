"""Properties of merging and ranking, over generated collections of articles.

The generated articles are built to collide: a few headlines in several wordings,
a few hosts and paths under URL variants, a handful of outlets, topics and
scores, and times on whole hours over ten days, so that copies, syndication,
the window's edge and ties all occur in small examples.

Idempotence, made precise. Merging works on a collection, and a story's copies
are its articles, so "merging twice" means one of:
- merging the copies of any one story again gives back that story (same id,
  lead and copies): a story never falls apart when its neighbours are removed;
- merging the whole collection again with the ids the first merge produced
  (`story_id_map`) gives the same stories: persisted ids are a fixed point.
Merging only the leads again is not idempotent, by design: without the other
copies the window is anchored elsewhere (a headline reused daily gives stories
whose leads can lie within 72 hours of one another).
"""

from __future__ import annotations

import dataclasses
import itertools
import random
from collections.abc import Sequence
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator import merge as merge_module
from aggregator.collection import Collection
from aggregator.compact import derive, head, merge_input, pack
from aggregator.config import Config, MergeConfig, RankConfig
from aggregator.merge import (
    CopyKeys,
    alone,
    article_keys,
    assign_story_ids,
    copy_score,
    group_articles,
    merge_stories,
    story_id,
    story_id_map,
    story_refs,
    story_refs_apart,
)
from aggregator.model import Article, Provider, Story
from aggregator.pipeline import Publication, plan, rank_all
from aggregator.rank import base_score, log_score, rank_stories, story_score
from tests.conftest import NOW

HEADLINES = (
    "Regulators approve new battery factory in northern town",
    "Storm leaves thousands without power across the coast",
    "Central bank holds interest rates steady for a third month",
    "Daily briefing",
)
OUTLETS = (None, Provider("Reuters"), Provider("AP"), Provider("BBC"))
TOPICS = ("Energy", "energy", "Climate", "AI", "Business")


def _wordings(headline: str) -> st.SearchStrategy[str]:
    return st.sampled_from(
        [
            headline,
            headline.upper(),
            f"{headline} - Reuters",
            f"UPDATE: {headline}",
            headline.replace(" the ", " "),
            f"{headline} tonight",
            headline.replace("new", "old"),
        ]
    )


def _url(host: str, path: str, variant: str, www: bool, https: bool) -> str:
    scheme = "https" if https else "http"
    return f"{scheme}://{'www.' if www else ''}{host}{path}{variant}"


URLS = st.builds(
    _url,
    st.sampled_from(["news.example", "wire.example", "daily.example"]),
    st.sampled_from(["/a", "/b", "/c", "/d", "/e"]),
    st.sampled_from(["", "", "?utm_source=x", "/amp", "#top", "?id=2"]),
    st.booleans(),
    st.booleans(),
)
SCORES = st.sampled_from([0.0, 10.0, 25.0, 50.0, 50.0, 90.0])

ARTICLE = st.builds(
    Article,
    source=st.just(""),
    title=st.sampled_from(HEADLINES).flatmap(_wordings),
    url=URLS,
    published=st.integers(0, 240).map(lambda hours: NOW - timedelta(hours=hours)),
    updated=st.none() | st.integers(0, 10).map(lambda hours: NOW - timedelta(hours=hours)),
    amp_url=st.none() | URLS,
    heat=SCORES,
    quality=SCORES,
    provider=st.sampled_from(OUTLETS),
    topics=st.lists(st.sampled_from(TOPICS), max_size=2).map(tuple),
)


def _named(articles: list[Article]) -> list[Article]:
    """Each article with a file name of its own, as sources guarantees."""
    return [dataclasses.replace(a, source=f"articles/{n}.txt") for n, a in enumerate(articles)]


COLLECTIONS = st.lists(ARTICLE, max_size=12).map(_named)
WEIGHTS = RankConfig()
MERGE = MergeConfig()


def merged(articles: Sequence[Article], known: dict[str, str] | None = None) -> list[Story]:
    """Merged and ranked, at the newest article's time, as a build does."""
    reference = max((a.newest for a in articles), default=NOW)
    stories = merge_stories(articles, MERGE, WEIGHTS, reference, known)
    return rank_stories(stories, reference, WEIGHTS)


# Order of the input --------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(COLLECTIONS, st.randoms(use_true_random=False))
def test_the_result_does_not_depend_on_the_order_of_the_articles(
    articles: list[Article], rng: random.Random
) -> None:
    shuffled = list(articles)
    rng.shuffle(shuffled)
    assert merged(shuffled) == merged(articles)


# Merging twice ---------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(COLLECTIONS)
def test_merging_one_story_again_gives_that_story(articles: list[Article]) -> None:
    reference = max((a.newest for a in articles), default=NOW)
    for story in merge_stories(articles, MERGE, WEIGHTS, reference):
        assert merge_stories(story.articles, MERGE, WEIGHTS, reference) == [story]


@settings(max_examples=150, deadline=None)
@given(COLLECTIONS)
def test_merging_again_with_the_ids_it_produced_changes_nothing(articles: list[Article]) -> None:
    first = merged(articles)
    assert merged(articles, story_id_map(first)) == first


@settings(max_examples=150, deadline=None)
@given(COLLECTIONS, st.data())
def test_story_ids_are_unique_whatever_ids_are_known(
    articles: list[Article], data: st.DataObject
) -> None:
    urls = sorted({url for a in articles for url in article_keys(a)})
    pool = [story_id(f"old-{n}") for n in range(3)] + [story_id(url) for url in urls[:3]]
    known = data.draw(
        st.dictionaries(st.sampled_from(urls), st.sampled_from(pool)) if urls else st.just({})
    )
    stories = merged(articles, known)
    assert len({s.id for s in stories}) == len(stories)


# The score -----------------------------------------------------------------------

FINITE = st.floats(-1e6, 1e6, allow_nan=False)
WEIGHT_VALUES = st.floats(0, 100, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(FINITE, FINITE, FINITE, WEIGHT_VALUES, WEIGHT_VALUES)
def test_base_score_never_falls_when_heat_or_quality_rises(
    heat: float, quality: float, rise: float, heat_weight: float, quality_weight: float
) -> None:
    weights = RankConfig(heat_weight=heat_weight, quality_weight=quality_weight)
    before = base_score(heat, quality, weights)
    assert base_score(heat + abs(rise), quality, weights) >= before
    assert base_score(heat, quality + abs(rise), weights) >= before


@settings(max_examples=150, deadline=None)
@given(COLLECTIONS.filter(bool), st.floats(0, 100), st.integers(0, 5000))
def test_a_story_score_never_falls_when_its_heat_or_quality_rises(
    articles: list[Article], rise: float, hours_later: int
) -> None:
    reference = max(a.newest for a in articles) + timedelta(hours=hours_later)
    for story in merge_stories(articles, MERGE, WEIGHTS, reference):
        hotter = dataclasses.replace(story, heat=story.heat + rise)
        better = dataclasses.replace(story, quality=story.quality + rise)
        for raised in (hotter, better):
            assert story_score(raised, reference, WEIGHTS) >= story_score(story, reference, WEIGHTS)
            assert log_score(raised, reference, WEIGHTS) >= log_score(story, reference, WEIGHTS)


# Moving the reference time -------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(COLLECTIONS.filter(bool), st.integers(1, 24 * 365 * 20))
def test_a_later_reference_time_changes_no_lead_and_no_order(
    articles: list[Article], hours_later: int
) -> None:
    newest = max(a.newest for a in articles)
    later = newest + timedelta(hours=hours_later)
    at_newest = rank_stories(merge_stories(articles, MERGE, WEIGHTS, newest), newest, WEIGHTS)
    at_later = rank_stories(merge_stories(articles, MERGE, WEIGHTS, later), later, WEIGHTS)
    assert at_later == at_newest


# Adding an unrelated article -------------------------------------------------------


def _feeds(publication: Publication) -> dict[str, list[str]]:
    return {stem: [s.id for s in spec.stories] for stem, spec in publication.feeds}


UNRELATED = st.builds(
    Article,
    source=st.just("articles/unrelated.txt"),
    title=st.just("Zoologists catalogue quokka burrows beneath Rottnest"),
    url=st.just("https://unrelated.example/quokka"),
    published=st.integers(-48, 300).map(lambda hours: NOW - timedelta(hours=hours)),
    heat=SCORES,
    quality=SCORES,
    provider=st.sampled_from(OUTLETS),
    topics=st.lists(st.sampled_from(TOPICS), max_size=3).map(tuple),
)


@settings(max_examples=200, deadline=None)
@given(COLLECTIONS, UNRELATED, st.integers(1, 4))
def test_an_unrelated_article_removes_a_story_from_a_feed_only_by_outranking_it(
    articles: list[Article], newcomer: Article, max_items: int
) -> None:
    config = dataclasses.replace(Config(), max_items=max_items)
    before = _feeds(plan(articles, config, None))
    after_publication = plan([*articles, newcomer], config, None)
    after = _feeds(after_publication)
    (new_id,) = (s.id for s in after_publication.stories if newcomer in s.articles)
    for stem, old in before.items():
        new = after[stem]
        kept = [story for story in new if story != new_id]
        # The old stories keep their order; at most the last gives way, and only
        # when the newcomer entered the feed above it.
        assert kept == old[: len(kept)]
        if len(kept) < len(old):
            assert new_id in new
            assert new.index(new_id) < len(old)
    assert set(after) >= set(before)


def _ids_by_rules(stories: Sequence[Sequence[CopyKeys]], known: dict[str, str]) -> list[str]:
    """`assign_story_ids`'s docstring taken literally: every claim in one sorted list."""
    claims = []
    for number, copies in enumerate(stories):
        for when, keys in copies:
            for url in keys:
                if url in known:
                    rank = 0 if story_id(url) == known[url] else 1
                    claims.append((rank, when, min(keys), known[url], number))
    ids: dict[int, str] = {}
    for *_, old, number in sorted(claims):
        if number not in ids and old not in ids.values():
            ids[number] = old
    firsts = {n: min((w, min(k)) for w, k in stories[n]) for n in range(len(stories))}
    for number in sorted(firsts.keys() - ids.keys(), key=firsts.__getitem__):
        first = firsts[number][1]
        others = sorted((w, u) for w, keys in stories[number] for u in keys if u != first)
        options = [story_id(u) for u in [first, *(u for _, u in others)]]
        suffix = 2
        while all(option in ids.values() for option in options):
            options.append(story_id(f"{first}#{suffix}"))
            suffix += 1
        ids[number] = next(o for o in options if o not in ids.values())
    return [ids[n] for n in range(len(stories))]


_URLS = st.sampled_from([f"https://e.example/{n}" for n in range(8)])


def _each_url_in_one_story(stories: list[list[CopyKeys]]) -> bool:
    # As merging makes them: it joins the copies that share a URL.
    urls = [set().union(*(keys for _, keys in copies)) for copies in stories]
    return sum(map(len, urls)) == len(set().union(*urls))


#: Stories as `assign_story_ids` takes them.
_STORIES = st.lists(
    st.lists(
        st.tuples(st.sampled_from([1.0, 2.0, 3.0]), st.sets(_URLS, min_size=1, max_size=3)),
        min_size=1,
        max_size=3,
    ),
    max_size=6,
).filter(_each_url_in_one_story)
_KNOWN = st.dictionaries(
    _URLS, st.sampled_from([story_id(f"https://e.example/{n}") for n in range(5)])
)


@settings(max_examples=300, deadline=None)
@given(stories=_STORIES, known=_KNOWN)
def test_story_ids_follow_their_rules_when_claims_compete(
    stories: list[list[CopyKeys]], known: dict[str, str]
) -> None:
    # Ids carried by several URLs and by several stories (as after splits and
    # merges): the shortcut for uncontested ids must give what the rules give.
    assert assign_story_ids(stories, known) == _ids_by_rules(stories, known)


@settings(max_examples=300, deadline=None)
@given(stories=_STORIES, known=_KNOWN)
def test_grouping_names_stories_by_the_rules(
    stories: list[list[CopyKeys]], known: dict[str, str]
) -> None:
    # As grouping gives them: each story the places of its copies, most of them
    # one copy known by one URL, which is looked up alone.
    copies = [copy for story in stories for copy in story]
    ends = list(itertools.accumulate(map(len, stories)))
    places = [range(end - len(story), end) for story, end in zip(stories, ends, strict=True)]
    times, keys = [when for when, _ in copies], [urls for _, urls in copies]
    assert merge_module._story_ids(places, times, keys, known) == _ids_by_rules(stories, known)


# Grouping apart from the articles ---------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(COLLECTIONS, st.booleans())
def test_grouping_read_from_packed_articles_merges_the_same(
    articles: list[Article], with_known: bool
) -> None:
    """What a build groups in a copy of itself, from the parse results alone
    (`compact.merge_input`), makes the stories merging the articles makes, and
    the ids it keeps for the next build are theirs."""
    reference = max((a.newest for a in articles), default=NOW)
    known = story_id_map(merged(articles[::2])) if with_known else {}
    inputs = [merge_input(a.source, pack(a), derive(a)) for a in articles]
    assert inputs == [merge_module.merge_input(a) for a in articles]
    grouping = group_articles(inputs, MERGE, known)
    expected = merge_stories(articles, MERGE, WEIGHTS, reference, known)
    assert merge_stories(articles, MERGE, WEIGHTS, reference, grouping=grouping) == expected
    assert grouping.id_map(inputs) == story_id_map(expected)


@settings(max_examples=150, deadline=None)
@given(COLLECTIONS)
def test_a_build_ranks_the_stories_merging_and_ranking_make(articles: list[Article]) -> None:
    """A build scores every copy and places one-copy stories before it knows
    the grouping (`pipeline.rank_all`); its stories and their order are those
    of merging the articles and ranking the stories."""
    config = dataclasses.replace(Config(), merge=MERGE, rank=WEIGHTS, drafts=True)
    ranking = rank_all(Collection.of(articles), config, None).unpacked()
    assert list(ranking.stories) == merged(articles)


@settings(max_examples=150, deadline=None)
@given(COLLECTIONS, st.randoms(use_true_random=False))
def test_story_refs_apart_are_the_story_refs(articles: list[Article], rng: random.Random) -> None:
    """The stories of one copy made in an order given ahead, and the others
    apart (`story_refs_apart`, as a build makes them), are `story_refs`."""
    reference = max((a.newest for a in articles), default=NOW)
    grouping = group_articles([merge_module.merge_input(a) for a in articles], MERGE, {})
    heads = [head(a) for a in articles]
    singles = alone(heads)
    scores = [copy_score(h, q, when, reference, WEIGHTS) for _, _, _, when, h, q, _ in singles]
    order = list(range(len(singles)))
    rng.shuffle(order)
    alone_refs, kept, others = story_refs_apart(
        heads,
        grouping,
        singles=singles,
        scores=scores,
        alone_order=order,
        presorted=[singles[index] for index in order],
    )
    refs = story_refs(heads, grouping, WEIGHTS, reference)
    one_copy = {ref.copies[0]: ref for ref in refs if len(ref.copies) == 1}
    assert alone_refs == [one_copy[index] for index in order if index in one_copy]
    assert kept == [index in one_copy for index in order]
    assert others == [ref for ref in refs if len(ref.copies) > 1]
