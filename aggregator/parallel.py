"""Parsing article files on all cores.

`parse_chunks` reads and parses files and returns one `Parsed` per path, in the
order given and in chunks of at most `CHUNK` paths, whether it ran in this
process or in workers: the same values either way. Workers are copies of this
process (`forking`) where one may be made (see `forking.can_fork`): they start
at once, with everything already imported and their paths in memory, so a
rebuild with a few hundred changed files parses them on every core too. The
chunks are dealt out to them in turn (of two, one parses the first, third,
fifth...), and each hands back each chunk as soon as it is parsed. Elsewhere
they are a pool of processes started with "spawn" (a fresh interpreter that
imports this module), which costs as much as parsing a thousand files.
Parsing is a function of each file alone, so what a worker inherits changes
nothing. Workers send back packed tuples (see `compact`), pickled by the
worker, the cheapest form to send, in frames (see `frames`, `chunk_frames`):
the parse cache stores those frames as they are, so their checksums are made
on all cores too.

Copies rather than a pool where both may be had: while every core parses, a
pool's threads in this process (which send the paths, watch the workers and
receive each result) took more time from the workers than this process's own
work with the results (a first build of 20,000 files: 0.46 s of this
process's time while they parsed, 0.25 s with copies).
"""

from __future__ import annotations

import contextlib
import functools
import pickle
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import cast

from aggregator import forking, frames
from aggregator.compact import REST_ELSEWHERE, Payload, digest
from aggregator.errors import SourceError
from aggregator.files import bytes_digest, read_file, settled_before
from aggregator.sources import parse_payload

#: (cacheable, digest, payload, check): the payload is a packed article with
#: what is derived from it (see `compact.Payload`) or the reason the file was
#: rejected. `digest` is `compact.digest` of the article (what the feeds show of
#: it), or "" for a rejection. A failure to read the file is not cacheable: it
#: may pass with no change to the file. `check` is `bytes_digest` of the bytes
#: parsed when the file had been modified less than `files.SETTLE_NS` before it
#: was read (its size and mtime may not tell the next version from this one;
#: see `cache.recheck`), else "".
Parsed = tuple[bool, str, Payload | str, str]

#: A worker costs about as much to start, by each start method, as parsing
#: this many files; fewer files per worker are parsed in this process instead.
FILES_PER_WORKER = {"fork": 200, "spawn": 1000}
#: Files a worker parses and hands back together: enough to make hand-overs
#: few, few enough to keep every worker busy until the end (each gets about
#: `CHUNKS_PER_WORKER` of them, or more of this size).
CHUNK = 250
CHUNKS_PER_WORKER = 4


