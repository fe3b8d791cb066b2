"""Parsing over several processes gives what one process gives, in the same order."""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

from aggregator import cache, forking, parallel
from aggregator.build import BuildOptions, run_build
from aggregator.cache import Result, cache_key, load_cache, load_unsettled, parse_with_cache
from aggregator.compact import REST_ELSEWHERE
from aggregator.config import Config
from aggregator.files import find_article_files
from aggregator.parallel import Chunk, Parsed, Parsing, parse_ahead, parse_chunks, worker_count
from tests.conftest import NOW, WriteArticle


@pytest.fixture
def mixed(write_article: WriteArticle, corpus: Path) -> list[str]:
    for index in range(40):
        write_article(
            f"{index:02}.txt",
            title=f"Story {index} about {['rivers', 'markets', 'rockets'][index % 3]}",
            webUrl=f"https://news.example/{index % 35}",  # some duplicates
            topics=[["Water"], ["Money"], ["Space", "Water"]][index % 3],
            heat=index,
        )
    write_article("41-bad.txt", webUrl="nope")
    (corpus / "42-empty.txt").write_text("")
    return sorted(str(p) for p in corpus.iterdir())


def parse_files(paths: Sequence[str], *, max_bytes: int, jobs: int) -> list[Parsed]:
    chunks = parse_chunks(paths, max_bytes=max_bytes, jobs=jobs)
    return [parsed for chunk in chunks for parsed in chunk.results]


@pytest.fixture
def tiny_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "FILES_PER_WORKER", {"fork": 1, "spawn": 1})
    monkeypatch.setattr(parallel, "CHUNK", 3)


