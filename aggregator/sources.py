"""Reading article files: the one place where untrusted input is validated.

An article file is UTF-8 text: a line `---`, a YAML mapping, a line `---` (or
`...`), then an optional body. `read_article` turns one file into an `Article` or
raises a `SourceError` that names the file, the field and what was expected.
YAML is loaded safely: no tag constructs Python objects, aliases are refused (so an
alias bomb costs nothing) and a key given twice is an error rather than a silent
overwrite.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import yaml
from dateutil import parser as dateparser

from aggregator import fastyaml
from aggregator.compact import (
    PackedImage,
    PackedProvider,
    PackedRelated,
    Payload,
    derived,
    packed,
    packed_image,
    packed_provider,
    packed_related,
    unpack,
)
from aggregator.errors import SourceError
from aggregator.files import read_file
from aggregator.model import Article
from aggregator.text import is_http_url, is_one_line, one_line, shorten, xml_safe

#: Bump on any change to what `parse_article` makes of given bytes: cached parse
#: results of other versions are then ignored.
PARSER_VERSION = 1

# Text longer than this is cut (with an ellipsis) rather than published whole.
TITLE_LIMIT = 300
EXCERPT_LIMIT = 2000
NAME_LIMIT = 200
MAX_TOPICS = 50
MAX_IMAGES = 20
MAX_RELATED = 20

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _ArticleLoader(_Loader):  # type: ignore[misc, valid-type]
    """Safe YAML, minus aliases, plus an error for duplicate keys."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        if node in self.constructed_objects:
            raise yaml.constructor.ConstructorError(
                None, None, "YAML aliases (*name) are not allowed in article files", node.start_mark
            )
        return super().construct_object(node, deep=deep)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[str] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                if key_node.value in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key_node.value!r}", key_node.start_mark
                    )
                seen.add(key_node.value)
        return super().construct_mapping(node, deep=deep)  # type: ignore[no-any-return]


def read_article(path: Path, *, max_bytes: int) -> Article:
    """Read and validate one article file; raises `SourceError` naming the problem."""
    return parse_article(read_file(path, max_bytes=max_bytes).data, str(path))


def parse_article(data: bytes, where: str) -> Article:
    """An `Article` from the bytes of an article file; `where` names it in errors.

    A function of `data` and `where` alone (and of `PARSER_VERSION`): results may
    be cached by file content.
    """
    return unpack(where, parse_payload(data, where)[0])


def parse_payload(data: bytes, where: str) -> Payload:
    """`parse_article` packed, with what merging derives from it (see
    `compact.Payload`): what the parse cache keeps, made without the `Article`."""
    text = decode(data, where)
    front_matter, body = split_front_matter(text, where)
    mapping = load_front_matter(front_matter, where)
    return payload_from_mapping(mapping, where, body=body)


def decode(data: bytes, where: str) -> str:
    """UTF-8 text (a byte-order mark is dropped) with newlines made `\\n`."""
    if not data or data.isspace():  # data.strip() without copying the file
        raise SourceError(where, "file is empty")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError(
            where, f"not UTF-8 text (bad byte at offset {exc.start}); save the file as UTF-8"
        ) from None
    if "\x00" in text:
        raise SourceError(where, "binary file (contains NUL bytes)")
    if "\r" not in text:  # most files: neither replace would change it
        return text
    return text.replace("\r\n", "\n").replace("\r", "\n")


def split_front_matter(text: str, where: str) -> tuple[str, str]:
    """The YAML between the opening `---` line and the closing line, and the body."""
    first_end = text.find("\n")
    if (text if first_end < 0 else text[:first_end]).rstrip() != "---":
        raise SourceError(where, "expected the file to start with a '---' line (front matter)")
    closing = _CLOSING_LINE.search(text, first_end) if first_end >= 0 else None
    if closing is None:
        raise SourceError(where, "front matter is never closed: expected a second '---' line")
    return text[first_end + 1 : closing.start()], text[closing.end() + 1 :].strip()


# A newline, then a line that is "---" or "..." once trailing whitespace (as
# str.rstrip sees it) is stripped. Only "\n" separates lines here: `decode` made
# every line break one.
_CLOSING_LINE = re.compile(r"\n(?:---|\.\.\.)[^\S\n]*(?=\n|\Z)")


