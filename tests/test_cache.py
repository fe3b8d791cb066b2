"""The parse cache makes builds faster and never different."""

from __future__ import annotations

import dataclasses
import logging
import os
import pickle
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from aggregator import cache, compact, frames, parallel, sources
from aggregator.build import BuildOptions, run_build
from aggregator.cache import CACHE_NAME, load_cache, parse_with_cache
from aggregator.collection import assemble, collect, merge_inputs, read_articles
from aggregator.config import Config
from aggregator.files import find_article_files
from aggregator.merge import merge_input
from aggregator.parallel import Chunk, Parsing
from tests.conftest import NOW, WriteArticle


@pytest.fixture
def config(corpus: Path, tmp_path: Path) -> Config:
    return dataclasses.replace(
        Config(), sources=(corpus,), output=tmp_path / "feeds", state_dir=tmp_path / "state"
    )


@pytest.fixture
def parsed_paths(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths actually read and parsed, build after build."""
    seen: list[str] = []
    real = cache.parse_chunks
    real_ahead = cache.parse_ahead

    def spy(paths: Sequence[str], *, max_bytes: int, jobs: int) -> list[Chunk]:
        seen.extend(paths)
        return real(paths, max_bytes=max_bytes, jobs=jobs)

    def spy_ahead(paths: Sequence[str], *, max_bytes: int, jobs: int) -> Parsing:
        seen.extend(paths)
        return real_ahead(paths, max_bytes=max_bytes, jobs=jobs)

    monkeypatch.setattr(cache, "parse_chunks", spy)
    monkeypatch.setattr(cache, "parse_ahead", spy_ahead)
    return seen


@pytest.fixture
def three(write_article: WriteArticle) -> list[Path]:
    return [
        write_article("a.txt", title="Alpha story", webUrl="https://a.example/1"),
        write_article("b.txt", title="Beta story", webUrl="https://b.example/2"),
        write_article("bad.txt", webUrl="not a url"),
    ]


def cached_collect(config: Config) -> tuple[list[object], list[tuple[str, str]]]:
    config.state_dir.mkdir(parents=True, exist_ok=True)
    collection = collect(config, NOW, cache=True)
    rejected = [(Path(r.path).name, r.reason) for r in collection.rejected]
    return list(collection.articles), rejected


def names(paths: list[str]) -> list[str]:
    return sorted(Path(p).name for p in paths)


def test_unchanged_files_are_not_read_again(
    config: Config, three: list[Path], parsed_paths: list[str]
) -> None:
    first = cached_collect(config)
    assert names(parsed_paths) == ["a.txt", "b.txt", "bad.txt"]
    parsed_paths.clear()
    assert cached_collect(config) == first  # rejections come from the cache too
    assert parsed_paths == []


def test_results_equal_an_uncached_read(config: Config, three: list[Path]) -> None:
    cached_collect(config)
    cached = cached_collect(config)
    uncached = collect(config, NOW)
    assert cached == (
        list(uncached.articles),
        [(Path(r.path).name, r.reason) for r in uncached.rejected],
    )


@pytest.mark.parametrize(
    "damage",
    [
        lambda path: path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2]),
        lambda path: path.write_bytes(b"garbage\x00\xff" * 100),
        lambda path: path.write_bytes(b""),
        lambda path: path.write_bytes(path.read_bytes().split(b"\n", 1)[0] + b"\n" + b"\x80"),
    ],
    ids=["truncated", "garbage", "empty", "bad pickle"],
)
def test_a_damaged_cache_means_a_full_read(
    config: Config, three: list[Path], parsed_paths: list[str], damage: object
) -> None:
    first = cached_collect(config)
    damage(config.state_dir / CACHE_NAME)  # type: ignore[operator]
    parsed_paths.clear()
    assert cached_collect(config) == first
    assert names(parsed_paths) == ["a.txt", "b.txt", "bad.txt"]
    parsed_paths.clear()
    assert cached_collect(config) == first  # and the cache was written anew
    assert parsed_paths == []


def test_a_changed_byte_in_the_cache_is_found_not_read_as_another_title(
    config: Config, three: list[Path], parsed_paths: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    first = cached_collect(config)
    path = config.state_dir / CACHE_NAME
    data = path.read_bytes()
    assert b"Beta story" in data
    path.write_bytes(data.replace(b"Beta story", b"Beta stork"))  # still a valid pickle
    parsed_paths.clear()
    with caplog.at_level(logging.WARNING):
        assert cached_collect(config) == first
    assert "parse cache damaged (DamagedFrame)" in caplog.text
    assert "b.txt" in names(parsed_paths)


def test_a_cache_cannot_make_objects_or_run_code(config: Config, three: list[Path]) -> None:
    cached_collect(config)
    path = config.state_dir / CACHE_NAME
    header = path.read_bytes().split(b"\n", 1)[0] + b"\n"
    path.write_bytes(header + frames.frame(pickle.dumps({"x": (1, 2, "d", Path("/"))})))
    assert load_cache(config.state_dir, header[:-1].decode().split(" ", 2)[2]).entries == {}


def test_a_planted_article_in_the_cache_is_read_from_its_file_instead(
    config: Config, three: list[Path]
) -> None:
    """An article's packed rest is unpickled only when the article is needed:
    one that would make an object of another class is refused then, and the
    file is read again."""
    first = cached_collect(config)
    stored = load_cache(config.state_dir, cache.cache_key(config.max_file_bytes))
    name = str(three[0])
    size, mtime, digest, (packed, derived) = stored.entries[name]
    planted = (packed[0], pickle.dumps((Path("/"),) * 8))
    cache.append_changes(config.state_dir, {name: (size, mtime, digest, (planted, derived))}, ())
    found = find_article_files(config.sources)
    collection = assemble(found, read_articles(config, found, cache=True), NOW, config)
    assert collection.payloads[collection.sources.index(name)][0] == planted  # as cached
    assert cached_collect(config) == first


def test_another_parser_version_ignores_the_cache(
    config: Config, three: list[Path], parsed_paths: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cached_collect(config)
    monkeypatch.setattr(cache, "PARSER_VERSION", sources.PARSER_VERSION + 1)
    parsed_paths.clear()
    cached_collect(config)
    assert names(parsed_paths) == ["a.txt", "b.txt", "bad.txt"]


def test_another_size_limit_ignores_the_cache(
    config: Config, three: list[Path], parsed_paths: list[str]
) -> None:
    cached_collect(config)
    parsed_paths.clear()
    articles, rejected = cached_collect(dataclasses.replace(config, max_file_bytes=100))
    assert names(parsed_paths) == ["a.txt", "b.txt", "bad.txt"]
    assert not articles and all("over the 100-byte limit" in r for _, r in rejected)


def test_an_edit_of_the_same_size_is_seen_by_its_time(
    config: Config, three: list[Path], parsed_paths: list[str]
) -> None:
    cached_collect(config)
    path = three[0]
    before = path.stat()
    text = path.read_text().replace("Alpha story", "Gamma story")
    path.write_text(text)
    assert path.stat().st_size == before.st_size
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 1))
    parsed_paths.clear()
    articles, _ = cached_collect(config)
    assert names(parsed_paths) == ["a.txt"]
    assert "Gamma story" in [a.title for a in articles]  # type: ignore[attr-defined]


def test_failures_to_read_are_not_cached(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    results = parse_with_cache([fifo], [(0, 1)], max_bytes=1000, jobs=1, state_dir=state)
    assert results == [("", "not a regular file")]
    assert not (state / CACHE_NAME).exists()  # nothing cacheable, nothing written


def test_deleted_files_leave_the_feeds_and_the_cache(
    config: Config, write_article: WriteArticle
) -> None:
    write_article("a.txt", title="Alpha story", webUrl="https://a.example/1", topics=["Sun"])
    gone = write_article("b.txt", title="Beta story", webUrl="https://b.example/2")
    run_build(config, BuildOptions(), NOW)
    assert b"Beta story" in (config.output / "all.atom").read_bytes()
    gone.unlink()
    report = run_build(config, BuildOptions(force=True), NOW)
    assert report.articles == 1
    assert b"Beta story" not in (config.output / "all.atom").read_bytes()
    entries = load_cache(config.state_dir, cache.cache_key(config.max_file_bytes)).entries
    assert [Path(p).name for p in entries] == ["a.txt"]


def test_small_changes_are_appended_and_read_back(
    config: Config, three: list[Path], write_article: WriteArticle, parsed_paths: list[str]
) -> None:
    cached_collect(config)
    path = config.state_dir / CACHE_NAME
    snapshot = path.read_bytes()
    write_article("c.txt", title="Gamma story", webUrl="https://c.example/3")
    three[1].unlink()
    expected = cached_collect(config)
    grown = path.read_bytes()
    assert grown.startswith(snapshot) and len(grown) > len(snapshot)  # appended, not rewritten
    stored = load_cache(config.state_dir, cache.cache_key(config.max_file_bytes))
    assert sorted(Path(p).name for p in stored.entries) == ["a.txt", "bad.txt", "c.txt"]
    assert (stored.changes, stored.appendable) == (2, True)
    parsed_paths.clear()
    assert cached_collect(config) == expected
    assert parsed_paths == []


def test_a_change_cut_short_costs_a_parse_and_a_new_snapshot(
    config: Config, three: list[Path], write_article: WriteArticle, parsed_paths: list[str]
) -> None:
    cached_collect(config)
    path = config.state_dir / CACHE_NAME
    snapshot = path.read_bytes()
    write_article("c.txt", title="Gamma story", webUrl="https://c.example/3")
    expected = cached_collect(config)
    path.write_bytes(path.read_bytes()[:-7])  # the append was killed half-way
    parsed_paths.clear()
    assert cached_collect(config) == expected
    assert names(parsed_paths) == ["c.txt"]
    assert not path.read_bytes().startswith(snapshot)  # a new snapshot replaced it
    parsed_paths.clear()
    assert cached_collect(config) == expected
    assert parsed_paths == []


def cache_many_then_change_most(config: Config, write_article: WriteArticle) -> None:
    """120 articles read into the cache, then 110 of them changed: enough
    changes for the next read to write a new snapshot."""
    for index in range(120):
        write_article(
            f"{index:03}.txt", title=f"Story {index}", webUrl=f"https://x.example/{index}"
        )
    cached_collect(config)
    for index in range(110):
        write_article(
            f"{index:03}.txt", title=f"Story {index} again", webUrl=f"https://x.example/{index}"
        )


def test_many_changes_are_folded_into_a_new_snapshot(
    config: Config, write_article: WriteArticle, parsed_paths: list[str]
) -> None:
    cache_many_then_change_most(config, write_article)
    cached_collect(config)
    stored = load_cache(config.state_dir, cache.cache_key(config.max_file_bytes))
    assert stored.changes == 0 and len(stored.entries) == 120


def unsettled_names(config: Config) -> list[str]:
    """The files the unsettled store holds, by name."""
    key = cache.cache_key(config.max_file_bytes)
    return names(list(cache.load_unsettled(config.state_dir, key)))


def cached_names(config: Config) -> list[str]:
    """The files the parse cache holds, by name."""
    key = cache.cache_key(config.max_file_bytes)
    return names(list(load_cache(config.state_dir, key).entries))


def test_files_that_have_not_settled_are_checked_by_their_bytes_not_parsed_again(
    config: Config, three: list[Path], parsed_paths: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file modified less than `SETTLE_NS` before the build is not cached:
    the next edit may keep its size and mtime. The next build reads its bytes
    and takes the result parsed before when they are the same, until it has
    settled: then it is cached."""
    three[0].write_text(three[0].read_text().replace("Alpha", "Delta"))  # mtime: now
    first = cached_collect(config)
    assert (cached_names(config), unsettled_names(config)) == (["b.txt", "bad.txt"], ["a.txt"])
    parsed_paths.clear()
    assert cached_collect(config) == first
    assert parsed_paths == []  # its bytes were read and found the same
    assert unsettled_names(config) == ["a.txt"]  # not settled yet
    later = time.time_ns() + 60 * 10**9
    monkeypatch.setattr(cache, "settled_before", lambda: later - cache.SETTLE_NS)
    assert cached_collect(config) == first
    assert parsed_paths == []
    assert cached_names(config) == ["a.txt", "b.txt", "bad.txt"]
    assert not (config.state_dir / cache.UNSETTLED_NAME).exists()


def test_an_unsettled_file_is_rechecked_however_long_after_the_cache_was_written(
    config: Config, three: list[Path], parsed_paths: list[str]
) -> None:
    """As when writing a whole new cache took longer than `EARLY_MARGIN_NS`:
    the file does not look changed since the cache was written."""
    three[0].write_text(three[0].read_text().replace("Alpha", "Delta"))  # mtime: now
    first = cached_collect(config)
    later = time.time_ns() + 60 * 10**9
    os.utime(config.state_dir / CACHE_NAME, ns=(later, later))
    assert cache.changed_since_cache(config.state_dir, [(1, time.time_ns())]) == []
    parsed_paths.clear()
    assert cached_collect(config) == first
    assert parsed_paths == []


def test_an_edit_that_keeps_the_size_and_mtime_of_an_unsettled_file_is_seen(
    config: Config, three: list[Path], parsed_paths: list[str]
) -> None:
    three[0].write_text(three[0].read_text().replace("Alpha", "Delta"))  # mtime: now
    cached_collect(config)
    stamp = three[0].stat()
    three[0].write_text(three[0].read_text().replace("Delta", "Gamma"))  # same size
    os.utime(three[0], ns=(stamp.st_atime_ns, stamp.st_mtime_ns))  # within the same tick
    parsed_paths.clear()
    articles, _ = cached_collect(config)
    assert names(parsed_paths) == ["a.txt"]
    titles = [a.title for a in articles]  # type: ignore[attr-defined]
    assert "Gamma story" in titles and "Delta story" not in titles
    assert unsettled_names(config) == ["a.txt"]  # with the digest of the new bytes
    parsed_paths.clear()
    assert cached_collect(config)[0] == articles and parsed_paths == []


@pytest.mark.parametrize("damage", ["cut short", "a byte changed", "other key", "planted"])
def test_a_damaged_unsettled_store_costs_a_parse_never_a_wrong_result(
    config: Config, three: list[Path], parsed_paths: list[str], damage: str
) -> None:
    three[0].write_text(three[0].read_text().replace("Alpha", "Delta"))  # mtime: now
    first = cached_collect(config)
    store = config.state_dir / cache.UNSETTLED_NAME
    data = store.read_bytes()
    header, body = data.split(b"\n", 1)
    if damage == "cut short":
        store.write_bytes(data[:-10])
    elif damage == "a byte changed":
        store.write_bytes(header + b"\n" + body.replace(b"Delta", b"Deltb"))
    elif damage == "other key":
        store.write_bytes(header + b"x\n" + body)
    else:  # entries of another shape, in a frame of their own
        key = cache.cache_key(config.max_file_bytes)
        planted = {str(three[0]): (1, 2, 3), str(three[1]): "x"}
        store.write_bytes(cache._header(key) + frames.frame(pickle.dumps(planted)))
    parsed_paths.clear()
    assert cached_collect(config) == first
    assert names(parsed_paths) == ["a.txt"]
    assert unsettled_names(config) == ["a.txt"]  # written anew


def test_an_unsettled_file_gone_or_grown_is_parsed(
    config: Config, three: list[Path], parsed_paths: list[str]
) -> None:
    for path in three[:2]:
        path.write_text(path.read_text().replace("story", "story again"))  # mtime: now
    cached_collect(config)
    three[0].unlink()
    three[1].write_text(three[1].read_text().replace("again", "once more"))
    parsed_paths.clear()
    articles, _ = cached_collect(config)
    assert names(parsed_paths) == ["b.txt"]
    assert [a.title for a in articles] == ["Beta story once more"]  # type: ignore[attr-defined]
    assert unsettled_names(config) == ["b.txt"]


def test_what_merging_derives_comes_from_the_cache_as_computed(
    config: Config,
    write_article: WriteArticle,
    parsed_paths: list[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    write_article(
        "amp.txt",
        title="UPDATE: Markets rally as $1.5bn deal closes - Reuters",
        webUrl="https://www.example.com/markets/?utm_source=x",
        ampWebUrl="https://example.com/markets/amp",
        cdnAmpWebUrl="https://example-com.cdn.ampproject.org/c/s/example.com/markets/amp",
    )
    write_article("plain.txt", title="Energy prices fall", webUrl="http://e.example/a#top")
    cached_collect(config)
    parsed_paths.clear()
    found = find_article_files(config.sources)
    rests: list[cache.Rests] = []
    results = read_articles(config, found, cache=True, rests=rests)
    articles = assemble(found, results, NOW, config, rests=rests).articles
    assert parsed_paths == []  # all from the cache
    assert [packed[1] for packed, _ in assemble(found, results, NOW, config).payloads] == [
        compact.REST_ELSEWHERE
    ] * 2
    assert "read the file again" not in caplog.text  # the rests read from the cache too
    assert len(articles) == 2
    inputs = merge_inputs(found.names, results, NOW, drafts=False)
    assert inputs == [merge_input(a) for a in articles]  # canonical URLs and title tokens


def test_a_snapshot_in_several_parts_reads_back_whole(
    config: Config, three: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    cached_collect(config)
    key = cache.cache_key(config.max_file_bytes)
    stored = load_cache(config.state_dir, key)
    entries = stored.entries
    assert len(entries) == 3
    rests = {name: stored.rests.get(name) for name in entries}
    assert sum(rest is not None for rest in rests.values()) == 2  # (bad.txt: a rejection)
    monkeypatch.setattr(cache, "SNAPSHOT_PART", 2)  # rewritten from entries: two parts
    parts = cache._parts_of(list(entries.items()), stored.rests)
    assert [len(files) for files, _ in parts] == [2, 1]
    with cache._Snapshot(config.state_dir, key) as snapshot:
        for files, framed in parts:
            snapshot.add(files, framed)
        snapshot.commit()
    again = load_cache(config.state_dir, key)
    assert again == cache.Stored(entries, 0, True)
    assert {name: again.rests.get(name) for name in entries} == rests
    assert {name: stored.rests.get(name) for name in entries} == rests  # the file it read


def test_rests_read_together_or_apart_are_each_checked(
    config: Config, write_article: WriteArticle, monkeypatch: pytest.MonkeyPatch
) -> None:
    for number in range(5):
        write_article(f"{number}.txt", title=f"Story number {number}", excerpt="x" * number)
    cached_collect(config)
    key = cache.cache_key(config.max_file_bytes)
    names = sorted(load_cache(config.state_dir, key).rests.places)
    assert len(names) == 5
    together = load_cache(config.state_dir, key).rests.many(names)
    monkeypatch.setattr(cache, "_READ_RUN", 1)  # a read for each
    apart = load_cache(config.state_dir, key).rests.many(reversed(names))
    assert together == apart and len(set(together.values())) == 5
    assert [load_cache(config.state_dir, key).rests.get(name) for name in names] == [
        together[name] for name in names
    ]
    data = bytearray((config.state_dir / CACHE_NAME).read_bytes())
    rests = load_cache(config.state_dir, key).rests
    offset, _, _ = rests.places[names[2]]
    data[offset] ^= 0xFF
    replacement = config.state_dir / "replacement"
    replacement.write_bytes(bytes(data))
    replacement.replace(config.state_dir / CACHE_NAME)  # as a new snapshot is put in place
    monkeypatch.setattr(cache, "_READ_RUN", 1 << 20)
    damaged = load_cache(config.state_dir, key).rests
    assert damaged.many(names) == {name: together[name] for name in names if name != names[2]}
    assert rests.many(names) == together  # still the file it was loaded from


def test_a_rest_not_whole_in_the_file_is_read_from_the_article_file_again(
    config: Config, three: list[Path], caplog: pytest.LogCaptureFixture
) -> None:
    first, _ = cached_collect(config)
    data = bytearray((config.state_dir / CACHE_NAME).read_bytes())
    stored = load_cache(config.state_dir, cache.cache_key(config.max_file_bytes))
    offset, length, _ = stored.rests.places[str(three[0])]
    data[offset + length // 2] ^= 0xFF  # in the rests' frame, which loading passes over
    (config.state_dir / CACHE_NAME).write_bytes(bytes(data))
    again = collect(config, NOW, cache=True)
    assert [packed[1] for packed, _ in again.payloads] == [compact.REST_ELSEWHERE] * 2
    assert "damaged" not in caplog.text
    assert list(again.articles) == first
    assert caplog.text.count("parse cache entry damaged, read the file again") == 1


def test_files_changed_since_the_cache_was_written_are_parsed_while_it_is_read(
    config: Config, three: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = cached_collect(config)
    ahead: list[str] = []
    later: list[str] = []
    real_ahead, real_later = cache.parse_ahead, cache.parse_chunks

    def spy_ahead(paths: Sequence[str], *, max_bytes: int, jobs: int) -> Parsing:
        ahead.extend(paths)
        return real_ahead(paths, max_bytes=max_bytes, jobs=jobs)

    def spy_later(paths: Sequence[str], *, max_bytes: int, jobs: int) -> list[Chunk]:
        later.extend(paths)
        return real_later(paths, max_bytes=max_bytes, jobs=jobs)

    monkeypatch.setattr(cache, "parse_ahead", spy_ahead)
    monkeypatch.setattr(cache, "parse_chunks", spy_later)
    written = (config.state_dir / CACHE_NAME).stat().st_mtime_ns
    three[1].write_text(three[1].read_text().replace("Beta story", "Beta story, updated"))
    os.utime(three[1], ns=(written + 10**9, written + 10**9))  # after the cache was written
    articles, rejected = cached_collect(config)
    assert (names(ahead), later) == (["b.txt"], [])
    assert "Beta story, updated" in [a.title for a in articles]  # type: ignore[attr-defined]
    assert rejected == first[1]
    ahead.clear()
    assert cached_collect(config) == (articles, rejected)
    # b.txt had not settled, so it was not cached, but kept with its bytes' digest.
    assert (ahead, later) == ([], [])


def test_files_parsed_early_but_found_in_the_cache_are_taken_from_it(
    config: Config, write_article: WriteArticle, parsed_paths: list[str]
) -> None:
    cache_many_then_change_most(config, write_article)
    os.utime(config.state_dir / CACHE_NAME, ns=(0, 0))  # every file looks newer than it
    parsed_paths.clear()
    articles, _ = cached_collect(config)
    assert len(parsed_paths) == 120  # all parsed early, 10 of them then found in the cache
    assert articles == list(collect(config, NOW).articles)
    stored = load_cache(config.state_dir, cache.cache_key(config.max_file_bytes))
    assert stored.changes == 0 and len(stored.entries) == 120
    parsed_paths.clear()
    assert cached_collect(config)[0] == articles
    assert parsed_paths == []


def test_each_chunk_parsed_is_handed_over_as_it_is_parsed(
    config: Config, three: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the stamp the cache keeps of each file, None for one it does not
    keep (not settled), and in order; a file taken from the cache is not handed
    over."""
    monkeypatch.setattr(parallel, "CHUNK", 2)
    three[0].write_text(three[0].read_text().replace("Alpha", "Delta"))  # mtime: now
    found = find_article_files(config.sources)
    config.state_dir.mkdir()
    handed: list[list[tuple[str, object, object]]] = []

    def parse() -> list[cache.Result]:
        return parse_with_cache(
            found.names,
            found.stamps,
            max_bytes=100_000,
            jobs=1,
            state_dir=config.state_dir,
            each=handed.append,
        )

    results = parse()
    assert [[Path(name).name for name, _, _ in chunk] for chunk in handed] == [
        ["a.txt", "b.txt"],
        ["bad.txt"],
    ]
    stamps = [stamp for chunk in handed for _, stamp, _ in chunk]
    assert stamps == [None, *found.stamps[1:]]
    assert [payload for chunk in handed for _, _, payload in chunk] == [p for _, p in results]
    handed.clear()
    parse()
    assert [[Path(name).name for name, _, _ in chunk] for chunk in handed] == [["a.txt"]]


def test_a_new_snapshot_is_written_as_the_files_are_parsed(
    config: Config, three: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each part as soon as its files are parsed, so that a first build never
    holds the results of every file in the form it stores them."""
    monkeypatch.setattr(parallel, "CHUNK", 2)
    events: list[str] = []
    real_parse, real_add = parallel.parse_one, cache._Snapshot.add

    def parse_one(path: str, max_bytes: int) -> parallel.Parsed:
        events.append(Path(path).name)
        return real_parse(path, max_bytes)

    def add(snapshot: cache._Snapshot, index: cache.Index, framed: bytes) -> None:
        events.append("stored")
        real_add(snapshot, index, framed)

    monkeypatch.setattr(parallel, "parse_one", parse_one)
    monkeypatch.setattr(cache._Snapshot, "add", add)
    first = cached_collect(config)
    assert events == ["a.txt", "b.txt", "stored", "bad.txt", "stored"]
    assert cached_names(config) == ["a.txt", "b.txt", "bad.txt"]
    events.clear()
    assert cached_collect(config) == first
    assert events == []  # all from the cache


def test_a_snapshot_that_cannot_be_written_leaves_the_cache_as_it_was(
    config: Config,
    write_article: WriteArticle,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache_many_then_change_most(config, write_article)  # the next read writes a snapshot
    path = config.state_dir / CACHE_NAME
    before = path.read_bytes()
    monkeypatch.setattr(parallel, "CHUNK", 10)
    real_write = frames.write
    writes: list[int] = []

    def filling_up(stream: object, payload: bytes) -> None:
        writes.append(len(payload))
        if len(writes) == 3:  # in the second part
            raise OSError(28, "No space left on device")
        real_write(stream, payload)  # type: ignore[arg-type]

    monkeypatch.setattr(frames, "write", filling_up)
    with caplog.at_level(logging.WARNING):
        changed = cached_collect(config)
    monkeypatch.setattr(frames, "write", real_write)
    assert "cannot store the parse cache (No space left on device)" in caplog.text
    assert len(writes) == 3  # nothing more was written after the failure
    assert path.read_bytes() == before
    assert [p.name for p in config.state_dir.iterdir() if p.name.startswith(".")] == []
    assert cached_collect(config) == changed  # what the cache lacks is parsed again
