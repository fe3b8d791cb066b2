"""What an article page says of itself: when it was last modified, and its
canonical URL. Pure: the bytes of a page in, the two facts out; no network (see
`fetch`, which gets the pages).

The date comes from htmldate, asked for a modification date (not the
publication date) and never from the URL; a page that says nothing, or that
htmldate cannot read, has none. The canonical URL is the first
`<link rel="canonical">` of the head, taken against the `<base>` and the page's
own URL, and kept only when it is an absolute http or https URL without spaces
or control characters.
"""

from __future__ import annotations

import codecs
import contextlib
import logging
from datetime import UTC, datetime
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from htmldate import find_date

#: htmldate output; the offset is absent when the page gave none.
_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S%z"

log = logging.getLogger(__name__)


def inspect_page(
    body: bytes, content_type: str, charset: str | None, page_url: str
) -> tuple[datetime | None, str | None]:
    """The page's modified date and its canonical URL (absolute, http or https),
    from its HTML; (None, None) for a body that is empty or not HTML or XML.
    `page_url` is where the page was found (its final URL), which relative
    links are taken against."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if not body or (kind and "html" not in kind and "xml" not in kind):
        return None, None
    if charset:
        try:
            codecs.lookup(charset)
        except LookupError:
            charset = None
    text = body.decode(charset or "utf-8", errors="replace")
    return _page_modified(text), _canonical(text, page_url)


def _page_modified(text: str) -> datetime | None:
    try:
        # bytes, not str: htmldate treats a str that starts with "http" as a URL and
        # downloads it itself, which would bypass every check `fetch` makes.
        # url="" stops it taking a date from the (canonical) URL: that is a
        # publication date, never a modification date.
        found = find_date(
            text.encode("utf-8"),
            extensive_search=False,
            original_date=False,
            outputformat=_DATE_FORMAT,
            url="",
        )
    except Exception:  # htmldate on hostile markup: no date rather than no result
        log.debug("htmldate failed", exc_info=True)
        return None
    if not found:
        return None
    try:
        when = datetime.fromisoformat(found)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # no offset on the page: assume UTC
    return when.astimezone(UTC)


class _EndOfHead(Exception):
    pass


class _HeadScanner(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.base: str | None = None
        self.canonical: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body":
            raise _EndOfHead
        values = dict(attrs)
        href = values.get("href")
        if not href:
            return
        if tag == "base" and self.base is None:
            self.base = href.strip()
        elif (
            tag == "link"
            and self.canonical is None
            and "canonical" in (values.get("rel") or "").lower().split()
        ):
            self.canonical = href.strip()

    def handle_endtag(self, tag: str) -> None:
        if tag == "head":
            raise _EndOfHead


def _canonical(text: str, page_url: str) -> str | None:
    scanner = _HeadScanner()
    with contextlib.suppress(_EndOfHead, Exception):
        scanner.feed(text)
    if scanner.canonical is None:
        return None
    try:
        base = urljoin(page_url, scanner.base) if scanner.base else page_url
        absolute = urljoin(base, scanner.canonical)
        parts = urlsplit(absolute)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if any(character <= " " or character == "\x7f" for character in absolute):
        return None  # a space or control character: not a URL (the report shows it)
    return absolute
