"""URL identity (`canonical_url`), the link to publish (`clean_url`) and AMP detection."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from aggregator.merge import article_keys
from aggregator.urls import (
    TRACKING_PARAMS,
    TRACKING_PREFIXES,
    canonical_url,
    clean_url,
    is_amp_url,
    link_penalty,
)
from tests.conftest import make_article

PAGE = "https://example.com/news/story"

# Each row: a variant, and the plain URL it must be the same page as.
SAME_PAGE = [
    # scheme and host case
    ("HTTPS://EXAMPLE.COM/news/story", PAGE),
    ("https://Example.Com/news/story", PAGE),
    # http versus https
    ("http://example.com/news/story", PAGE),
    # a leading www.
    ("https://www.example.com/news/story", PAGE),
    ("http://WWW.example.com/news/story", PAGE),
    # default ports
    ("https://example.com:443/news/story", PAGE),
    ("http://example.com:80/news/story", PAGE),
    # a trailing dot on the host (the fully qualified form)
    ("https://example.com./news/story", PAGE),
    # fragments
    ("https://example.com/news/story#comments", PAGE),
    ("https://example.com/news/story#", PAGE),
    # trailing slash
    ("https://example.com/news/story/", PAGE),
    ("https://example.com/news/story//", PAGE),
    # surrounding whitespace
    ("  https://example.com/news/story\n", PAGE),
    # AMP: path suffix, host, parameters
    ("https://example.com/news/story/amp", PAGE),
    ("https://example.com/news/story/amp/", PAGE),
    ("https://amp.example.com/news/story", PAGE),
    ("https://example.com/news/story?outputType=amp", PAGE),
    ("https://example.com/news/story?outputtype=AMP", PAGE),
    ("https://example.com/news/story?amp=1", PAGE),
    ("https://example.com/news/story?amp", PAGE),
    ("https://example.com/news/story?amp=true", PAGE),
    # AMP cache: /c/s/ for an https original, /c/ for http, /v/ viewer form
    ("https://example-com.cdn.ampproject.org/c/s/example.com/news/story", PAGE),
    ("https://www-example-com.cdn.ampproject.org/c/s/www.example.com/news/story/amp", PAGE),
    ("https://example-com.cdn.ampproject.org/c/example.com/news/story", PAGE),
    ("https://example-com.cdn.ampproject.org/v/s/example.com/news/story?amp=1", PAGE),
    # several rules at once
    ("HTTP://WWW.Example.com:80/news/story/amp/?utm_source=x&fbclid=y#top", PAGE),
]


@pytest.mark.parametrize(("variant", "plain"), SAME_PAGE)
def test_variants_of_one_page_share_a_canonical_url(variant: str, plain: str) -> None:
    assert canonical_url(variant) == canonical_url(plain)


#: The tracking parameters the issue names, and a few more of the documented list.
NAMED_TRACKING = [
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "UTM_Source",
    "fbclid",
    "gclid",
    "mc_cid",
    "mc_eid",
    "ref",
    "cmpid",
    "msclkid",
    "igshid",
    "ocid",
    "smid",
    "_ga",
]


@pytest.mark.parametrize("name", NAMED_TRACKING)
def test_each_named_tracking_parameter_is_ignored(name: str) -> None:
    assert canonical_url(f"{PAGE}?{name}=abc") == canonical_url(PAGE)
    assert canonical_url(f"{PAGE}?id=7&{name}=abc") == canonical_url(f"{PAGE}?id=7")


@pytest.mark.parametrize("name", sorted(TRACKING_PARAMS))
def test_every_listed_tracking_parameter_is_ignored(name: str) -> None:
    assert canonical_url(f"{PAGE}?{name}=1&page=2") == canonical_url(f"{PAGE}?page=2")
    assert clean_url(f"{PAGE}?{name}=1&page=2") == f"{PAGE}?page=2"


@pytest.mark.parametrize("prefix", TRACKING_PREFIXES)
def test_every_tracking_prefix_is_ignored(prefix: str) -> None:
    assert canonical_url(f"{PAGE}?{prefix}anything=1") == canonical_url(PAGE)


def test_the_documented_list_holds_the_parameters_the_issue_names() -> None:
    for name in ("fbclid", "gclid", "mc_cid", "mc_eid", "ref", "cmpid"):
        assert name in TRACKING_PARAMS
    assert "utm_" in TRACKING_PREFIXES


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (f"{PAGE}?b=2&a=1", f"{PAGE}?a=1&b=2"),
        (f"{PAGE}?a=1&utm_source=x&b=2", f"{PAGE}?b=2&a=1"),
        (f"{PAGE}?q=a%20b", f"{PAGE}?q=a+b"),
    ],
)
def test_parameter_order_and_encoding_do_not_matter(a: str, b: str) -> None:
    assert canonical_url(a) == canonical_url(b)


# Each row: two URLs of different pages, which must stay different.
DIFFERENT_PAGES = [
    ("https://example.com/news/story", "https://example.com/news/other-story"),
    ("https://example.com/news/story", "https://example.com/sport/story"),
    ("https://example.com/news/story", "https://example.org/news/story"),
    ("https://example.com/news/story", "https://news.example.com/news/story"),
    ("https://example.com/news/story", "https://example.com:8080/news/story"),
    ("https://example.com/News/Story", "https://example.com/news/story"),
    ("https://example.com/article?id=1", "https://example.com/article?id=2"),
    ("https://example.com/article?id=1", "https://example.com/article"),
    ("https://example.com/search?q=amp", "https://example.com/search"),
    ("https://example.com/story?page=2", "https://example.com/story?page=3"),
    ("https://example.com/news/camp", "https://example.com/news/c"),
    ("https://example.com/news/amp-story", "https://example.com/news"),
    ("https://example.com/news/story?amp=0", "https://example.com/news/story"),
    ("https://example.com/news/story?amp=1", "https://example.com/news/other?amp=1"),
    ("https://ampere.example.com/news/story", "https://example.com/news/story"),
    (
        "https://example-com.cdn.ampproject.org/c/s/example.com/a",
        "https://example-com.cdn.ampproject.org/c/s/example.com/b",
    ),
]


@pytest.mark.parametrize(("a", "b"), DIFFERENT_PAGES)
def test_different_pages_keep_different_canonical_urls(a: str, b: str) -> None:
    assert canonical_url(a) != canonical_url(b)


def test_canonical_url_is_idempotent() -> None:
    for variant, _ in SAME_PAGE:
        once = canonical_url(variant)
        assert canonical_url(once) == once


def test_a_url_python_cannot_parse_is_its_own_identity() -> None:
    broken = "https://[not-an-ip/path"
    assert canonical_url(broken) == broken
    assert clean_url(broken) == broken
    assert not is_amp_url(broken)


# article_keys: every URL an article file names --------------------------------


def test_article_keys_fold_the_amp_fields_into_the_page() -> None:
    article = make_article(
        url="https://www.mic.com/p/story-1",
        amp_url="https://www.mic.com/p/story-1/amp",
        cdn_amp_url="https://www-mic-com.cdn.ampproject.org/c/s/www.mic.com/p/story-1/amp",
    )
    assert article_keys(article) == {canonical_url("https://mic.com/p/story-1")}


def test_article_keys_name_an_amp_url_that_is_not_a_variant_of_the_page() -> None:
    article = make_article(
        url="https://example.com/story",
        amp_url="https://example.com/amp/story-123",
        cdn_amp_url=None,
    )
    assert article_keys(article) == {
        canonical_url("https://example.com/story"),
        canonical_url("https://example.com/amp/story-123"),
    }


def test_article_keys_of_an_article_without_amp_fields() -> None:
    article = make_article(url="https://example.com/story?utm_source=rss")
    assert article_keys(article) == {canonical_url("https://example.com/story")}


# clean_url: the link to publish -------------------------------------------------


@pytest.mark.parametrize(
    ("url", "clean"),
    [
        (f"{PAGE}?utm_source=rss&utm_medium=feed", PAGE),
        (f"{PAGE}?id=7&fbclid=abc", f"{PAGE}?id=7"),
        (f"{PAGE}#comments", PAGE),
        # a query without tracking is kept byte for byte, encoding and order included
        (f"{PAGE}?b=2&a=%20x", f"{PAGE}?b=2&a=%20x"),
        # host case, www., port, trailing slash and AMP markers are kept
        ("http://WWW.Example.com:8080/story/", "http://WWW.Example.com:8080/story/"),
        (f"{PAGE}/amp", f"{PAGE}/amp"),
        (f"{PAGE}?amp=1&gclid=x", f"{PAGE}?amp=1"),
        (
            "https://example-com.cdn.ampproject.org/c/s/example.com/story",
            "https://example-com.cdn.ampproject.org/c/s/example.com/story",
        ),
    ],
)
def test_clean_url_drops_tracking_and_fragment_only(url: str, clean: str) -> None:
    assert clean_url(url) == clean
    assert clean_url(clean) == clean
    assert canonical_url(clean) == canonical_url(url)


# is_amp_url and link_penalty ----------------------------------------------------


@pytest.mark.parametrize(
    ("url", "amp"),
    [
        (f"{PAGE}/amp", True),
        (f"{PAGE}/amp/", True),
        ("https://amp.example.com/story", True),
        ("https://example-com.cdn.ampproject.org/c/s/example.com/story", True),
        (f"{PAGE}?outputType=amp", True),
        (f"{PAGE}?amp=1", True),
        (f"{PAGE}?amp", True),
        (PAGE, False),
        (f"{PAGE}?amp=0", False),
        ("https://example.com/news/camp", False),
        ("https://ampere.example.com/story", False),
        (f"{PAGE}?utm_source=amp", False),
    ],
)
def test_is_amp_url(url: str, amp: bool) -> None:
    assert is_amp_url(url) is amp


def test_link_penalty_prefers_a_plain_link_over_tracking_over_amp() -> None:
    plain = link_penalty(PAGE)
    tracked = link_penalty(f"{PAGE}?utm_source=x")
    amp = link_penalty(f"{PAGE}/amp")
    assert plain == (False, False)
    assert tracked == (False, True)
    assert amp == (True, False)
    assert sorted([amp, tracked, plain]) == [plain, tracked, amp]


def test_a_fragment_alone_is_penalised_as_a_link_that_is_not_clean() -> None:
    assert link_penalty(f"{PAGE}#top") == (False, True)


def test_a_content_id_parameter_named_cid_keeps_pages_apart() -> None:
    # Many news sites address articles as ...?cid=<article>: folding cid away
    # merged every article of such a site into one story and linked to the wrong page.
    first, second = "https://example.com/view.php?cid=101", "https://example.com/view.php?cid=102"
    assert canonical_url(first) != canonical_url(second)
    assert clean_url(first) == first


@pytest.mark.parametrize(
    "viewer_query", ["amp_js_v=0.1", "usqp=mq331AQFKAGwASA%3D", "amp_js_v=a6&amp_gsa=1&usqp=mq3"]
)
def test_amp_viewer_parameters_on_a_cache_url_are_ignored(viewer_query: str) -> None:
    cached = f"https://example-com.cdn.ampproject.org/c/s/example.com/news/story?{viewer_query}"
    assert canonical_url(cached) == canonical_url(PAGE)


# canonical_url and clean_url read links of the common shape without urlsplit: same results.

PLAIN_SHAPED = st.builds(
    "{}://{}{}".format,
    st.sampled_from(["http", "https", "HTTP", "HTTPS"]),
    st.from_regex(r"[A-Za-z0-9.-]{1,24}", fullmatch=True)
    | st.sampled_from([".", "..", "www.", "amp.", "WWW.amp.", "a-b.cdn.ampproject.org"]),
    st.from_regex(r"(/[^?#\s]{0,40}){0,3}", fullmatch=True)
    | st.sampled_from(["", "/", "//", "//x", "/amp", "/c/s/example.com/a", "/%7E"]),
)


@settings(max_examples=300, deadline=None)
@given(PLAIN_SHAPED)
@example("https://.//x")
def test_the_fast_reading_of_plain_links_agrees_with_urlsplit(url: str) -> None:
    # A "#" sends the same link through urlsplit, and an empty fragment changes nothing.
    assert canonical_url(url) == canonical_url(url + "#")
    assert clean_url(url) == clean_url(url + "#")
