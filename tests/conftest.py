"""Shared builders: articles, article files and corpora on a real temporary disk."""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from aggregator.config import Config
from aggregator.model import Article, Provider

#: A fixed reference time: tests never read the clock.
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
SECRET = "c2VjcmV0LWJsb2ItdGhhdC1tdXN0LW5ldmVyLWxlYWs=;bm9wZQ=="


def make_article(**overrides: Any) -> Article:
    """An article with plausible defaults; keyword arguments replace fields."""
    base = Article(
        source="articles/test.txt",
        title="Regulators approve new battery factory",
        url="https://news.example.com/2026/11/battery-factory",
        published=NOW - timedelta(hours=3),
        excerpt="The plant will employ 2,000 people.",
        heat=50.0,
        quality=50.0,
        provider=Provider("Example News", "example.com"),
        topics=("Energy",),
    )
    return dataclasses.replace(base, **overrides)


def front_matter(**fields: Any) -> dict[str, Any]:
    """An article file's fields in the seed's shape; keyword arguments replace them."""
    fields_ = {
        "title": "Regulators approve new battery factory",
        "excerpt": "The plant will employ 2,000 people.",
        "publishedDateTime": "2026-11-26T09:00:00Z",
        "webUrl": "https://news.example.com/2026/11/battery-factory",
        "type": "article",
        "quality": 50,
        "heat": 50,
        "published": True,
        "provider": {"name": "Example News", "domain": "example.com"},
        "topics": ["Energy"],
        "images": [{"url": "https://img.example.com/a.jpg", "width": 1200, "height": 630}],
        "secured": SECRET,
    }
    fields_.update(fields)
    return {k: v for k, v in fields_.items() if v is not None}


def article_text(fields: dict[str, Any], body: str = "") -> str:
    dumped = yaml.safe_dump(fields, allow_unicode=True, sort_keys=False)
    return f"---\n{dumped}---\n{body}"


WriteArticle = Callable[..., Path]


def settle(path: Path) -> None:
    """Date the file's mtime a minute back, as if written well before the build:
    caches trust only files that have settled (see aggregator.files.SETTLE_NS).
    Each call gives another mtime, so rewrites still show."""
    mtime = time.time_ns() - 60_000_000_000
    os.utime(path, ns=(mtime, mtime))


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    directory = tmp_path / "articles"
    directory.mkdir()
    return directory


@pytest.fixture
def write_article(corpus: Path) -> WriteArticle:
    """write_article(name, **fields) writes an article file into the corpus (settled)."""

    def write(name: str, body: str = "", **fields: Any) -> Path:
        path = corpus / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(article_text(front_matter(**fields), body), encoding="utf-8")
        settle(path)
        return path

    return write


def feed_bytes(config: Config) -> dict[str, bytes]:
    """Every file of the output of a build with `config`, by its relative path."""
    return {
        path.relative_to(config.output).as_posix(): path.read_bytes()
        for path in config.output.rglob("*")
        if path.is_file()
    }
