"""Rendered entries kept from one build to the next, so that a feed which changed
renders only the entries of its new stories (see `rendering`).

Each story's entries (its bytes in every feed format) are kept under the story's
key, a digest of everything they depend on (see `incremental`), in two files of
the state directory: `entry-store.pickle`, whose first line holds the format
and the store's key (the code and libraries that render), then a pickle of
which data file holds the entries and where each story's are (offset, the
length in each format, a checksum); and that data file, `entry-store.N.data`,
the entries one after the other. A build appends the entries it rendered to the
data file and then replaces the index (atomically, by renaming); when the
entries no feed shows any more take more room than those it does, it writes
those it shows to the next data file, then the index that names it, and
removes the old data file. So an index
only ever names entries that were written before it; a data file cut short or
changed shows as a length or checksum that does not match, and those entries
are rendered again. A missing, damaged or differently keyed store is an empty
one: the build is slower, never different. Unpickling admits no class but
datetime's (`compact.PlainUnpickler`), so a planted index cannot run code.
"""

from __future__ import annotations

import logging
import os
import pickle
import zlib
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import IO

from aggregator.compact import PlainUnpickler
from aggregator.state import Replacement

INDEX_NAME = "entry-store.pickle"
_FORMAT = "aggregator-entry-store 1"

#: A story's entries, one per format, in the order of the build's formats.
StoryEntries = tuple[bytes, ...]
#: Where a story's entries are in the data file: offset, each format's length,
#: and `_checksum` of them all.
Place = tuple[int, tuple[int, ...], int]

log = logging.getLogger(__name__)


class EntryStore:
    """The store in `state_dir` under `key`, as read when made (see the module
    docstring). Call only under the build lock (see `lock`)."""

    def __init__(self, state_dir: Path, key: str, *, formats: int) -> None:
        self._dir = state_dir
        self._header = f"{_FORMAT} {key}\n".encode()
        self._formats = formats
        self._data, self._generation, self._places = self._read_index()

    def entries(self, keys: Iterable[bytes]) -> dict[bytes, StoryEntries]:
        """The entries kept for each of `keys` that has whole ones."""
        places = self._places
        wanted = [(key, places[key]) for key in keys if self._is_place(places.get(key))]
        if not wanted:
            return {}
        found = {}
        try:
            handle = os.open(self._dir / self._data, os.O_RDONLY)
        except OSError:
            return {}
        try:
            for key, (offset, lengths, checksum) in wanted:
                data = os.pread(handle, sum(lengths), offset)
                entries = _split(data, lengths)
                if len(data) == sum(lengths) and _checksum(entries) == checksum:
                    found[key] = entries
        except OSError:
            pass  # what was read whole is good
        finally:
            os.close(handle)
        return found

    def keep(self, shown: Collection[bytes], fresh: Mapping[bytes, StoryEntries]) -> None:
        """Keep the entries of the stories whose keys are `shown` (in some feed):
        those kept already and `fresh` ones, rendered because `entries` did not
        give them (they replace any kept under their key). A failure is logged,
        not raised."""
        kept = {key: place for key, place in self._places.items() if key in shown}
        # Rendered because the store could not give them: new, or damaged here.
        added = {key: entries for key, entries in fresh.items() if key in shown}
        if not added and len(kept) == len(self._places):
            return  # the store holds just what it should
        try:
            size = (self._dir / self._data).stat().st_size if self._places else 0
        except OSError:
            size = 0
        try:
            held = sum(sum(place[1]) for place in kept.values())
        except TypeError:  # a damaged index: its entries are checked one by one below
            held = -1
        try:
            if size and size - held <= held:  # entries no feed shows: at most half
                places = {**kept, **_write(self._dir / self._data, added, "ab")}
                data, generation = self._data, self._generation
            else:
                generation = self._generation + 1
                data = f"entry-store.{generation}.data"
                places = _write(self._dir / data, {**self.entries(kept), **added}, "wb")
        except OSError as exc:
            log.warning("%s: cannot store rendered entries (%s)", self._dir, exc.strerror or exc)
            return
        if not self._write_index(data, generation, places):
            return
        for leftover in self._dir.glob("entry-store.*.data"):
            if leftover.name != data:
                leftover.unlink(missing_ok=True)

    def _is_place(self, place: object) -> bool:
        """A place of the right shape for an entry of this store (see `Place`)."""
        return (
            isinstance(place, tuple)
            and len(place) == 3
            and isinstance(place[0], int)
            and place[0] >= 0
            and isinstance(place[1], tuple)
            and len(place[1]) == self._formats
            and all(isinstance(length, int) and length >= 0 for length in place[1])
            and isinstance(place[2], int)
        )

    def _read_index(self) -> tuple[str, int, dict[bytes, Place]]:
        path = self._dir / INDEX_NAME
        try:
            with path.open("rb") as stream:
                if stream.readline() != self._header:
                    return "", 0, {}
                data, generation, places = PlainUnpickler(stream).load()
        except FileNotFoundError:
            return "", 0, {}
        except OSError as exc:
            log.warning("%s: cannot read the entry store (%s)", path, exc.strerror or exc)
            return "", 0, {}
        except Exception as exc:  # damage: an empty store, written anew
            log.warning("%s: entry store damaged (%s), rebuilding it", path, type(exc).__name__)
            return "", 0, {}
        if not (isinstance(data, str) and isinstance(generation, int) and isinstance(places, dict)):
            log.warning("%s: entry store damaged (not an index), rebuilding it", path)
            return "", 0, {}
        return data, generation, places

    def _write_index(self, data: str, generation: int, places: Mapping[bytes, Place]) -> bool:
        """Replace the index; whether it was (a failure is logged)."""
        index = (data, generation, dict(places))

        def write(stream: IO[bytes]) -> None:
            stream.write(self._header)
            pickle.dump(index, stream, pickle.HIGHEST_PROTOCOL)

        with Replacement(self._dir / INDEX_NAME, "rendered entries") as new:
            new.write(write)
            if not new.commit():
                return False
        self._data, self._generation, self._places = index
        return True


def _write(path: Path, entries: Mapping[bytes, StoryEntries], mode: str) -> dict[bytes, Place]:
    """Write `entries` to the data file at `path`, opened with `mode` (appending
    or anew); where each now is."""
    places = {}
    with path.open(mode) as stream:
        offset = stream.seek(0, os.SEEK_END)
        for key, each in entries.items():
            stream.writelines(each)
            lengths = tuple(map(len, each))
            places[key] = (offset, lengths, _checksum(each))
            offset += sum(lengths)
    return places


def _split(data: bytes, lengths: tuple[int, ...]) -> StoryEntries:
    parts = []
    start = 0
    for length in lengths:
        parts.append(data[start : start + length])
        start += length
    return tuple(parts)


def _checksum(entries: StoryEntries) -> int:
    """CRC-32 of the entries: it finds damage, not forgery (whoever can write the
    state directory can as well write the articles)."""
    checksum = 0
    for data in entries:
        checksum = zlib.crc32(data, checksum)
    return checksum
