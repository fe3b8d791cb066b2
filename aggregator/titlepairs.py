"""Which headlines are near-identical: every pair of distinct titles (as
`headlines.title_tokens` gives them) that `headlines.similar_long` accepts. Pure
functions, no I/O, no clock.

Pairs are found by looking titles up, never by comparing all pairs (see
`_all_pairs`). Whether two titles are similar depends on the two titles and the
threshold alone, never on the other titles, so after titles come and go the
pairs are the earlier ones whose titles both remain, plus those that involve a
new title. Given the previous search's result, `find_title_pairs` looks up only
the new titles (`_pairs_with`): a build keeps that result in the state directory
(see `state`), and a rebuild after a few files changed looks up a few hundred
titles instead of every one.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence, Set
from dataclasses import dataclass

from aggregator.headlines import STOPWORDS, content_words, has_digit, similar_long

Title = tuple[str, ...]
#: (small, large): `large` holds every content word of `small`.
Pair = tuple[Title, Title]

#: Looking up a new title costs 4 to 11 times what the full search spends on one
#: title (generated corpora of 20,000 and 100,000 articles), besides indexing
#: all titles by their words: with more than this share of the titles new, the
#: full search can be as fast.
_MOST_NEW = 0.05


@dataclass(frozen=True)
class TitlePairs:
    """What one search found, and what the next search starts from.

    `pairs`: each (small, large) of two distinct titles searched that are
    `similar_titles` at `threshold`, where `large` holds every content word of
    `small`: both ways round when they hold the same ones. `titles`: the titles
    searched, each its words joined by spaces, one a line (one string rather than
    a set of tuples: kept between builds, it loads and compares about three
    times faster); None when some word holds a space or a line break, so that
    lines would not tell titles apart.
    """

    threshold: float
    pairs: frozenset[Pair]
    titles: str | None


#: Runs the parts of a search and gives their results, in order.
RunParts = Callable[[Sequence[Callable[[], list[Pair]]]], Sequence[list[Pair]]]


def in_turn(parts: Sequence[Callable[[], list[Pair]]]) -> list[list[Pair]]:
    """Each part's result, run here one after the other."""
    return [part() for part in parts]


def find_title_pairs(
    titles: Set[Title],
    threshold: float,
    previous: TitlePairs | None = None,
    *,
    parts: int = 1,
    run: RunParts = in_turn,
) -> TitlePairs:
    """The similar pairs among `titles` (non-empty token tuples) at `threshold`.

    With a `previous` result at the same threshold, only pairs that involve a
    title it did not search are looked for; the result is the same as without it.
    A search of every title is split into `parts` parts for `run` to run (on
    several cores, say); the result is the same however they are run.
    """
    lines = list(map(" ".join, titles))
    joined = "\n".join(lines)
    readable = _readable(titles, joined)
    if (
        readable
        and previous is not None
        and previous.titles is not None
        and previous.threshold == threshold
    ):
        searched = set(previous.titles.split("\n"))
        new = [title for title, line in zip(titles, lines, strict=True) if line not in searched]
        if len(new) <= _MOST_NEW * len(titles):
            kept = (pair for pair in previous.pairs if pair[0] in titles and pair[1] in titles)
            pairs = itertools.chain(kept, _pairs_with(new, titles, threshold))
            return TitlePairs(threshold, frozenset(pairs), joined)
    found = frozenset(_all_pairs(titles, threshold, parts, run))
    return TitlePairs(threshold, found, joined if readable else None)


def widened(previous: TitlePairs, added: Set[Title]) -> TitlePairs | None:
    """The search of the titles `previous` searched and the `added` ones, made
    from it: only added titles it did not search are looked up. None when it
    kept no titles, or an added title is not readable as a line (a word holds
    a space or a line break). Searching more titles than a build merges is
    safe: whether two titles are similar depends on them alone, so the pairs
    among the titles merged are found by `narrowed`."""
    if previous.titles is None:
        return None
    searched = previous.titles.split("\n") if previous.titles else []
    known = set(searched)
    new = [title for title in added if " ".join(title) not in known]
    lines = list(map(" ".join, new))
    if not _readable(new, "\n".join(lines)):
        return None
    every = [*(tuple(line.split(" ")) for line in searched), *new]
    if len(new) <= _MOST_NEW * len(every):
        pairs = previous.pairs.union(_pairs_with(new, every, previous.threshold))
    else:  # as `find_title_pairs` would
        pairs = frozenset(_all_pairs(every, previous.threshold))
    return TitlePairs(previous.threshold, pairs, "\n".join([*searched, *lines]))