def worker_count(jobs: int, files: int, method: str = "spawn") -> int:
    """Processes to parse `files` files with, for a `jobs` setting (0: all cores),
    started by `method`.

    1 means this process alone.
    """
    wanted = jobs if jobs > 0 else forking.available_cores()
    return max(1, min(wanted, files // FILES_PER_WORKER[method]))


def start_method() -> str:
    """How workers are started now (see the module docstring)."""
    return "fork" if forking.can_fork() else "spawn"


@dataclass(frozen=True)
class Chunk:
    """Files parsed together: their results in order and, when a worker parsed
    them, the frames it sent them in (`chunk_frames`, which the parse cache
    stores as they are)."""

    results: list[Parsed]
    pickled: bytes | None = None

    @property
    def framed(self) -> bytes:
        """The results as `chunk_frames` frames them (as the worker sent them)."""
        return chunk_frames(self.results) if self.pickled is None else self.pickled


def parse_chunks(paths: Sequence[str], *, max_bytes: int, jobs: int) -> Iterator[Chunk]:
    """`parse_one` for each path, in order and in chunks, over up to `jobs`
    processes (0: all cores), each chunk as soon as it is parsed (the workers
    start with the iteration and end with it)."""
    workers = worker_count(jobs, len(paths), start_method())
    with Parsing(paths, max_bytes=max_bytes, workers=0 if workers == 1 else workers) as parsing:
        yield from parsing.each()


def parse_ahead(paths: Sequence[str], *, max_bytes: int, jobs: int) -> Parsing:
    """`Parsing` of `paths` by workers that start now, one fewer than `jobs`
    allows (0: all cores), as this process has other work meanwhile: worth it
    from a quarter of what repays a worker's start, the start being hidden.
    Otherwise parsed by this process, when asked."""
    spare = (jobs if jobs > 0 else forking.available_cores()) - 1
    enough = len(paths) >= FILES_PER_WORKER[start_method()] // 4
    return Parsing(paths, max_bytes=max_bytes, workers=spare if enough else 0)


class Parsing:
    """Files being parsed: by `workers` worker processes, which start at once
    and work while this process goes on, or (0 workers) by this process when
    the chunks are asked for. A context manager: leaving it ends the workers.
    """

    def __init__(self, paths: Sequence[str], *, max_bytes: int, workers: int) -> None:
        spread = max(1, len(paths) // (max(workers, 1) * CHUNKS_PER_WORKER))
        size = CHUNK if workers == 0 else min(CHUNK, spread)
        self._chunks = [(tuple(paths[i : i + size]), max_bytes) for i in range(0, len(paths), size)]
        self.workers = workers
        self._ending = contextlib.ExitStack()
        self._sent: Iterator[bytes] | None = None
        if workers > 0 and start_method() == "fork":
            self._sent = self._forked(self._ending.enter_context(forking.copies()))
        elif workers > 0:
            import multiprocessing  # here: where copies can be made (most builds), no pool

            pool = self._ending.enter_context(multiprocessing.get_context("spawn").Pool(workers))
            self._sent = pool.imap(_parse_chunk, self._chunks)

    def _forked(self, copies: forking.Copies) -> Iterator[bytes]:
        """The chunks' frames, in order, from copies started now: one in
        `workers` each, in turn. A chunk is done here if its copy failed."""
        workers, chunks = self.workers, self._chunks
        works = [
            [functools.partial(_parse_chunk, chunk) for chunk in chunks[first::workers]]
            for first in range(workers)
        ]
        started = [copies.start_each(each) for each in works]
        return _taken([started[i % workers][i // workers] for i in range(len(chunks))])

    def chunks(self) -> list[Chunk]:
        """`parse_one` of each path, in order and in chunks (once)."""
        return list(self.each())

    def each(self) -> Iterator[Chunk]:
        """`chunks`, each as soon as it is parsed."""
        if self._sent is None:
            for some, size in self._chunks:
                yield Chunk([parse_one(path, size) for path in some])
        else:  # our own workers' pickles: trusted, unlike a cache file
            for sent in self._sent:
                yield Chunk(chunk_results(sent), sent)

    def __enter__(self) -> Parsing:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._ending.close()  # (a pool's `__exit__` terminates it)


def _taken(pending: list[forking.Pending[object]]) -> Iterator[bytes]:
    """Each result, in order, each let go once taken (it may be large)."""
    pending.reverse()
    while pending:
        yield cast(bytes, pending.pop().result())


def parse_one(path: str, max_bytes: int) -> Parsed:
    """Read and parse the file at `path` (see `Parsed`)."""
    try:
        data, mtime = read_file(path, max_bytes=max_bytes)
    except SourceError as error:
        return False, "", error.reason, ""
    check = bytes_digest(data) if mtime >= settled_before() else ""
    try:
        payload = parse_payload(data, path)
    except SourceError as error:
        return True, "", error.reason, check
    return True, digest(payload[0]), payload, check


def _parse_chunk(chunk: tuple[tuple[str, ...], int]) -> bytes:
    paths, max_bytes = chunk
    return chunk_frames([parse_one(path, max_bytes) for path in paths])


#: The length and CRC-32 of a packed article's rest in `chunk_frames` (0, 0
#: for a rejection).
RestPlace = tuple[int, int]


def chunk_frames(results: Sequence[Parsed]) -> bytes:
    """`results` as a worker sends them and the parse cache stores them: a
    frame with a pickle of the results, each packed article's rest left out
    (`compact.REST_ELSEWHERE`), and of each result's `RestPlace`, in order;
    then a frame with the rests one after the other. The parse cache loads the
    first frame alone and reads a rest when its article is unpacked (see
    `cache.Rests`): the rests are most of a cache's bytes, and few are wanted."""
    heads: list[Parsed] = []
    rests: list[bytes] = []
    for cacheable, digest_, payload, check in results:
        if isinstance(payload, str):
            heads.append((cacheable, digest_, payload, check))
            rests.append(b"")
        else:
            (head, rest), derived = payload
            heads.append((cacheable, digest_, ((head, REST_ELSEWHERE), derived), check))
            rests.append(rest)
    return frames_apart(heads, rests)


def frames_apart(heads: Sequence[Parsed], rests: Sequence[bytes]) -> bytes:
    """`chunk_frames` of results given apart: `heads`, their packed articles'
    rests left out, and the `rests` in the same order (b"" for a rejection)."""
    places: list[RestPlace] = [(len(rest), zlib.crc32(rest)) for rest in rests]
    listed = frames.frame(pickle.dumps((heads, places), pickle.HIGHEST_PROTOCOL))
    return listed + frames.frame(b"".join(rests))


def chunk_results(framed: bytes) -> list[Parsed]:
    """The results `chunk_frames` framed, each rest in its place (frames made
    by this process's own workers: not checked)."""
    listed, rests = frames.payloads_of(framed)
    heads, places = pickle.loads(listed)
    results: list[Parsed] = []
    at = 0
    for (cacheable, digest_, payload, check), (length, _) in zip(heads, places, strict=True):
        if not isinstance(payload, str):
            (head, _), derived = payload
            payload = ((head, bytes(rests[at : at + length])), derived)
            at += length
        results.append((cacheable, digest_, payload, check))
    return results
