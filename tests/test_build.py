"""End to end through the pipeline: files on disk in, feeds on disk out, read back."""

from __future__ import annotations

import dataclasses
import os
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import feedparser
import pytest

from aggregator import cache, collection, grouping, incremental, pipeline, rendering, state
from aggregator.build import BuildOptions, run_build
from aggregator.cache import CACHE_NAME, cache_key
from aggregator.config import Config
from aggregator.forking import available_cores
from aggregator.mergestore import STORE_NAME, load_rows, save_rows
from aggregator.model import BuildReport
from tests.conftest import NOW, SECRET, WriteArticle


@pytest.fixture
def config(corpus: Path, tmp_path: Path) -> Config:
    return dataclasses.replace(
        Config(),
        sources=(corpus,),
        output=tmp_path / "feeds",
        state_dir=tmp_path / "state",
        max_items=3,
    )


def build(config: Config, **options: object) -> BuildReport:
    return run_build(config, BuildOptions(**options), clock=NOW)  # type: ignore[arg-type]


def read(config: Config, relative: str) -> feedparser.FeedParserDict:
    parsed = feedparser.parse((config.output / relative).read_bytes())
    assert not parsed.bozo, parsed.get("bozo_exception")
    return parsed


@pytest.fixture
def sample(write_article: WriteArticle) -> None:
    hour = timedelta(hours=1)

    def at(hours: int) -> str:
        return (NOW - hours * hour).isoformat()

    write_article(
        "a.txt",
        title="Alpha wins the cup final",
        heat=90,
        topics=["Sport"],
        webUrl="https://a.example/alpha",
        publishedDateTime=at(5),
    )
    write_article(
        "b.txt",
        title="Beta launches a new rocket today",
        heat=70,
        topics=["Space", "Science"],
        webUrl="https://b.example/beta",
        publishedDateTime=at(4),
    )
    write_article(
        "b-copy.txt",
        title="Beta launches a new rocket today",
        heat=10,
        topics=["Space"],
        webUrl="http://www.b.example/beta/?utm_source=x",
        publishedDateTime=at(4),
    )
    write_article(
        "c.txt",
        title="Gamma reports record profits this quarter",
        heat=50,
        topics=["Business", "space"],
        webUrl="https://c.example/gamma",
        publishedDateTime=at(3),
    )
    write_article(
        "d.txt",
        title="Delta opens a new hospital wing",
        heat=30,
        topics=None,
        webUrl="https://d.example/delta",
        publishedDateTime=at(2),
    )
    write_article(
        "draft.txt",
        title="Unpublished draft about Epsilon",
        heat=99,
        topics=["Sport"],
        webUrl="https://e.example/draft",
        published=False,
        publishedDateTime=at(1),
    )
    write_article("bad.txt", title=None)


@pytest.mark.usefixtures("sample")
def test_feeds_hold_the_right_entries_in_rank_order(config: Config) -> None:
    report = build(config)
    assert (report.files, report.articles, report.duplicates, report.drafts) == (7, 4, 1, 1)
    assert [r.path.endswith("bad.txt") for r in report.rejected] == [True]
    everything = read(config, "all.atom")
    titles = [e.title for e in everything.entries]
    assert titles == [
        "Alpha wins the cup final",
        "Beta launches a new rocket today",
        "Gamma reports record profits this quarter",
    ]  # max_items = 3, the draft is out, the copy merged
    space = read(config, "topics/space.rss")
    assert [e.title for e in space.entries] == [
        "Beta launches a new rocket today",
        "Gamma reports record profits this quarter",
    ]
    assert space.feed.link == "http://localhost:8000/index.html"
    assert sorted(p.name for p in (config.output / "topics").iterdir()) == [
        f"{t}.{s}"
        for t in ("business", "science", "space", "sport")
        for s in ("atom", "json", "rss")
    ]


