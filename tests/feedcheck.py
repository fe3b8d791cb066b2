"""Structural checks of Atom, RSS and JSON Feed documents, for tests.

There is no offline build of the W3C Feed Validation Service (its Debian package
left with Python 2; nothing maintained on PyPI), so these functions check the
rules it enforces that our output could break: required and unique elements, date
formats (RFC 3339 in Atom and JSON Feed, RFC 822 in RSS), self links equal to the
feed's URL, guid rules, Media RSS thumbnails, absolute http(s) URLs everywhere,
including inside HTML content. Each returns a list of problems: empty is valid.
"""

from __future__ import annotations

import json
import re
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
from lxml import etree

ATOM = "{http://www.w3.org/2005/Atom}"
MEDIA = "{http://search.yahoo.com/mrss/}"
DC = "{http://purl.org/dc/elements/1.1/}"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
RFC822 = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"\d{4} \d{2}:\d{2}:\d{2} ([+-]\d{4}|GMT|UT)$"
)
JSON_FEED_SCHEMA = json.loads(
    (Path(__file__).parent / "data" / "jsonfeed-1.1.schema.json").read_text(encoding="utf-8")
)


def is_http_url(value: str | None) -> bool:
    if not value or any(c.isspace() for c in value):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def is_rfc822(value: str | None) -> bool:
    if not value or not RFC822.match(value):
        return False
    moment = parsedate_to_datetime(value)
    return moment.strftime("%a") == value[:3]  # the weekday agrees with the date


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.urls += [value or "" for name, value in attrs if name in ("href", "src")]


def html_links(fragment: str) -> _Links:
    parser = _Links()
    parser.feed(fragment)
    parser.close()
    return parser


def _one(parent: etree._Element, tag: str, where: str, problems: list[str]) -> str | None:
    found = parent.findall(tag)
    if len(found) != 1:
        problems.append(f"{where}: {len(found)} <{tag}> elements, expected exactly one")
        return None
    return found[0].text or ""


def _at_most_one(parent: etree._Element, tag: str, where: str, problems: list[str]) -> None:
    if len(parent.findall(tag)) > 1:
        problems.append(f"{where}: more than one <{tag}>")


def _urls_in_html(text: str | None, where: str, problems: list[str]) -> None:
    for url in html_links(text or "").urls:
        if not is_http_url(url):
            problems.append(f"{where}: URL in HTML content is not absolute http(s): {url!r}")


def _thumbnails(parent: etree._Element, where: str, problems: list[str]) -> None:
    for thumb in parent.findall(f"{MEDIA}thumbnail"):
        if not is_http_url(thumb.get("url")):
            problems.append(f"{where}: media:thumbnail url {thumb.get('url')!r}")
        for size in ("width", "height"):
            value = thumb.get(size)
            if value is not None and not (value.isdigit() and int(value) > 0):
                problems.append(f"{where}: media:thumbnail {size}={value!r}")
        if (thumb.get("width") is None) != (thumb.get("height") is None):
            problems.append(f"{where}: media:thumbnail has only one of width and height")


def check_atom(data: bytes, self_url: str) -> list[str]:
    """RFC 4287 rules for a feed document served at `self_url`."""
    problems: list[str] = []
    root = etree.fromstring(data)
    if root.tag != f"{ATOM}feed":
        return [f"root element is {root.tag}"]
    for tag in ("id", "title", "updated"):
        _one(root, f"{ATOM}{tag}", "feed", problems)
    for tag in ("subtitle", "generator", "rights", "icon", "logo"):
        _at_most_one(root, f"{ATOM}{tag}", "feed", problems)
    updated = root.findtext(f"{ATOM}updated") or ""
    if not RFC3339.match(updated):
        problems.append(f"feed: updated {updated!r} is not RFC 3339")
    selves = [link for link in root.findall(f"{ATOM}link") if link.get("rel") == "self"]
    if [link.get("href") for link in selves] != [self_url]:
        problems.append(f"feed: rel=self links {[x.get('href') for x in selves]} != {self_url}")
    elif selves[0].get("type") != "application/atom+xml":
        problems.append("feed: rel=self link has no type application/atom+xml")
    _links(root, "feed", problems)
    feed_author = bool(root.findall(f"{ATOM}author/{ATOM}name"))
    ids: set[str] = set()
    for index, entry in enumerate(root.findall(f"{ATOM}entry")):
        where = f"entry {index}"
        entry_id = _one(entry, f"{ATOM}id", where, problems)
        if entry_id in ids:
            problems.append(f"{where}: duplicate id {entry_id}")
        ids.add(entry_id or "")
        _one(entry, f"{ATOM}title", where, problems)
        for tag in ("updated", "published"):
            if tag == "updated":
                _one(entry, f"{ATOM}updated", where, problems)
            else:
                _at_most_one(entry, f"{ATOM}published", where, problems)
            value = entry.findtext(f"{ATOM}{tag}")
            if value is not None and not RFC3339.match(value):
                problems.append(f"{where}: {tag} {value!r} is not RFC 3339")
        for tag in ("content", "summary", "rights", "source"):
            _at_most_one(entry, f"{ATOM}{tag}", where, problems)
        if not feed_author and not entry.findall(f"{ATOM}author/{ATOM}name"):
            problems.append(f"{where}: no author in the entry or the feed")
        alternates = _links(entry, where, problems)
        content = entry.find(f"{ATOM}content")
        if content is None and not alternates:
            problems.append(f"{where}: neither content nor an alternate link")
        if content is not None:
            if content.get("type") not in ("text", "html", "xhtml"):
                problems.append(f"{where}: content type {content.get('type')!r}")
            if content.get("type") == "html":
                _urls_in_html(content.text, where, problems)
        for category in entry.findall(f"{ATOM}category"):
            if not category.get("term"):
                problems.append(f"{where}: category without term")
        _thumbnails(entry, where, problems)
    return problems


