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

A feed is rendered in two parts, so that a build renders each story's entry once
and may keep it for the next build (see `rendering`): the entries
(`atom_entries`, `rss_entries`), each the bytes feedgen writes for it in a
document, and the document around them (`atom_document`, `rss_document`):
feedgen's document of the feed without entries, with the entries put where
feedgen puts them. feedgen builds every entry from the entry alone, appends the
entries after everything else in the feed (or channel) and pretty-prints each
element by its depth, so the joined parts are byte for byte the document feedgen
writes of the whole feed (tests/test_emit.py holds them to it). A feed's Atom and
RSS entries come from one generator, filled once (see `_Feed`).
"""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Sequence
from typing import Any, cast

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree

from aggregator import __version__
from aggregator.feedspec import Entries, Entry, FeedSpec, story_tags
from aggregator.model import Ranked, Story

GENERATOR = "news-aggregator"
GENERATOR_URI = "https://example.invalid/news-aggregator"

_ATOM_LINK = "{http://www.w3.org/2005/Atom}link"
_EXTENSION = "publishing"
# Where entries are, in feedgen's pretty-printed documents: each starts a line
# with its opening tag, indented by its depth; the last is followed by the end
# of the document. Text is escaped and the only CDATA (RSS content) holds
# `feedspec.entry_html`, so no line inside an entry starts like one.
_ATOM_ENTRY, _ATOM_END = b"  <entry>", b"</feed>\n"
_RSS_ITEM, _RSS_END = b"    <item>", b"  </channel>\n</rss>\n"


def render_atom(spec: FeedSpec[Story], entries: Entries | None = None) -> bytes:
    """The feed as Atom (RFC 4287), whole; `entries` may hold its stories' entries
    already."""
    return atom_document(spec, atom_entries(spec, Entries() if entries is None else entries))


def render_rss(spec: FeedSpec[Story], entries: Entries | None = None) -> bytes:
    """The feed as RSS 2.0, following the RSS Board's best practices, whole;
    `entries` as for `render_atom`."""
    return rss_document(spec, rss_entries(spec, Entries() if entries is None else entries))


def atom_entries(spec: FeedSpec[Story], entries: Entries) -> list[bytes]:
    """The Atom entry of each of the spec's stories, as `atom_document` takes them;
    `entries` may hold the generator of the spec's RSS entries, made just before."""
    return _cut(entries.shared(spec, _Feed).atom(), _ATOM_ENTRY, _ATOM_END, len(spec.stories))


def rss_entries(spec: FeedSpec[Story], entries: Entries) -> list[bytes]:
    """The RSS item of each of the spec's stories, as `rss_document` takes them;
    `entries` as for `atom_entries`."""
    return _cut(entries.shared(spec, _Feed).rss(), _RSS_ITEM, _RSS_END, len(spec.stories))


def atom_document(spec: FeedSpec[Ranked], entries: Sequence[bytes]) -> bytes:
    """The spec's Atom feed holding `entries`, the `atom_entries` of its stories."""
    return _insert(_outline(spec).atom(), _ATOM_END, entries)


def rss_document(spec: FeedSpec[Ranked], entries: Sequence[bytes]) -> bytes:
    """The spec's RSS feed holding `entries`, the `rss_entries` of its stories."""
    return _insert(_outline(spec).rss(), _RSS_END, entries)


def _outline(spec: FeedSpec[Ranked]) -> _Feed:
    """The feed's generator without entries, its time the one its entries give."""
    bare = dataclasses.replace(spec, stories=(), updated_if_empty=spec.updated)
    return _Feed(cast("FeedSpec[Story]", bare), Entries())


def _cut(document: bytes, opening: bytes, end: bytes, count: int) -> list[bytes]:
    """The `count` entries of a `document` that ends with them and then `end`:
    each from the line that starts with `opening` to the end of its last line."""
    if count == 0:
        return []
    start = document.find(b"\n" + opening) + 1
    if start == 0 or not document.endswith(end):
        raise ValueError("feedgen's document is not laid out as expected")
    pieces = document[start : len(document) - len(end) - 1].split(b"\n" + opening)
    if len(pieces) != count:
        raise ValueError(f"{len(pieces)} entries found in feedgen's document, not {count}")
    return [pieces[0] + b"\n", *(opening + piece + b"\n" for piece in pieces[1:])]


