"""What a page says of itself (`pageinfo.inspect_page`), from its bytes alone.

Through real HTTP answers (headers, redirects, big pages) it is in test_fetch.py.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from aggregator.pageinfo import inspect_page

PAGE_URL = "https://news.example/section/story.html"


def html(head: str, body: str = "<p>Text.</p>") -> bytes:
    return f"<!doctype html><html><head>{head}</head><body>{body}</body></html>".encode()


@pytest.mark.parametrize(
    ("head", "canonical"),
    [
        ('<link rel="canonical" href="https://news.example/story">', "https://news.example/story"),
        ('<link rel="canonical" href="/story">', "https://news.example/story"),
        ('<link rel="canonical" href="other.html">', "https://news.example/section/other.html"),
        (
            '<base href="https://cdn.example/a/"><link rel="canonical" href="b">',
            "https://cdn.example/a/b",
        ),
        ('<link rel="Alternate Canonical" href="/x">', "https://news.example/x"),
        (
            '<link rel="canonical" href="/first"><link rel="canonical" href="/second">',
            "https://news.example/first",
        ),
        ('<link rel="canonical" href="javascript:alert(1)">', None),
        ('<link rel="canonical" href="ftp://news.example/story">', None),
        ('<link rel="canonical" href="/two words">', None),
        ('<link rel="canonical" href="/nul\x00byte">', None),
        # Tabs and line breaks are dropped from URLs, as browsers drop them.
        ('<link rel="canonical" href="/tab&#9;here">', "https://news.example/tabhere"),
        ('<link rel="alternate" href="/feed">', None),
        ("", None),
    ],
)
def test_the_canonical_url_is_the_heads_first_absolute_http_one(
    head: str, canonical: str | None
) -> None:
    assert inspect_page(html(head), "text/html", None, PAGE_URL)[1] == canonical


@pytest.mark.parametrize(
    "page",
    [
        html("", '<link rel="canonical" href="/late">'),
        # No </head>: the body starts where <body> does.
        b'<html><head><title>T</title><body><link rel="canonical" href="/late"></body></html>',
    ],
)
def test_a_canonical_link_in_the_body_does_not_count(page: bytes) -> None:
    assert inspect_page(page, "text/html", None, PAGE_URL) == (None, None)


def test_the_modified_date_is_read_and_made_utc() -> None:
    meta = '<meta property="article:modified_time" content="2024-03-04T10:20:30+01:00">'
    modified, _ = inspect_page(html(meta), "text/html; charset=utf-8", "utf-8", PAGE_URL)
    assert modified == datetime(2024, 3, 4, 9, 20, 30, tzinfo=UTC)


def test_a_date_in_the_page_url_or_canonical_url_is_not_a_modified_date() -> None:
    head = '<link rel="canonical" href="https://news.example/2019/02/03/story">'
    page_url = "https://news.example/2019/02/03/story"
    assert inspect_page(html(head), "text/html", None, page_url)[0] is None


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"", "text/html"),
        (html('<link rel="canonical" href="/x">'), "application/pdf"),
        (html('<link rel="canonical" href="/x">'), "image/png"),
    ],
)
def test_an_empty_or_non_html_body_says_nothing(body: bytes, content_type: str) -> None:
    assert inspect_page(body, content_type, None, PAGE_URL) == (None, None)


def test_an_unknown_charset_is_read_as_utf8() -> None:
    head = '<link rel="canonical" href="/caf\u00e9">'
    found = inspect_page(html(head), "text/html", "no-such-charset", PAGE_URL)[1]
    assert found == "https://news.example/caf\u00e9"


def test_markup_htmldate_cannot_read_gives_no_date_rather_than_an_error() -> None:
    head = '<meta property="article:modified_time" content="not a date">'
    head += '<link rel="canonical" href="/ok">'
    assert inspect_page(html(head), "text/html", None, PAGE_URL) == (
        None,
        "https://news.example/ok",
    )
