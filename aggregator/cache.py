"""The parse cache: what each article file parsed to, so an unchanged file is not
read again.

One file in the state directory, `parse-cache.pickle`: a first line with the
format and the cache's key, then pickles, each in a frame with its length and
checksum (see `frames`: a byte changed anywhere is found, not unpickled into
another title): a snapshot (parts, each a pickle of the files' `(path,
size, mtime_ns)`, or None for a file not to be cached, then their
`parallel.Parsed` results in the same order as `parallel.chunk_frames` frames
them: the packed articles' rests, most of the bytes, apart from the rest,
each with its length and CRC-32; then None. A part parsed by a worker is
stored as the frames it sent, as soon as they come, so a cold build does not
pickle its results again nor hold them all; no part holds more than
`SNAPSHOT_PART` files, so writing one never needs a pickling memo of the whole
cache), then any number of changes
`({path: Entry}, (removed path, ...))` appended by later builds, so that a build
which parsed a few files writes a few entries, not all. When the changes add up
to a quarter of the snapshot, or the file is damaged, the next build writes a
new snapshot (atomically, by renaming); what was read whole before the damage
is used. An entry is the file's size
and modification time when it was read, a digest of the file, and the result: a
packed article (see `compact`) or the reason it was rejected. Only results of
reading a file's bytes are stored, never a failure to read it (which may go away
with no change to the file). Loading the cache passes over the snapshot's
rests: an article's is read from the file when the article is unpacked, and
checked by its CRC-32 (see `Rests`; a build renders few of its articles).
An entry is used only for a file of that size and mtime, so a stale or
missing entry costs a parse, never a wrong result: a change cut short by a
kill is simply not there. A file modified less than `files.SETTLE_NS`
before the build is not stored there either: file systems keep mtimes in coarse
ticks, and a same-size edit within the tick of the version read would look
unchanged (git calls such index entries "racy"). Its entry goes to a second,
small file, `unsettled.pickle` (a first line as the cache's, then one framed
pickle `{path: Unsettled}`), with a digest of the bytes parsed
(`files.bytes_digest`): the next build, which would otherwise parse it again
(a cron line `fetch && build` writes every new file just before its build), reads
it and compares digests instead (`changed_files`), a tenth of the cost.

The key holds everything a result depends on besides the bytes: the parser's
version, the source of the modules that parse, the YAML backends' versions, the
packed layout and the size limit. A missing, unreadable, corrupt or differently
keyed cache is an empty one: the build is slower, never different. Unpickling
admits no class but the datetime ones, so a damaged or planted file cannot run
code. A file edited with its size and modification time both restored is not
noticed, as with make or rsync.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import weakref
import zlib
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from aggregator import __version__, fastyaml, frames
from aggregator.compact import LAYOUT, REST_ELSEWHERE, Payload, is_packed
from aggregator.files import SETTLE_NS, FileStamp, file_digest, settled_before
from aggregator.parallel import Chunk, Parsed, frames_apart, parse_ahead, parse_chunks
from aggregator.sources import PARSER_VERSION
from aggregator.state import Replacement, code_digest

CACHE_NAME = "parse-cache.pickle"
UNSETTLED_NAME = "unsettled.pickle"
#: Files modified up to this long before a file could have been cached (see
#: `changed_since_cache`): the time a build takes from deciding which files
#: had settled to writing the cache.
EARLY_MARGIN_NS = 1_000_000_000
_FORMAT = "aggregator-parse-cache 7"
#: The most entries in one part of a snapshot.
SNAPSHOT_PART = 5000
_PARSING_MODULES = (
    "sources",
    "fastyaml",
    "text",
    "model",
    "compact",
    "errors",
    "urls",
    "headlines",
)

#: (size, mtime_ns, digest, packed article or rejection reason)
Entry = tuple[int, int, str, Payload | str]

#: A file read before it had settled: (size, mtime_ns, check, digest, packed
#: article or rejection reason), `check` being the digest of the bytes parsed.
Unsettled = tuple[int, int, str, str, Payload | str]

#: What a file parsed to: (digest, `compact.Payload`) or ("", rejection reason).
Result = tuple[str, Payload | str]

#: A file this build parsed (see `parse_with_cache`): its path, its stamp when
#: the cache keeps its result (else None), and what it parsed to.
Fresh = tuple[str, FileStamp | None, Payload | str]

#: Files parsed elsewhere (see `parse_with_cache`): their positions, and what
#: gives their `parallel.parse_chunks`.
Early = tuple[Sequence[int], Callable[[], list[Chunk]]]

log = logging.getLogger(__name__)


def parse_with_cache(
    paths: Sequence[str],
    stamps: Sequence[FileStamp | None],
    *,
    max_bytes: int,
    jobs: int,
    state_dir: Path | None,
    early: Early | None = None,
    held: dict[str, Entry] | None = None,
    checks: dict[str, str] | None = None,
    each: Callable[[list[Fresh]], None] | None = None,
    rests: list[Rests] | None = None,
) -> list[Result]:
    """What each of `paths` parsed to, in order; `stamps[i]` is the (size, mtime_ns)
    the walk saw for `paths[i]` (None: unknown, so never cached, nor are files that
    have not settled).

    With a `state_dir`, files whose stamp matches their cache entry are not read,
    the others are parsed over `jobs` processes (see `parallel`; those changed
    since the cache was written while it is read, see `changed_since_cache`),
    and the cache is brought up to date with these paths (call under the build
    lock). Without one, every file is parsed and nothing is stored. `early`, if
    given, is the positions of the files changed since the cache was written
    (`changed_since_cache`) and what gives their `parse_chunks`: parsed
    elsewhere, they are not parsed here. `held`, if given, is filled with the
    entries the cache holds once brought up to date, and `checks` with the
    digests of the bytes read of the files that had not settled (by path: see
    `incremental.InputFingerprint`). `each`, if given, is
    called with the files of each chunk parsed as soon as it is (so while
    later ones are), as `Fresh` results. The results taken from the cache
    leave their articles' rests in its file (`compact.REST_ELSEWHERE`): `rests`,
    if given, gets what reads them (`Rests`).
    """
    key = cache_key(max_bytes)
    names = list(paths)
    # Files changed since the cache was written are parsed while it is read.
    ahead: contextlib.AbstractContextManager[object]
    if early is None:
        changed = NONE_CHANGED
        if state_dir is not None:
            changed = changed_files(state_dir, key, names, stamps, max_bytes=max_bytes)
        unread = [names[i] for i in changed.unread]
        parsing = parse_ahead(unread, max_bytes=max_bytes, jobs=jobs)
        early, ahead = (changed.positions, changed.with_rechecked(parsing.chunks)), parsing
    else:
        ahead = contextlib.nullcontext()
    with ahead:
        stored = load_cache(state_dir, key) if state_dir is not None else Stored({}, 0, False)
        cached = stored.entries
        results: list[Result | None] = [None] * len(names)
        entries: dict[str, Entry] = {}
        missing: list[int] = []
        for index, (name, stamp) in enumerate(zip(names, stamps, strict=True)):
            entry = cached.get(name)
            if stamp is not None and _usable(entry, stamp):
                assert entry is not None
                results[index] = (entry[2], entry[3])
                entries[name] = entry
            else:
                missing.append(index)
        reused = list(entries.items())
        settled = settled_before()
        parsed: list[tuple[Sequence[int], Iterable[Chunk]]] = [(early[0], early[1]())]
    known = set(early[0])
    later = [index for index in missing if index not in known]
    parsed.append((later, parse_chunks([names[i] for i in later], max_bytes=max_bytes, jobs=jobs)))
    # A new snapshot is written as the chunks come, so that their frames are
    # not all held at once; changes are appended, unless they may add up to
    # too many (`added` and `removed` are at most these).
    most_changes = stored.changes + len(missing) + len(cached) - len(reused)
    appending = stored.appendable and most_changes <= max(len(reused) // 4, 100)
    with contextlib.ExitStack() as writing:
        snapshot = None
        if state_dir is not None and not appending:
            snapshot = writing.enter_context(_Snapshot(state_dir, key))
        added: dict[str, Entry] = {}
        unsettled: dict[str, Unsettled] = {}
        done: list[Fresh] = []
        for positions, chunks in parsed:
            unparsed = iter(positions)
            for chunk in chunks:
                files: Index = []
                # The chunk's results first: zip then stops before taking a position too many.
                for (cacheable, digest, payload, check), at in zip(
                    chunk.results, unparsed, strict=False
                ):
                    name, stamp = names[at], stamps[at]
                    if results[at] is not None:  # parsed early, yet found in the cache
                        files.append(None)
                        continue
                    results[at] = (digest, payload)
                    if cacheable and stamp is not None and stamp[1] < settled:
                        added[name] = entries[name] = (stamp[0], stamp[1], digest, payload)
                        files.append((name, stamp[0], stamp[1]))
                    else:
                        if cacheable and stamp is not None and check:
                            unsettled[name] = (stamp[0], stamp[1], check, digest, payload)
                        files.append(None)
                    if each is not None:
                        done.append((name, stamp if files[-1] else None, payload))
                if snapshot is not None:
                    snapshot.add(files, chunk.framed)
                if each is not None:
                    each(done)
                    done = []
        removed = cached.keys() - entries.keys()
        if state_dir is not None and (added or removed):
            if snapshot is None:
                append_changes(state_dir, added, removed)
            else:
                for files, framed in _parts_of(reused, stored.rests):
                    snapshot.add(files, framed)
                snapshot.commit()
    if held is not None:
        held.update(entries)
    if rests is not None:
        rests.append(stored.rests)
    if checks is not None:
        checks.update((name, entry[2]) for name, entry in unsettled.items())
    if state_dir is not None:
        save_unsettled(state_dir, key, unsettled)
    return [result for result in results if result is not None]


def changed_since_cache(state_dir: Path, stamps: Sequence[FileStamp | None]) -> list[int]:
    """The positions of the files modified since the cache was last written,
    or shortly before (files that had not settled then were not cached; see
    `files.settled_before`): most of the files a build will not find in it,
    known before it is read. (The others, such as a file copied in with an old
    mtime, are parsed once the cache is read.) Empty without a cache: a first
    build reads none, so there is nothing to parse meanwhile."""
    try:
        written = (state_dir / CACHE_NAME).stat().st_mtime_ns
    except OSError:
        return []
    since = written - SETTLE_NS - EARLY_MARGIN_NS
    return [i for i, stamp in enumerate(stamps) if stamp is None or stamp[1] >= since]


@dataclass(frozen=True)
class Changed:
    """The files changed since the cache was written (`changed_files`), by
    position: those `rechecked`, whose bytes are still those an earlier build
    parsed before they had settled (`results`, in the same order, are what they
    parsed to), and those `unread`, to be parsed."""

    rechecked: Sequence[int]
    results: Chunk
    unread: Sequence[int]

    @property
    def positions(self) -> list[int]:
        """Every file changed: those `rechecked`, then those `unread`."""
        return [*self.rechecked, *self.unread]

    def with_rechecked(self, parsed: Callable[[], list[Chunk]]) -> Callable[[], list[Chunk]]:
        """What gives the chunks of every file changed, in the order of
        `positions`, given what gives those of the files `unread`."""
        if not self.rechecked:
            return parsed
        return lambda: [self.results, *parsed()]


NONE_CHANGED = Changed((), Chunk([]), ())


def changed_files(
    state_dir: Path,
    key: str,
    names: Sequence[str],
    stamps: Sequence[FileStamp | None],
    *,
    max_bytes: int,
) -> Changed:
    """The files changed since the cache was written (`changed_since_cache`)
    and those the last build kept as unsettled (see the module docstring),
    known before the cache is read; those kept with the same stamp and the
    same bytes are rechecked."""
    changed = changed_since_cache(state_dir, stamps)
    kept = load_unsettled(state_dir, key)
    if kept.keys() - {names[at] for at in changed}:  # the cache written long after they were read
        among = set(changed)
        changed.extend(at for at, name in enumerate(names) if name in kept and at not in among)
    rechecked: list[int] = []
    results: list[Parsed] = []
    unread: list[int] = []
    for at in changed:
        entry = kept.get(names[at])
        if (
            entry is not None
            and (entry[0], entry[1]) == stamps[at]
            and file_digest(names[at], max_bytes=max_bytes) == entry[2]
        ):
            rechecked.append(at)
            results.append((True, entry[3], entry[4], entry[2]))
        else:
            unread.append(at)
    return Changed(rechecked, Chunk(results), unread)


#: Which file each result of a snapshot part is: (path, size, mtime_ns), or None
#: for a result not to be cached.
Index = list[tuple[str, int, int] | None]


def _parts_of(entries: Sequence[tuple[str, Entry]], rests: Rests) -> list[tuple[Index, bytes]]:
    """Cached entries as snapshot parts, framed (see `parallel.chunk_frames`),
    with the `rests` they left in the file read again (an entry whose rest
    cannot be read is left out: its file is parsed again next time)."""
    read = rests.many(name for name, entry in entries if _rest_elsewhere(entry))
    kept: list[tuple[str, Entry, bytes]] = []
    for name, entry in entries:
        payload = entry[3]
        if isinstance(payload, str):
            kept.append((name, entry, b""))
            continue
        (head, rest), derived = payload
        if rest == REST_ELSEWHERE:
            rest = read.get(name, REST_ELSEWHERE)
            if rest == REST_ELSEWHERE:
                continue
        else:
            entry = (entry[0], entry[1], entry[2], ((head, REST_ELSEWHERE), derived))
        kept.append((name, entry, rest))
    parts = []
    for start in range(0, len(kept), SNAPSHOT_PART):
        some = kept[start : start + SNAPSHOT_PART]
        index: Index = [(name, entry[0], entry[1]) for name, entry, _ in some]
        heads: list[Parsed] = [(True, entry[2], entry[3], "") for _, entry, _ in some]
        parts.append((index, frames_apart(heads, [rest for *_, rest in some])))
    return parts


def _rest_elsewhere(entry: Entry) -> bool:
    """Whether `entry` left its packed article's rest in the cache's file
    (`compact.REST_ELSEWHERE`)."""
    payload = entry[3]
    return not isinstance(payload, str) and payload[0][1] == REST_ELSEWHERE


def _usable(entry: object, stamp: FileStamp) -> bool:
    """An entry of the right shape for the file as it is now."""
    return (
        isinstance(entry, tuple)
        and len(entry) == 4
        and entry[0] == stamp[0]
        and entry[1] == stamp[1]
        and isinstance(entry[2], str)
        and (
            isinstance(entry[3], str)
            or (isinstance(entry[3], tuple) and len(entry[3]) == 2 and is_packed(entry[3][0]))
        )
    )


def cache_key(max_file_bytes: int) -> str:
    """Everything a parse result depends on besides the file's bytes and path."""
    import dateutil
    import yaml

    return "|".join(
        [
            f"parser {PARSER_VERSION}",
            f"aggregator {__version__}",
            fastyaml.BACKEND,
            f"pyyaml {yaml.__version__}",
            f"dateutil {getattr(dateutil, '__version__', '?')}",
            f"limit {max_file_bytes}",
            f"code {code_digest(*_PARSING_MODULES)}",
            LAYOUT,
        ]
    )