def narrowed(wider: TitlePairs, titles: Set[Title]) -> TitlePairs | None:
    """`find_title_pairs` of `titles` at `wider.threshold`, taken from the
    search of more titles `wider` holds (see `widened`); None when it did not
    search them all (or did not keep which it searched)."""
    lines = list(map(" ".join, titles))
    joined = "\n".join(lines)
    if wider.titles is None or not _readable(titles, joined):
        return None
    if not set(wider.titles.split("\n")).issuperset(lines):
        return None
    pairs = (pair for pair in wider.pairs if pair[0] in titles and pair[1] in titles)
    return TitlePairs(wider.threshold, frozenset(pairs), joined)


def _readable(titles: Iterable[Title], joined: str) -> bool:
    """Whether `joined`, the `titles` as lines of words joined by spaces, tells
    them apart: each line break or space not put there by the join lies inside
    a word."""
    words = sum(map(len, titles))
    return joined.count("\n") + joined.count(" ") == max(words - 1, 0)


class TitlePairSearch:
    """`find_title_pairs` that starts each search from the last one's result.

    Given to `merge.group_articles` holding the previous build's result (or
    none), it is left holding this build's, for the next one; what merging finds
    does not depend on it, nor on `parts` and `run` (see `find_title_pairs`).
    """

    def __init__(
        self, last: TitlePairs | None = None, *, parts: int = 1, run: RunParts = in_turn
    ) -> None:
        self.last = last
        self.parts = parts
        self.run = run

    def __call__(self, titles: Set[Title], threshold: float) -> frozenset[Pair]:
        self.last = find_title_pairs(titles, threshold, self.last, parts=self.parts, run=self.run)
        return self.last.pairs


def _all_pairs(
    titles: Iterable[Title], threshold: float, parts: int = 1, run: RunParts = in_turn
) -> list[Pair]:
    """Each pair of `titles` (see `TitlePairs`), once, searched in `parts` parts
    that `run` runs (see `find_title_pairs`).

    Found by looking titles up, not by comparing pairs. `small` has three or more
    content words (with fewer it matches an identical title only), all of them
    in `large`, which has at most `_spare_words` more, none with a digit. So there
    are two exact ways to find the candidates for `large`, and it takes the one
    with fewer:
    - its subsets: `small`'s content words are `large`'s less at most spare of
      its digitless ones, so look each such set up among the titles indexed by
      their content words. Few where few words make many titles (templated
      headlines), but exponentially many in the spare words;
    - its rarest words: ranking words from rarest to commonest, `small`'s two
      rarest are among `large`'s spare + 2 rarest, so look up the titles indexed
      under each pair of those by their own two rarest. Few where words are rare,
      but titles pile up under pairs of common words.
    Titles are indexed once; each part looks up its share of the `large` titles.
    """
    index = _TitleIndex(list(titles), threshold)
    larges = list(index.ranks_of)
    works = [functools.partial(index.pairs, larges[part::parts]) for part in range(parts)]
    return list(itertools.chain.from_iterable(run(works)))


class _TitleIndex:
    """Titles indexed by their content words for `_all_pairs`: words as ranks,
    rarest first."""

    def __init__(self, titles: list[Title], threshold: float) -> None:
        self.threshold = threshold
        frequency = Counter(itertools.chain.from_iterable(titles))
        ranked = sorted(frequency.keys() - STOPWORDS, key=lambda word: (frequency[word], word))
        rank = {word: number for number, word in enumerate(ranked)}
        self.numbers = frozenset(rank[word] for word in ranked if has_digit(word))
        rank.update(dict.fromkeys(STOPWORDS, -1))  # -1: not a content word
        longest = max(map(len, titles), default=0)
        spare_of = [_spare_words(size, threshold) for size in range(longest + 1)]
        # Titles by their content words, as ranks, and by their two rarest.
        self.ranks_of: dict[Title, tuple[frozenset[int], list[int]]] = {}
        self.titles_of: dict[frozenset[int], list[Title]] = defaultdict(list)
        self.titles_by_rarest: dict[tuple[int, int], list[Title]] = defaultdict(list)
        for title in titles:
            ranks = frozenset(map(rank.__getitem__, title)).difference((-1,))
            spare = spare_of[len(ranks)]
            if spare >= 0:  # three words or more
                rarest = sorted(ranks)[: spare + 2]
                self.ranks_of[title] = ranks, rarest
                self.titles_of[ranks].append(title)
                self.titles_by_rarest[rarest[0], rarest[1]].append(title)

    def pairs(self, larges: Iterable[Title]) -> list[Pair]:
        """The pairs whose `large` is one of `larges` (indexed titles)."""
        found: list[Pair] = []
        content_of = _Content()
        ranks_of = self.ranks_of
        for large in larges:
            ranks, rarest = ranks_of[large]
            spare = len(rarest) - 2
            by_rarest = list(
                filter(None, map(self.titles_by_rarest.get, itertools.combinations(rarest, 2)))
            )
            count = sum(map(len, by_rarest))
            if count == 1:  # `large` alone, under its own two rarest words
                continue
            optional = ranks.difference(self.numbers)
            candidates: Iterable[Title]
            if count <= _subset_count(len(optional), spare):
                candidates = itertools.chain.from_iterable(by_rarest)
            else:
                candidates = (
                    small
                    for k in range(spare + 1)
                    for left_out in itertools.combinations(optional, k)
                    for small in self.titles_of.get(ranks.difference(left_out), ())
                )
            # Most candidates are `large` itself, or hold a word it lacks:
            # told by the ranks at hand, before their words are looked up.
            found.extend(
                (small, large)
                for small in candidates
                if small is not large
                and ranks_of[small][0] <= ranks
                and _similar(small, large, content_of, self.threshold)
            )
        return found


