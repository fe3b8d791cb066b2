"""Rebuilds do only what changed, and publish exactly what a cold build would."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path

import pytest

from aggregator import files, grouping, incremental, pipeline, titlepairs
from aggregator.build import BuildOptions, run_build
from aggregator.config import Config, SiteConfig
from aggregator.feedspec import FeedSpec, Format
from aggregator.files import FoundFiles
from aggregator.incremental import LIBRARIES, InputFingerprint, installed_versions, reusable_report
from aggregator.model import BuildReport, Rejection
from aggregator.state import LAST_BUILD, STORY_IDS_FILE, TITLE_PAIRS_FILE
from tests.conftest import NOW, WriteArticle

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))
import gen_corpus  # noqa: E402


def configure(corpus: Path, work: Path) -> Config:
    return dataclasses.replace(
        Config(), sources=(corpus,), output=work / "feeds", state_dir=work / "state"
    )


@pytest.fixture
def config(corpus: Path, tmp_path: Path) -> Config:
    return configure(corpus, tmp_path)


@pytest.fixture
def rendered(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The feed files rendered (as 'title.suffix'), build after build."""
    seen: list[str] = []

    def counting(form: Format) -> Format:
        def document(spec: FeedSpec, entries: Sequence[bytes]) -> bytes:
            seen.append(f"{spec.url_stem.rsplit('/', 1)[-1]}.{form.suffix}")
            return form.document(spec, entries)

        return dataclasses.replace(form, document=document)

    monkeypatch.setattr(pipeline, "FORMATS", tuple(map(counting, pipeline.FORMATS)))
    return seen


@pytest.fixture
def sample(write_article: WriteArticle) -> None:
    for index in range(6):
        write_article(
            f"a{index}.txt",
            title=f"Story number {index} about {['rivers', 'markets', 'rockets'][index % 3]}",
            webUrl=f"https://news.example/{index}",
            topics=[["Water"], ["Money"], ["Space"]][index % 3],
            heat=10 * index,
            publishedDateTime=(NOW - timedelta(hours=index)).isoformat(),
        )
    write_article("broken.txt", webUrl="nope")


def outputs(config: Config) -> dict[str, tuple[bytes, int]]:
    return {
        p.relative_to(config.output).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in config.output.rglob("*")
        if p.is_file()
    }


def summary(report: BuildReport) -> dict[str, object]:
    data = report.to_json()
    del data["seconds"]
    data["feeds"] = [(f["path"], f["entries"]) for f in data["feeds"]]  # type: ignore[attr-defined]
    return data