def _insert(outline: bytes, end: bytes, entries: Sequence[bytes]) -> bytes:
    """The document `outline` (which has no entries) with `entries` before its `end`."""
    if not outline.endswith(end):
        raise ValueError("feedgen's document is not laid out as expected")
    return b"".join((outline[: len(outline) - len(end)], *entries, end))


class _Feed:
    """One feed's feedgen generator, filled once for both Atom and RSS.

    feedgen keeps the fields of both formats in one generator and in each of its
    entries, so the feed and its entries are set up once rather than once per
    format. The formats differ only in the feed's links and in each entry's
    content type and RSS description, and feedgen sets both formats' content at
    once: `atom` and `rss` each set all of theirs before they serialise, so either
    may come first, or again, with the same bytes.
    """

    def __init__(self, spec: FeedSpec[Story], entries: Entries) -> None:
        self._spec = spec
        self._feed = _generator(spec)
        # Each entry, with its HTML content and its RSS description.
        self._items = [self._add(story, entries[story]) for story in spec.stories]

    def atom(self) -> bytes:
        spec = self._spec
        links = [{"href": spec.self_url("atom"), "rel": "self", "type": "application/atom+xml"}]
        if spec.hub_url:
            links.append({"href": spec.hub_url, "rel": "hub"})
        links.append({"href": spec.site_url, "rel": "alternate", "type": "text/html"})
        self._feed.link(links, replace=True)
        for entry, content, _ in self._items:
            entry.content(content, type="html")
        return bytes(self._feed.atom_str(pretty=True))

    def rss(self) -> bytes:
        spec = self._spec
        # feedgen makes the last link the channel <link>: self first, site last.
        site = {"href": spec.site_url, "rel": "alternate"}
        self_link = {"href": spec.self_url("rss"), "rel": "self", "type": "application/rss+xml"}
        self._feed.link([self_link, site], replace=True)
        for entry, content, description in self._items:
            entry.description(description)  # (also replaces the Atom content)
            entry.content(content, type="CDATA")
        return bytes(self._feed.rss_str(pretty=True))

    def _add(self, story: Story, parts: Entry) -> tuple[Any, str, str]:
        """A new entry for `story`, with all but what `atom` and `rss` set."""
        lead = story.lead
        entry = self._feed.add_entry(order="append")
        entry.id(story.id)
        entry.guid(story.id, permalink=False)
        entry.title(lead.title)
        entry.link(href=parts.link, rel="alternate")
        entry.published(story.published)
        entry.updated(story.updated)
        tags = story_tags(story, self._spec.topic_names)
        if tags:  # in one call: feedgen redoes the RSS categories on each
            entry.category([{"term": name, "label": name} for name in tags])
        image = parts.image
        if image is not None:
            thumbnail = {"url": image.url, "group": None}
            if image.width and image.height:
                thumbnail |= {"width": str(image.width), "height": str(image.height)}
            entry.media.thumbnail(thumbnail)
        summary = lead.excerpt or lead.title
        entry.summary(summary, type="text")  # Atom; RSS shows the description
        if lead.provider is not None:
            entry.author(name=lead.provider.name)  # Atom; RSS shows only e-mail authors
            entry.dc.dc_creator(lead.provider.name)  # RSS
        # RSS readers render <description> as HTML: escape so text stays text.
        return entry, parts.content_html, html.escape(summary, quote=False)


def _generator(spec: FeedSpec[Story]) -> FeedGenerator:
    feed = FeedGenerator()
    feed.register_extension(_EXTENSION, _FeedAdditions, _EntryAdditions)
    additions = getattr(feed, _EXTENSION)
    additions.stylesheet_url = spec.stylesheet_url
    additions.hub_url = spec.hub_url
    feed.load_extension("media", atom=True, rss=True)
    feed.load_extension("dc", atom=False, rss=True)
    feed.id(spec.id)
    feed.title(spec.title)
    feed.subtitle(spec.subtitle)  # also the RSS channel description, which RSS requires
    feed.language(spec.language)
    feed.author(name=spec.author)
    feed.generator(GENERATOR, version=__version__, uri=GENERATOR_URI)
    feed.updated(spec.updated)  # also the RSS lastBuildDate
    return feed


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
