"""The fetch cache on its own: what it keeps, what it forgets, what it replaces.

Fetching through it (TTL, corrupt, locked and unusable files) is in test_fetch.py.
"""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aggregator.pagecache import PageCache, PageRecord


def record(url: str, *, fetched_at: float | None = None) -> PageRecord:
    return PageRecord(
        url=url,
        etag='"v1"',
        last_modified="Mon, 15 Jun 2020 18:03:00 GMT",
        fetched_at=time.time() if fetched_at is None else fetched_at,
        status="fetched",
        http_status=200,
        updated=datetime(2020, 6, 15, 18, 3, tzinfo=UTC),
        final_url=f"{url}?moved",
        canonical_url=f"{url}#canonical",
    )


def test_records_come_back_whole_in_a_later_cache(tmp_path: Path) -> None:
    path = tmp_path / "state" / "fetch-cache.sqlite"
    kept = [record("https://a.example/1"), record("https://a.example/2")]
    cache = PageCache(path)
    cache.store(kept, prune_after=3600)
    cache.close()
    again = PageCache(path)
    assert again.load(["https://a.example/1", "https://a.example/2", "https://a.example/3"]) == {
        each.url: each for each in kept
    }
    again.close()


def test_a_stored_record_replaces_the_earlier_one(tmp_path: Path) -> None:
    cache = PageCache(tmp_path / "c.sqlite")
    cache.store([record("https://a.example/1")], prune_after=3600)
    dead = PageRecord("https://a.example/1", None, None, time.time(), "dead", 404, None, None, None)
    cache.store([dead], prune_after=3600)
    assert cache.load(["https://a.example/1"]) == {dead.url: dead}


def test_rows_not_refreshed_for_prune_after_are_dropped(tmp_path: Path) -> None:
    cache = PageCache(tmp_path / "c.sqlite")
    old = record("https://a.example/old", fetched_at=time.time() - 7200)
    cache.store([old], prune_after=3600 * 24)
    assert cache.load([old.url]) == {old.url: old}
    cache.store([record("https://a.example/new")], prune_after=3600)
    assert list(cache.load([old.url, "https://a.example/new"])) == ["https://a.example/new"]


@pytest.mark.parametrize(
    ("column", "value"),
    [("status", "maybe"), ("fetched_at", "yesterday")],
)
def test_rows_of_an_unknown_shape_are_skipped(tmp_path: Path, column: str, value: str) -> None:
    path = tmp_path / "c.sqlite"
    cache = PageCache(path)
    cache.store([record("https://a.example/1"), record("https://a.example/2")], prune_after=3600)
    cache.close()
    with sqlite3.connect(path) as db:
        db.execute(f"UPDATE pages SET {column} = ? WHERE url = ?", (value, "https://a.example/1"))
    assert list(PageCache(path).load(["https://a.example/1", "https://a.example/2"])) == [
        "https://a.example/2"
    ]


def test_a_cache_of_another_schema_version_is_replaced(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "c.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE pages (url TEXT PRIMARY KEY, something TEXT)")
        db.execute("PRAGMA user_version = 99")
    cache = PageCache(path)
    assert any("replacing it" in r.getMessage() for r in caplog.records)
    cache.store([record("https://a.example/1")], prune_after=3600)
    assert list(cache.load(["https://a.example/1"])) == ["https://a.example/1"]
    cache.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (1,)