def forbid_collect(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("the build read the articles")

    monkeypatch.setattr(grouping, "read_articles", fail)


@pytest.mark.usefixtures("sample")
def test_a_rebuild_with_nothing_changed_does_nothing(
    config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = run_build(config, BuildOptions(), NOW)
    before = outputs(config)
    forbid_collect(monkeypatch)
    second = run_build(config, BuildOptions(), NOW)
    assert outputs(config) == before  # same bytes, same mtimes: nothing rewritten
    assert summary(second) == summary(first)
    assert second.rejected and second.feeds
    assert not any(feed.changed for feed in second.feeds)
    assert all(feed.changed for feed in first.feeds)


@pytest.mark.usefixtures("sample")
@pytest.mark.parametrize(
    "change",
    [
        lambda c: dataclasses.replace(c, site=SiteConfig(title="Other")),
        lambda c: dataclasses.replace(c, max_items=2),
        lambda c: dataclasses.replace(c, drafts=True),
    ],
    ids=["title", "max_items", "drafts"],
)
def test_another_configuration_builds_again(
    config: Config, change: Callable[[Config], Config]
) -> None:
    run_build(config, BuildOptions(), NOW)
    other = change(config)
    report = run_build(other, BuildOptions(), NOW)
    fresh = change(configure(config.sources[0], config.output.parent / "fresh"))
    expected = run_build(fresh, BuildOptions(), NOW)
    assert summary(report) == summary(expected)
    assert {k: v[0] for k, v in outputs(other).items()} == {
        k: v[0] for k, v in outputs(fresh).items()
    }


@pytest.mark.usefixtures("sample")
def test_other_options_build_again(config: Config) -> None:
    run_build(config, BuildOptions(), NOW)
    report = run_build(config, BuildOptions(now=NOW + timedelta(days=3)), NOW)
    assert report.feeds  # ran: --now is an input like any other


@pytest.mark.usefixtures("sample")
@pytest.mark.parametrize("damage", ["modify", "delete"])
def test_a_feed_changed_on_disk_is_written_again(
    config: Config, damage: str, rendered: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run_build(config, BuildOptions(), NOW)
    before = outputs(config)
    target = config.output / "topics" / "water.rss"
    if damage == "modify":
        target.write_bytes(b"<rss>defaced</rss>")
    else:
        target.unlink()
    rendered.clear()
    report = run_build(config, BuildOptions(), NOW)
    assert rendered == ["water.rss"]
    assert [f.path for f in report.feeds if f.changed] == ["topics/water.rss"]
    assert target.read_bytes() == before["topics/water.rss"][0]


@pytest.mark.usefixtures("sample")
def test_only_feeds_whose_stories_changed_are_rendered(
    config: Config, write_article: WriteArticle, rendered: list[str]
) -> None:
    run_build(config, BuildOptions(), NOW)
    before = outputs(config)
    write_article(
        "a2.txt",
        title="Story number 2 about rockets, updated",
        webUrl="https://news.example/2",
        topics=["Space"],
        heat=20,
        publishedDateTime=(NOW - timedelta(hours=2)).isoformat(),
    )
    rendered.clear()
    report = run_build(config, BuildOptions(), NOW)
    assert sorted(rendered) == [
        f"{name}.{suffix}" for name in ("all", "space") for suffix in ("atom", "json", "rss")
    ]
    changed = sorted(f.path for f in report.feeds if f.changed)
    assert changed == [
        f"{name}.{suffix}" for name in ("all", "topics/space") for suffix in ("atom", "json", "rss")
    ]
    after = outputs(config)
    assert after["topics/water.atom"] == before["topics/water.atom"]


@pytest.mark.usefixtures("sample")
def test_a_new_heat_that_moves_no_story_renders_no_feed(
    config: Config, write_article: WriteArticle, rendered: list[str]
) -> None:
    """Heat and quality only order the stories: a feed whose order stays is not
    rendered again (its bytes would be the same); one whose order moves is."""
    run_build(config, BuildOptions(), NOW)
    before = outputs(config)

    def hottest(heat: int) -> None:  # a5 leads "all" and "space" either way
        write_article(
            "a5.txt",
            title="Story number 5 about rockets",
            webUrl="https://news.example/5",
            topics=["Space"],
            heat=heat,
            publishedDateTime=(NOW - timedelta(hours=5)).isoformat(),
        )

    hottest(55)
    rendered.clear()
    report = run_build(config, BuildOptions(), NOW)
    assert rendered == []
    assert not any(f.changed for f in report.feeds)
    assert {k: v for k, v in outputs(config).items() if k.endswith(("atom", "rss", "json"))} == {
        k: v for k, v in before.items() if k.endswith(("atom", "rss", "json"))
    }
    hottest(0)  # now last in both
    rendered.clear()
    run_build(config, BuildOptions(), NOW)
    assert sorted(rendered) == [
        f"{name}.{suffix}" for name in ("all", "space") for suffix in ("atom", "json", "rss")
    ]


@pytest.mark.usefixtures("sample")
def test_an_article_from_the_future_comes_due(
    config: Config, write_article: WriteArticle, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_article(
        "later.txt",
        title="Tomorrow's news",
        webUrl="https://news.example/later",
        publishedDateTime=(NOW + timedelta(days=2)).isoformat(),
    )
    first = run_build(config, BuildOptions(), NOW)
    assert any("in the future" in r.reason for r in first.rejected)
    same_day = run_build(config, BuildOptions(), NOW + timedelta(hours=12))
    assert not any(f.changed for f in same_day.feeds)  # still refused: nothing to do
    due = run_build(config, BuildOptions(), NOW + timedelta(days=1, seconds=1))
    assert not any("in the future" in r.reason for r in due.rejected)
    assert b"<title>Tomorrow's news</title>" in (config.output / "all.atom").read_bytes()


@pytest.mark.usefixtures("sample")
def test_with_fetching_on_a_build_always_runs(config: Config) -> None:
    fetching = dataclasses.replace(config, fetch=dataclasses.replace(config.fetch, enabled=True))
    run_build(fetching, BuildOptions(), NOW)
    record = json.loads((config.state_dir / LAST_BUILD).read_text())
    assert reusable_report(record, record["fingerprint"], config=fetching, clock=NOW) is None
    assert reusable_report(record, record["fingerprint"], config=config, clock=NOW) is not None


@pytest.mark.usefixtures("sample")
@pytest.mark.parametrize("record", ["{", "[]", '{"fingerprint": 5, "files": []}'])
def test_a_damaged_record_means_a_full_build(config: Config, record: str) -> None:
    first = run_build(config, BuildOptions(), NOW)
    (config.state_dir / LAST_BUILD).write_text(record)
    assert summary(run_build(config, BuildOptions(), NOW)) == summary(first)


def test_a_rebuild_after_one_percent_equals_a_cold_build(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    gen_corpus.generate(corpus, 600, seed=3)
    warm = configure(corpus, tmp_path / "warm")
    run_build(warm, BuildOptions(), NOW)
    for round_ in range(2):
        gen_corpus.mutate(corpus, 0.02, seed=10 + round_)
        (corpus / "000" / "000003_x.txt").write_text("---\nbroken: [\n---\n")
        report = run_build(warm, BuildOptions(), NOW)
        assert any(f.changed for f in report.feeds)
        assert not all(f.changed for f in report.feeds)
        cold = configure(corpus, tmp_path / f"cold{round_}")
        expected = run_build(cold, BuildOptions(), NOW)
        assert summary(report) == summary(expected)
        assert {k: v[0] for k, v in outputs(warm).items()} == {
            k: v[0] for k, v in outputs(cold).items()
        }
        shutil.rmtree(cold.output.parent)


HEADLINES = (
    "Council votes to ban cars from town centre streets",
    "Storm leaves thousands without power across the east coast",
    "Central bank holds interest rates steady for a third month",
    "Rail operator plans new night trains between capital cities",
)


def near_headline(number: int, extra: str = "") -> str:
    """One of `HEADLINES` with a word left out (or none), and `extra` added."""
    words = HEADLINES[number % len(HEADLINES)].split()
    left_out = (number // len(HEADLINES)) % (len(words) + 1)
    return " ".join([*words[:left_out], *words[left_out + 1 :], extra]).strip()


def test_a_rebuild_from_the_last_similar_titles_equals_a_cold_build(
    tmp_path: Path, corpus: Path, write_article: WriteArticle, monkeypatch: pytest.MonkeyPatch
) -> None:
    def write(name: str, number: int, title: str) -> None:
        write_article(
            name,
            title=title,
            webUrl=f"https://news{number}.example/{name}",
            publishedDateTime=(NOW - timedelta(hours=number % 30)).isoformat(),
            provider={"name": f"Outlet {number % 7}"},
            heat=number,
        )

    full_searches: list[object] = []
    search = titlepairs._all_pairs
    monkeypatch.setattr(titlepairs, "_all_pairs", lambda *a: full_searches.append(a) or search(*a))
    monkeypatch.setattr(titlepairs, "_MOST_NEW", 1.0)  # however few titles there are
    warm = configure(corpus, tmp_path / "warm")
    for number in range(48):
        write(f"a{number}.txt", number, near_headline(number))
    run_build(warm, BuildOptions(), NOW)
    for change in range(3):
        for number in range(3):
            (corpus / f"a{change * 3 + number}.txt").unlink()
        write(f"a{20 + change}.txt", 20 + change, near_headline(20 + change, "tonight"))
        for number in range(50 + 4 * change, 54 + 4 * change):
            # New titles with a word more than some there, and with one less.
            write(f"b{number}.txt", number, near_headline(number, "again"))
            write(f"c{number}.txt", number, near_headline(number).split(" ", 1)[1])
        if change == 2:
            (warm.state_dir / TITLE_PAIRS_FILE).write_bytes(b"damaged")
        # Story ids carry history (a story whose first copy went keeps its id):
        # forgotten, so that only the parse cache and the similar titles are kept.
        (warm.state_dir / STORY_IDS_FILE).unlink()
        full_searches.clear()
        report = run_build(warm, BuildOptions(), NOW)
        assert len(full_searches) == (1 if change == 2 else 0)
        cold = configure(corpus, tmp_path / f"cold{change}")
        expected = run_build(cold, BuildOptions(), NOW)
        assert summary(report) == summary(expected)
        assert report.duplicates > 20  # near-identical headlines were merged
        assert {k: v[0] for k, v in outputs(warm).items()} == {
            k: v[0] for k, v in outputs(cold).items()
        }
        assert (warm.state_dir / TITLE_PAIRS_FILE).read_bytes() == (
            cold.state_dir / TITLE_PAIRS_FILE
        ).read_bytes()


@pytest.mark.usefixtures("sample")
def test_a_file_touched_but_not_changed_rewrites_nothing(config: Config, corpus: Path) -> None:
    run_build(config, BuildOptions(), NOW)
    before = outputs(config)
    path = corpus / "a1.txt"
    status = path.stat()
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns + 10**9))
    report = run_build(config, BuildOptions(), NOW)
    assert not any(f.changed for f in report.feeds)
    assert outputs(config) == before


@pytest.mark.usefixtures("sample")
def test_a_build_right_after_an_edit_relies_on_the_bytes_it_read(
    config: Config, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file that had not settled might change again without its size or
    mtime changing: the record counts it by the digest of the bytes read, and
    the next build compares its bytes. The same: nothing to do (a cron line
    `fetch && build` after one that brought articles). Not the same: a build."""
    path = corpus / "a1.txt"
    path.write_text(path.read_text().replace("Story number 1", "Story no. 1"))  # mtime: now
    run_build(config, BuildOptions(), NOW)
    record = json.loads((config.state_dir / LAST_BUILD).read_text())
    assert record["checked"] == [str(path)] and record["fingerprint"] is not None
    calls: list[object] = []
    real = grouping.read_articles
    monkeypatch.setattr(grouping, "read_articles", lambda *a, **k: calls.append(a) or real(*a, **k))
    before = outputs(config)
    report = run_build(config, BuildOptions(), NOW)
    assert calls == [] and not any(f.changed for f in report.feeds)
    assert outputs(config) == before
    record = json.loads((config.state_dir / LAST_BUILD).read_text())
    assert record["checked"] == [str(path)]  # not settled yet: read again next time
    stamp = path.stat()
    path.write_text(path.read_text().replace("Story no. 1", "Story No. 1"))  # the same size
    os.utime(path, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))  # within the same tick
    report = run_build(config, BuildOptions(), NOW)
    assert len(calls) == 1 and any(f.changed for f in report.feeds)
    assert b"Story No. 1" in (config.output / "all.atom").read_bytes()
    path.unlink()  # a file checked, gone: a build too
    run_build(config, BuildOptions(), NOW)
    assert len(calls) == 2
    assert json.loads((config.state_dir / LAST_BUILD).read_text())["checked"] == []


@pytest.mark.usefixtures("sample")
def test_files_checked_by_their_bytes_are_trusted_by_their_stamps_once_settled(
    config: Config, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A build with nothing to do, once every file has settled, records them by
    their stamps alone, so that the builds after it read no file."""
    path = corpus / "a1.txt"
    path.write_text(path.read_text().replace("Story number 1", "Story no. 1"))  # mtime: now
    run_build(config, BuildOptions(), NOW)
    later = time.time_ns() + 60 * 10**9
    monkeypatch.setattr(incremental, "settled_before", lambda: later - files.SETTLE_NS)
    read: list[object] = []
    real = files.read_file
    monkeypatch.setattr(files, "read_file", lambda *a, **k: read.append(a) or real(*a, **k))
    before = outputs(config)
    run_build(config, BuildOptions(), NOW)  # nothing to do: its bytes are those read
    assert len(read) == 1
    assert json.loads((config.state_dir / LAST_BUILD).read_text())["checked"] == []
    report = run_build(config, BuildOptions(), NOW)
    assert len(read) == 1 and not any(f.changed for f in report.feeds)
    assert outputs(config) == before


def test_grouping_refuses_similar_titles_searched_for_other_titles(
    config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The search runs apart from the grouping; what it found is only handed
    over for the very titles it searched."""
    inputs = [
        (("https://a.example/1", 0.0, "Storm hits the coast", "a.txt"), {"a"}, ("storm", "coast")),
    ]

    def asking_for_others(*args: object) -> object:
        finder = args[3]
        assert callable(finder)
        return finder({("other", "title")}, config.merge.title_similarity)

    monkeypatch.setattr(grouping, "group_articles", asking_for_others)
    with pytest.raises(ValueError, match="other titles than searched"):
        grouping._group(inputs, config, stamps=[None])


def test_library_versions_are_those_importlib_metadata_reads() -> None:
    """The environment's versions, read from directory names alone, are the
    installed ones."""
    from importlib import metadata

    assert installed_versions([*LIBRARIES, "no-such-distribution"]) == [
        *(f"{name} {metadata.version(name)}" for name in LIBRARIES),
        "no-such-distribution ?",
    ]


def test_library_versions_come_from_the_first_metadata_directory_on_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    for directory, names in (
        (first, ["Python_Dateutil-9.1.dist-info", "Old.Lib-0.5-py3.11.egg-info", "notes.txt"]),
        (second, ["python_dateutil-2.0.dist-info", "feedgen-7.0.dist-info"]),
    ):
        for name in names:
            (directory / name).mkdir(parents=True)
    monkeypatch.setattr(sys, "path", [str(tmp_path / "missing"), str(first), str(second)])
    assert installed_versions(["python-dateutil", "old-lib", "feedgen", "lxml"]) == [
        "python-dateutil 9.1",
        "old-lib 0.5",
        "feedgen 7.0",
        "lxml ?",
    ]


def test_the_fingerprint_differs_with_every_input() -> None:
    old = 10**18  # long settled
    found = FoundFiles(("a.txt", "b.txt"), (), ((10, old), (20, old)))

    def of(
        found: FoundFiles, config: Config | None = None, checks: dict[str, str] | None = None
    ) -> str | None:
        return InputFingerprint(config or Config(), "options", found).of(checks or {})

    base = of(found)
    assert base is not None and of(found) == base
    shared = [(10, old)] * 2  # equal stamps, one object: the same fingerprint
    assert of(FoundFiles(found.names, (), (shared[0], (20, old)))) == base
    assert of(FoundFiles(("a.txt", "c.txt"), (), tuple(shared))) == of(
        FoundFiles(("a.txt", "c.txt"), (), ((10, old), (int("10"), old)))
    )
    others = [
        of(FoundFiles(("a.txt", "c.txt"), (), found.stamps)),
        of(FoundFiles(("a.txt\0b.txt",), (), ((10, old),))),
        of(FoundFiles(found.names, (), ((10, old), (21, old)))),
        of(FoundFiles(found.names, (), ((10, old), (20, old + 1)))),
        of(FoundFiles(found.names, (), ((10, old), None))),
        of(FoundFiles(found.names, (Rejection("c.txt", "why"),), found.stamps)),
        of(found, dataclasses.replace(Config(), jobs=3)),
        of(found, checks={"a.txt": "0" * 32}),
    ]
    assert base not in others and len(set(others)) == len(others)


def test_a_file_not_settled_needs_a_check_for_a_fingerprint() -> None:
    now = 2 * 10**18  # in the future: not settled
    found = FoundFiles(("a.txt", "b.txt"), (), ((10, 1), (20, now)))
    fingerprint = InputFingerprint(Config(), "options", found)
    assert fingerprint.of({}) is None and fingerprint.of({"a.txt": "0" * 32}) is None
    assert fingerprint.of({"b.txt": "0" * 32}) is not None