def _links(parent: etree._Element, where: str, problems: list[str]) -> int:
    """Checks the atom:link children; returns how many are alternates."""
    seen: set[tuple[str | None, str | None]] = set()
    alternates = 0
    for link in parent.findall(f"{ATOM}link"):
        if not is_http_url(link.get("href")):
            problems.append(f"{where}: link href {link.get('href')!r} is not absolute http(s)")
        if link.get("rel", "alternate") == "alternate":
            alternates += 1
            key = (link.get("type"), link.get("hreflang"))
            if key in seen:
                problems.append(f"{where}: two alternate links with type/hreflang {key}")
            seen.add(key)
    return alternates


def check_rss(data: bytes, self_url: str, site_url: str) -> list[str]:
    """RSS 2.0 and the RSS Board's best practices for a feed served at `self_url`."""
    problems: list[str] = []
    root = etree.fromstring(data)
    if root.tag != "rss" or root.get("version") != "2.0":
        return [f"root element is {root.tag} version {root.get('version')}"]
    channels = root.findall("channel")
    if len(channels) != 1:
        return [f"{len(channels)} channels"]
    channel = channels[0]
    for tag in ("title", "link", "description"):
        _one(channel, tag, "channel", problems)
    for tag in ("language", "lastBuildDate", "pubDate", "docs", "generator", "ttl", "image"):
        _at_most_one(channel, tag, "channel", problems)
    if channel.findtext("link") != site_url:
        problems.append(f"channel: link {channel.findtext('link')!r} is not the site {site_url}")
    for tag in ("lastBuildDate", "pubDate"):
        value = channel.findtext(tag)
        if value is not None and not is_rfc822(value):
            problems.append(f"channel: {tag} {value!r} is not RFC 822")
    selves = [x for x in channel.findall(f"{ATOM}link") if x.get("rel") == "self"]
    if [x.get("href") for x in selves] != [self_url]:
        problems.append(f"channel: atom:link rel=self {[x.get('href') for x in selves]}")
    elif selves[0].get("type") != "application/rss+xml":
        problems.append("channel: atom:link rel=self has no type application/rss+xml")
    for link in channel.findall(f"{ATOM}link"):
        if not is_http_url(link.get("href")):
            problems.append(f"channel: atom:link href {link.get('href')!r}")
    guids: set[str] = set()
    for index, item in enumerate(channel.findall("item")):
        where = f"item {index}"
        if item.find("title") is None and item.find("description") is None:
            problems.append(f"{where}: neither title nor description")
        for tag in ("title", "link", "description", "guid", "pubDate", "author"):
            _at_most_one(item, tag, where, problems)
        if not is_http_url(item.findtext("link")):
            problems.append(f"{where}: link {item.findtext('link')!r}")
        guid = item.find("guid")
        if guid is None or not guid.text:
            problems.append(f"{where}: no guid")
        else:
            if guid.text in guids:
                problems.append(f"{where}: duplicate guid {guid.text}")
            guids.add(guid.text)
            permalink = guid.get("isPermaLink", "true")
            if permalink not in ("true", "false"):
                problems.append(f"{where}: isPermaLink={permalink!r}")
            if permalink == "true" and not is_http_url(guid.text):
                problems.append(f"{where}: permalink guid {guid.text!r} is not a URL")
        if not is_rfc822(item.findtext("pubDate")):
            problems.append(f"{where}: pubDate {item.findtext('pubDate')!r} is not RFC 822")
        author = item.findtext("author")
        if author is not None and "@" not in author:
            problems.append(f"{where}: author {author!r} is not an e-mail address")
        _at_most_one(item, f"{DC}creator", where, problems)
        if item.findtext(f"{DC}creator") == "":
            problems.append(f"{where}: empty dc:creator")
        description = html_links(item.findtext("description") or "")
        if description.tags:
            problems.append(f"{where}: description carries markup {sorted(description.tags)}")
        _urls_in_html(item.findtext(f"{CONTENT}encoded"), where, problems)
        _thumbnails(item, where, problems)
    return problems


def check_json_feed(data: bytes, feed_url: str) -> list[str]:
    """JSON Feed 1.1: the schema in tests/data, RFC 3339 dates, absolute URLs."""
    if not data.endswith(b"\n"):
        return ["no trailing newline"]
    document: dict[str, Any] = json.loads(data)
    problems = [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in jsonschema.Draft202012Validator(JSON_FEED_SCHEMA).iter_errors(document)
    ]
    if document.get("feed_url") != feed_url:
        problems.append(f"feed_url {document.get('feed_url')!r} != {feed_url}")
    for key in ("home_page_url", "feed_url"):
        if not is_http_url(document.get(key)):
            problems.append(f"{key} {document.get(key)!r} is not absolute http(s)")
    ids: set[str] = set()
    for index, item in enumerate(document.get("items", [])):
        if item.get("id") in ids:
            problems.append(f"item {index}: duplicate id")
        ids.add(item.get("id"))
        for key in ("date_published", "date_modified"):
            if key in item and not RFC3339.match(item[key]):
                problems.append(f"item {index}: {key} {item[key]!r} is not RFC 3339")
        for key in ("url", "image"):
            if key in item and not is_http_url(item[key]):
                problems.append(f"item {index}: {key} {item[key]!r} is not absolute http(s)")
        _urls_in_html(item.get("content_html"), f"item {index}", problems)
    return problems
