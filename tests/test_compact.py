"""Packed articles: the exact same article back, in plain data only."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from hypothesis import HealthCheck, given, settings

from aggregator.compact import LAYOUT, Payload, derive, head, is_packed, pack, unpack
from aggregator.errors import SourceError
from aggregator.model import Image, Provider, Related
from aggregator.sources import (
    article_from_mapping,
    parse_payload,
    payload_from_mapping,
    read_article,
)
from tests.conftest import make_article
from tests.test_fuzz import mappings

REPO = Path(__file__).resolve().parent.parent


def test_layout_matches_the_model() -> None:
    # pack/unpack spell out these fields: change them together with model.py.
    assert LAYOUT == (
        "head(title,url,published,updated,heat,quality,draft,provider,topics);"
        "rest(excerpt,body,amp_url,cdn_amp_url,category,type,images,related) pickled;"
        "Article(source,title,url,published,updated,excerpt,body,amp_url,cdn_amp_url,"
        "category,type,heat,quality,draft,provider,topics,images,related);"
        "Related(title,url,excerpt,published,provider,quality,images);"
        "Image(url,width,height,title);Provider(name,domain)"
    )


def test_seed_articles_round_trip() -> None:
    for path in sorted((REPO / "articles").glob("*.txt")):
        article = read_article(path, max_bytes=1_000_000)
        packed = pack(article)
        assert is_packed(packed)
        assert packed[0] == head(article)
        assert unpack(article.source, packed) == article


def test_every_field_survives() -> None:
    article = make_article(
        updated=datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
        body="Body.",
        amp_url="https://a.example/amp",
        cdn_amp_url="https://a-example.cdn.ampproject.org/c/s/a.example/amp",
        category="news",
        type="video",
        draft=True,
        provider=None,
        topics=("A", "B"),
        images=(Image("https://i.example/1.jpg", 1, None, "t"),),
        related=(
            Related(
                "R",
                "https://r.example/",
                "x",
                datetime(2020, 1, 1, tzinfo=timezone(timedelta(hours=2))),
                Provider("P", "p.example"),
                3.5,
                (Image("https://i.example/2.jpg"),),
            ),
        ),
    )
    assert unpack(article.source, pack(article)) == article


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(mappings)
def test_parsed_articles_round_trip_through_pickle(mapping: dict[str, object]) -> None:
    try:
        article = article_from_mapping(mapping, "fuzz.txt")
    except SourceError:
        return
    packed = pickle.loads(pickle.dumps(pack(article), protocol=pickle.HIGHEST_PROTOCOL))
    assert unpack("fuzz.txt", packed) == article


def assert_packed_as_pack_packs(payload: Payload, source: str) -> None:
    """The parser packs an article straight from the fields it validated: exactly
    what `pack` makes of the `Article`, down to the types (an int for a float, or
    a list for a tuple, would unpack alike but cache other bytes and digests)."""
    article = unpack(source, payload[0])
    assert payload == (pack(article), derive(article))
    assert repr(payload[0][0]) == repr(pack(article)[0])
    assert payload[0][1] == pack(article)[1]  # the rest: the same pickle, byte for byte


def test_the_parser_packs_the_sample_articles_as_pack_does() -> None:
    for path in sorted((REPO / "articles").glob("*.txt")):
        assert_packed_as_pack_packs(parse_payload(path.read_bytes(), str(path)), str(path))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(mappings)
def test_the_parser_packs_any_article_as_pack_does(mapping: dict[str, object]) -> None:
    try:
        payload = payload_from_mapping(mapping, "fuzz.txt")
    except SourceError:
        return
    assert_packed_as_pack_packs(payload, "fuzz.txt")
