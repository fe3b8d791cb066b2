"""What grouping reads of each article file, kept between builds, so that a
rebuild can group its articles before the parse cache is read.

Grouping needs a little of each article (`merge.MergeInput`), and whether the
article is merged at all (a rejected or future-dated file is not, nor is a
draft unless drafts are shown). The parse cache holds that inside every
article's payload, so it can be had only once the whole cache is loaded (0.65
s at 100,000 articles). This store holds that little alone, a fifth of the
loading: a copy of the build reads it as soon as the files are found, and the
files changed since (parsed early, see `cache`) complete it. A build without
a parse cache writes it as it parses, for its own copy to read at once.

One file in the state directory, `merge-inputs.pickle`: a first line with the
format and the parse cache's key (a row is made from a parse result, so it
depends on all that one depends on), then pickles of columns, each in a frame
with its length and checksum (see `frames`), a part of the files each
(`RowWriter`): the files' paths, sizes and modification times, and
what each gave grouping (`Row`). A row is used only for a file of that size
and mtime, and a file that had not settled (see `files.settled_before`) is
stored with no mtime, so its row is never used again, as the parse cache does
not keep it. A missing, damaged or differently keyed store is an empty one:
grouping is then done once the parse cache is read, as without a store, never
differently. Unpickling admits no class at all (`compact.PlainUnpickler`
admits datetimes only, and rows hold none); rows of another shape are found
when grouping reads them (see `grouping._GroupingAhead`), which then does the
same.
"""

from __future__ import annotations

import functools
import io
import itertools
import logging
import operator
import pickle
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aggregator import frames
from aggregator.cache import starts_with_line
from aggregator.compact import DRAFT, PUBLISHED, TITLE
from aggregator.files import FileStamp
from aggregator.state import Replacement

if TYPE_CHECKING:
    from aggregator.cache import Entry
    from aggregator.compact import Payload
    from aggregator.merge import MergeInput

STORE_NAME = "merge-inputs.pickle"
_FORMAT = "aggregator-merge-inputs 3"

#: What grouping reads of one file: None for a file that was rejected, else
#: (publication time in microseconds since the epoch, draft, the canonical
#: URLs, the title, the title's tokens: see `compact.Derived`).
Row = tuple[int, bool, tuple[str, ...], str, tuple[str, ...]] | None

#: Rows by path, with the (size, mtime_ns) of the file each was read from
#: (None: a file that had not settled, whose row is never used again).
Rows = dict[str, tuple[int, int | None, Row]]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

log = logging.getLogger(__name__)


def microseconds(moment: datetime) -> int:
    """`moment` (aware) in whole microseconds since the epoch: exact, so that
    two times compare as their microseconds do."""
    return (moment - _EPOCH) // _MICROSECOND


def row_of(payload: Payload | str) -> Row:
    """The `Row` of a parse result's payload (see `cache.Result`)."""
    if isinstance(payload, str):
        return None
    (head, _), (urls, tokens) = payload
    return microseconds(head[PUBLISHED]), bool(head[DRAFT]), urls, head[TITLE], tokens


def rows_of(entries: Mapping[str, Entry]) -> Rows:
    """The rows of the parse cache's `entries`."""
    return {
        name: (size, mtime, row_of(payload)) for name, (size, mtime, _, payload) in entries.items()
    }


def merged_inputs(
    names: Sequence[str], rows: Iterable[Row], latest: datetime, drafts: bool
) -> list[MergeInput]:
    """The `merge.MergeInput` of each file that merging takes, in order:
    `collection.merge_inputs` of the files' parse results, given their rows
    (`row_of`) and the latest publication time accepted."""
    last = microseconds(latest)
    # The publication time as `datetime.timestamp` gives it: the same division.
    return [
        ((row[2][0], row[0] / 1_000_000, row[3], name), set(row[2]), row[4])
        for name, row in zip(names, rows, strict=True)
        if row is not None and row[0] <= last and (drafts or not row[1])
    ]


