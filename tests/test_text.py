"""The fast paths of the text helpers answer exactly as the plain definitions do."""

from __future__ import annotations

import re
import sys
from urllib.parse import urlsplit

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from aggregator.errors import SourceError
from aggregator.sources import split_front_matter
from aggregator.text import (
    _WHITESPACE,
    _WHITESPACE_BUT_SPACE,
    is_http_url,
    is_one_line,
    one_line,
    shorten,
    xml_safe,
)


def reference_is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
    except ValueError:
        return False


def reference_one_line(text: str, limit: int) -> str:
    return shorten(_WHITESPACE.sub(" ", xml_safe(text)).strip(), limit)


def reference_split(text: str) -> tuple[str, str] | str:
    lines = text.split("\n")
    if lines[0].rstrip() != "---":
        return "no start"
    for index in range(1, len(lines)):
        if lines[index].rstrip() in ("---", "..."):
            return "\n".join(lines[1:index]), "\n".join(lines[index + 1 :]).strip()
    return "never closed"


url_parts = st.sampled_from(
    ["http", "HTTPS", "ftp", ":", "//", "/", "?", "#", "@", "[", "]", ":80", "a.b", "x-y",
     "é", " ", "\t", "\n", "\x00", "%41", ".", "-", "user:pw@", "[::1]", "host", ""]
)  # fmt: skip


@settings(max_examples=3000)
@given(st.lists(url_parts, max_size=8).map("".join) | st.text(max_size=30))
@example("http://example.com")
@example("https://a.b/c?d#e")
@example("http://")
@example("http:///path")
@example("http://user@host/")
@example("http://host:99999/")
@example("http://[::1/")
@example("HTTP://X")
@example("http://host\t/")
def test_is_http_url_is_urlsplit(url: str) -> None:
    assert is_http_url(url) == reference_is_http_url(url)


text_parts = st.sampled_from(
    ["a", "word", " ", "  ", "\t", "\n", "\x0b", "\x00", "\x1f", "\u2028", "\x85", "\ufffe",
     "\u3000", "é", "…", "x y"]
)  # fmt: skip


@settings(max_examples=3000)
@given(st.lists(text_parts, max_size=12).map("".join) | st.text(max_size=40), st.integers(2, 30))
def test_one_line_is_its_definition(text: str, limit: int) -> None:
    assert one_line(text, limit) == reference_one_line(text, limit)


@settings(max_examples=3000)
@given(st.lists(text_parts, max_size=12).map("".join) | st.text(max_size=40))
@example(" ")
@example("a ")
@example(" a")
@example("a  b")
@example("a\u3000b")
def test_is_one_line_is_its_definition(text: str) -> None:
    assert is_one_line(text) == (text != "" and reference_one_line(text, len(text)) == text)


def test_whitespace_but_space_is_whitespace_but_space() -> None:
    every = "".join(map(chr, range(sys.maxunicode + 1)))
    listed = re.findall(f"[{_WHITESPACE_BUT_SPACE}]", every)
    assert listed == [c for c in re.findall(r"\s", every) if c != " "]


line_parts = st.sampled_from(
    ["---", "...", "-", ".", "\n", " ", "\t", "\x85", "\u2028", "\x0b", "a: 1", "\u3000", "x"]
)


@settings(max_examples=3000)
@given(st.lists(line_parts, max_size=14).map("".join), st.sampled_from(["", "---\n", "--- \n"]))
def test_split_front_matter_is_its_definition(text: str, start: str) -> None:
    try:
        result: tuple[str, str] | str = split_front_matter(start + text, "a.txt")
    except SourceError as error:
        result = "no start" if "start with" in error.reason else "never closed"
    assert result == reference_split(start + text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("---\na: 1\n---\nbody\n", ("a: 1", "body")),
        ("---\n---\n", ("", "")),
        ("---\na: 1\n...  \n\n x \n", ("a: 1", "x")),
        ("---\na: ---\n---", ("a: ---", "")),
    ],
)
def test_split_front_matter_examples(text: str, expected: tuple[str, str]) -> None:
    assert split_front_matter(text, "a.txt") == expected
