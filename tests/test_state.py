"""Story ids kept between builds: the state file, and ids across real builds."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import feedparser
import pytest

from aggregator import state
from aggregator.build import BuildOptions, run_build
from aggregator.config import Config, resolve_paths
from aggregator.merge import story_id
from aggregator.state import (
    STORY_IDS_FILE,
    TITLE_PAIRS_FILE,
    Replacement,
    load_story_ids,
    load_title_pairs,
    save_story_ids,
    save_title_pairs,
    story_ids_record,
)
from aggregator.titlepairs import find_title_pairs
from tests.conftest import NOW, WriteArticle

IDS = {
    "https://example.com/a": story_id("https://example.com/a"),
    "https://example.com/b": story_id("https://example.com/a"),
    "https://例え.jp/記事": story_id("https://例え.jp/記事"),
}


def test_saved_ids_load_back(tmp_path: Path) -> None:
    assert save_story_ids(tmp_path / "state", story_ids_record(IDS)) is True
    assert load_story_ids(tmp_path / "state") == IDS


def test_saving_the_same_ids_leaves_the_file_alone(tmp_path: Path) -> None:
    save_story_ids(tmp_path, story_ids_record(IDS))
    before = (tmp_path / STORY_IDS_FILE).stat().st_mtime_ns
    assert save_story_ids(tmp_path, story_ids_record(dict(reversed(IDS.items())))) is False
    assert (tmp_path / STORY_IDS_FILE).stat().st_mtime_ns == before


def test_the_file_is_sorted_json_so_it_does_not_depend_on_dict_order(tmp_path: Path) -> None:
    save_story_ids(tmp_path / "one", story_ids_record(IDS))
    save_story_ids(tmp_path / "two", story_ids_record(dict(reversed(IDS.items()))))
    first = (tmp_path / "one" / STORY_IDS_FILE).read_bytes()
    assert first == (tmp_path / "two" / STORY_IDS_FILE).read_bytes()
    assert list(json.loads(first)["story_ids"]) == sorted(IDS)


def test_no_file_means_no_ids_and_no_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert load_story_ids(tmp_path / "missing") == {}
    assert caplog.records == []


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"{not json",
        b"\xff\xfe\x00",
        b"[]",
        b'{"format": 1}',
        b'{"format": 2, "story_ids": {}}',
        b'{"format": 1, "story_ids": []}',
        b'{"format": 1, "story_ids": {"https://example.com/a": 7}}',
        b'{"format": 1, "story_ids": {"https://example.com/a": "<script>"}}',
    ],
)
def test_a_corrupt_file_means_starting_fresh(
    tmp_path: Path, content: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / STORY_IDS_FILE).write_bytes(content)
    with caplog.at_level(logging.WARNING):
        assert load_story_ids(tmp_path) == {}
    assert "starting fresh" in caplog.text


def test_an_unreadable_file_means_starting_fresh(tmp_path: Path) -> None:
    (tmp_path / STORY_IDS_FILE).mkdir()  # reading a directory fails
    assert load_story_ids(tmp_path) == {}


def test_a_state_dir_that_cannot_be_written_is_reported_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "state"
    blocker.write_text("a file where the directory should be")
    with caplog.at_level(logging.WARNING):
        assert save_story_ids(blocker, story_ids_record(IDS)) is False
    assert "not remembered" in caplog.text


def test_staged_ids_change_nothing_until_put_in_place(tmp_path: Path) -> None:
    """Staging writes the new record beside the file (the slow part, which a copy
    of the build does while the build renders); the file changes only when it is
    put in place, at once; a second staging removes what the first left."""
    save_story_ids(tmp_path, story_ids_record(IDS))
    before = (tmp_path / STORY_IDS_FILE).read_bytes()
    fewer = dict(list(IDS.items())[:1])
    left = state.stage_story_ids(tmp_path, story_ids_record(fewer))
    staged = state.stage_story_ids(tmp_path, story_ids_record(fewer))
    assert left.temporary is not None and not Path(left.temporary).exists()
    assert (tmp_path / STORY_IDS_FILE).read_bytes() == before
    assert staged.put_in_place() is True
    assert load_story_ids(tmp_path) == fewer
    assert sorted(p.name for p in tmp_path.iterdir()) == [STORY_IDS_FILE]


def test_staging_the_ids_the_file_holds_leaves_nothing_to_put_in_place(tmp_path: Path) -> None:
    save_story_ids(tmp_path, story_ids_record(IDS))
    staged = state.stage_story_ids(tmp_path, story_ids_record(IDS))
    assert staged.temporary is None and staged.put_in_place() is False
    assert sorted(p.name for p in tmp_path.iterdir()) == [STORY_IDS_FILE]


def test_a_staged_record_whose_place_is_taken_is_reported_and_removed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    staged = state.stage_story_ids(tmp_path, story_ids_record(IDS))
    (tmp_path / STORY_IDS_FILE).mkdir()
    (tmp_path / STORY_IDS_FILE / "inside").write_text("a directory cannot be replaced by a file")
    with caplog.at_level(logging.WARNING):
        assert staged.put_in_place() is False
    assert "not remembered" in caplog.text
    assert sorted(p.name for p in tmp_path.iterdir()) == [STORY_IDS_FILE]


# The similar titles of the last search ---------------------------------------------

TITLES = {
    ("storm", "hits", "coast", "town"),
    ("storm", "hits", "the", "coast", "town"),
    ("storm", "hits", "the", "coast", "town", "tonight"),
    ("rail", "plan", "vote", "passes"),
    ("наука", "сегодня", "мерзлота", "тает"),
}


def test_saved_similar_titles_load_back(tmp_path: Path) -> None:
    found = find_title_pairs(TITLES, 0.8)
    assert len(found.pairs) == 4
    assert save_title_pairs(tmp_path, found) is True
    assert load_title_pairs(tmp_path, 0.8) == found
    # Equal results are equal bytes: the pairs are written in order.
    assert save_title_pairs(tmp_path, load_title_pairs(tmp_path, 0.8)) is False


def test_no_similar_titles_are_kept_when_lines_would_not_tell_titles_apart(tmp_path: Path) -> None:
    found = find_title_pairs({("storm hits", "coast", "town")}, 0.8)
    assert found.titles is None
    assert save_title_pairs(tmp_path, found) is False
    assert save_title_pairs(tmp_path, None) is False
    assert not (tmp_path / TITLE_PAIRS_FILE).exists()


def test_similar_titles_of_another_threshold_or_code_are_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    save_title_pairs(tmp_path, find_title_pairs(TITLES, 0.8))
    with caplog.at_level(logging.WARNING):
        assert load_title_pairs(tmp_path, 0.9) is None
        monkeypatch.setattr(state, "_TITLE_PAIRS_CODE", ("titlepairs",))  # other code
        assert load_title_pairs(tmp_path, 0.8) is None
    assert caplog.records == []  # nothing is wrong


def _with_valid_digest(text: bytes) -> bytes:
    """A title pairs file whose first line fits `text` (not what a build writes)."""
    return state._title_pairs_header(0.8, text) + b"\n" + text


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[:-3],
        lambda data: data[:-1] + bytes([data[-1] ^ 1]),
        lambda data: data.split(b"\n", 1)[0],
        lambda data: data.split(b"\n", 1)[0] + b"\n",
        lambda data: b"\x00garbage\xff" * 10,
        lambda data: b"",
        lambda data: _with_valid_digest(b"3\nstorm hits coast town\nrail plan vote"),
        lambda data: _with_valid_digest(b"two\na\nb\n"),
        lambda data: _with_valid_digest(b"1\n\xff\xfe\nb\n"),
        lambda data: _with_valid_digest(b"no pair count"),
    ],
    ids=[
        "truncated",
        "a bit flipped",
        "first line only",
        "nothing after it",
        "garbage",
        "empty",
        "too few pairs",
        "a count that is no number",
        "bad utf-8",
        "no line break",
    ],
)
def test_a_damaged_similar_titles_file_means_a_full_search(tmp_path: Path, damage: object) -> None:
    save_title_pairs(tmp_path, find_title_pairs(TITLES, 0.8))
    path = tmp_path / TITLE_PAIRS_FILE
    path.write_bytes(damage(path.read_bytes()))  # type: ignore[operator]
    assert load_title_pairs(tmp_path, 0.8) is None


def test_an_unreadable_similar_titles_file_means_a_full_search(tmp_path: Path) -> None:
    (tmp_path / TITLE_PAIRS_FILE).mkdir()  # reading a directory fails
    assert load_title_pairs(tmp_path, 0.8) is None


# Across real builds -----------------------------------------------------------------


def config_for(corpus: Path, root: Path, name: str = "site") -> Config:
    return resolve_paths(
        Config(sources=(corpus,), output=Path(name) / "feeds", state_dir=Path(name) / "state"),
        root,
    )


def build(config: Config) -> dict[str, str]:
    """Run a build; the entries of the "all" feed, link -> id."""
    run_build(config, BuildOptions(), NOW)
    parsed = feedparser.parse((config.output / "all.atom").read_bytes())
    return {entry.link: entry.id for entry in parsed.entries}


def test_ids_survive_the_removal_of_the_earliest_copy_between_builds(
    tmp_path: Path, corpus: Path, write_article: WriteArticle
) -> None:
    config = config_for(corpus, tmp_path)
    earliest = write_article(
        "reuters.md",
        webUrl="https://reuters.example/battery",
        publishedDateTime="2026-11-25T06:00:00Z",
        provider={"name": "Reuters"},
    )
    write_article(
        "ap.md",
        webUrl="https://ap.example/battery",
        heat=90,
        publishedDateTime="2026-11-25T08:00:00Z",
        provider={"name": "AP"},
    )
    first = build(config)
    assert list(first.values()) == [story_id("https://reuters.example/battery")]
    assert (config.state_dir / STORY_IDS_FILE).exists()

    earliest.unlink()
    second = build(config)
    assert list(second.values()) == list(first.values())

    write_article(
        "bbc.md",
        webUrl="https://bbc.example/battery",
        publishedDateTime="2026-11-24T23:00:00Z",
        provider={"name": "BBC"},
    )
    third = build(config)
    assert list(third.values()) == list(first.values())


def test_a_cold_build_writes_the_same_bytes_as_an_incremental_one(
    tmp_path: Path, corpus: Path, write_article: WriteArticle
) -> None:
    write_article("one.md", webUrl="https://one.example/a", provider={"name": "One"})
    write_article(
        "story.md",
        title="Storm leaves thousands without power",
        webUrl="https://two.example/storm",
        publishedDateTime="2026-11-26T01:00:00Z",
    )
    incremental = config_for(corpus, tmp_path, "incremental")
    build(incremental)
    # a later copy of one story and a new story arrive
    write_article("later.md", webUrl="https://three.example/a", provider={"name": "Three"})
    write_article("new.md", title="Council approves new bridge", webUrl="https://four.example/b")
    build(incremental)
    cold = config_for(corpus, tmp_path, "cold")
    build(cold)
    for name in ("all.atom", "all.rss"):
        assert (cold.output / name).read_bytes() == (incremental.output / name).read_bytes()


def test_a_corrupt_state_file_does_not_stop_a_build(
    tmp_path: Path, corpus: Path, write_article: WriteArticle
) -> None:
    write_article("one.md")
    config = config_for(corpus, tmp_path)
    config.state_dir.mkdir(parents=True)
    (config.state_dir / STORY_IDS_FILE).write_text("{broken")
    entries = build(config)
    assert list(entries.values()) == [story_id("https://news.example.com/2026/11/battery-factory")]
    assert load_story_ids(config.state_dir) != {}


def test_a_replacement_takes_the_files_place_whole_or_not_at_all(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "cache.pickle"
    path.write_bytes(b"old")
    (tmp_path / ".cache.pickle.killed").write_bytes(b"a temporary a killed build left")
    with Replacement(path, "the cache") as new:
        new.write(lambda stream: stream.write(b"new, "))
        assert path.read_bytes() == b"old"  # not before `commit`
        new.write(lambda stream: stream.write(b"in parts"))
        assert new.commit()
    assert path.read_bytes() == b"new, in parts"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache.pickle"]

    with Replacement(path, "the cache") as new:
        new.write(lambda stream: stream.write(b"abandoned"))
    assert path.read_bytes() == b"new, in parts"

    def full(stream: object) -> None:
        raise OSError(28, "No space left on device")

    with caplog.at_level(logging.WARNING), Replacement(path, "the cache") as new:
        new.write(full)
        assert not new.writing
        new.write(lambda stream: stream.write(b"dropped"))
        assert not new.commit()
    assert f"{path}: cannot store the cache (No space left on device)" in caplog.text
    assert path.read_bytes() == b"new, in parts"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache.pickle"]