@pytest.mark.usefixtures("sample")
def test_feed_and_entry_metadata(config: Config) -> None:
    build(config, now=NOW)
    atom = read(config, "topics/sport.atom")
    assert atom.feed.title == "News: Sport"
    assert atom.feed.updated_parsed[:5] == (NOW - timedelta(hours=5)).timetuple()[:5]
    links = {link.rel: link.href for link in atom.feed.links}
    assert links == {
        "self": "http://localhost:8000/topics/sport.atom",
        "alternate": "http://localhost:8000/index.html",
    }
    entry = atom.entries[0]
    assert entry.link == "https://a.example/alpha"
    assert entry.author == "Example News"
    assert [t.term for t in entry.tags] == ["Sport"]
    assert entry.media_thumbnail[0]["url"] == "https://img.example.com/a.jpg"
    rss = read(config, "topics/sport.rss")
    assert rss.entries[0].id == entry.id
    assert rss.entries[0].author == "Example News"  # dc:creator
    assert rss.feed.language == "en"


@pytest.mark.usefixtures("sample")
def test_second_build_is_identical_and_rewrites_nothing(config: Config) -> None:
    first = build(config)
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in config.output.rglob("*.*")}
    second = build(config)
    after = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in config.output.rglob("*.*")}
    assert before == after
    assert all(f.changed for f in first.feeds)
    assert not any(f.changed for f in second.feeds)


@pytest.mark.usefixtures("sample")
def test_every_feed_reads_back_cleanly_with_the_same_ids_in_every_format(config: Config) -> None:
    build(config)
    feeds = sorted(config.output.rglob("*.atom"))
    assert len(feeds) == 5
    for atom in feeds:
        relative = atom.relative_to(config.output).with_suffix("")
        ids = {
            suffix: [e.id for e in read(config, f"{relative}.{suffix}").entries]
            for suffix in ("atom", "rss")
        }
        assert ids["atom"] == ids["rss"] and ids["atom"], relative
        assert all(i.startswith("urn:uuid:") for i in ids["atom"])


def test_ids_are_stable_across_url_variants(config: Config, write_article: WriteArticle) -> None:
    write_article("a.txt", webUrl="https://www.x.example/story/?utm_medium=rss")
    build(config)
    first = read(config, "all.atom").entries[0].id
    (config.sources[0] / "a.txt").unlink()
    write_article("b.txt", webUrl="http://x.example/story#top")
    build(config)
    assert read(config, "all.atom").entries[0].id == first


@pytest.mark.usefixtures("sample")
def test_drafts_are_included_on_request(config: Config) -> None:
    build(dataclasses.replace(config, drafts=True))
    titles = [e.title for e in read(config, "topics/sport.atom").entries]
    assert titles[0] == "Unpublished draft about Epsilon"


@pytest.mark.usefixtures("sample")
def test_strict_writes_nothing_when_a_file_is_rejected(config: Config) -> None:
    report = build(config, strict=True)
    assert report.rejected and not report.feeds
    assert not config.output.exists()


@pytest.mark.usefixtures("sample")
def test_secured_content_appears_in_no_output(config: Config) -> None:
    report = build(config)
    for path in config.output.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
            assert b"c2VjcmV0" not in path.read_bytes(), path
    assert SECRET not in repr(report.to_json())


def test_far_future_dates_are_rejected(config: Config, write_article: WriteArticle) -> None:
    write_article("future.txt", publishedDateTime="2999-01-01T00:00:00Z")
    report = build(config)
    assert "is in the future" in report.rejected[0].reason


def test_markup_in_text_stays_text(config: Config, write_article: WriteArticle) -> None:
    write_article(
        "x.txt",
        title="<script>alert(1)</script> & <b>bold</b>",
        excerpt='<img src=x onerror="alert(1)"> AT&T',
    )
    build(config)
    atom = read(config, "all.atom").entries[0]
    assert atom.title == "<script>alert(1)</script> & <b>bold</b>"
    assert atom.title_detail.type == "text/plain"
    assert atom.summary == '<img src=x onerror="alert(1)"> AT&T'
    assert atom.summary_detail.type == "text/plain"
    rss = read(config, "all.rss").entries[0]
    # An RSS description is HTML: the markup arrives escaped, to be shown as text.
    assert rss.summary.startswith("&lt;img src=x")
    raw = (config.output / "all.rss").read_text()
    assert "<script>" not in raw and "<img" not in raw


