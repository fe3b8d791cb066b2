"""Finding near-identical titles: every pair, as comparing all pairs would, and
the same pairs again when a search starts from the last one's result."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection, Sequence
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator import forking, titlepairs
from aggregator.headlines import content_words, similar_titles
from aggregator.titlepairs import (
    Pair,
    Title,
    TitlePairSearch,
    find_title_pairs,
    narrowed,
    widened,
)

THRESHOLDS = [0.0, 0.3, 0.5, 0.8, 0.9, 1.0]


def all_similar_pairs(titles: Collection[Title], threshold: float) -> set[Pair]:
    """Every (small, large) that a search must find, by comparing all pairs."""
    return {
        (small, large)
        for small in titles
        for large in titles
        if small != large
        and content_words(small) <= content_words(large)
        and similar_titles(small, large, threshold)
    }


def similar_pairs_found(titles: Collection[Title], threshold: float) -> set[Pair]:
    """The pairs of the full search, which must equal those found by looking up
    every title as a new one."""
    found = list(titlepairs._all_pairs(titles, threshold))
    assert len(found) == len(set(found)), "a pair found twice"
    assert set(titlepairs._pairs_with(titles, titles, threshold)) == set(found)
    for parts in (2, 3):  # split among parts, as on several cores: the same pairs
        assert sorted(titlepairs._all_pairs(titles, threshold, parts)) == sorted(found)
    return set(found)


# Both searches find every similar pair. --------------------------------------------


@pytest.mark.parametrize("threshold", THRESHOLDS)
def test_titles_that_differ_by_up_to_the_spare_words_are_found(threshold: float) -> None:
    # Every prefix of a long headline: each one is similar to the longer ones that
    # add at most `_spare_words` of the longer's words, and to no others.
    words = tuple(f"word{letter}" for letter in "abcdefghijklmnopqrst")
    titles = [words[:size] for size in range(1, len(words) + 1)]
    assert similar_pairs_found(titles, threshold) == all_similar_pairs(titles, threshold)


def test_a_title_of_twenty_words_has_four_spare_ones_at_the_default_threshold() -> None:
    words = tuple(f"word{letter}" for letter in "abcdefghijklmnopqrst")
    found = similar_pairs_found([words[:15], words[:16], words[:20]], 0.8)
    assert (words[:16], words[:20]) in found
    assert (words[:15], words[:20]) not in found


def test_titles_with_the_same_content_words_are_found_both_ways_round() -> None:
    a = ("storm", "hits", "coast", "town")
    b = ("storm", "hits", "the", "coast", "town")
    c = ("storm", "hits", "coast", "of", "town")
    for threshold in (0.8, 1.0):
        found = similar_pairs_found([a, b, c], threshold)
        assert found == {(x, y) for x in (a, b, c) for y in (a, b, c) if x != y}


def test_templated_titles_are_all_found() -> None:
    # Few words, many titles: every title shares its rarest words with many others.
    words = ("apple", "unveils", "cheaper", "phone", "in", "europe", "this", "fall", "2026")
    titles = sorted(
        {
            tuple(word for word, keep in zip(words, mask, strict=True) if keep)
            for mask in itertools.product((True, False), repeat=len(words))
        }
    )
    for threshold in (0.5, 0.8):
        assert similar_pairs_found(titles, threshold) == all_similar_pairs(titles, threshold)


def test_long_titles_at_a_low_threshold_are_found_without_enumerating_subsets() -> None:
    # 60 content words with 57 to spare: some 10^17 subsets to look up, where
    # a new title is looked up by intersecting (57 + 3 choose 3) sets.
    words = tuple(f"{a}{b}n" for a in "bcdfghjklm" for b in "aeiouy")
    titles = [words, words[:30], words[::2], words[1:], words[:3], (*words[:3], "9")]
    found = set(titlepairs._pairs_with(titles, titles, 0.0))
    assert found == all_similar_pairs(titles, 0.0)
    assert (words[:3], words) in found


VOCABULARY = ("storm", "hits", "coast", "town", "power", "cut", "rail", "plan", "vote")
TITLE_WORDS = st.sampled_from((*VOCABULARY, "the", "of", "new", "2", "100", "1500d5"))


def test_a_search_split_over_copies_of_the_process_finds_the_same_pairs() -> None:
    words = ["".join(letters) for letters in itertools.product("abcdef", "ghij")]
    titles = {tuple(words[start : start + size]) for start in range(30) for size in (3, 4, 5, 9)}
    alone = find_title_pairs(titles, 0.6)
    calls: list[int] = []

    def run(parts: Sequence[Callable[[], list[Pair]]]) -> list[list[Pair]]:
        calls.append(len(parts))
        return forking.run_all(parts)

    split = find_title_pairs(titles, 0.6, parts=2, run=run)
    assert calls == [2]
    assert split == alone and alone.pairs


TITLES = st.lists(TITLE_WORDS, min_size=1, max_size=24).map(tuple)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.lists(TITLE_WORDS, min_size=1, max_size=16).map(tuple), max_size=40),
    st.sampled_from(THRESHOLDS),
)
def test_similar_titles_are_found_as_by_comparing_all_pairs(
    titles: list[Title], threshold: float
) -> None:
    titles = list(dict.fromkeys(titles))
    assert similar_pairs_found(titles, threshold) == all_similar_pairs(titles, threshold)


# A search from the last one's result finds what a full search finds. ---------------


def near(title: Title) -> st.SearchStrategy[Title]:
    """`title` with one word left out or one word added: often similar to it."""
    place = st.integers(0, len(title))
    dropped = place.map(lambda i: title[:i] + title[i + 1 :])
    added = st.tuples(place, TITLE_WORDS).map(lambda p: (*title[: p[0]], p[1], *title[p[0] :]))
    return st.one_of(dropped, added).filter(bool)


@st.composite
def some_titles(draw: st.DrawFn, among: Collection[Title] = ()) -> set[Title]:
    """A few titles, some near one another or near one `among`."""
    titles = draw(st.lists(TITLES, max_size=8))
    for title in list(titles):
        titles.extend(draw(st.lists(near(title), max_size=2)))
    if among:
        titles.extend(draw(st.lists(st.sampled_from(sorted(among)).flatmap(near), max_size=8)))
    return set(titles)


@settings(max_examples=200, deadline=None)
@given(st.data(), st.sampled_from(THRESHOLDS))
def test_a_search_from_the_last_one_finds_what_a_full_search_finds(
    data: st.DataObject, threshold: float
) -> None:
    titles = data.draw(some_titles())
    last = find_title_pairs(titles, threshold)
    assert last.pairs == all_similar_pairs(titles, threshold)
    # Later rounds look up new titles only, however many there are.
    full_search = mock.patch.object(titlepairs, "_all_pairs", side_effect=AssertionError)
    with mock.patch.object(titlepairs, "_MOST_NEW", 1.0), full_search:
        for _ in range(data.draw(st.integers(1, 4), label="rounds")):
            gone = data.draw(st.sets(st.sampled_from(sorted(titles))) if titles else st.just(set()))
            titles = (titles - gone) | data.draw(some_titles(among=titles))
            last = find_title_pairs(titles, threshold, last)
            assert last.pairs == all_similar_pairs(titles, threshold)
            assert last.titles is not None


@settings(max_examples=200, deadline=None)
@given(st.data(), st.sampled_from(THRESHOLDS))
def test_a_search_widened_then_narrowed_finds_what_a_full_search_finds(
    data: st.DataObject, threshold: float
) -> None:
    """A search of the last titles and some added ones, narrowed to titles
    among those, is a search of them: the same pairs and the same titles kept.
    Narrowed to a title it did not search, it is no search."""
    last_titles = data.draw(some_titles())
    last = find_title_pairs(last_titles, threshold)
    added = data.draw(some_titles(among=last_titles))
    wider = widened(last, added)
    assert wider is not None
    every = sorted(last_titles | added)
    titles = set(data.draw(st.lists(st.sampled_from(every)) if every else st.just([])))
    assert narrowed(wider, titles) == find_title_pairs(titles, threshold)
    stranger = ("a", "title", "never", "searched", "before")
    assert narrowed(wider, titles | {stranger}) is None


def test_a_search_that_kept_no_titles_is_not_widened() -> None:
    spaced = {("storm hits", "coast", "town", "tonight")}
    assert widened(find_title_pairs(spaced, 0.8), {("a", "b", "c")}) is None
    assert widened(find_title_pairs({("a", "b", "c")}, 0.8), spaced) is None


def test_the_last_search_at_another_threshold_is_not_used() -> None:
    titles = {("storm", "hits", "coast", "town"), ("storm", "hits", "coast", "town", "tonight")}
    at_half = find_title_pairs(titles, 0.5)
    assert at_half.pairs
    assert find_title_pairs(titles, 0.9, at_half) == find_title_pairs(titles, 0.9)
    assert not find_title_pairs(titles, 0.9, at_half).pairs


def test_titles_whose_words_hold_spaces_are_searched_in_full_and_not_remembered() -> None:
    # As lines, ("storm hits", ...) and ("storm", "hits", ...) would look the same.
    words = ("storm", "hits", "coast", "town", "tonight")
    last = find_title_pairs({words}, 0.8)
    titles = {words, ("storm hits", "coast", "town", "tonight"), ("storm hits", "coast", "town")}
    with mock.patch.object(titlepairs, "_pairs_with", side_effect=AssertionError):
        found = find_title_pairs(titles, 0.8, last)
    assert found.pairs == all_similar_pairs(titles, 0.8)
    assert found.titles is None


def test_many_new_titles_are_searched_in_full() -> None:
    titles = {(f"word{number}", "storm", "hits", "coast") for number in range(40)}
    last = find_title_pairs(set(itertools.islice(sorted(titles), 20)), 0.8)
    with mock.patch.object(titlepairs, "_pairs_with", side_effect=AssertionError):
        assert find_title_pairs(titles, 0.8, last) == find_title_pairs(titles, 0.8)


def test_a_search_for_merging_starts_from_its_last_result() -> None:
    a, b = ("storm", "hits", "coast", "town"), ("storm", "hits", "coast", "town", "tonight")
    c = ("storm", "hits", "coast", "town", "today")
    search = TitlePairSearch()
    assert search({a, b}, 0.8) == {(a, b)}
    with (
        mock.patch.object(titlepairs, "_MOST_NEW", 1.0),
        mock.patch.object(titlepairs, "_all_pairs", side_effect=AssertionError),
    ):
        assert search({a, c}, 0.8) == {(a, c)}
    assert search.last == find_title_pairs({a, c}, 0.8)
