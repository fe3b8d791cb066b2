"""Atom and RSS: the rules of RFC 4287, RSS 2.0 and the RSS Board, checked on real builds."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest
from lxml import etree

from aggregator import emit
from aggregator.emit import (
    atom_document,
    atom_entries,
    render_atom,
    render_rss,
    rss_document,
    rss_entries,
)
from aggregator.feedspec import Entries, FeedSpec
from aggregator.jsonfeed import json_document, json_entries, render_json
from aggregator.model import Image
from tests.conftest import WriteArticle
from tests.feedcheck import ATOM, check_atom, check_json_feed, check_rss
from tests.publishing import (
    BASE,
    SAMPLE,
    build,
    feed_files,
    make_config,
    spec,
    url_of,
    write_hostile_corpus,
)

ENTRIES = "//*[local-name()='entry' or local-name()='item']"
JSON_LAYOUT: dict[str, object] = {"ensure_ascii": False, "separators": (",", ":")}


def check_output(output: Path, base: str = BASE) -> None:
    files = feed_files(output)
    assert files
    for path in files:
        data = path.read_bytes()
        url = url_of(path, output, base)
        if path.suffix == ".atom":
            problems = check_atom(data, url)
        elif path.suffix == ".rss":
            problems = check_rss(data, url, base + "index.html")
        else:
            problems = check_json_feed(data, url)
        assert problems == [], (path.name, problems)
        if path.suffix != ".json":  # no feedparser release reads JSON Feed yet
            parsed = feedparser.parse(data)
            assert not parsed.bozo, (path.name, parsed.get("bozo_exception"))
            assert len(parsed.entries) == len(etree.fromstring(data).xpath(ENTRIES))


def test_sample_corpus_feeds_are_valid(tmp_path: Path) -> None:
    config = make_config(SAMPLE, tmp_path / "feeds")
    report = build(config)
    assert report.articles > 20
    check_output(config.output)


def test_hostile_text_gives_valid_feeds(
    corpus: Path, tmp_path: Path, write_article: WriteArticle
) -> None:
    write_hostile_corpus(write_article)
    config = make_config(corpus, tmp_path / "feeds")
    report = build(config)
    assert (report.articles, report.rejected) == (3, [])
    check_output(config.output)


def test_markup_stays_text_and_forbidden_characters_go(
    corpus: Path, tmp_path: Path, write_article: WriteArticle
) -> None:
    write_hostile_corpus(write_article)
    config = make_config(corpus, tmp_path / "feeds")
    build(config)
    atom = etree.parse(str(config.output / "all.atom")).getroot()
    titles = [e.findtext(f"{ATOM}title") for e in atom.iter(f"{ATOM}entry")]
    assert "<script>alert(1)</script> & <b>bold</b> \"quoted\" 'single'" in titles
    assert "Control characters vanish \u202e reversed" in titles
    rss = etree.parse(str(config.output / "all.rss")).getroot()
    assert sorted(rss.xpath("//item/title/text()")) == sorted(titles)
    xml = b"".join(p.read_bytes() for p in feed_files(config.output) if p.suffix != ".json")
    assert b"<script" not in xml and b"<b>" not in xml
    raw = b"".join(p.read_bytes() for p in feed_files(config.output))
    assert b"\x01" not in raw and b"\x0b" not in raw and b"\\u0001" not in raw


def test_atom_entries_have_one_alternate_link_with_rel_and_type() -> None:
    root = etree.fromstring(render_atom(spec()))
    for entry in root.iter(f"{ATOM}entry"):
        links = entry.findall(f"{ATOM}link")
        assert [(x.get("rel"), x.get("type")) for x in links] == [("alternate", "text/html")]


def test_rss_channel_links_to_the_site_and_itself() -> None:
    root = etree.fromstring(render_rss(spec()))
    channel = root.find("channel")
    assert channel.findtext("link") == f"{BASE}index.html"
    assert [(x.get("rel"), x.get("href")) for x in channel.findall(f"{ATOM}link")] == [
        ("self", f"{BASE}topics/energy.rss")
    ]
    for item in channel.iter("item"):
        assert item.find("guid").get("isPermaLink") == "false"
        assert item.findtext("{http://purl.org/dc/elements/1.1/}creator") == "Example News"


def test_hub_is_advertised_in_atom_and_rss() -> None:
    hub = "https://hub.example/websub"
    atom = etree.fromstring(render_atom(spec(hub_url=hub)))
    assert [x.get("href") for x in atom.findall(f"{ATOM}link[@rel='hub']")] == [hub]
    rss = etree.fromstring(render_rss(spec(hub_url=hub)))
    assert [x.get("href") for x in rss.findall(f"channel/{ATOM}link[@rel='hub']")] == [hub]
    assert not etree.fromstring(render_rss(spec())).findall(f"channel/{ATOM}link[@rel='hub']")


@pytest.mark.parametrize("render", [render_atom, render_rss])
def test_stylesheet_instruction_comes_before_the_root(render: object) -> None:
    data = render(spec(stylesheet_url="/news/feed.xsl"))  # type: ignore[operator]
    lines = data.splitlines()
    assert lines[0].startswith(b"<?xml version=")
    assert lines[1] == b'<?xml-stylesheet type="text/xsl" href="/news/feed.xsl"?>'
    tree = etree.fromstring(data).getroottree()
    assert tree.getroot().getprevious().target == "xml-stylesheet"
    assert b"xml-stylesheet" not in render(spec())  # type: ignore[operator]


def test_atom_and_rss_of_one_generator_in_any_order_are_the_bytes_of_each_alone() -> None:
    feed = spec(hub_url="https://hub.example/websub", stylesheet_url="/feed.xsl")
    alone = {render: render(feed) for render in (render_atom, render_rss)}
    entries = Entries()  # one generator for the feed, whichever format asks first
    for render in (render_rss, render_atom, render_atom, render_rss, render_atom):
        assert render(feed, entries) == alone[render]


def whole_feeds() -> list[FeedSpec]:
    """Feeds of every shape the layout of feedgen's documents depends on."""
    hub = "https://hub.example/websub"
    hostile = spec().stories[0]
    lead = dataclasses.replace(
        hostile.lead,
        title="<entry> & </item>\n    <item>",
        excerpt="]]> <![CDATA[ \n  <entry>\n</feed>",
        images=(Image("https://img.example/a.jpg", 10, 20, "<img>"),),
    )
    strange = dataclasses.replace(hostile, lead=lead)
    return [
        spec(),
        spec(hub_url=hub, stylesheet_url="/feed.xsl"),
        spec(stories=(strange, *spec().stories[1:]), hub_url=hub),
        spec(stories=spec().stories[:1]),
        spec(stories=(), updated_if_empty=datetime(2026, 5, 4, tzinfo=UTC)),
    ]


