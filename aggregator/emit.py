"""Atom and RSS 2.0 through python-feedgen: the only importer of feedgen.

The bytes are a function of the `FeedSpec` alone. feedgen's defaults are worked
around (see ../shared/FEEDGEN-NOTES.md): entries are appended, not prepended;
`updated`/`lastBuildDate` are the newest entry's time, never the clock; the RSS
channel link is added last so it is the site, not the feed; the provider is
`dc:creator` in RSS; each Atom entry has exactly one alternate link and images go
through Media RSS, never enclosures.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from feedgen.feed import FeedGenerator

from aggregator import __version__
from aggregator.model import Story
from aggregator.urls import clean_url

GENERATOR = "news-aggregator"
GENERATOR_URI = "https://example.invalid/news-aggregator"


@dataclass(frozen=True)
class FeedSpec:
    """Everything one feed shows. `stories` are already ranked and cut to size.

    `url_stem` is the feed's URL without its format suffix (`.atom`, `.rss`).
    """

    id: str
    title: str
    subtitle: str
    url_stem: str
    site_url: str
    language: str
    author: str
    stories: Sequence[Story]
    topic_names: Mapping[str, str]
    stylesheet_url: str | None = None
    hub_url: str | None = None

    def self_url(self, suffix: str) -> str:
        """The feed's own URL in the format with file suffix `suffix`."""
        return f"{self.url_stem}.{suffix}"

    @property
    def updated(self) -> datetime | None:
        return max((story.updated for story in self.stories), default=None)


def render_atom(spec: FeedSpec) -> bytes:
    """The feed as Atom (RFC 4287)."""
    feed = _generator(spec)
    feed.link(href=spec.self_url("atom"), rel="self", type="application/atom+xml")
    if spec.hub_url:
        feed.link(href=spec.hub_url, rel="hub")
    feed.link(href=spec.site_url, rel="alternate", type="text/html")
    for story in spec.stories:
        entry = _entry(feed, story, spec)
        entry.summary(story.lead.excerpt or story.lead.title, type="text")
        entry.content(entry_html(story), type="html")
        if story.lead.provider is not None:
            entry.author(name=story.lead.provider.name)
    return _with_stylesheet(feed.atom_str(pretty=True), spec.stylesheet_url)


def render_rss(spec: FeedSpec) -> bytes:
    """The feed as RSS 2.0, following the RSS Board's best practices."""
    feed = _generator(spec)
    feed.load_extension("dc", atom=False, rss=True)
    # feedgen makes the last link added the channel <link>: self first, site last.
    feed.link(href=spec.self_url("rss"), rel="self", type="application/rss+xml")
    feed.link(href=spec.site_url, rel="alternate")
    if spec.updated is not None:
        feed.lastBuildDate(spec.updated)
    for story in spec.stories:
        entry = _entry(feed, story, spec)
        # RSS readers render <description> as HTML: escape so text stays text.
        entry.description(html.escape(story.lead.excerpt or story.lead.title, quote=False))
        entry.content(entry_html(story), type="CDATA")
        entry.guid(story.id, permalink=False)
        if story.lead.provider is not None:
            entry.dc.dc_creator(story.lead.provider.name)
    return _with_stylesheet(feed.rss_str(pretty=True), spec.stylesheet_url)


def _generator(spec: FeedSpec) -> FeedGenerator:
    feed = FeedGenerator()
    feed.load_extension("media", atom=True, rss=True)
    feed.id(spec.id)
    feed.title(spec.title)
    feed.subtitle(spec.subtitle)  # also the RSS channel description, which RSS requires
    feed.language(spec.language)
    feed.author(name=spec.author)
    feed.generator(GENERATOR, version=__version__, uri=GENERATOR_URI)
    if spec.updated is not None:
        feed.updated(spec.updated)
    return feed


def _entry(feed: FeedGenerator, story: Story, spec: FeedSpec) -> Any:
    lead = story.lead
    entry = feed.add_entry(order="append")
    entry.id(story.id)
    entry.title(lead.title)
    entry.link(href=clean_url(lead.url), rel="alternate")
    entry.published(story.published)
    entry.updated(story.updated)
    for key in story.topics:
        name = spec.topic_names.get(key, key)
        entry.category(term=name, label=name)
    image = next((img for article in story.articles for img in article.images), None)
    if image is not None:
        thumbnail = {"url": image.url, "group": None}
        if image.width and image.height:
            thumbnail |= {"width": str(image.width), "height": str(image.height)}
        entry.media.thumbnail(thumbnail)
    return entry


def entry_html(story: Story) -> str:
    """The entry's HTML content: excerpt, other outlets, related coverage. All escaped."""
    lead = story.lead
    parts = []
    if lead.excerpt:
        parts.append(f"<p>{_text(lead.excerpt)}</p>")
    parts.append(f'<p><a href="{_attr(clean_url(lead.url))}">Read at {_text(lead.outlet)}</a></p>')
    others = _other_outlets(story)
    if others:
        links = ", ".join(f'<a href="{_attr(url)}">{_text(name)}</a>' for name, url in others)
        parts.append(f"<p>Also reported by: {links}</p>")
    if lead.related:
        items = "".join(
            f'<li><a href="{_attr(item.url)}">{_text(item.title)}</a>'
            + (f" ({_text(item.provider.name)})" if item.provider else "")
            + "</li>"
            for item in lead.related
        )
        parts.append(f"<p>Related coverage:</p><ul>{items}</ul>")
    return "\n".join(parts)


def _other_outlets(story: Story) -> list[tuple[str, str]]:
    """Each other outlet that carried the story, once, with its best copy's link."""
    seen = {story.lead.outlet}
    others = []
    for copy in story.copies:
        if copy.outlet not in seen:
            seen.add(copy.outlet)
            others.append((copy.outlet, clean_url(copy.url)))
    return others


def _text(text: str) -> str:
    return html.escape(text, quote=False)


def _attr(text: str) -> str:
    return html.escape(text, quote=True)


def _with_stylesheet(document: bytes, stylesheet_url: str | None) -> bytes:
    """Insert an xml-stylesheet instruction after the XML declaration (feedgen has no API)."""
    if not stylesheet_url:
        return document
    declaration, newline, rest = document.partition(b"\n")
    instruction = f'<?xml-stylesheet type="text/xsl" href="{_attr(stylesheet_url)}"?>'
    return declaration + newline + instruction.encode("utf-8") + b"\n" + rest