class Rests:
    """The rests of the packed articles a cache file's snapshot holds (see
    `compact.REST_ELSEWHERE`), read from the file when asked for, each checked
    by its CRC-32. The file is held open from when the cache is loaded: a
    snapshot put in its place later (by renaming) does not change what is read
    here."""

    def __init__(self) -> None:
        #: Where each file's rest is: its offset, length and CRC-32.
        self.places: dict[str, tuple[int, int, int]] = {}
        self._handle: int | None = None

    def hold(self, handle: int) -> None:
        """Read from (a duplicate of) `handle`, an open cache file."""
        self._handle = os.dup(handle)
        weakref.finalize(self, os.close, self._handle)

    def get(self, name: str) -> bytes | None:
        """The rest of the article of the file `name`; None when there is none
        or it is not whole."""
        place = self.places.get(name)
        if place is None or self._handle is None:
            return None
        offset, length, checksum = place
        try:
            rest = os.pread(self._handle, length, offset)
        except OSError:
            return None
        return rest if _whole(rest, length, checksum) else None

    def many(self, names: Iterable[str]) -> dict[str, bytes]:
        """The rests of the files `names` that are whole, read in runs of
        neighbours (up to `_READ_RUN` bytes a read): a new snapshot asks for all."""
        places = self.places
        wanted = sorted((places[name], name) for name in names if name in places)
        found: dict[str, bytes] = {}
        if self._handle is None:
            return found
        first = 0
        while first < len(wanted):
            start = wanted[first][0][0]
            last = first
            while last + 1 < len(wanted):
                offset, length, _ = wanted[last + 1][0]
                if offset + length - start > _READ_RUN:
                    break
                last += 1
            offset, length, _ = wanted[last][0]
            try:
                data = os.pread(self._handle, offset + length - start, start)
            except OSError:
                data = b""
            for (offset, length, checksum), name in wanted[first : last + 1]:
                rest = data[offset - start : offset - start + length]
                if _whole(rest, length, checksum):
                    found[name] = rest
            first = last + 1
        return found


