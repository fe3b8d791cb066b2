"""Rendered entries kept between builds: a rebuild renders only new stories'
entries, and a missing, damaged or stale store costs time, never bytes."""

from __future__ import annotations

import dataclasses
import logging
import pickle
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from aggregator import pipeline
from aggregator.build import BuildOptions, run_build
from aggregator.config import Config
from aggregator.entrystore import INDEX_NAME, EntryStore, StoryEntries
from aggregator.feedspec import Entries, FeedSpec, Format
from tests.conftest import NOW, feed_bytes

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))
import gen_corpus  # noqa: E402


def entries_of(number: int, size: int = 40) -> StoryEntries:
    return tuple(f"<{form}>{number}:{'x' * size}</{form}>\n".encode() for form in "abc")


def store_in(directory: Path, key: str = "v1") -> EntryStore:
    return EntryStore(directory, key, formats=3)


def keys(*numbers: int) -> list[bytes]:
    return [f"story {number}".encode() for number in numbers]


def data_files(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.glob("entry-store.*.data"))


def test_kept_entries_come_back_under_the_same_key_only(tmp_path: Path) -> None:
    fresh = {key: entries_of(n) for n, key in enumerate(keys(1, 2, 3))}
    store_in(tmp_path).keep(set(fresh), fresh)
    assert store_in(tmp_path).entries(keys(1, 2, 3, 4)) == fresh
    assert store_in(tmp_path, "v2").entries(keys(1, 2, 3)) == {}  # other code: nothing
    assert EntryStore(tmp_path, "v1", formats=2).entries(keys(1)) == {}  # other formats


def test_a_rebuild_appends_and_forgets_what_no_feed_shows(tmp_path: Path) -> None:
    first = {key: entries_of(n) for n, key in enumerate(keys(1, 2, 3, 4))}
    store_in(tmp_path).keep(set(first), first)
    (data,) = data_files(tmp_path)
    size = (tmp_path / data).stat().st_size
    added = {keys(5)[0]: entries_of(5)}
    shown = set(keys(2, 3, 4, 5))
    store_in(tmp_path).keep(shown, added)
    assert data_files(tmp_path) == [data]  # appended to
    assert (tmp_path / data).stat().st_size == size + sum(map(len, entries_of(5)))
    assert store_in(tmp_path).entries(keys(1, 2, 3, 4, 5)) == {
        k: {**first, **added}[k] for k in keys(2, 3, 4, 5)
    }


def test_the_data_is_written_anew_once_most_of_it_is_shown_nowhere(tmp_path: Path) -> None:
    first = {key: entries_of(n) for n, key in enumerate(keys(1, 2, 3, 4, 5))}
    store_in(tmp_path).keep(set(first), first)
    (old,) = data_files(tmp_path)
    store_in(tmp_path).keep(set(keys(5)), {})  # four of five gone
    (new,) = data_files(tmp_path)
    assert new != old
    assert (tmp_path / new).stat().st_size == sum(map(len, first[keys(5)[0]]))
    assert store_in(tmp_path).entries(keys(1, 5)) == {keys(5)[0]: first[keys(5)[0]]}


def test_a_store_that_holds_what_it_should_is_not_written(tmp_path: Path) -> None:
    fresh = {key: entries_of(n) for n, key in enumerate(keys(1, 2))}
    store_in(tmp_path).keep(set(fresh), fresh)
    stamp = (tmp_path / INDEX_NAME).stat().st_mtime_ns
    store_in(tmp_path).keep(set(fresh), {})  # the same stories shown, nothing rendered
    assert (tmp_path / INDEX_NAME).stat().st_mtime_ns == stamp


def cut_short(directory: Path) -> None:
    (data,) = data_files(directory)
    path = directory / data
    path.write_bytes(path.read_bytes()[:-30])


def flip_a_byte(directory: Path) -> None:
    (data,) = data_files(directory)
    path = directory / data
    content = bytearray(path.read_bytes())
    content[5] ^= 0x20  # inside the first story's entries
    path.write_bytes(bytes(content))


def remove_the_data(directory: Path) -> None:
    (data,) = data_files(directory)
    (directory / data).unlink()


def garble_the_index(directory: Path) -> None:
    path = directory / INDEX_NAME
    path.write_bytes(path.read_bytes()[:-20])


def index_of_other_shapes(directory: Path) -> None:
    path = directory / INDEX_NAME
    header = path.read_bytes().split(b"\n", 1)[0] + b"\n"
    data, generation, places = pickle.loads(path.read_bytes()[len(header) :])
    places = {key: (place[0], place[1][:2], place[2]) for key, place in places.items()}
    places[keys(9)[0]] = ("nowhere", None, 0)
    path.write_bytes(header + pickle.dumps((data, generation, places)))


