"""index.opml and index.html: every feed listed, every text escaped, no clock."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from lxml import etree

from aggregator.feedspec import FeedSpec
from aggregator.pages import render_index, render_opml
from tests.conftest import WriteArticle
from tests.feedcheck import is_http_url, is_rfc822
from tests.publishing import BASE, SAMPLE, build, make_config, spec, write_hostile_corpus


def listed(*specs: FeedSpec) -> list[tuple[str, FeedSpec]]:
    return [(spec.url_stem.removeprefix(BASE), spec) for spec in specs]


FEEDS = listed(
    spec(id=f"{BASE}all", name="All stories", title="News: All stories", url_stem=f"{BASE}all"),
    spec(),
)


def test_opml_lists_every_feed_with_the_required_attributes() -> None:
    root = etree.fromstring(render_opml("News & Views", FEEDS))
    assert root.tag == "opml" and root.get("version") == "2.0"
    assert root.findtext("head/title") == "News & Views"
    created = root.findtext("head/dateCreated")
    assert is_rfc822(created) and created == "Thu, 26 Nov 2026 11:00:00 +0000"
    outlines = root.findall("body/outline")
    assert [o.get("xmlUrl") for o in outlines] == [f"{BASE}all.atom", f"{BASE}topics/energy.atom"]
    for outline in outlines:
        assert outline.get("type") == "rss"
        assert outline.get("text") and outline.get("title") == outline.get("text")
        assert is_http_url(outline.get("htmlUrl")) and is_http_url(outline.get("xmlUrl"))


def test_opml_of_empty_feeds_has_no_date() -> None:
    root = etree.fromstring(render_opml("News", listed(spec(stories=()))))
    assert root.find("head/dateCreated") is None


class Page(HTMLParser):
    """What a test needs from an HTML page: elements, links, text."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]

    @property
    def hrefs(self) -> list[str]:
        return [a["href"] or "" for a in self.all("a")]


def test_index_page_shows_every_feed_count_headline_and_formats() -> None:
    page = Page(render_index("News", "en", FEEDS, lambda story: story).decode())
    text = " ".join(page.text)
    assert page.all("html") == [{"lang": "en"}]
    assert not page.all("script") and "javascript:" not in " ".join(page.hrefs)
    assert [s["id"] for s in page.all("section")] == ["all", "topics-energy"]
    assert text.count("2 articles") == 2
    assert "Second story about the harbour" in text  # the newest headline, not the top one
    for stem in ("all", "topics/energy"):
        assert [f"{stem}.{s}" for s in ("atom", "rss", "json")] == [
            h for h in page.hrefs if h.startswith(f"{stem}.")
        ]
    assert "index.opml" in page.hrefs
    discovery = [(x["type"], x["href"]) for x in page.all("link") if x.get("rel") == "alternate"]
    assert discovery == [
        ("application/atom+xml", "all.atom"),
        ("application/rss+xml", "all.rss"),
        ("application/feed+json", "all.json"),
    ]
    assert page.all("meta")[1]["name"] == "viewport"


def test_index_page_escapes_every_text(
    corpus: Path, tmp_path: Path, write_article: WriteArticle
) -> None:
    write_hostile_corpus(write_article)
    config = make_config(corpus, tmp_path / "feeds")
    build(config)
    html = (config.output / "index.html").read_text(encoding="utf-8")
    page = Page(html)
    assert not page.all("script") and not page.all("img") and not page.all("b")
    assert "<script>alert(1)</script> & <b>bold</b>" in "".join(page.text)
    assert "<Tech & Co>" in page.text
    assert "&lt;Tech &amp; Co&gt;" in html
    opml = etree.parse(str(config.output / "index.opml")).getroot()
    assert "News: <Tech & Co>" in [o.get("title") for o in opml.iter("outline")]


def test_index_files_list_the_built_feeds_and_nothing_else(tmp_path: Path) -> None:
    config = make_config(SAMPLE, tmp_path / "feeds")
    report = build(config)
    atoms = sorted(f.path for f in report.feeds if f.path.endswith(".atom"))
    opml = etree.parse(str(config.output / "index.opml")).getroot()
    assert sorted(o.get("xmlUrl").removeprefix(BASE) for o in opml.iter("outline")) == atoms
    html = (config.output / "index.html").read_text(encoding="utf-8")
    hrefs = Page(html).hrefs
    local = sorted(h for h in hrefs if not re.match(r"https?://", h))
    expected = sorted([*(f.path for f in report.feeds), "index.opml"])
    assert local == expected
    assert all((config.output / h).is_file() for h in local)