#: The most bytes `Rests.many` reads at once.
_READ_RUN = 1 << 20


def _whole(rest: bytes, length: int, checksum: int) -> bool:
    """Whether `rest`, as read, is the rest that was written (`Rests`)."""
    return len(rest) == length and zlib.crc32(rest) == checksum


@dataclass(frozen=True)
class Stored:
    """A cache as read: its entries, how many changes were appended to its
    snapshot, whether more may be appended (the file is whole and has this
    key), and the rests the entries left in the file."""

    entries: dict[str, Entry]
    changes: int
    appendable: bool
    rests: Rests = field(default_factory=Rests, compare=False)


def load_cache(state_dir: Path, key: str) -> Stored:
    """The entries stored under `key`; none when there is no usable cache."""
    path = state_dir / CACHE_NAME
    entries: dict[str, Entry] = {}
    rests = Rests()
    places = rests.places
    changes = 0
    try:
        with path.open("rb") as stream:
            if stream.readline() != _header(key):
                return Stored({}, 0, False)
            rests.hold(stream.fileno())
            while (index := frames.load(stream)) is not None:
                parsed, lengths = frames.load(stream)
                at, length = frames.skip(stream)  # the rests, read when wanted
                if not (isinstance(index, list) and isinstance(parsed, list)):
                    return Stored({}, 0, False)
                if sum(size for size, _ in lengths) != length:
                    raise frames.DamagedFrame("rests of other lengths than listed")
                found = zip(index, parsed, lengths, strict=True)
                for file, (cacheable, digest, payload, _), (size, checksum) in found:
                    if file is not None and cacheable:
                        name, file_size, mtime = file
                        entries[name] = (file_size, mtime, digest, payload)
                        if not isinstance(payload, str):
                            places[name] = (at, size, checksum)
                    at += size
            while stream.peek(1):
                added, removed = frames.load(stream)
                entries.update(added)  # (their rests in them)
                for name in removed:
                    entries.pop(name, None)
                changes += len(added) + len(removed)
    except FileNotFoundError:
        return Stored({}, 0, False)
    except Exception as exc:  # damage: keep what was read whole, write anew next time
        log.warning("%s: parse cache damaged (%s), rebuilding it", path, type(exc).__name__)
        return Stored(entries, changes, False, rests)
    return Stored(entries, changes, True, rests)


