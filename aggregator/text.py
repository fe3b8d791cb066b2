"""Small pure helpers for text and URLs that several stages need."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# XML 1.0 allows TAB, LF, CR and everything from U+0020 except surrogates and the
# two non-characters U+FFFE/U+FFFF. Anything else makes lxml refuse the whole feed.
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_WHITESPACE = re.compile(r"\s+")


def xml_safe(text: str) -> str:
    """`text` without the characters XML 1.0 forbids."""
    return _XML_FORBIDDEN.sub("", text)


# Text that one_line would leave as it is: words of allowed characters joined by
# single spaces. Most text is like this; it skips two substitutions. Checked as
# one run of characters that are allowed or a space, neither starting nor ending
# with a space, and no "  " in it: the engine then runs through one character
# class instead of looping word by word, and a listed class (`\s` but the space,
# spelled out; tests/test_text.py holds it to `\s`) is a table lookup.
_WHITESPACE_BUT_SPACE = "\t-\r\x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_ONE_LINE_RUN = re.compile(
    f"(?! )[^{_WHITESPACE_BUT_SPACE}\x00-\x08\x0e-\x1f\ud800-\udfff\ufffe\uffff]+(?<! )"
)


def is_one_line(text: str) -> bool:
    """True when `one_line` leaves `text` as it is, but for its length: non-empty
    words of allowed characters joined by single spaces."""
    return "  " not in text and _ONE_LINE_RUN.fullmatch(text) is not None


def one_line(text: str, limit: int) -> str:
    """`text` made XML-safe, its whitespace collapsed, cut to `limit` characters."""
    if is_one_line(text):
        return shorten(text, limit)
    return shorten(_WHITESPACE.sub(" ", xml_safe(text)).strip(), limit)


def shorten(text: str, limit: int) -> str:
    """`text` cut at a word boundary to at most `limit` characters, with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip() + "…"


# The common case, decided without urlsplit: scheme, "//", a host of letters,
# digits, dots and dashes (no user, port or brackets), then the end or a path,
# query or fragment. urlsplit would find that host too, so the answer is the same.
_PLAIN_HTTP_URL = re.compile(r"(?i:https?)://[A-Za-z0-9.-]+(?:[/?#]|\Z)")


def is_http_url(url: str) -> bool:
    """True for an absolute http or https URL with a host."""
    if _PLAIN_HTTP_URL.match(url):
        return True
    try:
        parts = urlsplit(url)
        return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
    except ValueError:
        return False
