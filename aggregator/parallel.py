"""Parsing article files on all cores.

`parse_chunks` reads and parses files and returns one `Parsed` per path, in the
order given and in chunks of `CHUNK` paths, whether it ran in this process or in
workers: the same values either way. Workers are started with the "spawn"
method (a fresh interpreter that imports this module; nothing is inherited, so
no global state leaks in and it works alike on every platform) and are used only
when there are enough files to repay their start-up. They receive paths and send
back packed tuples (see `compact`), pickled by the worker, the cheapest form to
send; the parse cache stores those pickles as they are.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
from collections.abc import Sequence
from dataclasses import dataclass

from aggregator.compact import Payload, derive, digest, pack
from aggregator.errors import SourceError
from aggregator.sources import parse_article, read_file

#: (cacheable, digest, payload): the payload is a packed article with what is
#: derived from it (see `compact.Payload`) or the reason the file was rejected.
#: `digest` is `compact.digest` of the article (what the feeds show of it), or
#: "" for a rejection.
#: A failure to read the file is not cacheable: it may pass with no change to the
#: file.
Parsed = tuple[bool, str, Payload | str]

#: A worker costs about as much to start as parsing this many files; fewer files
#: per worker are parsed in this process instead.
FILES_PER_WORKER = 1000
#: Files sent to a worker at a time: large enough to make messages few, small
#: enough to keep every worker busy until the end.
CHUNK = 250


def available_cores() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1  # pragma: no cover - platforms without affinity


def worker_count(jobs: int, files: int) -> int:
    """Processes to parse `files` files with, for a `jobs` setting (0: all cores).

    1 means this process alone.
    """
    wanted = jobs if jobs > 0 else available_cores()
    return max(1, min(wanted, files // FILES_PER_WORKER))


@dataclass(frozen=True)
class Chunk:
    """Files parsed together: their results in order and, when a worker parsed
    them, the pickle it sent them in (which the parse cache stores as it is)."""

    results: list[Parsed]
    pickled: bytes | None = None


def parse_chunks(paths: Sequence[str], *, max_bytes: int, jobs: int) -> list[Chunk]:
    """`parse_one` for each path, in order and in chunks, over up to `jobs`
    processes (0: all cores)."""
    workers = worker_count(jobs, len(paths))
    chunks = [(tuple(paths[i : i + CHUNK]), max_bytes) for i in range(0, len(paths), CHUNK)]
    if workers == 1:
        return [Chunk([parse_one(path, max_bytes) for path in some]) for some, _ in chunks]
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers) as pool:
        # Our own workers' pickles: trusted, unlike a cache file.
        return [Chunk(pickle.loads(sent), sent) for sent in pool.imap(_parse_chunk, chunks)]


def parse_one(path: str, max_bytes: int) -> Parsed:
    """Read and parse the file at `path` (see `Parsed`)."""
    try:
        data = read_file(path, max_bytes=max_bytes)
    except SourceError as error:
        return False, "", error.reason
    try:
        article = parse_article(data, path)
    except SourceError as error:
        return True, "", error.reason
    packed = pack(article)
    return True, digest(packed), (packed, derive(article))


def _parse_chunk(chunk: tuple[tuple[str, ...], int]) -> bytes:
    paths, max_bytes = chunk
    return pickle.dumps([parse_one(path, max_bytes) for path in paths], pickle.HIGHEST_PROTOCOL)
