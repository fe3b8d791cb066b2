"""Recognising one story across its copies: pure functions, no I/O, no clock.

Two articles are one story when
1. they are the same article: a canonical form of one's `webUrl`, `ampWebUrl` or
   `cdnAmpWebUrl` equals one of the other's (see `canonical_url`); or
2. their titles are the same after `title_tokens` normalisation, or near-identical
   (`similar_titles`), and the later one was published within the merge window
   after the first copy of the story it joins. Anchored at the first copy, so a
   headline reused every day makes one story per window, not one endless story.

Merging never compares all pairs: titles are grouped by key, and near-identical
candidates come from indexes of words and rarest words, bounded by the window.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime

from aggregator.config import MergeConfig, RankConfig
from aggregator.model import Article, Story
from aggregator.rank import article_score
from aggregator.topics import topic_key
from aggregator.urls import canonical_url, link_penalty

STORY_ID_NAMESPACE = uuid.UUID("5b3f6a52-8f39-4f0c-9a0c-7f0f2b9c6c11")


def article_keys(article: Article) -> set[str]:
    """Every canonical URL the article is known by."""
    urls = (article.url, article.amp_url, article.cdn_amp_url)
    return {canonical_url(url) for url in urls if url}


# Title normalisation ------------------------------------------------------------

_DASHES = "\\-\u2013\u2014|"  # hyphen, en dash, em dash, bar
_TITLE_PREFIX = re.compile(
    r"^(update|updated|breaking|breaking news|exclusive|developing|just in|watch|live)"
    rf"(\s+\d+)?\s*[:{_DASHES}]\s*",
    re.IGNORECASE,
)
_SUFFIX_SEPARATOR = re.compile(rf"\s+[{_DASHES}]\s+(?=[^{_DASHES}]+$)")
#: A trailing attribution such as ", figures show" or ", police say".
_ATTRIBUTION = re.compile(
    r",\s*(?:\w+\s+){0,2}(?:say|says|said|show|shows|find|finds|report|reports|claim|claims)$",
    re.IGNORECASE,
)
_PERCENT = re.compile(r"%|\bper\s*cent\b", re.IGNORECASE)
_AMOUNT = re.compile(
    r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)"
    r"(?:\s*(k|m|bn|tn|thousand|million|billion|trillion)\b|(?!\w))",
    re.IGNORECASE,
)
_MULTIPLIERS = {
    "k": 10**3, "thousand": 10**3, "m": 10**6, "million": 10**6,
    "bn": 10**9, "billion": 10**9, "tn": 10**12, "trillion": 10**12,
}  # fmt: skip
_NUMBER_WORDS = {
    word: str(value)
    for value, word in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen "
        "fourteen fifteen sixteen seventeen eighteen nineteen twenty".split()
    )
} | {
    word: f"{value}th"
    for value, word in enumerate(
        "_ first second third fourth fifth sixth seventh eighth ninth tenth".split()
    )
    if value
}
_NUMBER_WORD = re.compile(rf"\b({'|'.join(_NUMBER_WORDS)})\b", re.IGNORECASE)
_TOKEN = re.compile(r"[^\W_]+")
#: British spellings folded to American ones (suffix, replacement), for words of
#: more than five letters so that short words ("four", "rise") stay as they are.
_SPELLING = (
    ("ising", "izing"), ("ised", "ized"), ("ises", "izes"), ("ise", "ize"),
    ("ysed", "yzed"), ("yse", "yze"), ("our", "or"), ("tre", "ter"),
    ("lled", "led"), ("lling", "ling"), ("ller", "ler"), ("ence", "ense"),
)  # fmt: skip
#: Words whose presence or absence does not make a different headline.
STOPWORDS = frozenset(
    "a an the of to in on for and or with at by from as is are was were be its it "
    "this that says said say new after over".split()
)
#: The most words a trailing " - Outlet" segment may have to be taken as an outlet.
_MAX_SUFFIX_WORDS = 4
#: A headline without spaces (Chinese, Japanese) must have this many characters
#: before a trailing " | Outlet" for that segment to be taken as an outlet.
_MIN_UNSPACED_HEADLINE = 8


def title_tokens(title: str) -> tuple[str, ...]:
    """The words of a headline, normalised for comparison.

    Unicode compatibility forms and accents are folded, case is folded; a leading
    "UPDATE:"-style label, a trailing " - Outlet" / " | Outlet" segment of at most
    four words and a trailing attribution (", police say") are dropped; amounts are
    written out ("$1.5bn", "1,500 million" -> "1500000000"), "%" reads "percent",
    number words up to twenty become digits, British spellings become American and
    words of five letters or more lose a plural "s"; punctuation separates words.
    """
    text = unicodedata.normalize("NFKC", title).strip()
    text = _TITLE_PREFIX.sub("", text)
    text = _strip_outlet(text)
    text = _ATTRIBUTION.sub("", text)
    text = _PERCENT.sub(" percent ", text)
    text = _NUMBER_WORD.sub(lambda m: _NUMBER_WORDS[m.group(1).lower()], text)
    text = _AMOUNT.sub(_amount, text)
    decomposed = unicodedata.normalize("NFKD", text)
    folded = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return tuple(_fold_word(word) for word in _TOKEN.findall(folded))


def _strip_outlet(text: str) -> str:
    parts = _SUFFIX_SEPARATOR.split(text, maxsplit=1)
    if len(parts) != 2 or len(parts[1].split()) > _MAX_SUFFIX_WORDS:
        return text
    headline = parts[0]
    words = headline.split()
    if len(words) > _MAX_SUFFIX_WORDS or (
        len(words) == 1 and len(headline) >= _MIN_UNSPACED_HEADLINE
    ):
        return headline
    return text


def _amount(match: re.Match[str]) -> str:
    number, unit = match.group(1).replace(",", ""), match.group(2)
    if unit is not None:
        number = f"{float(number) * _MULTIPLIERS[unit.lower()]:.0f}"
    # "d" for the decimal point keeps "0.4" one word.
    return f" {number.replace('.', 'd')} "


def _fold_word(word: str) -> str:
    if len(word) < 5 or not word.isalpha():
        return word
    if word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    if len(word) <= 5:
        return word
    for suffix, replacement in _SPELLING:
        if word.endswith(suffix):
            return word[: -len(suffix)] + replacement
    return word


def similar_titles(a: Sequence[str], b: Sequence[str], threshold: float) -> bool:
    """True when token lists `a` and `b` are near-identical headlines.

    The measure, chosen for precision: both carry the same numbers; the shorter
    headline's content words (all but `STOPWORDS`) all occur in the longer one, so
    a dropped or added word passes but a replaced word ("rise" for "fall") never
    does; the shared words come in the same order ("Epic sues Apple" is not "Apple
    sues Epic"); and the Jaccard similarity of the two sets of content words (here
    the shorter set's size over the longer's) is at least `threshold`. Headlines of
    fewer than three content words only match exactly.
    """
    content_a = {t for t in a if t not in STOPWORDS}
    content_b = {t for t in b if t not in STOPWORDS}
    if min(len(content_a), len(content_b)) < 3:
        return content_a == content_b and tuple(a) == tuple(b)
    if _numbers(content_a) != _numbers(content_b):
        return False
    small, large = sorted((content_a, content_b), key=len)
    if not small <= large or len(small) / len(large) < threshold:
        return False
    # Shared words in another order are another story: "Epic sues Apple".
    return _in_order(a, small) == _in_order(b, small)


def _in_order(tokens: Sequence[str], kept: set[str]) -> list[str]:
    return list(dict.fromkeys(t for t in tokens if t in kept))


def _numbers(tokens: set[str]) -> set[str]:
    return {t for t in tokens if any(c.isdigit() for c in t)}


# Merging ------------------------------------------------------------------------


class _UnionFind:
    """Disjoint sets of article indices that know their earliest publication time."""

    def __init__(self, times: Sequence[float]) -> None:
        self.parent = list(range(len(times)))
        self.earliest = list(times)

    def find(self, item: int) -> int:
        root = item
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[item] != root:
            self.parent[item], item = root, self.parent[item]
        return root

    def union(self, a: int, b: int) -> None:
        root_a, root_b = self.find(a), self.find(b)
        if root_a != root_b:
            # The smaller index wins, so roots do not depend on the order of unions.
            root, child = min(root_a, root_b), max(root_a, root_b)
            self.parent[child] = root
            self.earliest[root] = min(self.earliest[root], self.earliest[child])


def merge_stories(
    articles: Iterable[Article],
    merge: MergeConfig,
    weights: RankConfig,
    reference: datetime,
) -> list[Story]:
    """Group `articles` into stories (see the module docstring).

    The result does not depend on the order of `articles` (each article's `source`
    must be unique); each story's lead is its best-scoring copy at `reference`.
    """
    ordered = sorted(articles, key=_identity)
    keys = [article_keys(a) for a in ordered]
    times = [a.published.timestamp() for a in ordered]
    groups = _UnionFind(times)
    _join_same_urls(keys, groups)
    tokens = [title_tokens(a.title) for a in ordered]
    window = merge.window_hours * 3600.0
    _join_titles(times, tokens, window, merge.title_similarity, groups)

    members: dict[int, list[int]] = defaultdict(list)
    for index in range(len(ordered)):
        members[groups.find(index)].append(index)
    return [
        _story([ordered[i] for i in indices], [keys[i] for i in indices], reference, weights)
        for indices in members.values()
    ]


def _identity(article: Article) -> tuple[str, float, str, str]:
    return (
        canonical_url(article.url),
        article.published.timestamp(),
        article.title,
        article.source,
    )


def _join_same_urls(keys: Sequence[set[str]], groups: _UnionFind) -> None:
    first_with: dict[str, int] = {}
    for index, article_urls in enumerate(keys):
        for url in sorted(article_urls):
            if url in first_with:
                groups.union(first_with[url], index)
            else:
                first_with[url] = index


class _Recent:
    """Article indices appended in time order; `since(t)` gives those from time t on."""

    __slots__ = ("indices", "times")

    def __init__(self) -> None:
        self.times: list[float] = []
        self.indices: list[int] = []

    def add(self, when: float, index: int) -> None:
        self.times.append(when)
        self.indices.append(index)

    def since(self, when: float) -> list[int]:
        return self.indices[bisect.bisect_left(self.times, when) :]


def _join_titles(
    times: Sequence[float],
    tokens: Sequence[tuple[str, ...]],
    window: float,
    threshold: float,
    groups: _UnionFind,
) -> None:
    """Join articles whose titles are the same or near-identical, anchored in time.

    Articles are visited in time order. Each joins the story of an earlier article
    with the same `tokens`, or a `similar_titles` one, when it was published at most
    `window` seconds after that story's (or its own story's) first copy. Anchoring at
    the first copy, rather than at the nearest match, keeps a headline reused every
    day from chaining into one story that never ends.

    Candidates come from indexes, never from all pairs: earlier articles with the
    same tokens; and, for headlines of three or more content words, earlier ones that
    contain this headline's rarest word (they hold every similar headline at least as
    long as this one) or whose rarest word this headline contains (every shorter one).
    """
    content = [[t for t in set(words) if t not in STOPWORDS] for words in tokens]
    frequency = Counter(t for words in content for t in words)
    rarest = [
        min(words, key=lambda t: (frequency[t], t)) if len(words) >= 3 else "" for words in content
    ]
    same_title: dict[tuple[str, ...], _Recent] = defaultdict(_Recent)
    containing: dict[str, _Recent] = defaultdict(_Recent)
    rarest_in: dict[str, _Recent] = defaultdict(_Recent)
    for index in sorted(range(len(tokens)), key=lambda i: (times[i], i)):
        words = tokens[index]
        if not words:
            continue
        when = times[index]
        start = when - window
        exact = set(same_title[words].since(start)) if words in same_title else set()
        maybe: set[int] = set()
        if rarest[index]:
            maybe.update(containing[rarest[index]].since(start))
            for word in content[index]:
                if word in rarest_in:
                    maybe.update(rarest_in[word].since(start))
        for other in sorted(exact | maybe, key=lambda i: (times[i], i)):
            root, other_root = groups.find(index), groups.find(other)
            if root == other_root or (
                when - min(groups.earliest[root], groups.earliest[other_root]) > window
            ):
                continue
            if other in exact or similar_titles(words, tokens[other], threshold):
                groups.union(index, other)
        same_title[words].add(when, index)
        if rarest[index]:
            rarest_in[rarest[index]].add(when, index)
            for word in content[index]:
                containing[word].add(when, index)


def _story(
    copies: list[Article], keys: list[set[str]], reference: datetime, weights: RankConfig
) -> Story:
    earliest = min(range(len(copies)), key=lambda i: (copies[i].published, min(keys[i])))
    ranked = sorted(
        copies,
        key=lambda a: (
            -article_score(a, reference, weights),
            link_penalty(a.url),
            a.published,
            _identity(a),
        ),
    )
    topic_keys = {topic_key(name) for article in copies for name in article.topics}
    topic_keys.discard("")
    return Story(
        id=story_id(min(keys[earliest])),
        lead=ranked[0],
        copies=tuple(ranked[1:]),
        topics=tuple(sorted(topic_keys)),
        published=min(a.published for a in copies),
        updated=max(a.newest for a in copies),
        heat=max(a.heat for a in copies),
        quality=max(a.quality for a in copies),
    )


def story_id(key: str) -> str:
    """The stable id of a story whose earliest copy has canonical URL `key`."""
    return f"urn:uuid:{uuid.uuid5(STORY_ID_NAMESPACE, key)}"
