"""JSON Feed 1.1 (https://jsonfeed.org/version/1.1) from a `FeedSpec`. Pure.

The document carries the same stories, ids, links and times as the Atom and RSS
feeds of the spec. Keys come out in a fixed order and the bytes end with a
newline, so equal specs give equal bytes.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from aggregator.feedspec import FeedSpec, entry_html, story_image, story_tags
from aggregator.model import Story
from aggregator.urls import clean_url

VERSION = "https://jsonfeed.org/version/1.1"


def render_json(spec: FeedSpec) -> bytes:
    """The feed as a JSON Feed 1.1 document, UTF-8."""
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
    document["items"] = [_item(story, spec) for story in spec.stories]
    text = json.dumps(document, ensure_ascii=False, indent=2)
    return (text + "\n").encode("utf-8")


def _item(story: Story, spec: FeedSpec) -> dict[str, Any]:
    lead = story.lead
    item: dict[str, Any] = {
        "id": story.id,
        "url": clean_url(lead.url),
        "title": lead.title,
        "content_html": entry_html(story),
    }
    if lead.excerpt:
        item["summary"] = lead.excerpt
    image = story_image(story)
    if image is not None:
        item["image"] = image.url
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