@pytest.mark.usefixtures("sample")
@pytest.mark.parametrize("drafts", [False, True])
def test_grouping_in_a_copy_of_the_process_writes_what_one_process_writes(
    config: Config,
    write_article: WriteArticle,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    drafts: bool,
) -> None:
    """Stories are grouped in a copy of the build's process when there are many
    articles; the feeds and ids are those of a build in one process, also when
    the previous build's ids are known and the draft and the future-dated file
    are left out of the grouping."""
    monkeypatch.setattr(threading, "active_count", lambda: 1)  # as on the command line
    monkeypatch.setattr(grouping, "GROUP_ELSEWHERE_FROM", 1)
    marks = tmp_path / "grouped-in"
    marks.mkdir()
    real = grouping._group

    grouped_here: list[int] = []  # appended to in this process only

    def marking(*args: Any, spread: bool = False, **more: Any) -> Any:
        (marks / str(os.getpid())).write_text(str(spread))
        grouped_here.append(os.getpid())
        return real(*args, spread=spread, **more)

    monkeypatch.setattr(grouping, "_group", marking)
    searches = tmp_path / "searched-in"
    searches.mkdir()
    real_search = grouping._similar_titles

    def marking_search(*args: Any, spread: bool = False, **more: Any) -> Any:
        (searches / str(os.getpid())).write_text(str(spread))
        return real_search(*args, spread=spread, **more)

    monkeypatch.setattr(grouping, "_similar_titles", marking_search)
    stages = tmp_path / "ids-staged-in"
    stages.mkdir()
    real_stage = grouping.stage_story_ids

    def marking_stage(*args: Any) -> Any:
        (stages / str(os.getpid())).touch()
        return real_stage(*args)

    monkeypatch.setattr(grouping, "stage_story_ids", marking_stage)
    write_article("future.txt", title="From the future", publishedDateTime=NOW + timedelta(days=9))
    apart = dataclasses.replace(config, jobs=2, drafts=drafts)
    alone = dataclasses.replace(
        apart, jobs=1, output=tmp_path / "alone", state_dir=tmp_path / "alone-state"
    )
    for edit in range(2):  # the second time with the ids the first build kept
        write_article("b-copy.txt", title="Beta launches a new rocket today", heat=80 + edit)
        for each in (apart, alone):
            build(each)
        assert feed_bytes(apart.output) == feed_bytes(alone.output)
        for kept in ("story-ids.json", "title-pairs.txt"):  # kept by the copy, or here
            assert (apart.state_dir / kept).read_bytes() == (alone.state_dir / kept).read_bytes()
    grouped_in = {int(mark.name): mark.read_text() for mark in marks.iterdir()}
    assert len(grouped_in) == 3 and os.getpid() in grouped_in  # in two copies, and here
    # A copy shares its search for similar titles with copies of its own.
    assert sorted(grouped_in.values()) == ["False", "True", "True"]
    assert grouped_in[os.getpid()] == "False"
    # A copy that groups searches for similar titles in a copy of its own.
    searched_in = {int(mark.name): mark.read_text() for mark in searches.iterdir()}
    assert searched_in[os.getpid()] == "False"
    assert sorted(searched_in.values()) == ["False", "True", "True"]
    assert not (set(searched_in) - {os.getpid()}) & set(grouped_in)
    assert grouped_here == [os.getpid()] * 2  # once for each build in one process
    # The copy that grouped wrote the ids' record (and the build put it in place).
    staged_in = {int(mark.name) for mark in stages.iterdir()}
    assert os.getpid() in staged_in and len(staged_in) == 3
    assert not [p.name for p in apart.state_dir.iterdir() if p.name.startswith(".")]


def edited_since_the_last_build(path: Path, state_dir: Path) -> None:
    """Date `path` after the parse cache was written, as a file edited since."""
    written = (state_dir / CACHE_NAME).stat().st_mtime_ns + 10**9
    os.utime(path, ns=(written, written))