class StoredRows(Mapping[str, tuple[int, int | None, Row]]):
    """The rows of a store as read (see `Rows`), kept as its columns: looking
    up every file of a build in them (`lookup`) is then a few passes in C
    rather than one in Python per file."""

    def __init__(
        self, names: list[str], sizes: list[int], mtimes: list[int | None], rows: list[Row]
    ) -> None:
        self._names = names
        self._sizes = sizes
        self._mtimes = mtimes
        self._rows = rows

    @functools.cached_property
    def _places(self) -> dict[str, int]:
        return dict(zip(self._names, range(len(self._names)), strict=True))  # the last one wins

    def __getitem__(self, name: str) -> tuple[int, int | None, Row]:
        place = self._places[name]
        return self._sizes[place], self._mtimes[place], self._rows[place]

    def __iter__(self) -> Iterator[str]:
        return iter(self._places)

    def __len__(self) -> int:
        return len(self._places)

    def __contains__(self, name: object) -> bool:
        return name in self._places

    def rows_of(self, names: Sequence[str]) -> list[Row] | None:
        """The stored row of each of `names`, whatever its stamp; None when one
        is not stored."""
        try:
            return list(map(self._rows.__getitem__, map(self._places.__getitem__, names)))
        except KeyError:
            return None

    def lookup(
        self, names: Sequence[str], stamps: Sequence[FileStamp | None]
    ) -> tuple[list[Row], list[bool]]:
        """For each of `names`, its stored row (None when there is none) and
        whether it was stored for the file's stamp (then it may be used)."""
        missing = len(self._names)
        places = list(map(self._places.get, names, itertools.repeat(missing)))
        stored = [*zip(self._sizes, self._mtimes, strict=True), _NO_STAMP]
        same = list(map(operator.eq, map(stored.__getitem__, places), stamps))
        return list(map([*self._rows, None].__getitem__, places)), same


#: A stamp no file has, for a file that is not stored.
_NO_STAMP = object()


def load_rows(state_dir: Path, key: str) -> StoredRows:
    """The rows stored under `key`: none when there is no usable store."""
    path = state_dir / STORE_NAME
    columns: tuple[list[Any], ...] = ([], [], [], [])
    try:
        with path.open("rb") as stream:
            if stream.readline() != _header(key):
                return _no_rows()
            while stream.peek(1):
                part = frames.load(stream)
                if not (
                    isinstance(part, list | tuple)
                    and len(part) == len(columns)
                    and all(isinstance(column, list) for column in part)
                    and len({len(column) for column in part}) == 1
                ):
                    raise ValueError("columns of different lengths")
                for column, more in zip(columns, part, strict=True):
                    column.extend(more)
        return StoredRows(*columns)
    except FileNotFoundError:
        return _no_rows()
    except Exception as exc:  # damage: as if there were none; the next build writes it anew
        report_damage(state_dir, exc)
        return _no_rows()


def report_damage(state_dir: Path, error: Exception) -> None:
    """Say that the store in `state_dir` could not be used (`error` found it
    so) and is written anew."""
    path = state_dir / STORE_NAME
    log.warning("%s: merge input store damaged (%s), rebuilding it", path, type(error).__name__)


def _no_rows() -> StoredRows:
    return StoredRows([], [], [], [])


def save_rows(state_dir: Path, key: str, rows: Mapping[str, tuple[int, int | None, Row]]) -> None:
    """Replace the store with `rows`, atomically; a failure is logged, not
    raised. Call only under the build lock (see `lock`)."""
    with RowWriter(state_dir, key) as writer:
        writer.add(rows.items())


class RowWriter:
    """A new store, written a part at a time (`add`) and put in place when the
    `with` block ends, unless it ended with an exception or a write failed
    (then the store is left as it was, and the failure logged). `written`
    says whether it was put in place. Call only under the build lock."""

    def __init__(self, state_dir: Path, key: str) -> None:
        self._new = Replacement(state_dir / STORE_NAME, "merge inputs")
        self._new.write(lambda stream: stream.write(_header(key)))
        self.written = False

    def __enter__(self) -> RowWriter:
        return self

    def add(self, rows: Iterable[tuple[str, tuple[int, int | None, Row]]]) -> None:
        """Store `rows` ((path, (size, mtime_ns, row)); None for the mtime of a
        file that had not settled, whose row is never used again)."""
        if not self._new.writing:
            return
        columns: tuple[list[object], ...] = ([], [], [], [])
        for name, entry in rows:
            columns[0].append(name)
            for column, value in zip(columns[1:], entry, strict=True):
                column.append(value)
        pickled = io.BytesIO()
        pickler = pickle.Pickler(pickled, pickle.HIGHEST_PROTOCOL)
        pickler.fast = True  # no memo: nothing is shared or cyclic, and it pickles twice as fast
        pickler.dump(columns)
        self._new.write(lambda stream: frames.write(stream, pickled.getbuffer()))

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        self.written = kind is None and self._new.commit()
        self._new.abandon()


def store_usable(state_dir: Path, key: str) -> bool:
    """True when `state_dir` holds a store written under `key` (its first
    line says so)."""
    return starts_with_line(state_dir / STORE_NAME, _header(key))


def _header(key: str) -> bytes:
    return f"{_FORMAT} {key}\n".encode()
