"""Topic identity and file names: pure functions, no I/O.

Two topic names are the same topic when they have the same words after Unicode
normalisation and case folding ("AWS AI", "aws-ai" and "AWS  AI!" are one topic).
A topic's slug is its file name under `feeds/topics/`: lowercase ASCII words joined
by "-". ASCII names map to their words; a name with non-ASCII letters is
transliterated and gets a short hash of its words appended, so that two names
which transliterate alike never share a file, and the slug never changes while the
topic exists.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping

from anyascii import anyascii

# Letters and digits of any script; everything else separates words.
_WORD = re.compile(r"[^\W_]+")
_SLUG_WORD = re.compile(r"[a-z0-9]+")
_MAX_SLUG = 80


def topic_key(name: str) -> str:
    """The identity of a topic name: its case-folded words joined by single spaces.

    Empty when the name has no letters or digits (such a topic is ignored).
    """
    folded = unicodedata.normalize("NFKC", name).casefold()
    return " ".join(_WORD.findall(folded))


def slug_for(key: str) -> str:
    """The file-name slug of a topic key (see the module docstring)."""
    words = key.split()
    if key.isascii() and len("-".join(words)) <= _MAX_SLUG:
        return "-".join(words)
    readable = "-".join(_SLUG_WORD.findall(anyascii(key).lower()))[:_MAX_SLUG].strip("-")
    digest = hashlib.sha1(key.encode("utf-8")).hexdigest()[:8]
    return f"{readable}-{digest}" if readable else f"topic-{digest}"


def display_names(uses: Mapping[str, int]) -> dict[str, str]:
    """For each topic key among the names `uses` counts (how many articles
    name each), the spelling to show: the most used one.

    Ties go to the alphabetically first spelling, so the result does not depend on
    the order of `uses`.
    """
    counts: Counter[str] = Counter()
    for name, used in uses.items():
        counts[name.strip()] += used
    best: dict[str, tuple[int, str]] = {}
    for name, count in counts.items():
        key = topic_key(name)
        if not key:
            continue
        candidate = (-count, name)
        if key not in best or candidate < best[key]:
            best[key] = candidate
    return {key: name for key, (_, name) in best.items()}


def assign_slugs(keys: Iterable[str]) -> dict[str, str]:
    """A slug for each key, guaranteed distinct.

    `slug_for` collisions need an ASCII name that spells out another name's
    transliteration and hash; should one happen, every key involved but the
    alphabetically first gets its full hash appended instead of losing its file.
    """
    by_slug: dict[str, list[str]] = {}
    for key in sorted(set(keys)):
        by_slug.setdefault(slug_for(key), []).append(key)
    slugs: dict[str, str] = {}
    for slug, owners in by_slug.items():
        slugs[owners[0]] = slug
        for key in owners[1:]:
            slugs[key] = f"{slug}-{hashlib.sha1(key.encode('utf-8')).hexdigest()}"
    return slugs