@pytest.mark.parametrize("feed", whole_feeds())
def test_a_feed_of_its_entries_is_the_document_feedgen_writes_of_it_whole(
    feed: FeedSpec,
) -> None:
    whole = emit._Feed(feed, Entries())  # every entry added to one generator, as feedgen is used
    assert render_atom(feed) == whole.atom()
    assert render_rss(feed) == whole.rss()
    document = render_json(feed)
    assert document == json.dumps(json.loads(document), **JSON_LAYOUT).encode() + b"\n"
    assert [item["id"] for item in json.loads(document)["items"]] == [s.id for s in feed.stories]


def test_a_story_has_the_same_entry_in_a_feed_of_other_stories() -> None:
    mixed = whole_feeds()[2]
    for entries, document in (
        (atom_entries, atom_document),
        (rss_entries, rss_document),
        (json_entries, json_document),
    ):
        together = entries(mixed, Entries())
        apart = [entries(spec(stories=(story,)), Entries())[0] for story in mixed.stories]
        assert together == apart
        assert document(mixed, apart) == document(mixed, together)


def test_empty_feed_is_valid_and_keeps_its_updated_time() -> None:
    kept = datetime(2026, 5, 4, 3, 2, 1, tzinfo=UTC)
    empty = spec(stories=(), updated_if_empty=kept)
    atom = render_atom(empty)
    assert check_atom(atom, f"{BASE}topics/energy.atom") == []
    assert etree.fromstring(atom).findtext(f"{ATOM}updated") == "2026-05-04T03:02:01+00:00"
    rss = render_rss(empty)
    assert check_rss(rss, f"{BASE}topics/energy.rss", f"{BASE}index.html") == []
    assert b"<lastBuildDate>Mon, 04 May 2026 03:02:01 +0000</lastBuildDate>" in rss
    assert not feedparser.parse(atom).bozo and not feedparser.parse(rss).bozo


def test_rendering_is_a_function_of_the_spec() -> None:
    for render in (render_atom, render_rss):
        assert render(spec()) == render(spec())
        assert render(spec()) != render(spec(title="Other"))


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        (b' rel="self"', b' rel="related"', "rel=self"),
        (
            b' rel="alternate" type="text/html"/>\n',
            b'/>\n    <link href="https://x.example/"/>\n',
            "two alternate",
        ),
        (b'<link href="https://two.example', b'<link href="/two.example', "not absolute"),
        (b"<updated>2026", b"<updated>26", "RFC 3339"),
        (
            b"<title>News: Energy</title>",
            b"<title>A</title><title>B</title>",
            "<{http://www.w3.org/2005/Atom}title>",
        ),
    ],
)
def test_the_atom_checker_catches_faults(old: bytes, new: bytes, problem: str) -> None:
    data = render_atom(spec())
    assert old in data
    problems = check_atom(data.replace(old, new, 1), f"{BASE}topics/energy.atom")
    assert any(problem in p for p in problems), problems


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        (b"<link>http://localhost:8000/index.html", b"<link>http://localhost:8000/x.rss", "site"),
        (b' isPermaLink="false"', b' isPermaLink="true"', "permalink guid"),
        (b"<pubDate>Thu, 26 Nov 2026 09:00:00 +0000", b"<pubDate>2026-11-26T09:00:00Z", "RFC 822"),
        (b"<pubDate>Thu, 26 Nov", b"<pubDate>Fri, 26 Nov", "RFC 822"),
        (b"<description>The plant", b"<description>&lt;b&gt;The plant", "markup"),
    ],
)
def test_the_rss_checker_catches_faults(old: bytes, new: bytes, problem: str) -> None:
    data = render_rss(spec())
    assert old in data
    problems = check_rss(data.replace(old, new, 1), f"{BASE}topics/energy.rss", f"{BASE}index.html")
    assert any(problem in p for p in problems), problems


def test_entries_are_never_cut_from_a_document_of_another_layout() -> None:
    two = render_atom(spec())
    assert len(emit._cut(two, b"  <entry>", b"</feed>\n", 2)) == 2
    with pytest.raises(ValueError, match="2 entries found"):
        emit._cut(two, b"  <entry>", b"</feed>\n", 3)
    with pytest.raises(ValueError, match="not laid out"):
        emit._cut(two.replace(b"  <entry>", b"<entry>"), b"  <entry>", b"</feed>\n", 2)
    with pytest.raises(ValueError, match="not laid out"):
        emit._insert(two + b"<!-- after -->", b"</feed>\n", [])
