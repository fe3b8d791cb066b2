"""Regrouping around what changed gives the grouping of all the articles, ids included."""

from __future__ import annotations

import dataclasses
import shutil
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator import files, grouping, regrouping
from aggregator.build import BuildOptions, run_build
from aggregator.config import Config, MergeConfig, PublishConfig
from aggregator.files import FileStamp
from aggregator.groupingstore import STORE_NAME, grouping_key, load_grouping, save_grouping
from aggregator.merge import Grouping, MergeInput, group_articles
from aggregator.regrouping import GroupingRecord, record_of, regroup
from aggregator.state import STORY_IDS_FILE
from aggregator.titlepairs import Pair
from tests.conftest import NOW, feed_bytes

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import gen_corpus

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


# The record kept between builds ----------------------------------------------------

RECORD = GroupingRecord(["a.txt", "b.txt", "c.txt"], [(1, 2), None, (3, 4)], [0, 0, 2], ["x", "y"])


def test_a_record_is_kept_for_its_key_and_its_story_ids(tmp_path: Path) -> None:
    assert save_grouping(tmp_path, "key", "ids", RECORD) is True
    assert load_grouping(tmp_path, "key", "ids") == RECORD
    assert load_grouping(tmp_path, "other key", "ids") is None
    assert load_grouping(tmp_path, "key", "other ids") is None
    assert load_grouping(tmp_path / "missing", "key", "ids") is None


def test_the_key_changes_with_the_merge_settings() -> None:
    keys = {
        grouping_key("cache", MergeConfig()),
        grouping_key("other cache", MergeConfig()),
        grouping_key("cache", MergeConfig(window_hours=24.0)),
        grouping_key("cache", MergeConfig(title_similarity=0.9)),
    }
    assert len(keys) == 4


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[:-5],  # cut short
        lambda data: data[:-20] + bytes([data[-20] ^ 1]) + data[-19:],  # a changed byte
    ],
)
def test_a_damaged_record_is_not_used(
    tmp_path: Path, damage: Callable[[bytes], bytes], caplog: pytest.LogCaptureFixture
) -> None:
    save_grouping(tmp_path, "key", "ids", RECORD)
    path = tmp_path / STORE_NAME
    path.write_bytes(damage(path.read_bytes()))
    assert load_grouping(tmp_path, "key", "ids") is None
    assert "grouping record damaged" in caplog.text


def test_a_record_of_columns_that_do_not_fit_is_not_used(tmp_path: Path) -> None:
    save_grouping(tmp_path, "key", "ids", dataclasses.replace(RECORD, ids=["x"]))
    assert load_grouping(tmp_path, "key", "ids") is None
    save_grouping(tmp_path, "key", "ids", dataclasses.replace(RECORD, roots=[0, 0]))
    assert load_grouping(tmp_path, "key", "ids") is None


# Rebuilds -------------------------------------------------------------------------


def configure(corpus: Path, work: Path, jobs: int) -> Config:
    return dataclasses.replace(
        Config(),
        sources=(corpus,),
        output=work / "feeds",
        state_dir=work / "state",
        jobs=jobs,
        # A topic whose articles all went leaves no feed behind, as in a cold build.
        publish=PublishConfig(prune_orphans=True),
    )


@pytest.fixture
def marked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[], list[str]]:
    """Notes, from whatever process of the build, each regrouping: the
    articles in all, how many were grouped anew, and whether it was done."""
    marks = tmp_path / "regrouped"
    marks.mkdir()
    regroup_, group_ = regrouping.regroup, group_articles
    grouped: list[int] = []

    def grouping_part(inputs: Sequence[MergeInput], *args: Any, **more: Any) -> Grouping:
        grouped.append(len(inputs))
        return group_(inputs, *args, **more)

    def marking(inputs: Sequence[MergeInput], *args: Any, **more: Any) -> Grouping | None:
        grouped.clear()
        made = regroup_(inputs, *args, **more)
        note = f"{len(inputs)} {sum(grouped)} {made is not None}"
        (marks / str(len(list(marks.iterdir())))).write_text(note)
        return made

    monkeypatch.setattr(grouping, "regroup", marking)
    monkeypatch.setattr(regrouping, "group_articles", grouping_part)
    monkeypatch.setattr(files, "SETTLE_NS", 0)  # every file has settled: stamps are trusted
    monkeypatch.setattr(threading, "active_count", lambda: 1)  # as on the command line
    monkeypatch.setattr(grouping, "GROUP_ELSEWHERE_FROM", 1)
    return lambda: [(marks / str(n)).read_text() for n in range(len(list(marks.iterdir())))]


@pytest.mark.parametrize("jobs", [1, 2])  # grouped here, or in a copy started with the build
def test_a_rebuild_groups_anew_only_around_the_change_and_equals_a_cold_build(
    tmp_path: Path, marked: Callable[[], list[str]], jobs: int
) -> None:
    corpus = tmp_path / "corpus"
    gen_corpus.generate(corpus, 600, seed=3)
    warm = configure(corpus, tmp_path / "warm", jobs)
    run_build(warm, BuildOptions(), NOW)
    for round_ in range(3):
        gen_corpus.mutate(corpus, 0.02, seed=20 + round_)
        if round_ == 2:
            for gone in sorted(corpus.rglob("*.txt"))[::50]:
                gone.unlink()
        # Story ids carry history: a cold build starts from the same ids.
        cold = configure(corpus, tmp_path / f"cold{round_}", jobs)
        cold.state_dir.mkdir(parents=True)
        shutil.copy(warm.state_dir / STORY_IDS_FILE, cold.state_dir)
        report = run_build(warm, BuildOptions(), NOW)
        assert report.duplicates > 0
        run_build(cold, BuildOptions(), NOW)
        assert feed_bytes(warm) == feed_bytes(cold)
    notes = [note.split() for note in marked()]
    assert len(notes) == 3 and all(done == "True" for *_, done in notes)
    for articles, anew, _ in notes:  # 2% of the files changed, 2% more gone
        assert 0 < int(anew) < int(articles) // 10


def test_a_record_of_other_story_ids_is_not_used(
    tmp_path: Path, marked: Callable[[], list[str]]
) -> None:
    corpus = tmp_path / "corpus"
    gen_corpus.generate(corpus, 300, seed=4)
    warm = configure(corpus, tmp_path / "warm", 1)
    run_build(warm, BuildOptions(), NOW)
    gen_corpus.mutate(corpus, 0.02, seed=5)
    ids = warm.state_dir / STORY_IDS_FILE
    ids.write_text(
        ids.read_text().replace('"format": 1', '"format":1')
    )  # the same ids, other bytes
    run_build(warm, BuildOptions(), NOW)
    assert marked() == []  # every article grouped
    gen_corpus.mutate(corpus, 0.02, seed=6)
    run_build(warm, BuildOptions(), NOW)
    assert len(marked()) == 1 and marked()[0].endswith("True")
