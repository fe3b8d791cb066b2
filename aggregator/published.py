"""What an earlier build left in the output directory: the Atom feeds it published.

The output directory is its own record, so builds need no other state: a topic
feed whose topic has gone is found by its file, `topics/<slug>.atom`, and an empty
feed keeps the title and `updated` time its file already shows, so rewriting it
changes no byte. A file that cannot be read counts as published with nothing
known about it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from lxml import etree

_ATOM = "{http://www.w3.org/2005/Atom}"
_ENTRY, _TITLE, _UPDATED = f"{_ATOM}entry", f"{_ATOM}title", f"{_ATOM}updated"
#: Our own files, parsed without the network, DTDs or entity expansion.
_CHUNK = 4096
_PARSER_OPTIONS = {"resolve_entities": False, "no_network": True, "load_dtd": False}


@dataclass(frozen=True)
class PublishedFeed:
    """A feed found in the output: its title and updated time, when readable."""

    title: str | None
    updated: datetime | None


def published_feeds(output: Path) -> dict[str, PublishedFeed]:
    """The feeds in `output`, by path stem relative to it: `all` and `topics/<slug>`."""
    paths = [output / "all.atom", *sorted((output / "topics").glob("*.atom"))]
    found: dict[str, PublishedFeed] = {}
    for path in paths:
        if path.is_file():
            stem = path.relative_to(output).with_suffix("").as_posix()
            found[stem] = _read(path)
    return found


def _read(path: Path) -> PublishedFeed:
    try:
        texts = _header_texts(path)
    except (OSError, etree.XMLSyntaxError):
        return PublishedFeed(None, None)
    return PublishedFeed(_title(texts.get(_TITLE)), _updated(texts.get(_UPDATED)))


def _header_texts(path: Path) -> dict[str, str | None]:
    """The text of each element of the feed before its first entry, by tag. The
    feed's title and updated time come before the entries, so reading stops at the
    first entry: a long feed costs no more than a short one."""
    parser = etree.XMLPullParser(events=("start", "end"), **_PARSER_OPTIONS)
    texts: dict[str, str | None] = {}
    root = None
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            parser.feed(chunk)
            for event, element in parser.read_events():
                if root is None:
                    root = element
                elif event == "start" and element.tag == _ENTRY:
                    return texts
                elif event == "end" and element.getparent() is root:
                    texts.setdefault(element.tag, element.text)
    parser.close()
    return texts


def _title(text: str | None) -> str | None:
    return text.strip() or None if text else None


def _updated(text: str | None) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text.strip()) if text else None
    except ValueError:
        return None
    if moment is None or moment.tzinfo is None:
        return None
    return moment.astimezone(UTC)
