"""feed.xsl: the page a browser shows for a feed, checked with lxml's XSLT 1.0."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
from lxml import etree

from tests.conftest import WriteArticle
from tests.publishing import build, make_config, write_hostile_corpus
from tests.test_pages import Page

TRANSFORM = etree.XSLT(
    etree.fromstring(resources.files("aggregator").joinpath("assets", "feed.xsl").read_bytes())
)


@pytest.fixture
def output(corpus: Path, tmp_path: Path, write_article: WriteArticle) -> Path:
    write_hostile_corpus(write_article)
    config = make_config(corpus, tmp_path / "feeds")
    build(config)
    return config.output


@pytest.mark.parametrize("name", ["all.atom", "all.rss"])
def test_entries_show_as_text_never_as_markup(output: Path, name: str) -> None:
    html = str(TRANSFORM(etree.parse(str(output / name))))
    page = Page(html)
    assert {tag for tag, _ in page.tags} <= {
        "html", "head", "meta", "title", "style", "body", "header", "p", "a", "h1", "h2",
        "main", "article", "time",
    }  # fmt: skip
    text = "".join(page.text)
    assert "<script>alert(1)</script> & <b>bold</b>" in text
    assert '<img src=x onerror="alert(1)"> AT&T ]]> <![CDATA[ x ]]>' in text  # the excerpt
    links = [a["href"] for a in page.all("a")]
    assert "https://smith.example/a?x=1&y=2" in links
    assert len(page.all("article")) == 3


def test_an_empty_feed_says_so() -> None:
    feed = etree.fromstring(b'<feed xmlns="http://www.w3.org/2005/Atom"><title>T</title></feed>')
    assert "No stories at the moment." in str(TRANSFORM(feed))