@pytest.mark.usefixtures("sample")
def test_a_copy_started_with_the_build_groups_and_writes_what_one_process_writes(
    config: Config,
    write_article: WriteArticle,
    corpus: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A copy of the build started as the files are listed groups the
    articles: in a rebuild before the parse cache is read, from the merge
    inputs the last build kept and the files changed since, which it parses;
    without a cache, from the merge inputs the build keeps as it parses. The
    feeds and ids are those of a build in one process; as they are when it
    cannot: for a file copied in with an old mtime, with a damaged store (cut
    short, or holding rows of another shape), a store that cannot be written,
    or one that lies about a file."""
    monkeypatch.setattr(threading, "active_count", lambda: 1)  # as on the command line
    monkeypatch.setattr(grouping, "GROUP_ELSEWHERE_FROM", 1)
    marks = tmp_path / "grouped-ahead"
    marks.mkdir()
    real = grouping._GroupingAhead.grouping

    def marking(self: grouping._GroupingAhead) -> Any:
        made = real(self)
        (marks / str(len(list(marks.iterdir())))).write_text(str(made is not None))
        return made

    monkeypatch.setattr(grouping._GroupingAhead, "grouping", marking)
    narrowings = tmp_path / "narrowed"
    narrowings.mkdir()
    real_narrowed = grouping.narrowed

    def marking_narrowed(*args: Any) -> Any:
        found = real_narrowed(*args)
        (narrowings / str(len(list(narrowings.iterdir())))).write_text(str(found is not None))
        return found

    monkeypatch.setattr(grouping, "narrowed", marking_narrowed)
    apart = dataclasses.replace(config, jobs=2)
    alone = dataclasses.replace(
        apart, jobs=1, output=tmp_path / "alone", state_dir=tmp_path / "alone-state"
    )
    heat = iter(range(100))

    def edit_then_build_both() -> list[str]:
        """Builds after an edit; whether the copy grouped ahead, each time it tried."""
        edited = write_article("b-copy.txt", title="Beta launches a new rocket", heat=next(heat))
        if (apart.state_dir / CACHE_NAME).exists():
            edited_since_the_last_build(edited, apart.state_dir)
        for each in (apart, alone):
            build(each)
        assert feed_bytes(apart.output) == feed_bytes(alone.output)
        for kept in ("story-ids.json", "title-pairs.txt"):
            assert (apart.state_dir / kept).read_bytes() == (alone.state_dir / kept).read_bytes()
        tried = [mark.read_text() for mark in sorted(marks.iterdir(), key=lambda m: int(m.name))]
        for mark in marks.iterdir():
            mark.unlink()
        return tried

    assert edit_then_build_both() == ["True"]  # from what the build kept as it parsed
    store = apart.state_dir / STORE_NAME
    assert store.exists() and not (alone.state_dir / STORE_NAME).exists()
    # Files edited, added, deleted, a draft and a future-dated one added since.
    for name, fields in [
        ("e.txt", {"title": "Epsilon wins the cup final", "webUrl": "https://e.example/1"}),
        ("draft2.txt", {"title": "A second draft", "published": False}),
        ("future.txt", {"publishedDateTime": NOW + timedelta(days=9)}),
        ("c.txt", {"title": "Gamma reports record profits", "webUrl": "https://c.example/gamma"}),
    ]:
        edited_since_the_last_build(write_article(name, **fields), apart.state_dir)
    (corpus / "d.txt").unlink()
    assert edit_then_build_both() == ["True"]
    assert edit_then_build_both() == ["True"]  # with the inputs that build kept
    # Similar titles were searched among the last build's and the changed files'
    # (while the copy read the rows), then narrowed to the titles merged.
    assert sorted(mark.read_text() for mark in narrowings.iterdir()) == ["True", "True"]
    write_article("old.txt", title="Copied in with an old mtime", webUrl="https://o.example/1")
    assert edit_then_build_both() == ["False"]  # neither kept nor changed since
    assert edit_then_build_both() == ["True"]  # kept by the build that grouped later
    store.write_bytes(store.read_bytes()[:-100])
    assert edit_then_build_both() == ["False"]
    assert edit_then_build_both() == ["True"]
    # A store that says a file was refused when it was not (as a file edited
    # without its size or mtime changing could): the copy's grouping is not of
    # the articles read, and grouping is done again here.
    key = cache_key(apart.max_file_bytes)
    rows = dict(load_rows(apart.state_dir, key))
    name = str(corpus / "a.txt")
    rows[name] = (*rows[name][:2], None)
    save_rows(apart.state_dir, key, rows)
    assert edit_then_build_both() == ["True"]
    assert load_rows(apart.state_dir, key)[name][2] is not None  # kept as read
    assert edit_then_build_both() == ["True"]
    # Rows of another shape (the store unpickles no class, but its lists may
    # hold anything): grouped here, from the files read, and the rows kept anew.
    rows = dict(load_rows(apart.state_dir, key))
    for planted in (7, (1, False, (2,), "Two", ("two",))):
        save_rows(apart.state_dir, key, {n: (*entry[:2], planted) for n, entry in rows.items()})
        assert edit_then_build_both() == ["False"]  # (the copy warns that the store is damaged)
        assert edit_then_build_both() == ["True"]
    (apart.state_dir / CACHE_NAME).unlink()  # every file parsed again, the rows kept again
    assert edit_then_build_both() == ["True"]
    (apart.state_dir / CACHE_NAME).unlink()
    real_replace = os.replace

    def failing(source: str, target: Path) -> None:
        if Path(target).name == STORE_NAME:
            raise OSError(28, "No space left on device")
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", failing)
    assert edit_then_build_both() == ["False"]  # so grouped here
    monkeypatch.setattr(os, "replace", real_replace)
    assert edit_then_build_both() == ["True"]
    # A cache and store of other code: every file is parsed, the rows kept as they come.
    monkeypatch.setattr(cache, "PARSER_VERSION", cache.PARSER_VERSION + 1)
    assert edit_then_build_both() == ["True"]  # (a store it cannot use would say False)


def feed_bytes(output: Path) -> dict[str, bytes]:
    return {str(p.relative_to(output)): p.read_bytes() for p in sorted(output.rglob("*.*"))}


@pytest.mark.usefixtures("sample")
def test_a_build_hands_what_it_made_to_retain_when_asked(config: Config) -> None:
    """The command line exits without freeing the build's objects one by one:
    run_build hands them over instead of dropping them."""
    kept: list[object] = []
    report = run_build(config, BuildOptions(), clock=NOW, retain=kept)
    assert len(kept) == 1
    collection = kept[0][0]  # type: ignore[index]
    assert {Path(a.source).name for a in collection.articles} >= {"a.txt", "b.txt"}
    assert report.feeds
    again: list[object] = []
    run_build(config, BuildOptions(), clock=NOW, retain=again)
    assert again == []  # nothing changed: nothing was made


@pytest.mark.usefixtures("sample")
def test_a_rebuild_unpacks_only_the_articles_of_the_feeds_it_renders(
    config: Config, write_article: WriteArticle
) -> None:
    """Ranking and selection read the articles packed; only the stories of the
    feeds rendered (and the newest of each feed, for the index) are unpacked."""
    build(config)
    write_article("c.txt", title="Gamma reports record profits this quarter", heat=51)
    kept: list[object] = []
    report = run_build(config, BuildOptions(), clock=NOW, retain=kept)
    collection, _, ranking, publication, _ = kept[0]  # type: ignore[index]
    rendered = {f.path.rsplit(".", 1)[0] for f in report.feeds if f.changed}
    assert "topics/sport" not in rendered  # Alpha's feed did not change
    needed = {
        position
        for stem, spec in publication.feeds
        for story in (spec.stories if stem in rendered else spec.stories[:0])
        for position in story.copies
    }
    newest = {p for _, spec in publication.feeds if spec.newest for p in spec.newest.copies}
    assert set(collection._unpacked) == needed | newest
    assert len(collection._unpacked) < len(collection.sources)
    assert ranking.stories and publication.stories


def test_a_story_has_the_same_digests_whether_packed_or_unpacked(
    write_article: WriteArticle, config: Config
) -> None:
    """A feed's digest must not depend on whether its stories were unpacked (as
    a build that fetches pages unpacks them all): the copies' digests are the
    same; a copy that fetching changed is digested from its fields."""
    write_article("one.txt", title="One story told twice", webUrl="https://a.example/1")
    write_article("two.txt", title="One story told twice", webUrl="https://b.example/1")
    articles = collection.collect(config, NOW)
    ranking = pipeline.rank_all(articles, config, None)
    (ref,) = ranking.stories
    story = ranking.story(ref)
    assert story is ranking.story(ref)  # unpacked once
    assert [a.source for a in story.articles] == [articles.sources[p] for p in ref.copies]
    assert articles.copy_digests(story) == articles.copy_digests(ref)
    moved = dataclasses.replace(story.lead, url="https://a.example/moved")
    changed = articles.copy_digests(dataclasses.replace(story, lead=moved))
    assert changed[0] != articles.copy_digests(ref)[0]
    assert changed[1:] == articles.copy_digests(ref)[1:]


@pytest.mark.usefixtures("sample")
def test_story_ids_are_kept_before_any_feed_is_written(
    config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Should writing the feeds fail, the next build must still know the ids
    that readers may already have seen: they are saved once the feeds are
    rendered and before the first is written."""
    events: list[str] = []
    real_save, real_publish = state.Staged.put_in_place, incremental.publish

    def save(staged: state.Staged) -> bool:
        if staged.path.name == state.STORY_IDS_FILE:
            events.append("ids")
        return real_save(staged)

    monkeypatch.setattr(state.Staged, "put_in_place", save)
    monkeypatch.setattr(
        incremental, "publish", lambda files: (events.append("write"), real_publish(files))[1]
    )
    real_render = rendering.render_all
    monkeypatch.setattr(
        rendering,
        "render_all",
        lambda *a, **k: (events.append("render"), real_render(*a, **k))[1],
    )
    build(config)
    assert events == ["render", "ids", "write"]
    assert (config.state_dir / "story-ids.json").is_file()