class _Snapshot:
    """A new snapshot of the cache (see the module docstring), written part by
    part; `commit` puts it in place of the cache."""

    def __init__(self, state_dir: Path, key: str) -> None:
        self._new = Replacement(state_dir / CACHE_NAME, "the parse cache")
        self._new.write(lambda stream: stream.write(_header(key)))

    def add(self, index: Index, framed: bytes) -> None:
        """Write a part: the files `index` names, and what they parsed to,
        `framed` (see `parallel.chunk_frames`)."""

        def write(stream: IO[bytes]) -> None:
            frames.write(stream, pickle.dumps(index, protocol=pickle.HIGHEST_PROTOCOL))
            stream.write(framed)

        self._new.write(write)

    def commit(self) -> None:
        """End the snapshot and put it in place of the cache."""
        self._new.write(lambda stream: frames.write(stream, _END_OF_SNAPSHOT))
        self._new.commit()

    def __enter__(self) -> _Snapshot:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._new.abandon()


#: The pickle that ends a snapshot's parts.
_END_OF_SNAPSHOT = pickle.dumps(None, protocol=pickle.HIGHEST_PROTOCOL)


def append_changes(state_dir: Path, added: Mapping[str, Entry], removed: Collection[str]) -> None:
    """Append changes to the cache `load_cache` found appendable; a failure is
    logged, not raised. Call only under the build lock (see `lock`)."""
    path = state_dir / CACHE_NAME
    data = frames.frame(pickle.dumps((dict(added), tuple(removed)), pickle.HIGHEST_PROTOCOL))
    try:
        with path.open("ab") as stream:
            stream.write(data)
    except OSError as exc:
        log.warning("%s: cannot store the parse cache (%s)", path, exc.strerror or exc)


