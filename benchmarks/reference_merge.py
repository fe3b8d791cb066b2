"""A frozen copy of `merge_stories` as of commit 7774020, before it was optimised.

`bench_merge.py` checks that the package's `merge_stories` still gives exactly
the stories this copy gives on the full benchmark set. This module is the
reference for that check and nothing else: the package never imports it, and it
is not to be edited to follow changes in the package (a change in results must
show up as a failed check). The code is verbatim from `aggregator/merge.py`,
`aggregator/urls.py`, `aggregator/rank.py` and `aggregator/topics.py` at that
commit, less what `merge_stories` does not use.
"""

from __future__ import annotations

import bisect
import contextlib
import functools
import gc
import hashlib
import math
import re
import unicodedata
import uuid
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from aggregator.config import MergeConfig, RankConfig
from aggregator.model import Article, Story

# aggregator/topics.py ---------------------------------------------------------------

# Letters and digits of any script; everything else separates words.
_WORD = re.compile(r"[^\W_]+")


def topic_key(name: str) -> str:
    """The identity of a topic name: its case-folded words joined by single spaces.

    Empty when the name has no letters or digits (such a topic is ignored).
    """
    folded = unicodedata.normalize("NFKC", name).casefold()
    return " ".join(_WORD.findall(folded))


# aggregator/rank.py -----------------------------------------------------------------


def base_score(heat: float, quality: float, weights: RankConfig) -> float:
    """The score before decay: never falls when heat or quality rises."""
    return weights.heat_weight * max(heat, 0.0) + weights.quality_weight * max(quality, 0.0)


def comparable_score(
    base: float, newest: datetime, reference: datetime, weights: RankConfig
) -> float:
    """A number that orders items like `base * decay(newest, reference)` does.

    It is log(base * decay) plus a constant that depends on `reference` alone, and
    it is computed without `reference` (unless `newest` is later): moving the
    reference shifts every item's number by exactly the same amount, so not even
    rounding can tip two equal scores one way at one reference time and the other
    way at another, and years-old items do not all underflow to 0. -inf when
    `base` is not positive.
    """
    if base <= 0:
        return -math.inf
    per_second = math.log(2) / (weights.half_life_hours * 3600.0)
    return math.log(base) + min(newest, reference).timestamp() * per_second


# aggregator/urls.py -----------------------------------------------------------------

#: Query parameters that only track the reader; removed from canonical URLs.
TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid",
        "igshid", "mc_cid", "mc_eid", "ref", "ref_src", "ref_url", "referrer", "cmpid",
        "cmp", "ocid", "ncid", "smid", "sr_share", "mkt_tok", "s_cid", "spm", "_ga",
        "_gl", "guccounter", "guce_referrer", "guce_referrer_sig", "share", "src",
        "via", "rss", "feed", "rssfeed",
    }
)  # fmt: skip
# Not "cid": many news sites address their articles as ...?cid=<article>.
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "at_")
#: Query parameters that ask for the AMP version of a page.
AMP_PARAMS = {"outputtype": {"amp"}, "amp": {"", "1", "true", "yes"}}
#: Query parameters the AMP cache and viewer add to a cached page's URL.
AMP_VIEWER_PARAMS = frozenset(
    {"amp_js_v", "amp_gsa", "amp_ct", "amp_tf", "ampshare", "usqp", "aoh"}
)
_AMP_CACHE_PATH = re.compile(r"^/[cvi]/(s/)?(.+)$")
_PLAIN_URL = re.compile(r"(?:http|https|HTTP|HTTPS)://([A-Za-z0-9.-]+)(/[^?#\s]*)?", re.ASCII)