@pytest.mark.usefixtures("sample")
@pytest.mark.parametrize("changed", [1, 3])
def test_the_grouping_copy_parses_many_changed_files_on_every_core(
    config: Config,
    write_article: WriteArticle,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    changed: int,
) -> None:
    """Few changed files are parsed on the cores the build leaves free while it
    reads the parse cache; many (one in `MANY_CHANGED` or more), on all."""
    monkeypatch.setattr(threading, "active_count", lambda: 1)  # as on the command line
    monkeypatch.setattr(grouping, "GROUP_ELSEWHERE_FROM", 1)
    monkeypatch.setattr(grouping, "MANY_CHANGED", 3)  # 7 files: 3 changed are many
    asked = tmp_path / "asked"
    real = grouping.parse_chunks

    def recording(paths: Any, *, max_bytes: int, jobs: int) -> Any:
        if paths:
            with asked.open("a") as record:
                record.write(f"{jobs}\n")
        return real(paths, max_bytes=max_bytes, jobs=jobs)

    monkeypatch.setattr(grouping, "parse_chunks", recording)
    apart = dataclasses.replace(config, jobs=0)
    build(apart)
    for name in ["a.txt", "c.txt", "d.txt"][:changed]:
        edited = write_article(name, title=f"{name} edited since", webUrl=f"https://{name}/")
        edited_since_the_last_build(edited, apart.state_dir)
    build(apart)
    spare = max(available_cores() - 1, 1)
    assert [int(line) for line in asked.read_text().split()] == [0 if changed == 3 else spare]