@pytest.mark.usefixtures("tiny_workers")
@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_workers_return_what_one_process_returns(
    mixed: list[str], method: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    alone = parse_files(mixed, max_bytes=100_000, jobs=1)
    pools: list[str] = []
    forks: list[int] = []
    real_context, real_fork = multiprocessing.get_context, os.fork
    monkeypatch.setattr(parallel, "start_method", lambda: method)
    monkeypatch.setattr(threading, "active_count", lambda: 1)  # as the command line runs
    monkeypatch.setattr(
        multiprocessing,
        "get_context",
        lambda name: pools.append(name) or real_context(name),
    )
    monkeypatch.setattr(os, "fork", lambda: forks.append(0) or real_fork())
    assert parse_files(mixed, max_bytes=100_000, jobs=2) == alone
    # Copies of this process where they may be made, one a job; else a pool of fresh ones.
    assert (pools, len(forks)) == (([], 2) if method == "fork" else (["spawn"], 0))
    assert [r[2] for r in alone[-2:]] == [
        "webUrl: expected an absolute http or https URL, got 'nope'",
        "file is empty",
    ]


@pytest.mark.usefixtures("tiny_workers")
def test_a_chunk_whose_worker_failed_is_parsed_here(
    mixed: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    alone = parse_files(mixed, max_bytes=100_000, jobs=1)
    here = os.getpid()
    real = parallel.parse_one

    def failing_elsewhere(path: str, max_bytes: int) -> Parsed:
        if os.getpid() != here and path.endswith("07.txt"):
            os._exit(1)  # a worker dies in the middle of its third chunk
        return real(path, max_bytes)

    monkeypatch.setattr(parallel, "start_method", lambda: "fork")
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    monkeypatch.setattr(parallel, "parse_one", failing_elsewhere)
    forks: list[int] = []
    real_fork = os.fork
    monkeypatch.setattr(os, "fork", lambda: forks.append(0) or real_fork())
    assert parse_files(mixed, max_bytes=100_000, jobs=2) == alone
    assert len(forks) == 2


@pytest.mark.usefixtures("tiny_workers", "mixed")
def test_a_parallel_build_writes_the_same_bytes(corpus: Path, tmp_path: Path) -> None:
    outputs = []
    for jobs in (1, 2):
        config = dataclasses.replace(
            Config(),
            sources=(corpus,),
            output=tmp_path / f"feeds{jobs}",
            state_dir=tmp_path / f"state{jobs}",
            jobs=jobs,
        )
        report = run_build(config, BuildOptions(), NOW).to_json()
        del report["seconds"]
        files = {p.relative_to(config.output): p.read_bytes() for p in config.output.rglob("*.*")}
        outputs.append((report, files))
    assert outputs[0] == outputs[1]


@pytest.mark.parametrize(
    ("jobs", "files", "expected"),
    [(1, 10_000, 1), (4, 10_000, 4), (4, 2_500, 2), (4, 999, 1), (0, 0, 1), (3, 3_000, 3)],
)
def test_worker_count(jobs: int, files: int, expected: int) -> None:
    assert worker_count(jobs, files) == expected


def test_forked_workers_start_sooner_so_fewer_files_repay_them() -> None:
    assert worker_count(2, 400, "fork") == 2
    assert worker_count(2, 399, "fork") == 1
    assert worker_count(2, 400, "spawn") == 1


def test_workers_are_copies_of_this_process_when_one_may_be_made(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(parallel.forking, "can_fork", lambda: True)
    assert parallel.start_method() == "fork"
    monkeypatch.setattr(parallel.forking, "can_fork", lambda: False)
    assert parallel.start_method() == "spawn"


def test_all_cores_by_default() -> None:
    cores = forking.available_cores()
    assert worker_count(0, 10**6) == cores >= 1


def _filled(result: Result, name: str, rests: cache.Rests) -> Result:
    """`result` with the rest it left in the cache's file (if it did) read in."""
    digest, payload = result
    if isinstance(payload, str) or payload[0][1] != REST_ELSEWHERE:
        return result
    (head, _), derived = payload
    rest = rests.get(name)
    assert rest is not None
    return digest, ((head, rest), derived)


@pytest.mark.usefixtures("tiny_workers")
def test_a_cache_written_from_the_workers_pickles_reads_back(
    mixed: list[str], corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A FIFO cannot be read (a failure, not cached); an unsettled file is kept
    # apart, with a digest of its bytes made by the worker that parsed it.
    fifo = corpus / "43-pipe.txt"
    os.mkfifo(fifo)
    Path(mixed[0]).write_text(Path(mixed[0]).read_text().replace("Story", "Tale"))  # mtime: now
    os.utime(corpus / "42-empty.txt", (1e9, 1e9))  # settled: its rejection is cached
    paths = sorted(str(p) for p in corpus.iterdir())
    found = find_article_files([corpus])
    assert list(found.names) == paths
    state = tmp_path / "state"
    state.mkdir()

    def parse(jobs: int) -> list[Result]:
        """The results, with the rests they left in the cache's file read in."""
        rests: list[cache.Rests] = []
        results = parse_with_cache(
            found.names, found.stamps, max_bytes=100_000, jobs=jobs, state_dir=state, rests=rests
        )
        return [
            _filled(result, name, rests[0])
            for result, name in zip(results, found.names, strict=True)
        ]

    first = parse(jobs=2)
    alone = parse_with_cache(found.names, found.stamps, max_bytes=100_000, jobs=1, state_dir=None)
    assert first == alone
    stored = load_cache(state, cache_key(100_000))
    assert stored.appendable
    assert sorted(stored.entries) == sorted(set(paths) - {mixed[0], str(fifo)})
    packed = [p[0] for *_, p in stored.entries.values() if not isinstance(p, str)]
    assert packed and {rest for _, rest in packed} == {REST_ELSEWHERE}  # read when wanted
    read: list[str] = []
    real = parse_chunks

    def spy(paths: Sequence[str], *, max_bytes: int, jobs: int) -> list[Chunk]:
        read.extend(paths)
        return real(paths, max_bytes=max_bytes, jobs=jobs)

    def spy_ahead(paths: Sequence[str], *, max_bytes: int, jobs: int) -> Parsing:
        read.extend(paths)  # the files that had not settled: changed since the cache
        return parse_ahead(paths, max_bytes=max_bytes, jobs=jobs)

    monkeypatch.setattr(cache, "parse_chunks", spy)
    monkeypatch.setattr(cache, "parse_ahead", spy_ahead)
    assert parse(jobs=2) == first
    # All else from the cache, or (the file not settled) checked by its bytes.
    assert read == [str(fifo)]
    assert list(load_unsettled(state, cache_key(100_000))) == [mixed[0]]


@pytest.mark.usefixtures("tiny_workers")
@pytest.mark.parametrize(("jobs", "workers"), [(1, 0), (2, 1), (3, 2)])
def test_parsing_ahead_leaves_this_process_a_core_and_returns_the_same(
    mixed: list[str], jobs: int, workers: int
) -> None:
    alone = parse_files(mixed, max_bytes=100_000, jobs=1)
    with parse_ahead(mixed, max_bytes=100_000, jobs=jobs) as parsing:
        assert parsing.workers == workers
        assert [parsed for chunk in parsing.chunks() for parsed in chunk.results] == alone


def test_parsing_ahead_is_left_to_this_process_for_a_few_files(mixed: list[str]) -> None:
    with parse_ahead(mixed[:3], max_bytes=100_000, jobs=4) as parsing:
        assert parsing.workers == 0
    with parse_ahead([], max_bytes=100_000, jobs=4) as parsing:
        assert parsing.chunks() == []