def _pairs_with(new: Iterable[Title], titles: Iterable[Title], threshold: float) -> Iterator[Pair]:
    """Each pair of `titles` (see `TitlePairs`) that involves one of `new`, which
    are among them; a pair of two new titles may come twice.

    A new title is looked up by its spare + 3 rarest content words (see
    `_spare_words`; rarest among all `titles`, so that they find the fewest
    titles, though any of its words would find every pair):
    - as `large`: `small` lacks at most spare of its words, so it holds three of
      those: look at the titles holding each three of them;
    - as `small`: `large` holds all its words: look at the titles holding all of
      those.
    A lookup intersects (spare + 2 choose 2) pairs and (spare + 3 choose 3) triples
    of the sets of titles holding one of those words: polynomial in the title's
    length, however long, where enumerating subsets (as `_all_pairs` may) is
    not. Indexing every title by its words takes a few list appends a title,
    less than the per-title work of `_all_pairs`.
    """
    titles = list(titles)
    holding: dict[str, list[int]] = defaultdict(list)
    for number, title in enumerate(titles):
        for word in title:
            holding[word].append(number)
    holding_sets = _NumberSets(holding)
    content = _Content()
    for title in new:
        words = content[title]
        spare = _spare_words(len(words), threshold)
        if spare < 0:  # no similar title: fewer than three content words
            continue
        rarest = sorted(words, key=lambda word: (len(holding[word]), word))[: spare + 3]
        sets = sorted(map(holding_sets.__getitem__, rarest), key=len)
        # Intersecting two of these sets costs most: each such intersection once.
        indices = range(len(sets))
        both = {(i, j): sets[i] & sets[j] for i, j in itertools.combinations(indices[:-1], 2)}
        for number in both[0, 1].intersection(*sets[2:]):
            if _similar(title, titles[number], content, threshold):
                yield title, titles[number]
        holding_three = set[int]().union(
            *(both[i, j] & sets[k] for i, j in both for k in indices[j + 1 :])
        )
        made_of = set(title) | STOPWORDS  # a quick first test for a `small`
        for number in holding_three:
            if made_of.issuperset(titles[number]) and _similar(
                titles[number], title, content, threshold
            ):
                yield titles[number], title


class _NumberSets(dict[str, set[int]]):
    """`holding[word]` as a set, for each word looked up, remembered."""

    def __init__(self, holding: Mapping[str, list[int]]) -> None:
        super().__init__()
        self.holding = holding

    def __missing__(self, word: str) -> set[int]:
        self[word] = numbers = set(self.holding[word])
        return numbers


def _similar(small: Title, large: Title, content: _Content, threshold: float) -> bool:
    """Whether (small, large) is a pair (see `TitlePairs`)."""
    if small == large:  # before their words are looked up: a title finds itself
        return False
    small_words, large_words = content[small], content[large]
    return (
        len(small_words) >= 3
        and small_words <= large_words
        and similar_long(small, small_words, large, large_words, threshold)
    )


class _Content(dict[Title, frozenset[str]]):
    """The content words of each title looked up, remembered."""

    def __missing__(self, title: Title) -> frozenset[str]:
        self[title] = words = content_words(title)
        return words


@functools.cache
def _subset_count(size: int, most: int) -> int:
    """How many subsets a set of `size` members has that leave out at most `most`."""
    return sum(math.comb(size, k) for k in range(most + 1))


@functools.cache
def _spare_words(size: int, threshold: float) -> int:
    """The most content words a title of `size` content words may have beyond
    those of a `similar_titles` one of three or more; -1 if it has none similar."""
    return max(
        (spare for spare in range(size - 2) if not ((size - spare) / size < threshold)),
        default=-1,
    )
