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
#: Our own files, parsed without the network, DTDs or entity expansion.
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


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
        root = etree.parse(str(path), _PARSER).getroot()
    except (OSError, etree.XMLSyntaxError):
        return PublishedFeed(None, None)
    return PublishedFeed(_title(root), _updated(root))


def _title(root: etree._Element) -> str | None:
    title = root.findtext(f"{_ATOM}title")
    return title.strip() or None if title else None


def _updated(root: etree._Element) -> datetime | None:
    text = root.findtext(f"{_ATOM}updated")
    try:
        moment = datetime.fromisoformat(text.strip()) if text else None
    except ValueError:
        return None
    if moment is None or moment.tzinfo is None:
        return None
    return moment.astimezone(UTC)
