"""The plain way to build the same feeds: the second yardstick beside Hugo.

Usage::

    python benchmarks/plain_build.py CORPUS OUT

What a straightforward single-process Python script does, with no cache, no
workers and no incremental logic: read every article file, load its front matter
with PyYAML's C loader, leave drafts out, and write one RSS 2.0 feed per topic
with python-feedgen holding the newest 50 articles, as Hugo's site does (see
hugo_site.py). It merges and ranks nothing, so it does less than the aggregator;
every run is a full build.
"""

from __future__ import annotations

import argparse
import re
import sys
import zlib
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from feedgen.feed import FeedGenerator

ITEMS = 50
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_SLUG = re.compile(r"[^a-z0-9]+")


def front_matter(path: Path) -> dict[str, Any]:
    """The YAML mapping between the file's first two `---` lines."""
    text = path.read_text(encoding="utf-8")
    document = yaml.load(text.split("---\n", 2)[1], Loader=_LOADER)
    return document if isinstance(document, dict) else {}


def as_datetime(value: object) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def build(corpus: Path, out: Path) -> int:
    """Write the feeds; the number written."""
    by_topic: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for path in sorted(corpus.rglob("*.txt")):
        article = front_matter(path)
        if article.get("published") is False:
            continue
        article["publishedDateTime"] = as_datetime(article["publishedDateTime"])
        for topic in article.get("topics") or []:  # one feed per spelling, as Hugo's terms
            by_topic[_SLUG.sub("-", str(topic).lower()).strip("-") or str(topic)].append(article)
    out.mkdir(parents=True, exist_ok=True)
    for topic, articles in by_topic.items():
        newest = sorted(articles, key=lambda a: a["publishedDateTime"], reverse=True)[:ITEMS]
        feed = FeedGenerator()
        feed.title(topic)
        feed.link(href="https://example.org/", rel="alternate")
        feed.description(f"The newest articles about {topic}")
        for article in reversed(newest):  # feedgen prepends: oldest first
            entry = feed.add_entry()
            entry.title(str(article["title"]))
            entry.link(href=str(article["webUrl"]))
            entry.description(str(article.get("excerpt") or article["title"]))
            entry.pubDate(article["publishedDateTime"])
            entry.guid(str(article["webUrl"]), permalink=True)
        feed.rss_file(str(out / f"{zlib.crc32(topic.encode()):08x}.xml"), pretty=True)
    return len(by_topic)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    print(f"{build(args.corpus, args.out)} feeds written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