@pytest.mark.usefixtures("sample")
def test_a_file_written_just_before_a_build_is_not_parsed_again_by_the_next(
    config: Config,
    write_article: WriteArticle,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As a cron line `fetch && build` leaves it: the file had not settled, so
    the next build checks its bytes instead, in the copy that groups as in the
    build, and writes what a build in one process writes."""
    monkeypatch.setattr(threading, "active_count", lambda: 1)  # as on the command line
    monkeypatch.setattr(grouping, "GROUP_ELSEWHERE_FROM", 1)
    asked = tmp_path / "parsed"
    asked.touch()
    spied = [(module, name) for module in (grouping, cache) for name in ("parse_chunks",)]
    spied.append((cache, "parse_ahead"))
    for module, name in spied:
        real = getattr(module, name)

        def recording(paths: Any, *, real: Any = real, **options: Any) -> Any:
            with asked.open("a") as record:  # written from the copy too
                record.writelines(f"{Path(path).name}\n" for path in paths)
            return real(paths, **options)

        monkeypatch.setattr(module, name, recording)
    apart = dataclasses.replace(config, jobs=2)
    alone = dataclasses.replace(
        apart, jobs=1, output=tmp_path / "alone", state_dir=tmp_path / "alone-state"
    )
    build(apart)
    fresh = write_article("e.txt", title="Epsilon wins the cup final", webUrl="https://e.ex/1")
    edited_since_the_last_build(fresh, apart.state_dir)  # and not settled
    asked.write_text("")
    build(apart)
    assert asked.read_text().split() == ["e.txt"]
    asked.write_text("")
    build(apart)  # a real build: a file has not settled
    assert asked.read_text().split() == []
    build(alone)
    assert feed_bytes(apart.output) == feed_bytes(alone.output)
    assert (apart.state_dir / "story-ids.json").read_bytes() == (
        alone.state_dir / "story-ids.json"
    ).read_bytes()
