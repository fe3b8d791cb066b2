"""The merge input store gives grouping what the parse results give it, or nothing."""

from __future__ import annotations

import logging
import pickle
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aggregator import frames
from aggregator.cache import Result
from aggregator.collection import FUTURE_TOLERANCE, merge_inputs
from aggregator.mergestore import (
    STORE_NAME,
    Rows,
    RowWriter,
    load_rows,
    merged_inputs,
    microseconds,
    row_of,
    rows_of,
    save_rows,
)
from aggregator.parallel import parse_one
from tests.conftest import NOW, WriteArticle


@pytest.fixture
def parsed(write_article: WriteArticle, corpus: Path) -> tuple[list[str], list[Result]]:
    """Parse results of articles merged or not: plain, AMP copies, a draft, one
    from the future, one just inside the tolerance, and a rejected file."""
    write_article("a.txt", title="Alpha wins the cup", webUrl="https://a.example/1")
    write_article(
        "b.txt",
        title="Beta launches a rocket",
        webUrl="https://b.example/2?utm_source=x",
        ampWebUrl="https://b.example/amp/2",
        cdnAmpWebUrl="https://b-example.cdn.ampproject.org/c/s/b.example/amp/2",
    )
    write_article("c.txt", title="Gamma, a draft", published=False)
    write_article("d.txt", title="Delta from the future", publishedDateTime=NOW + timedelta(days=3))
    edge = NOW + FUTURE_TOLERANCE
    write_article("e.txt", title="Epsilon at the edge", publishedDateTime=edge)
    write_article(
        "f.txt", title="Zeta a microsecond late", publishedDateTime=edge + timedelta(microseconds=1)
    )
    write_article("g.txt", webUrl="not a url")
    names = sorted(str(path) for path in corpus.iterdir())
    results: list[Result] = []
    for name in names:
        _, digest, payload, _ = parse_one(name, 100_000)
        results.append((digest, payload))
    return names, results


@pytest.mark.parametrize("drafts", [False, True])
def test_rows_give_grouping_what_the_parse_results_give(
    parsed: tuple[list[str], list[Result]], drafts: bool
) -> None:
    names, results = parsed
    rows = [row_of(payload) for _, payload in results]
    expected = merge_inputs(names, results, NOW, drafts)
    assert merged_inputs(names, rows, NOW + FUTURE_TOLERANCE, drafts) == expected
    assert len(expected) == (4 if drafts else 3)  # neither the rejected file nor the late ones


@given(st.datetimes(timezones=st.just(UTC)))
def test_microseconds_give_the_timestamp_grouping_orders_by(moment: datetime) -> None:
    assert microseconds(moment) / 1_000_000 == moment.timestamp()


def test_rows_are_kept_and_read_back(
    parsed: tuple[list[str], list[Result]], tmp_path: Path
) -> None:
    names, results = parsed
    entries = {
        name: (10 + i, 20 + i, digest, payload)
        for i, (name, (digest, payload)) in enumerate(zip(names, results, strict=True))
    }
    rows = rows_of(entries)
    assert rows[names[0]] == (10, 20, row_of(results[0][1]))
    save_rows(tmp_path, "key 1", rows)
    assert load_rows(tmp_path, "key 1") == rows
    assert load_rows(tmp_path, "key 2") == {}  # kept for another parser, say
    assert load_rows(tmp_path / "elsewhere", "key 1") == {}


def framed(value: object) -> bytes:
    return frames.frame(pickle.dumps(value))


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],
        lambda data: data.split(b"\n", 1)[0] + b"\n" + b"\x80garbage",
        lambda data: data.split(b"\n", 1)[0] + b"\n" + framed(([], [], [1], [])),
        lambda data: data.split(b"\n", 1)[0] + b"\n" + framed(({}, [], [], [])),
        lambda data: data.split(b"\n", 1)[0] + b"\n" + framed([[Path("x")], [1], [2], [None]]),
        lambda data: data.replace(b"https://b/", b"https://c/"),
    ],
    ids=["truncated", "garbage", "uneven columns", "not lists", "a class", "a byte changed"],
)
def test_a_damaged_store_is_an_empty_one(
    tmp_path: Path, damage: object, caplog: pytest.LogCaptureFixture
) -> None:
    rows: Rows = {"a.txt": (1, 2, None), "b.txt": (3, 4, (5, False, ("https://b/",), "B", ("b",)))}
    save_rows(tmp_path, "key", rows)
    path = tmp_path / STORE_NAME
    path.write_bytes(damage(path.read_bytes()))  # type: ignore[operator]
    with caplog.at_level(logging.WARNING):
        assert load_rows(tmp_path, "key") == {}
    assert "merge input store damaged" in caplog.text


def test_a_store_that_cannot_be_written_is_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        save_rows(tmp_path / "missing", "key", {"a.txt": (1, 2, None)})
    assert "cannot store merge inputs" in caplog.text


def test_a_store_written_in_parts_reads_back_whole_and_replaces_the_last(tmp_path: Path) -> None:
    save_rows(tmp_path, "key", {"old.txt": (1, 2, None)})
    with RowWriter(tmp_path, "key") as writer:
        writer.add([("a.txt", (1, 2, None))])
        assert load_rows(tmp_path, "key") == {"old.txt": (1, 2, None)}  # not yet in place
        writer.add([("b.txt", (3, None, None)), ("c.txt", (5, 6, None))])
    assert writer.written
    assert load_rows(tmp_path, "key") == {
        "a.txt": (1, 2, None),
        "b.txt": (3, None, None),  # not settled: a stamp no file has
        "c.txt": (5, 6, None),
    }


def test_a_store_left_unfinished_leaves_the_last_one(tmp_path: Path) -> None:
    save_rows(tmp_path, "key", {"old.txt": (1, 2, None)})
    with pytest.raises(RuntimeError), RowWriter(tmp_path, "key") as writer:
        writer.add([("a.txt", (1, 2, None))])
        raise RuntimeError("the build failed")
    assert not writer.written
    assert load_rows(tmp_path, "key") == {"old.txt": (1, 2, None)}
    assert [p.name for p in tmp_path.iterdir()] == [STORE_NAME]  # no temporary left


def test_a_stored_row_is_used_only_for_the_stamp_it_was_stored_with(tmp_path: Path) -> None:
    row = (5, False, ("https://b/",), "B", ("b",))
    save_rows(
        tmp_path, "key", {"a.txt": (1, 2, row), "b.txt": (3, None, row), "c.txt": (4, 5, None)}
    )
    stored = load_rows(tmp_path, "key")
    names = ["a.txt", "a.txt", "b.txt", "c.txt", "d.txt", "a.txt"]
    stamps = [(1, 2), (1, 3), (3, 9), (4, 5), (6, 7), None]
    rows, same = stored.lookup(names, stamps)
    assert same == [True, False, False, True, False, False]  # b.txt: stored before it settled
    assert rows == [row, row, row, None, None, row]
    assert stored["b.txt"] == (3, None, row) and len(stored) == 3
    assert "c.txt" in stored and "d.txt" not in stored
    assert stored.rows_of(["c.txt", "b.txt"]) == [None, row]  # whatever their stamps
    assert stored.rows_of(["a.txt", "d.txt"]) is None