def canonical_url(url: str) -> str:
    """The identity of a URL: equal for trivial variants of the same page.

    https and http, `www.` and `amp.` hosts, default ports, fragments, trailing
    slashes, an `/amp` suffix, tracking, AMP and AMP viewer parameters and parameter
    order are ignored; AMP cache URLs (`<host>.cdn.ampproject.org/c/s/<original>`) stand for
    their original. The result is for comparing, never for linking.
    """
    text = url.strip()
    host: str
    port: int | None
    path: str
    query: str
    plain = _PLAIN_URL.fullmatch(text)
    if plain:
        # What urlsplit would find in a link of this common shape, at a third of
        # the cost: no user, port, query or fragment, nothing it would remove.
        host, port, path, query = plain.group(1).lower(), None, plain.group(2) or "", ""
    else:
        try:
            parts = urlsplit(text)
            host, port, path, query = parts.hostname or "", parts.port, parts.path, parts.query
        except ValueError:
            return text
    host = host.rstrip(".")
    if host.endswith(".cdn.ampproject.org"):
        inner = _AMP_CACHE_PATH.match(path)
        if inner:
            scheme = "https" if inner.group(1) else "http"
            suffix = f"?{query}" if query else ""
            return canonical_url(f"{scheme}://{inner.group(2)}{suffix}")
    for prefix in ("www.", "amp."):
        host = host.removeprefix(prefix)
    netloc = host if port in (None, 80, 443) else f"{host}:{port}"
    path = path.rstrip("/").removesuffix("/amp").rstrip("/") or "/"
    if plain and netloc:
        return f"https://{netloc}{path}"
    kept = urlencode(sorted(_kept_params(query))) if query else ""
    return urlunsplit(("https", netloc, path, kept, ""))


def _kept_params(query: str) -> Iterable[tuple[str, str]]:
    for name, value in parse_qsl(query, keep_blank_values=True):
        if _tracking(name) or name.lower() in AMP_VIEWER_PARAMS:
            continue
        if value.lower() in AMP_PARAMS.get(name.lower(), ()):
            continue
        yield name, value


def clean_url(url: str) -> str:
    """`url` without tracking parameters and fragment: the form to link to.

    Unlike `canonical_url` it keeps scheme, host, path and AMP markers, so it
    always leads to the same page as `url`. A query without tracking parameters is
    kept byte for byte.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    kept = [(name, value) for name, value in pairs if not _tracking(name)]
    query = parts.query if len(kept) == len(pairs) else urlencode(kept)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def is_amp_url(url: str) -> bool:
    """True for the AMP forms `canonical_url` folds away."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        return False
    if host.startswith("amp.") or host.endswith(".cdn.ampproject.org"):
        return True
    if parts.path.rstrip("/").endswith("/amp"):
        return True
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    return any(value.lower() in AMP_PARAMS.get(name.lower(), ()) for name, value in pairs)


def link_penalty(url: str) -> tuple[bool, bool]:
    """Tie-break among copies of one article: a plain link beats AMP and tracking."""
    return (is_amp_url(url), clean_url(url) != url)


def _tracking(name: str) -> bool:
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


# aggregator/merge.py ----------------------------------------------------------------

STORY_ID_NAMESPACE = uuid.UUID("5b3f6a52-8f39-4f0c-9a0c-7f0f2b9c6c11")
_NAMESPACE_BYTES = STORY_ID_NAMESPACE.bytes


# Title normalisation ------------------------------------------------------------

_DASH_CHARACTERS = "-\u2013\u2014|"  # hyphen, en dash, em dash, bar
_DASHES = re.escape(_DASH_CHARACTERS)  # for a [character class]
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


def _alternation(words: Iterable[str]) -> str:
    """`words` as one regex alternation, grouped by first letter: the same matches as
    "a|b|c..." where each word stands between word boundaries, found several times
    faster because a failing position tries one branch per letter, not every word."""
    by_letter: dict[str, list[str]] = defaultdict(list)
    for word in sorted(words, key=lambda w: (-len(w), w)):
        by_letter[word[0]].append(re.escape(word[1:]))
    return "|".join(f"{letter}(?:{'|'.join(rests)})" for letter, rests in by_letter.items())


_NUMBER_WORD = re.compile(rf"\b({_alternation(_NUMBER_WORDS)})\b", re.IGNORECASE)
_DIGIT = re.compile(r"\d")
_TOKEN = re.compile(r"[^\W_]+")
_ASCII_TOKEN = re.compile(r"[a-z0-9]+")  # _TOKEN in lowercase ASCII text
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
    # Each `if` skips work that cannot change the text: ASCII is its own NFKC and
    # NFKD form and has no accents; no amount without a digit; no "per cent" in
    # ASCII without "cent" (merging 100,000 articles spends a third of its time here).
    is_ascii = title.isascii()
    text = (title if is_ascii else unicodedata.normalize("NFKC", title)).strip()
    text = _TITLE_PREFIX.sub("", text)
    text = _strip_outlet(text)
    text = _ATTRIBUTION.sub("", text)
    if not is_ascii or "%" in text or "cent" in text.lower():
        text = _PERCENT.sub(" percent ", text)
    text = _NUMBER_WORD.sub(lambda m: _NUMBER_WORDS[m.group(1).lower()], text)
    if _DIGIT.search(text):
        text = _AMOUNT.sub(_amount, text)
    if is_ascii:
        return tuple(map(_fold_word, _ASCII_TOKEN.findall(text.lower())))
    decomposed = unicodedata.normalize("NFKD", text)
    folded = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return tuple(map(_fold_word, _TOKEN.findall(folded)))