def load_unsettled(state_dir: Path, key: str) -> dict[str, Unsettled]:
    """The entries of the files the last build read before they had settled
    (see the module docstring), those of the right shape; none when there is
    no store written under `key`, or a damaged one."""
    path = state_dir / UNSETTLED_NAME
    try:
        with path.open("rb") as stream:
            if stream.readline() != _header(key):
                return {}
            stored = frames.load(stream)
    except FileNotFoundError:
        return {}
    except Exception as exc:  # damage: as if there were none
        log.warning("%s: damaged (%s), its files are parsed again", path, type(exc).__name__)
        return {}
    if not isinstance(stored, dict):
        return {}
    return {
        name: entry
        for name, entry in stored.items()
        if isinstance(entry, tuple)
        and len(entry) == 5
        and isinstance(entry[2], str)
        and _usable((entry[0], entry[1], entry[3], entry[4]), (entry[0], entry[1]))
    }


def save_unsettled(state_dir: Path, key: str, entries: Mapping[str, Unsettled]) -> None:
    """Replace the store of the files read before they had settled with
    `entries` (none: no store), atomically; a failure is logged, not raised.
    Call only under the build lock."""
    path = state_dir / UNSETTLED_NAME
    if not entries:
        path.unlink(missing_ok=True)
        return
    data = _header(key) + frames.frame(pickle.dumps(dict(entries), pickle.HIGHEST_PROTOCOL))
    with Replacement(path, "the files not settled") as new:
        new.write(lambda stream: stream.write(data))
        new.commit()


def cache_usable(state_dir: Path, key: str) -> bool:
    """True when `state_dir` holds a parse cache written under `key`: one that
    may hold entries for this build (its first line says so)."""
    return starts_with_line(state_dir / CACHE_NAME, _header(key))


def starts_with_line(path: Path, line: bytes) -> bool:
    """True when the file at `path` can be read and its first line is `line`."""
    try:
        with path.open("rb") as stream:
            return stream.readline() == line
    except OSError:
        return False


def _header(key: str) -> bytes:
    return f"{_FORMAT} {key}\n".encode()
