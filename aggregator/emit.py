"""Atom and RSS 2.0 through python-feedgen: the only importer of feedgen.

The bytes are a function of the `FeedSpec` alone. feedgen's defaults are worked
around (see ../shared/FEEDGEN-NOTES.md): entries are appended, not prepended;
`updated`/`lastBuildDate` are the newest entry's time (or the spec's
`updated_if_empty`), never the clock; the RSS channel link is added last so it is
the site, not the feed; the provider is `dc:creator` in RSS; each Atom entry has
exactly one alternate link and images go through Media RSS, never enclosures.

What feedgen cannot say is added to its lxml tree by a feedgen extension while it
builds the document: the `xml-stylesheet` instruction, the RSS `rel=hub` link
(feedgen drops it) and the `rel`/`type` of Atom entry links (feedgen 1.0 drops
them, lkiesow/python-feedgen#135).
"""

from __future__ import annotations

import html
from typing import Any

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree

from aggregator import __version__
from aggregator.feedspec import Entries, Entry, FeedSpec, story_tags
from aggregator.model import Story

GENERATOR = "news-aggregator"
GENERATOR_URI = "https://example.invalid/news-aggregator"

_ATOM_LINK = "{http://www.w3.org/2005/Atom}link"
_EXTENSION = "publishing"


def render_atom(spec: FeedSpec, entries: Entries | None = None) -> bytes:
    """The feed as Atom (RFC 4287); `entries` may hold its stories' entries already."""
    entries = Entries() if entries is None else entries
    feed = _generator(spec)
    feed.link(href=spec.self_url("atom"), rel="self", type="application/atom+xml")
    if spec.hub_url:
        feed.link(href=spec.hub_url, rel="hub")
    feed.link(href=spec.site_url, rel="alternate", type="text/html")
    for story in spec.stories:
        parts = entries[story]
        entry = _entry(feed, story, parts, spec)
        entry.summary(story.lead.excerpt or story.lead.title, type="text")
        entry.content(parts.content_html, type="html")
        if story.lead.provider is not None:
            entry.author(name=story.lead.provider.name)
    return bytes(feed.atom_str(pretty=True))


def render_rss(spec: FeedSpec, entries: Entries | None = None) -> bytes:
    """The feed as RSS 2.0, following the RSS Board's best practices; `entries` as
    for `render_atom`."""
    entries = Entries() if entries is None else entries
    feed = _generator(spec)
    feed.load_extension("dc", atom=False, rss=True)
    # feedgen makes the last link added the channel <link>: self first, site last.
    feed.link(href=spec.self_url("rss"), rel="self", type="application/rss+xml")
    feed.link(href=spec.site_url, rel="alternate")
    feed.lastBuildDate(spec.updated)
    for story in spec.stories:
        parts = entries[story]
        entry = _entry(feed, story, parts, spec)
        # RSS readers render <description> as HTML: escape so text stays text.
        entry.description(html.escape(story.lead.excerpt or story.lead.title, quote=False))
        entry.content(parts.content_html, type="CDATA")
        entry.guid(story.id, permalink=False)
        if story.lead.provider is not None:
            entry.dc.dc_creator(story.lead.provider.name)
    return bytes(feed.rss_str(pretty=True))


def _generator(spec: FeedSpec) -> FeedGenerator:
    feed = FeedGenerator()
    feed.register_extension(_EXTENSION, _FeedAdditions, _EntryAdditions)
    additions = getattr(feed, _EXTENSION)
    additions.stylesheet_url = spec.stylesheet_url
    additions.hub_url = spec.hub_url
    feed.load_extension("media", atom=True, rss=True)
    feed.id(spec.id)
    feed.title(spec.title)
    feed.subtitle(spec.subtitle)  # also the RSS channel description, which RSS requires
    feed.language(spec.language)
    feed.author(name=spec.author)
    feed.generator(GENERATOR, version=__version__, uri=GENERATOR_URI)
    feed.updated(spec.updated)
    return feed


def _entry(feed: FeedGenerator, story: Story, parts: Entry, spec: FeedSpec) -> Any:
    lead = story.lead
    entry = feed.add_entry(order="append")
    entry.id(story.id)
    entry.title(lead.title)
    entry.link(href=parts.link, rel="alternate")
    entry.published(story.published)
    entry.updated(story.updated)
    for name in story_tags(story, spec.topic_names):
        entry.category(term=name, label=name)
    image = parts.image
    if image is not None:
        thumbnail = {"url": image.url, "group": None}
        if image.width and image.height:
            thumbnail |= {"width": str(image.width), "height": str(image.height)}
        entry.media.thumbnail(thumbnail)
    return entry


class _FeedAdditions(BaseExtension):  # type: ignore[misc]
    """Feed-level additions; `_generator` sets the two attributes after feedgen makes one."""

    stylesheet_url: str | None = None
    hub_url: str | None = None

    def extend_atom(self, feed: Any) -> Any:
        self._add_stylesheet(feed)
        return feed

    def extend_rss(self, feed: Any) -> Any:
        self._add_stylesheet(feed)
        if self.hub_url:
            etree.SubElement(feed.find("channel"), _ATOM_LINK, href=self.hub_url, rel="hub")
        return feed

    def _add_stylesheet(self, root: Any) -> None:
        if self.stylesheet_url:
            # The instruction is the root's sibling: serialised between declaration and root.
            href = html.escape(self.stylesheet_url, quote=True)
            root.addprevious(etree.PI("xml-stylesheet", f'type="text/xsl" href="{href}"'))


class _EntryAdditions(BaseEntryExtension):  # type: ignore[misc]
    """Give Atom entry links back the rel and type feedgen 1.0 drops (#135)."""

    def extend_atom(self, entry: Any) -> Any:
        # `_entry` adds exactly one link, the article page. feedgen builds Atom
        # elements without a namespace and declares it on the root: plain tag names.
        for link in entry.findall("link"):
            link.set("rel", "alternate")
            link.set("type", "text/html")
        return entry