def _strip_outlet(text: str) -> str:
    if not any(dash in text for dash in _DASH_CHARACTERS):
        return text
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


@functools.lru_cache(maxsize=1 << 16)
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


def _content(tokens: Iterable[str]) -> frozenset[str]:
    return frozenset(tokens) - STOPWORDS


def _similar_long(
    a: Sequence[str],
    content_a: frozenset[str],
    b: Sequence[str],
    content_b: frozenset[str],
    threshold: float,
) -> bool:
    """`similar_titles` for headlines of three or more content words each."""
    small, large = (
        (content_a, content_b) if len(content_a) <= len(content_b) else (content_b, content_a)
    )
    if len(small) / len(large) < threshold or not small <= large:
        return False
    # The same numbers: as the small set lies in the large one, the words only the
    # large one has must hold no digit.
    if any(_has_digit(t) for t in large - small):
        return False
    # Shared words in another order are another story: "Epic sues Apple".
    return _in_order(a, small) == _in_order(b, small)


def _in_order(tokens: Sequence[str], kept: frozenset[str]) -> list[str]:
    return list(dict.fromkeys(t for t in tokens if t in kept))


def _has_digit(token: str) -> bool:
    return any(c.isdigit() for c in token)


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
    known: Mapping[str, str] | None = None,
) -> list[Story]:
    """Group `articles` into stories (see the module docstring).

    The result does not depend on the order of `articles` (each article's `source`
    must be unique); each story's lead is its best-scoring copy at `reference`.

    Story ids: `known` maps canonical URLs to the ids their stories had before
    (`story_id_map` of the previous result). A story keeps a known id one of its
    copies carries, so its id survives copies appearing and disappearing; see
    `assign_story_ids` for the rules that keep ids unique. Without `known`, or for
    a story none of whose URLs is known, the id is `story_id` of the canonical URL
    of its earliest copy, so a first build and a build from the same files with
    their own `known` ids give the same stories.
    """
    with _cyclic_gc_paused():
        return _merge(list(articles), merge, weights, reference, known or {})


@contextlib.contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cycle collector while merging builds millions of small
    containers that form no cycles: it would scan them again and again for
    nothing (a fifth of the time for 100,000 articles). Reference counting still
    frees everything; the collector's previous state is restored."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _merge(
    given: list[Article],
    merge: MergeConfig,
    weights: RankConfig,
    reference: datetime,
    known: Mapping[str, str],
) -> list[Story]:
    urls = [canonical_url(a.url) for a in given]
    identities = [_identity(a, url) for a, url in zip(given, urls, strict=True)]
    order = sorted(range(len(given)), key=identities.__getitem__)
    ordered = [given[i] for i in order]
    keys = [_keys(given[i], urls[i]) for i in order]
    times = [identities[i][1] for i in order]
    groups = _UnionFind(times)
    _join_same_urls(keys, groups)
    tokens_of: dict[str, tuple[str, ...]] = {}
    for article in ordered:
        if article.title not in tokens_of:
            tokens_of[article.title] = title_tokens(article.title)
    tokens = [tokens_of[a.title] for a in ordered]
    window = merge.window_hours * 3600.0
    _join_titles(times, tokens, window, merge.title_similarity, groups)

    members: dict[int, list[int]] = defaultdict(list)
    for index in range(len(ordered)):
        members[groups.find(index)].append(index)
    ids = assign_story_ids(
        [[(times[i], keys[i]) for i in indices] for indices in members.values()], known
    )
    topics_of = _TopicKeys()
    stories = []
    for indices, story_id_ in zip(members.values(), ids, strict=True):
        if len(indices) == 1:  # most stories: one copy, nothing to rank or combine
            article = ordered[indices[0]]
            stories.append(
                Story(
                    id=story_id_,
                    lead=article,
                    copies=(),
                    topics=topics_of[article.topics],
                    published=article.published,
                    updated=article.newest,
                    heat=article.heat,
                    quality=article.quality,
                )
            )
        else:
            copies = [ordered[i] for i in indices]
            copy_identities = [identities[order[i]] for i in indices]
            stories.append(
                _story(story_id_, copies, copy_identities, reference, weights, topics_of)
            )
    return stories


