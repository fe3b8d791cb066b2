"""Shared helpers for the publishing tests: a config, a build, the feeds of an output."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

from aggregator.build import BuildOptions, run_build
from aggregator.config import Config, MergeConfig, PublishConfig, RankConfig, SiteConfig
from aggregator.feedspec import FeedSpec
from aggregator.merge import merge_stories
from aggregator.model import BuildReport
from tests.conftest import NOW, WriteArticle, make_article

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "articles"
BASE = "http://localhost:8000/"


def make_config(
    sources: Path, output: Path, base_url: str = "http://localhost:8000/", **publish: object
) -> Config:
    return dataclasses.replace(
        Config(),
        sources=(sources,),
        output=output,
        state_dir=output.parent / "state",
        site=dataclasses.replace(SiteConfig(), base_url=base_url),
        publish=dataclasses.replace(PublishConfig(), **publish),  # type: ignore[arg-type]
    )


def build(config: Config) -> BuildReport:
    return run_build(config, BuildOptions(), clock=NOW)


def feed_files(output: Path) -> list[Path]:
    """Every feed file in the output, in a stable order."""
    return sorted(p for p in output.rglob("*") if p.suffix in (".atom", ".rss", ".json"))


def url_of(path: Path, output: Path, base_url: str) -> str:
    return base_url + path.relative_to(output).as_posix()


def write_hostile_corpus(write_article: WriteArticle) -> None:
    """Articles whose text tries every way of breaking XML, HTML and JSON."""
    write_article(
        "markup.txt",
        title="<script>alert(1)</script> & <b>bold</b> \"quoted\" 'single'",
        excerpt='<img src=x onerror="alert(1)"> AT&T ]]> <![CDATA[ x ]]>',
        topics=["<Tech & Co>", "Ünïcödé"],
        provider={"name": "Smith & Sons <Media>", "domain": "smith.example"},
        webUrl="https://smith.example/a?x=1&y=2",
    )
    write_article(
        "control.txt",
        title="Control\x01 characters\x0b vanish \u202e reversed",
        excerpt="Tab\tand\x1b escape \ufffe end",
        webUrl="https://control.example/c",
        publishedDateTime="2026-11-26T08:00:00Z",
        images=[{"url": "https://img.example.com/no-size.jpg"}],
        related=[
            {"title": 'Related "coverage" <i>here</i>', "webUrl": "https://rel.example/r?a=1&b=2"}
        ],
    )
    write_article(
        "emoji.txt",
        title="🚀 Launch day — «quotes» and 日本語",
        excerpt="",
        webUrl="https://emoji.example/e",
        publishedDateTime="2026-11-25T23:59:59Z",
        provider=None,
        topics=["Space"],
    )


def spec(**overrides: object) -> FeedSpec:
    """A topic feed of two stories, the newer one ranked second; keywords replace fields."""
    articles = [
        make_article(),
        make_article(
            title="Second story about the harbour",
            url="https://two.example/harbour",
            topics=("Energy", "Ports"),
            published=NOW - timedelta(hours=1),
            heat=1.0,
        ),
    ]
    stories = merge_stories(articles, MergeConfig(), RankConfig(), NOW)
    base = FeedSpec(
        id=f"{BASE}topics/energy",
        name="Energy",
        title="News: Energy",
        subtitle="Energy stories",
        url_stem=f"{BASE}topics/energy",
        site_url=f"{BASE}index.html",
        language="en",
        author="News aggregator",
        stories=tuple(stories),
        topic_names={"energy": "Energy", "ports": "Ports"},
    )
    return dataclasses.replace(base, **overrides)  # type: ignore[arg-type]
