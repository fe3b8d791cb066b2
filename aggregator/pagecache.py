"""The fetch cache: what the last real answer for each page URL said, in SQLite.

Metadata only, never page bodies: the validators a conditional request sends
again (ETag, Last-Modified), when the page was fetched, whether it was alive,
and what it told (its date, final and canonical URLs). One table, `pages`,
keyed by URL, in `fetch-cache.sqlite` of the state directory; its
`user_version` is the schema's version. Several builds may share the file:
SQLite's lock is waited for `BUSY_TIMEOUT` seconds, then the build goes
without the cache rather than waiting on another one. A file that is not a
database, fails its quick check or has another schema version is replaced.
Every failure is a warning and a build without a cache, never a failed build.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

_SCHEMA_VERSION = 1
#: Seconds to wait for another process's lock on the cache before going without.
BUSY_TIMEOUT = 10.0
#: Rows not refreshed for this long are pruned (fetching keeps at least twice its TTL).
PRUNE_AFTER = 30 * 86400.0

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PageRecord:
    """One cache row: what the last real answer for a URL said."""

    url: str
    etag: str | None
    last_modified: str | None
    fetched_at: float
    status: Literal["fetched", "dead"]
    http_status: int | None
    updated: datetime | None
    final_url: str | None
    canonical_url: str | None


_COLUMNS = (
    "url, etag, last_modified, fetched_at, status, http_status, updated, final_url, canonical_url"
)


class PageCache:
    """The cache in the file at `path` (see the module docstring). Every failure
    degrades to a warning: `load` then finds nothing, `store` keeps nothing."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._conn = self._open()

    def _open(self) -> sqlite3.Connection:
        try:
            return _connect(self._path)
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc):  # busy, not broken: leave it for its owner
                log.warning("fetch cache %s is locked (%s); not caching", self._path, exc)
                return _connect(None)
            log.warning("fetch cache %s is unreadable (%s); replacing it", self._path, exc)
        except (sqlite3.Error, OSError) as exc:
            log.warning("fetch cache %s is unreadable (%s); replacing it", self._path, exc)
        for suffix in ("", "-journal", "-wal", "-shm"):
            with contextlib.suppress(OSError):
                Path(f"{self._path}{suffix}").unlink(missing_ok=True)
        try:
            return _connect(self._path)
        except (sqlite3.Error, OSError) as exc:
            log.warning("cannot create fetch cache %s (%s); not caching", self._path, exc)
        return _connect(None)

    def load(self, urls: Sequence[str]) -> dict[str, PageRecord]:
        """The records of those of `urls` the cache holds, by URL (rows of an
        unknown shape are skipped)."""
        entries: dict[str, PageRecord] = {}
        try:
            for start in range(0, len(urls), 500):
                chunk = list(urls[start : start + 500])
                marks = ",".join("?" * len(chunk))
                query = f"SELECT {_COLUMNS} FROM pages WHERE url IN ({marks})"
                for row in self._conn.execute(query, chunk):
                    entry = _record_of(row)
                    if entry is not None:
                        entries[entry.url] = entry
        except sqlite3.Error as exc:
            log.warning("cannot read fetch cache %s (%s); ignoring it", self._path, exc)
            return {}
        return entries

    def store(self, entries: Iterable[PageRecord], prune_after: float) -> None:
        """Keep `entries` (replacing earlier rows of their URLs), and drop the
        rows not refreshed for `prune_after` seconds."""
        rows = [
            (
                e.url,
                e.etag,
                e.last_modified,
                e.fetched_at,
                e.status,
                e.http_status,
                e.updated.isoformat() if e.updated else None,
                e.final_url,
                e.canonical_url,
            )
            for e in entries
        ]
        try:
            with self._conn:
                self._conn.executemany(
                    f"INSERT OR REPLACE INTO pages ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)",
                    rows,
                )
                # URLs that dropped out of every feed need not be remembered forever.
                self._conn.execute(
                    "DELETE FROM pages WHERE fetched_at < ?", (time.time() - prune_after,)
                )
        except sqlite3.Error as exc:
            log.warning("cannot write fetch cache %s (%s)", self._path, exc)

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._conn.close()


def _connect(path: Path | None) -> sqlite3.Connection:
    """An open, checked cache database at `path` (None: in memory)."""
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(":memory:" if path is None else path, timeout=BUSY_TIMEOUT)
    try:
        (check,) = conn.execute("PRAGMA quick_check").fetchone()
        if check != "ok":
            raise sqlite3.DatabaseError(f"integrity check failed: {check}")
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        if version not in (0, _SCHEMA_VERSION):
            raise sqlite3.DatabaseError(f"unknown cache version {version}")
        with conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS pages ("
                " url TEXT PRIMARY KEY, etag TEXT, last_modified TEXT,"
                " fetched_at REAL NOT NULL, status TEXT NOT NULL, http_status INTEGER,"
                " updated TEXT, final_url TEXT, canonical_url TEXT)"
            )
            conn.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
        conn.execute(f"SELECT {_COLUMNS} FROM pages LIMIT 1").fetchall()
    except BaseException:
        conn.close()
        raise
    return conn


def _record_of(row: tuple[Any, ...]) -> PageRecord | None:
    url, etag, last_modified, fetched_at, status, http_status, updated, final, canonical = row
    if status not in ("fetched", "dead") or not isinstance(fetched_at, int | float):
        return None
    when: datetime | None = None
    if isinstance(updated, str):
        with contextlib.suppress(ValueError):
            when = datetime.fromisoformat(updated)
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
    return PageRecord(
        str(url),
        etag if isinstance(etag, str) else None,
        last_modified if isinstance(last_modified, str) else None,
        float(fetched_at),
        status,
        http_status if isinstance(http_status, int) else None,
        when,
        final if isinstance(final, str) else None,
        canonical if isinstance(canonical, str) else None,
    )