def _identity(article: Article, url: str) -> tuple[str, float, str, str]:
    """What orders articles before merging; `url` is `canonical_url(article.url)`."""
    return (url, article.published.timestamp(), article.title, article.source)


def _keys(article: Article, url: str) -> set[str]:
    """`article_keys(article)`, given `canonical_url(article.url)`."""
    keys = {url}
    for other in (article.amp_url, article.cdn_amp_url):
        if other:
            keys.add(canonical_url(other))
    return keys


def _join_same_urls(keys: Sequence[set[str]], groups: _UnionFind) -> None:
    first_with: dict[str, int] = {}
    for index, article_urls in enumerate(keys):
        for url in sorted(article_urls):
            if url in first_with:
                groups.union(first_with[url], index)
            else:
                first_with[url] = index


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
    """
    when_of = times.__getitem__
    # A stable sort on the time alone keeps equal times in index order.
    visit = sorted(range(len(tokens)), key=when_of)
    similar = _similar_pairs(visit, times, tokens, window, threshold)
    same_title: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for index in visit:
        words = tokens[index]
        if not words:
            continue
        earlier = same_title[words]
        if not earlier and index not in similar:  # most headlines: nothing to join
            earlier.append(index)
            continue
        when = times[index]
        candidates = set(earlier[bisect.bisect_left(earlier, when - window, key=when_of) :])
        candidates.update(similar.get(index, ()))
        for other in sorted(candidates, key=lambda i: (times[i], i)):
            root, other_root = groups.find(index), groups.find(other)
            if root != other_root and (
                when - min(groups.earliest[root], groups.earliest[other_root]) <= window
            ):
                groups.union(index, other)
        earlier.append(index)


def _similar_pairs(
    visit: Sequence[int],
    times: Sequence[float],
    tokens: Sequence[tuple[str, ...]],
    window: float,
    threshold: float,
) -> dict[int, list[int]]:
    """For each article, the earlier ones (in `visit` order) within `window` whose
    titles are `similar_titles` to its own but not the same.

    No all-pairs comparison: when two headlines of three or more content words are
    similar, the shorter one's words all occur in the longer one, so the articles
    within the window that hold the shorter one's rarest word hold every candidate.
    """
    when_of = times.__getitem__
    content = [_content(words) for words in tokens]
    frequency = Counter(t for words in content for t in words)
    # Any word of a headline would find every candidate; the rarest finds fewest.
    # (Among equally rare words the choice changes the work, never the result.)
    rarest = [min(words, key=frequency.__getitem__) if len(words) >= 3 else "" for words in content]
    # Only rarest words are looked up: only they need the articles holding them.
    looked_up = frozenset(rarest)
    postings: dict[str, list[int]] = defaultdict(list)  # in visit order
    for index in visit:
        if rarest[index]:
            for word in content[index] & looked_up:
                postings[word].append(index)
    position = [0] * len(tokens)
    for place, index in enumerate(visit):
        position[index] = place
    pairs: dict[int, set[int]] = defaultdict(set)
    for index in visit:
        if not rarest[index] or frequency[rarest[index]] == 1:
            continue
        posting = postings[rarest[index]]
        when = times[index]
        start = bisect.bisect_left(posting, when - window, key=when_of)
        stop = bisect.bisect_right(posting, when + window, key=when_of)
        mine, words = content[index], tokens[index]
        for other in [j for j in posting[start:stop] if mine <= content[j]]:
            if words != tokens[other] and _similar_long(
                words, mine, tokens[other], content[other], threshold
            ):
                later, first = (
                    (index, other) if position[index] > position[other] else (other, index)
                )
                pairs[later].add(first)
    return {index: sorted(firsts) for index, firsts in pairs.items()}


def _story(
    id: str,
    copies: list[Article],
    identities: list[tuple[str, float, str, str]],
    reference: datetime,
    weights: RankConfig,
    topics_of: _TopicKeys,
) -> Story:
    scores = [
        -comparable_score(base_score(a.heat, a.quality, weights), a.newest, reference, weights)
        for a in copies
    ]
    # The link only decides between equal scores: look at it only for those.
    tied = {score for score, count in Counter(scores).items() if count > 1}
    by_rank = sorted(
        range(len(copies)),
        key=lambda i: (
            scores[i],
            link_penalty(copies[i].url) if scores[i] in tied else (False, False),
            copies[i].published,
            identities[i],
        ),
    )
    ranked = [copies[i] for i in by_rank]
    return Story(
        id=id,
        lead=ranked[0],
        copies=tuple(ranked[1:]),
        topics=tuple(sorted({key for article in copies for key in topics_of[article.topics]})),
        published=min(a.published for a in copies),
        updated=max(a.newest for a in copies),
        heat=max(a.heat for a in copies),
        quality=max(a.quality for a in copies),
    )


class _TopicKeys(dict[tuple[str, ...], tuple[str, ...]]):
    """The sorted, distinct topic keys of a tuple of topic names; remembered, as
    the same few combinations of topics recur across thousands of articles."""

    def __missing__(self, names: tuple[str, ...]) -> tuple[str, ...]:
        keys = {topic_key(name) for name in names}
        keys.discard("")
        self[names] = result = tuple(sorted(keys))
        return result


# Story ids ------------------------------------------------------------------------

#: One copy of a story, as ids see it: its publication time and canonical URLs.
CopyKeys = tuple[float, Collection[str]]


def assign_story_ids(stories: Sequence[Sequence[CopyKeys]], known: Mapping[str, str]) -> list[str]:
    """An id for each story, given its copies and the ids `known` from before.

    A story's earliest copy is the one with the smallest (time, smallest URL).
    1. A story keeps a known id that one of its copies' URLs carries. When a story
       carries several (stories that merged), or several stories carry one (a
       story that split), ids go out in this order, each id and story once: first
       to the story holding the URL the id was derived from (`story_id(url)`),
       then by the earliest copy carrying it; ties by id, then story.
    2. A story left without one gets `story_id` of its earliest copy's smallest
       URL, or, if another story holds that already, of its other URLs in turn,
       or of that URL with "#2", "#3", ... appended.
    The ids are distinct. With nothing `known` every story gets the id of rule 2,
    so ids do not depend on history unless a story's earliest copy went away or
    an earlier one came, or stories merged or split.
    """
    firsts = [min((when, min(keys)) for when, keys in copies) for copies in stories]
    if not known:
        return [story_id(url) for _, url in firsts]
    claims: list[tuple[int, float, str, str, int]] = []
    for number, copies in enumerate(stories):
        best: dict[str, tuple[int, float, str]] = {}
        for when, keys in copies:
            for url in keys:
                old = known.get(url)
                if old is not None:
                    claim = (0 if story_id(url) == old else 1, when, min(keys))
                    best[old] = min(best.get(old, claim), claim)
        claims.extend((*claim, old, number) for old, claim in best.items())
    ids: dict[int, str] = {}
    taken: set[str] = set()
    for *_, old, number in sorted(claims):
        if number not in ids and old not in taken:
            ids[number] = old
            taken.add(old)
    for number in sorted(set(range(len(stories))) - ids.keys(), key=firsts.__getitem__):
        ids[number] = _fresh_id(stories[number], firsts[number][1], taken)
        taken.add(ids[number])
    return [ids[number] for number in range(len(stories))]


def _fresh_id(copies: Sequence[CopyKeys], first_url: str, taken: set[str]) -> str:
    """Rule 2 of `assign_story_ids`."""
    others = sorted((when, url) for when, keys in copies for url in keys if url != first_url)
    for url in [first_url, *(url for _, url in others)]:
        if story_id(url) not in taken:
            return story_id(url)
    suffix = 2
    while story_id(f"{first_url}#{suffix}") in taken:
        suffix += 1
    return story_id(f"{first_url}#{suffix}")


def story_id(key: str) -> str:
    """The stable id of a story whose earliest copy has canonical URL `key`:
    "urn:uuid:" and the name-based (version 5) UUID of `key` in `STORY_ID_NAMESPACE`."""
    # uuid.uuid5 spelled out: the same bytes, without building a UUID object.
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + key.encode("utf-8")).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    h = digest.hex()
    return f"urn:uuid:{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