def load_front_matter(front_matter: str, where: str) -> dict[str, Any]:
    """The front matter as a mapping, loaded safely (see the module docstring).

    PyYAML is the reference; `fastyaml` may answer first, and only where it gives the
    same mapping. Every rejection carries the reference's reason.
    """
    fast = fastyaml.load(front_matter)
    if fast is not None:
        return fast
    try:
        document = yaml.load(front_matter, Loader=_ArticleLoader)  # a safe loader, see above
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        at = f" at line {mark.line + 2}" if mark else ""
        raise SourceError(where, f"invalid YAML{at}: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise SourceError(where, f"invalid YAML: {exc}") from None
    except (ValueError, OverflowError) as exc:  # a timestamp such as 30 February
        raise SourceError(where, f"invalid YAML: {exc}") from None
    except RecursionError:
        raise SourceError(where, "invalid YAML: nested too deeply") from None
    if not isinstance(document, dict):
        kind = "empty" if document is None else f"a {type(document).__name__}"
        raise SourceError(where, f"front matter is {kind}, expected a mapping of fields")
    return document


def article_from_mapping(mapping: Mapping[Any, Any], where: str, *, body: str = "") -> Article:
    """Validate a front-matter mapping into an `Article` (see the README for the rules)."""
    return unpack(where, payload_from_mapping(mapping, where, body=body)[0])


def payload_from_mapping(mapping: Mapping[Any, Any], where: str, *, body: str = "") -> Payload:
    """`article_from_mapping`, packed, with what merging derives from it."""
    fields = _Fields(mapping, where, "")
    provider = fields.provider("provider")
    title = fields.text("title", required=True, limit=TITLE_LIMIT)
    url = fields.url("webUrl", required=True) or ""
    amp_url = fields.url("ampWebUrl")
    cdn_amp_url = fields.url("cdnAmpWebUrl")
    article_packed = packed(
        title=title,
        url=url,
        published=fields.moment("publishedDateTime", required=True) or _EPOCH,
        updated=fields.moment("updatedDateTime"),
        excerpt=fields.text("excerpt", limit=EXCERPT_LIMIT),
        body=xml_safe(body),
        amp_url=amp_url,
        cdn_amp_url=cdn_amp_url,
        category=fields.text("category", limit=NAME_LIMIT),
        type=fields.text("type", limit=NAME_LIMIT),
        heat=fields.number("heat"),
        quality=fields.number("quality"),
        draft=not fields.flag("published", default=True),
        provider=provider,
        topics=fields.topics("topics"),
        images=fields.images("images"),
        related=fields.related("related"),
    )
    return article_packed, derived(url, amp_url, cdn_amp_url, title)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: The largest of the integers that a float holds exactly, as all smaller ones.
_EXACT_IN_FLOAT = 2**53


class _Fields:
    """Typed reads from one mapping; every error names the file and the dotted field."""

    def __init__(self, mapping: Mapping[Any, Any], where: str, prefix: str) -> None:
        self.mapping = mapping
        self.where = where
        self.prefix = prefix

    def fail(self, name: str, expected: str, value: Any) -> SourceError:
        shown = repr(value)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        return SourceError(self.where, f"{self.prefix}{name}: expected {expected}, got {shown}")

    def get(self, name: str, required: bool) -> Any:
        value = self.mapping.get(name)
        if value is None or value == "":
            if required:
                raise SourceError(self.where, f"{self.prefix}{name}: required field is missing")
            return None
        return value

    def text(self, name: str, *, required: bool = False, limit: int) -> str:
        value = self.mapping.get(name)
        if type(value) is str and is_one_line(value):  # most text: nothing to change
            return value if len(value) <= limit else shorten(value, limit)
        value = self.get(name, required)
        if value is None:
            return ""
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise self.fail(name, "text", value)
        text = one_line(str(value), limit)
        if required and not text:
            raise SourceError(self.where, f"{self.prefix}{name}: required field is blank")
        return text

    def url(self, name: str, *, required: bool = False) -> str | None:
        value = self.mapping.get(name)
        link = value.strip() if isinstance(value, str) else value
        if isinstance(link, str) and is_http_url(link):
            return link
        if self.get(name, required) is None:  # missing: an error only when required
            return None
        if required:
            raise self.fail(name, "an absolute http or https URL", link)
        return None  # an unusable optional link is dropped, not fatal

    def moment(self, name: str, *, required: bool = False) -> datetime | None:
        value = self.get(name, required)
        if value is None:
            return None
        try:
            return as_utc(value)
        except (ValueError, OverflowError, TypeError):
            raise self.fail(name, "a date and time such as 2020-06-15T18:03:00Z", value) from None

    def number(self, name: str) -> float:
        value = self.mapping.get(name)
        if (type(value) is int and -_EXACT_IN_FLOAT <= value <= _EXACT_IN_FLOAT) or (
            type(value) is float and math.isfinite(value)
        ):
            return float(value)  # most numbers: nothing to check
        value = self.get(name, False)
        if value is None:
            return 0.0
        if isinstance(value, bool):
            raise self.fail(name, "a number", value)
        if isinstance(value, str):
            try:
                value = float(value.strip())
            except ValueError:
                raise self.fail(name, "a number", value) from None
        if not isinstance(value, int | float):
            raise self.fail(name, "a number", value)
        try:
            number = float(value)  # an integer of 309 digits or more does not fit
        except OverflowError:
            raise self.fail(name, "a finite number", value) from None
        if not math.isfinite(number):
            raise self.fail(name, "a finite number", value)
        return number

    def flag(self, name: str, *, default: bool) -> bool:
        value = self.mapping.get(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise self.fail(name, "true or false", value)

    def integer(self, name: str) -> int | None:
        value = self.mapping.get(name)
        if type(value) is int and 0 <= value <= _EXACT_IN_FLOAT:
            return value  # most sizes: what the conversions below would give back
        value = self.get(name, False)
        if value is None:
            return None
        number = self.number(name)
        if not number.is_integer() or number < 0:
            raise self.fail(name, "a whole number of 0 or more", value)
        return int(number)

    def items(self, name: str, limit: int) -> list[_Fields]:
        value = self.get(name, False)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(name, "a list", value)
        result = []
        for index, item in enumerate(value[:limit]):
            if not isinstance(item, dict):
                raise self.fail(f"{name}[{index}]", "a mapping", item)
            result.append(_Fields(item, self.where, f"{self.prefix}{name}[{index}]."))
        return result

    def provider(self, name: str) -> PackedProvider | None:
        value = self.get(name, False)
        if value is None:
            return None
        if isinstance(value, str):
            return packed_provider(one_line(value, NAME_LIMIT))
        if not isinstance(value, dict):
            raise self.fail(name, "a mapping with name and domain", value)
        fields = _Fields(value, self.where, f"{self.prefix}{name}.")
        provider_name = fields.text("name", limit=NAME_LIMIT)
        domain = fields.text("domain", limit=NAME_LIMIT)
        return packed_provider(provider_name or domain, domain) if provider_name or domain else None

    def topics(self, name: str) -> tuple[str, ...]:
        value = self.get(name, False)
        if value is None:
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise self.fail(name, "a list of topic names", value)
        topics: list[str] = []
        for index, item in enumerate(value[:MAX_TOPICS]):
            if isinstance(item, bool) or not isinstance(item, str | int | float):
                raise self.fail(f"{name}[{index}]", "a topic name", item)
            topic = one_line(str(item), NAME_LIMIT)
            if topic and topic not in topics:
                topics.append(topic)
        return tuple(topics)

    def images(self, name: str) -> tuple[PackedImage, ...]:
        images = []
        for item in self.items(name, MAX_IMAGES):
            url = item.url("url")
            if url:
                images.append(
                    packed_image(
                        url=url,
                        width=item.integer("width"),
                        height=item.integer("height"),
                        title=item.text("title", limit=TITLE_LIMIT),
                    )
                )
        return tuple(images)

    def related(self, name: str) -> tuple[PackedRelated, ...]:
        related = []
        for item in self.items(name, MAX_RELATED):
            url = item.url("webUrl")
            title = item.text("title", limit=TITLE_LIMIT)
            if url and title:
                related.append(
                    packed_related(
                        title=title,
                        url=url,
                        excerpt=item.text("excerpt", limit=EXCERPT_LIMIT),
                        published=item.moment("publishedDateTime"),
                        provider=item.provider("provider"),
                        quality=item.number("quality"),
                        images=item.images("images"),
                    )
                )
        return tuple(related)


_FILL_A = datetime(2000, 1, 1)
_FILL_B = datetime(2001, 2, 2)


def as_utc(value: Any) -> datetime:
    """A timezone-aware UTC datetime from a YAML timestamp, a date or a string.

    A time without a zone is taken as UTC; a date without a time is midnight. Raises
    ValueError for anything else, and for a text without year, month or day (which
    would depend on the day it is read).
    """
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value, time())
    elif isinstance(value, str):
        # dateutil fills a missing year, month or day in from today: such a text
        # would mean another time tomorrow, so it is refused.
        moment = dateparser.parse(value.strip(), default=_FILL_A)
        if dateparser.parse(value.strip(), default=_FILL_B) != moment:
            raise ValueError(f"{value!r} lacks a year, month or day")
    else:
        raise TypeError(type(value).__name__)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