DAMAGE: dict[str, Callable[[Path], None]] = {
    "cut short": cut_short,
    "a byte flipped": flip_a_byte,
    "data removed": remove_the_data,
    "index garbled": garble_the_index,
    "index of other shapes": index_of_other_shapes,
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_damage_loses_entries_and_never_gives_wrong_ones(tmp_path: Path, damage: str) -> None:
    fresh = {key: entries_of(n) for n, key in enumerate(keys(1, 2, 3))}
    store_in(tmp_path).keep(set(fresh), fresh)
    DAMAGE[damage](tmp_path)
    found = store_in(tmp_path).entries(keys(1, 2, 3, 9))
    assert all(fresh[key] == entries for key, entries in found.items())
    assert len(found) < len(fresh)
    if damage in ("cut short", "a byte flipped"):
        assert len(found) == 2  # only the damaged story's entries are lost
    store_in(tmp_path).keep(set(fresh), fresh)  # the next build mends it
    assert store_in(tmp_path).entries(keys(1, 2, 3)) == fresh


def test_an_unreadable_index_is_an_empty_store_and_said(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / INDEX_NAME).mkdir()  # reading it fails with an OSError
    with caplog.at_level(logging.WARNING):
        assert store_in(tmp_path).entries(keys(1)) == {}
    assert "cannot read the entry store" in caplog.text
    store_in(tmp_path).keep(set(keys(1)), {keys(1)[0]: entries_of(1)})  # nor can it be replaced
    assert "cannot store rendered entries" in caplog.text


def configure(corpus: Path, work: Path, jobs: int = 1) -> Config:
    return dataclasses.replace(
        Config(), sources=(corpus,), output=work / "feeds", state_dir=work / "state", jobs=jobs
    )


@pytest.fixture
def rendered_stories(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The ids of the stories whose Atom entries are rendered, build after build."""
    seen: list[str] = []

    def counting(form: Format) -> Format:
        def entries(spec: FeedSpec, made: Entries) -> list[bytes]:
            if form.suffix == "atom":
                seen.extend(story.id for story in spec.stories)
            return form.entries(spec, made)

        return dataclasses.replace(form, entries=entries)

    monkeypatch.setattr(pipeline, "FORMATS", tuple(map(counting, pipeline.FORMATS)))
    return seen


def shown_stories(config: Config) -> set[str]:
    return {
        line.split(b"<id>", 1)[1].split(b"</id>", 1)[0].decode()
        for path in config.output.rglob("*.atom")
        for line in path.read_bytes().splitlines()
        if line.startswith(b"    <id>")
    }


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_rebuild_renders_the_entries_of_new_stories_only(
    tmp_path: Path, rendered_stories: list[str], jobs: int
) -> None:
    corpus = tmp_path / "corpus"
    gen_corpus.generate(corpus, 400, seed=5)
    warm = configure(corpus, tmp_path / "warm", jobs)
    run_build(warm, BuildOptions(), NOW)
    shown = shown_stories(warm)
    assert sorted(rendered_stories) == sorted(shown)  # each story once, in one build
    gen_corpus.mutate(corpus, 0.02, seed=11)
    rendered_stories.clear()
    report = run_build(warm, BuildOptions(), NOW)
    assert any(feed.changed for feed in report.feeds)
    now_shown = shown_stories(warm)
    # Only stories not shown before (new, or whose copies changed, which changes
    # their entries and so their key) are rendered.
    assert set(rendered_stories) <= now_shown
    assert len(rendered_stories) < len(now_shown) // 4
    cold = configure(corpus, tmp_path / "cold", jobs)
    run_build(cold, BuildOptions(), NOW)
    assert feed_bytes(warm) == feed_bytes(cold)


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_store_gives_the_bytes_of_a_cold_build(
    tmp_path: Path, damage: str, caplog: pytest.LogCaptureFixture, rendered_stories: list[str]
) -> None:
    corpus = tmp_path / "corpus"
    gen_corpus.generate(corpus, 200, seed=6)
    warm = configure(corpus, tmp_path / "warm")
    run_build(warm, BuildOptions(), NOW)
    gen_corpus.mutate(corpus, 0.05, seed=12)
    DAMAGE[damage](warm.state_dir)
    with caplog.at_level(logging.WARNING):
        run_build(warm, BuildOptions(), NOW)
    if damage == "index garbled":
        assert "entry store damaged" in caplog.text
    cold = configure(corpus, tmp_path / "cold")
    run_build(cold, BuildOptions(), NOW)
    assert feed_bytes(warm) == feed_bytes(cold)
    # Entries lost to the damage are rendered again when their feeds are, and
    # kept: then rendering every feed anew renders no entry.
    for _ in range(2):
        shutil.rmtree(warm.output)
        rendered_stories.clear()
        run_build(warm, BuildOptions(), NOW)
        assert feed_bytes(warm) == feed_bytes(cold)
    assert rendered_stories == []
