"""Packed articles: the exact same article back, in plain data only."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from hypothesis import HealthCheck, given, settings

from aggregator.compact import LAYOUT, head, is_packed, pack, unpack
from aggregator.errors import SourceError
from aggregator.model import Image, Provider, Related
from aggregator.sources import article_from_mapping, read_article
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
