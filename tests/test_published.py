"""Feeds whose topic has gone: kept empty and valid by default, pruned on request."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from lxml import etree

from aggregator.published import PublishedFeed, published_feeds
from tests.conftest import WriteArticle
from tests.feedcheck import ATOM, check_atom, check_json_feed, check_rss
from tests.publishing import BASE, build, make_config

FORMATS = ("atom", "rss", "json")


def check_empty(output: Path, stem: str) -> etree._Element:
    files = {suffix: (output / f"{stem}.{suffix}").read_bytes() for suffix in FORMATS}
    assert check_atom(files["atom"], f"{BASE}{stem}.atom") == []
    assert check_rss(files["rss"], f"{BASE}{stem}.rss", f"{BASE}index.html") == []
    assert check_json_feed(files["json"], f"{BASE}{stem}.json") == []
    root = etree.fromstring(files["atom"])
    assert root.findall(f"{ATOM}entry") == []
    assert b"<item>" not in files["rss"] and json.loads(files["json"])["items"] == []
    return root


def test_a_vanished_topic_keeps_a_valid_empty_feed(
    corpus: Path, tmp_path: Path, write_article: WriteArticle
) -> None:
    config = make_config(corpus, tmp_path / "feeds")
    write_article("stays.txt", topics=["Energy"])
    zeta = write_article(
        "zeta.txt",
        title="Zeta story",
        topics=["Zeta"],
        webUrl="https://z.example/z",
        publishedDateTime="2026-11-20T10:00:00Z",
    )
    build(config)
    before = etree.parse(str(config.output / "topics/zeta.atom")).getroot()
    zeta.unlink()
    report = build(config)
    assert report.topics == 1
    changed = {f.path: (f.entries, f.changed) for f in report.feeds}
    assert changed["topics/zeta.atom"] == (0, True)
    root = check_empty(config.output, "topics/zeta")
    assert root.findtext(f"{ATOM}title") == before.findtext(f"{ATOM}title") == "News: Zeta"
    assert root.findtext(f"{ATOM}id") == before.findtext(f"{ATOM}id")
    assert root.findtext(f"{ATOM}updated") == "2026-11-20T10:00:00+00:00"
    for index in ("index.html", "index.opml"):
        assert b"zeta" not in (config.output / index).read_bytes().lower()
    again = build(config)
    assert not any(f.changed for f in again.feeds)


def test_prune_orphans_deletes_every_format(
    corpus: Path, tmp_path: Path, write_article: WriteArticle
) -> None:
    write_article("stays.txt", topics=["Energy"])
    zeta = write_article("zeta.txt", title="Zeta story", topics=["Zeta"], webUrl="https://z.ex/")
    build(make_config(corpus, tmp_path / "feeds"))
    zeta.unlink()
    config = make_config(corpus, tmp_path / "feeds", prune_orphans=True)
    report = build(config)
    assert report.pruned == [f"topics/zeta.{suffix}" for suffix in FORMATS]
    assert report.to_json()["pruned"] == report.pruned
    assert sorted(p.name for p in (config.output / "topics").iterdir()) == sorted(
        f"energy.{suffix}" for suffix in FORMATS
    )
    assert build(config).pruned == []


def test_an_unreadable_old_feed_is_replaced_by_a_valid_empty_one(
    corpus: Path, tmp_path: Path, write_article: WriteArticle
) -> None:
    write_article("a.txt")
    config = make_config(corpus, tmp_path / "feeds")
    (config.output / "topics").mkdir(parents=True)
    (config.output / "topics/ghost.atom").write_bytes(b"<feed><unclosed>")
    build(config)
    root = check_empty(config.output, "topics/ghost")
    assert root.findtext(f"{ATOM}title") == "News: ghost"
    assert root.findtext(f"{ATOM}updated") == "1970-01-01T00:00:00+00:00"


def test_an_emptied_all_feed_keeps_its_last_updated_time(
    corpus: Path, tmp_path: Path, write_article: WriteArticle
) -> None:
    article = write_article("a.txt", publishedDateTime="2026-11-25T07:30:00Z")
    config = make_config(corpus, tmp_path / "feeds", max_drop_ratio=1.0)
    build(config)
    article.unlink()
    write_article("draft.txt", published=False)
    report = build(config)
    assert report.articles == 0
    root = check_empty(config.output, "all")
    assert root.findtext(f"{ATOM}updated") == "2026-11-25T07:30:00+00:00"


def test_published_feeds_reads_titles_and_times(tmp_path: Path) -> None:
    assert published_feeds(tmp_path / "missing") == {}
    (tmp_path / "topics").mkdir()
    (tmp_path / "topics/a.atom").write_text(
        '<feed xmlns="http://www.w3.org/2005/Atom"><title> A </title>'
        "<updated>2026-01-02T03:04:05Z</updated></feed>"
    )
    (tmp_path / "topics/b.atom").write_text(
        '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        '<feed xmlns="http://www.w3.org/2005/Atom"><title>&e;</title>'
        "<updated>yesterday</updated></feed>"
    )
    (tmp_path / "topics/c.rss").write_text("not a feed name")
    found = published_feeds(tmp_path)
    assert list(found) == ["topics/a", "topics/b"]
    assert found["topics/a"].title == "A"
    assert found["topics/a"].updated is not None
    assert found["topics/a"].updated.isoformat() == "2026-01-02T03:04:05+00:00"
    assert found["topics/b"] == PublishedFeed(None, None)


def test_only_the_part_before_the_first_entry_is_read(tmp_path: Path) -> None:
    # Bytes that are not XML after the first entry's start: were they read, the
    # parser would fail and nothing would be known of the feed.
    head = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        "<id>x</id><title>News: A &amp; B</title><updated>2026-11-20T10:00:00Z</updated>"
        "<entry><title>first</title>"
    )
    (tmp_path / "topics").mkdir()
    (tmp_path / "topics/a.atom").write_bytes(head.encode() + b"<<<" + b"x" * 100_000)
    (tmp_path / "all.atom").write_bytes(b"<feed><unclosed>")
    assert published_feeds(tmp_path) == {
        "topics/a": PublishedFeed("News: A & B", datetime(2026, 11, 20, 10, tzinfo=UTC)),
        "all": PublishedFeed(None, None),
    }
