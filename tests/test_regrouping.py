"""Regrouping around what changed gives the grouping of all the articles, ids included."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.config import MergeConfig
from aggregator.files import FileStamp
from aggregator.merge import Grouping, MergeInput, group_articles
from aggregator.regrouping import GroupingRecord, record_of, regroup
from aggregator.titlepairs import Pair

HOUR = 3600.0
MERGE = MergeConfig(window_hours=2.0)
#: Few URLs and titles, so that articles share them often; times over a few
#: windows, so that the same title makes one story or several.
URLS = [f"https://example.com/{letter}" for letter in "abcdefghij"]
TITLES = [(), ("fire",), ("fire", "city"), ("vote",), ("vote", "today"), ("storm",)]
#: Which titles are similar, as `titlepairs` gives them: (small, large).
SIMILAR: frozenset[Pair] = frozenset(
    {(("fire",), ("fire", "city")), (("vote",), ("vote", "today"))}
)

#: What a file gives grouping: its URLs, title and publication time.
Content = tuple[frozenset[str], tuple[str, ...], float]
contents = st.tuples(
    st.frozensets(st.sampled_from(URLS), min_size=1, max_size=2),
    st.sampled_from(TITLES),
    st.integers(0, 12).map(lambda half_hours: half_hours * HOUR / 2),
)
NAMES = [f"f{n:02}" for n in range(16)]
#: A collection: file name -> content. Names are few, so builds share files.
collections = st.dictionaries(st.sampled_from(NAMES), contents)
#: What changes from one build to the next: files written (added or changed)
#: and files removed, a few of each.
changes = st.tuples(
    st.dictionaries(st.sampled_from(NAMES), contents, max_size=3),
    st.sets(st.sampled_from(NAMES), max_size=2),
)


def inputs_of(files: dict[str, Content]) -> list[MergeInput]:
    return [
        ((min(urls), when, " ".join(title), name), set(urls), title)
        for name, (urls, title, when) in sorted(files.items())
    ]


def similar(titles: object, threshold: float) -> list[Pair]:
    return [pair for pair in SIMILAR if pair[0] in titles and pair[1] in titles]  # type: ignore[operator]


def pairs_among(inputs: Sequence[MergeInput]) -> frozenset[Pair]:
    titles = {words for _, _, words in inputs if words}
    return frozenset(similar(titles, MERGE.title_similarity))


def same(one: Grouping, other: Grouping | None) -> bool:
    return other is not None and dataclasses.astuple(one) == dataclasses.astuple(other)


@settings(max_examples=400, deadline=None)
@given(collections, st.lists(changes, min_size=1, max_size=5), st.data())
def test_regrouping_from_the_last_build_equals_grouping_all(
    first: dict[str, Content],
    later: list[tuple[dict[str, Content], set[str]]],
    data: st.DataObject,
) -> None:
    stamps = dict.fromkeys(first, (0, 0))
    last: GroupingRecord | None = None
    known: dict[str, str] = {}
    files = first
    for number, (written, removed) in enumerate([({}, set()), *later]):
        files = {name: content for name, content in {**files, **written}.items()}
        for name in removed:
            files.pop(name, None)
        stamps.update(dict.fromkeys(written, (number, number)))  # each write a new stamp
        # A file whose stamp cannot be trusted (one read before it settled)
        # is as good as changed.
        untrusted = data.draw(st.sets(st.sampled_from(sorted(files) or ["-"]), max_size=1))
        inputs = inputs_of(files)
        stamped = [None if name in untrusted else stamps[name] for name in sorted(files)]
        expected = group_articles(inputs, MERGE, known, similar)
        if last is not None:
            made = regroup(inputs, stamped, last, MERGE, known, pairs_among(inputs), most=1.0)
            assert same(expected, made)
        last = record_of(expected, inputs, stamped)
        known = expected.id_map(inputs)


def test_a_large_region_is_left_to_a_grouping_of_all() -> None:
    files = {f"f{n}": (frozenset({URLS[n]}), TITLES[n % len(TITLES)], 0.0) for n in range(8)}
    inputs = inputs_of(files)
    stamps: list[FileStamp | None] = [(1, 1)] * len(inputs)
    grouping = group_articles(inputs, MERGE, {}, similar)
    last = record_of(grouping, inputs, stamps)
    known = grouping.id_map(inputs)
    changed = [None, *stamps[1:]]  # one file in eight: within a quarter
    assert same(grouping, regroup(inputs, changed, last, MERGE, known, pairs_among(inputs)))
    changed = [None, None, None, *stamps[3:]]  # three in eight: more
    assert regroup(inputs, changed, last, MERGE, known, pairs_among(inputs)) is None
