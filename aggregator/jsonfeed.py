"""JSON Feed 1.1 (https://jsonfeed.org/version/1.1) from a `FeedSpec`. Pure.

The document carries the same stories, ids, links and times as the Atom and RSS
feeds of the spec. Keys come out in a fixed order and the bytes end with a
newline, so equal specs give equal bytes. Like the other formats, a feed is
rendered as its items and the document around them (see `emit`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from aggregator.feedspec import Entries, FeedSpec, story_tags
from aggregator.model import Ranked, Story

VERSION = "https://jsonfeed.org/version/1.1"


def render_json(spec: FeedSpec[Story], entries: Entries | None = None) -> bytes:
    """The feed as a JSON Feed 1.1 document, UTF-8, whole; `entries` may hold its
    stories' entries already."""
    return json_document(spec, json_entries(spec, Entries() if entries is None else entries))


def json_entries(spec: FeedSpec[Story], entries: Entries) -> list[bytes]:
    """Each of the spec's stories as an item of `json_document`."""
    return [_encode(_item(story, spec, entries)) for story in spec.stories]


def json_document(spec: FeedSpec[Ranked], items: Sequence[bytes]) -> bytes:
    """The spec's JSON Feed holding `items`, the `json_entries` of its stories: the
    bytes `json.dumps` gives for the whole document, items last."""
    document: dict[str, Any] = {
        "version": VERSION,
        "title": spec.title,
        "home_page_url": spec.site_url,
        "feed_url": spec.self_url("json"),
        "description": spec.subtitle,
        "language": spec.language,
        "authors": [{"name": spec.author}],
    }
    if spec.hub_url:
        document["hubs"] = [{"type": "WebSub", "url": spec.hub_url}]
    document["items"] = []
    outline = _encode(document)  # ends with the empty list of items and the brace
    return b"".join((outline[:-2], b",".join(items), b"]}\n"))


def _encode(value: dict[str, Any]) -> bytes:
    # Compact, without `indent`: json then encodes in C, several times faster.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _item(story: Story, spec: FeedSpec[Story], entries: Entries) -> dict[str, Any]:
    lead = story.lead
    parts = entries[story]
    item: dict[str, Any] = {
        "id": story.id,
        "url": parts.link,
        "title": lead.title,
        "content_html": parts.content_html,
    }
    if lead.excerpt:
        item["summary"] = lead.excerpt
    if parts.image is not None:
        item["image"] = parts.image.url
    item["date_published"] = _rfc3339(story.published)
    item["date_modified"] = _rfc3339(story.updated)
    if lead.provider is not None:
        item["authors"] = [{"name": lead.provider.name}]
    tags = story_tags(story, spec.topic_names)
    if tags:
        item["tags"] = tags
    return item


def _rfc3339(moment: datetime) -> str:
    # Model datetimes are timezone-aware UTC, so isoformat() is RFC 3339 with +00:00.
    return moment.isoformat()
