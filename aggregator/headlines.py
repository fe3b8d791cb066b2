"""Headlines as words to compare: pure functions, no I/O.

`title_tokens` normalises a headline into the words that matter for telling one
story from another; `similar_titles` decides whether two normalised headlines are
near-identical. `merge` groups articles with them. On their own here so that what
they compute may be cached with each parsed file (see `cache`): a change to this
module, unlike one to the merging, makes the cache stale.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence

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
#: A label, an outlet and an attribution each end or start at one of these.
_SEPARATOR = re.compile(rf"[:,{_DASHES}]")
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
    # NFKD form and has no accents; no label, outlet or attribution without a
    # separator; no "per cent" in ASCII without "cent"; no number word to replace
    # unless it is one of the words (it stands between non-word characters); no
    # amount without a digit.
    is_ascii = title.isascii()
    text = (title if is_ascii else unicodedata.normalize("NFKC", title)).strip()
    if is_ascii and text.replace(" ", "").isalpha():
        # Letters and spaces only, as in most headlines: no separator, "%" or digit,
        # and split() finds the words.
        lower = text.lower()
        words = lower.split()
        if "cent" not in lower and _NUMBER_WORDS.keys().isdisjoint(words):
            return tuple(map(_folded.__getitem__, words))  # no pass changes anything
    if _SEPARATOR.search(text):
        text = _TITLE_PREFIX.sub("", text)
        text = _strip_outlet(text)
        text = _ATTRIBUTION.sub("", text)
    if not is_ascii or "%" in text or "cent" in text.lower():
        text = _PERCENT.sub(" percent ", text)
    if is_ascii:
        words = _ASCII_TOKEN.findall(text.lower())
        if "".join(words).isalpha() and _NUMBER_WORDS.keys().isdisjoint(words):
            return tuple(map(_folded.__getitem__, words))  # no digit, no number word
    text = _NUMBER_WORD.sub(lambda m: _NUMBER_WORDS[m.group(1).lower()], text)
    if _DIGIT.search(text):
        text = _AMOUNT.sub(_amount, text)
    if is_ascii:
        return tuple(map(_folded.__getitem__, _ASCII_TOKEN.findall(text.lower())))
    decomposed = unicodedata.normalize("NFKD", text)
    folded = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return tuple(map(_folded.__getitem__, _TOKEN.findall(folded)))


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


class _FoldedWords(dict[str, str]):
    """`_fold_word` of each word looked up, remembered: the same words recur in
    thousands of headlines, and a dict finds them faster than `lru_cache`. Emptied
    when it holds `_MAX_FOLDED_WORDS`, so that it cannot grow without bound."""

    def __missing__(self, word: str) -> str:
        if len(self) >= _MAX_FOLDED_WORDS:
            self.clear()
        self[word] = folded = _fold_word(word)
        return folded


_MAX_FOLDED_WORDS = 1 << 16
_folded = _FoldedWords()


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
    content_a, content_b = content_words(a), content_words(b)
    if min(len(content_a), len(content_b)) < 3:
        return content_a == content_b and tuple(a) == tuple(b)
    return similar_long(a, content_a, b, content_b, threshold)


def content_words(tokens: Iterable[str]) -> frozenset[str]:
    return frozenset(tokens) - STOPWORDS


def similar_long(
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
    if any(has_digit(t) for t in large - small):
        return False
    # Shared words in another order are another story: "Epic sues Apple".
    return _in_order(a, small) == _in_order(b, small)


def _in_order(tokens: Sequence[str], kept: frozenset[str]) -> list[str]:
    return list(dict.fromkeys(t for t in tokens if t in kept))


def has_digit(token: str) -> bool:
    return any(c.isdigit() for c in token)
