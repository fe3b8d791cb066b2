"""Any bytes, any mapping: the reader returns an article or a rejection, nothing else."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aggregator.errors import SourceError
from aggregator.model import Article
from aggregator.sources import article_from_mapping, parse_article
from aggregator.text import is_http_url, xml_safe
from tests.conftest import article_text, front_matter

FIELDS = [
    "title", "excerpt", "publishedDateTime", "updatedDateTime", "webUrl", "ampWebUrl",
    "cdnAmpWebUrl", "category", "type", "quality", "heat", "published", "provider",
    "topics", "images", "related", "secured",
]  # fmt: skip

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.datetimes(timezones=st.none() | st.just(UTC)),
    st.sampled_from(["https://ok.example/a", "javascript:alert(1)", "data:,x", "2026-01-01"]),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from([*FIELDS, "url", "name", "width"]), inner, max_size=4)
    ),
    max_leaves=12,
)
mappings = st.dictionaries(st.sampled_from(FIELDS), values, max_size=12)


def assert_sound(article: Article) -> None:
    """What every later stage relies on."""
    assert article.title and "\n" not in article.title
    assert is_http_url(article.url)
    assert article.published.tzinfo is not None
    assert math.isfinite(article.heat) and math.isfinite(article.quality)
    for text in (article.title, article.excerpt, article.body, *article.topics):
        assert xml_safe(text) == text
    for url in (article.amp_url, article.cdn_amp_url, *(i.url for i in article.images)):
        assert url is None or is_http_url(url)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600))
def test_arbitrary_bytes(data: bytes) -> None:
    try:
        assert_sound(parse_article(data, "fuzz.txt"))
    except SourceError as error:
        assert error.where == "fuzz.txt" and error.reason


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_arbitrary_bytes_inside_front_matter(noise: bytes) -> None:
    data = b"---\ntitle: t\nwebUrl: https://x.example/\n" + noise + b"\n---\n"
    try:
        assert_sound(parse_article(data, "fuzz.txt"))
    except SourceError as error:
        assert error.reason


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(mappings)
def test_arbitrary_mappings(mapping: dict[str, object]) -> None:
    try:
        assert_sound(article_from_mapping(mapping, "fuzz.txt"))
    except SourceError as error:
        assert error.where == "fuzz.txt" and error.reason


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(FIELDS), values, max_size=6))
def test_arbitrary_fields_over_a_valid_article_round_trip_through_yaml(
    extra: dict[str, object],
) -> None:
    fields = front_matter(**extra)
    try:
        text = article_text(fields)
    except yaml.YAMLError:
        return  # not representable as YAML: nothing to read
    try:
        article = parse_article(text.encode("utf-8"), "fuzz.txt")
    except SourceError as error:
        assert error.reason
        return
    assert_sound(article)
    assert article.published <= datetime.max.replace(tzinfo=UTC)
