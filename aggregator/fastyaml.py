"""The optional fast path for front matter: `yaml_rs`, where it provably agrees.

PyYAML (YAML 1.1, safe loading, see `sources`) is the reference. `yaml_rs` (a Rust
parser, the `fast` extra) is about ten times faster but reads YAML 1.2 and has its
own extensions: `yes` stays a string, `0o17` is a number, `012` is twelve, unknown
tags are ignored and aliases are followed. So it is used only for documents in a
*plain subset* that the two read alike, checked by one regular expression:

- every line is blank, a comment, `key:`, `key: value`, `- value`, `- key:` or
  `- key: value`, indented by at most 16 spaces, with no trailing space; keys are
  ASCII words other than the YAML 1.1 booleans and nulls (`on:` is a boolean key);
- a value is `true`/`false`, `null`/`~`, a decimal integer (no leading zero, at
  most 18 digits), a decimal fraction with digits on both sides and no exponent,
  a date or an ISO 8601 time with `T` and a zone that exists on the calendar
  (PyYAML raises on 30 February, `yaml_rs` returns a string); a one-line
  double-quoted string whose only escapes are `\\\\` and `\\"`, or a one-line
  single-quoted string, unless its text is only digits and date punctuation
  (`yaml_rs` reads even a quoted "2020-01-01" as a date); or plain text: a letter
  first, or digits and then a letter other than b, e, o or x (`5G`, `9to5Mac`,
  never `1e3` or `0x1F`); then letters, digits, single spaces,
  `.&'()/+!?,;=%@~*$-` and colons between two of those (URLs); and not a YAML
  1.1 boolean or null word (nor `inf` or `nan`);
- no character that either parser treats as a line break or refuses (C0 and C1
  controls, U+2028, U+2029, U+FEFF, U+FFFE, U+FFFF, surrogates) and no tab.

Anything else (flow collections, block scalars, multi-line scalars, anchors,
aliases, tags, directives, duplicate keys, which `yaml_rs` is told to refuse)
goes to PyYAML, as does every document `yaml_rs` rejects, so a rejection always
carries the reference's reason. tests/test_fastyaml.py holds both parsers to this.
"""

from __future__ import annotations

import functools
import re
import string
from types import ModuleType
from typing import Any

_yaml_rs: ModuleType | None
try:  # the optional `fast` extra
    import yaml_rs as _yaml_rs
except ImportError:
    _yaml_rs = None

#: Which parser reads plain documents: part of the parse cache's key.
BACKEND = f"yaml_rs {_yaml_rs.__version__}" if _yaml_rs is not None else "pyyaml"

_BAD = "\\x00-\\x1f\\x7f-\\x9f\\u2028\\u2029\\ufeff\\ufffe\\uffff\\ud800-\\udfff"
# yaml_rs turns even a quoted "2020-01-01" or "18:03:00" into a date or time (PyYAML
# keeps a string): quoted text made of digits and such punctuation stays out.
_TIMELIKE = r"[0-9][0-9 :.+\-TtZz]*"
# Unrolled loops ("normal* (special normal*)*"): the engine then runs through
# character classes instead of trying an alternation at every character.
_DOUBLE_QUOTED = f'"(?!{_TIMELIKE}")[^"\\\\{_BAD}]*(?:\\\\["\\\\][^"\\\\{_BAD}]*)*"'
_SINGLE_QUOTED = f"'(?!{_TIMELIKE}')[^'{_BAD}]*(?:''[^'{_BAD}]*)*'"
# YAML 1.1 words PyYAML resolves to booleans or null, and words some float parsers
# read as numbers: never plain text in the subset, whatever their case.
_SPECIAL_WORDS = tuple("yes no y n on off true false null inf infinity nan".split())
_SPECIAL_WORD = f"(?i:{'|'.join(_SPECIAL_WORDS)})"
# ASCII letters that start no special word, in either case: a key or a plain text
# that starts with one cannot be a special word, and is not looked at twice (the
# lookahead costs as much as matching the key). The branch with the lookahead
# excludes them: were a word matched by both branches, a document that fails on
# its last line would be retried both ways for each such word, exponentially.
_PLAIN_INITIALS = "".join(
    c for c in string.ascii_letters if c.lower() not in {w[0] for w in _SPECIAL_WORDS}
)
_SPECIAL_INITIALS = "".join(c for c in string.ascii_letters if c not in _PLAIN_INITIALS)
# Plain text: runs of these characters; a colon only between two of them (so
# URLs pass, and no run ends in the ": " or ":" of a mapping); single spaces
# between runs (so no " #" comment and no trailing space).
_CHAR = r"[\w.&'()/+!?,;=%@~*$-]"
_RUN = rf"{_CHAR}*(?::+{_CHAR}+)*"
_PLAIN_TEXT = (
    rf"(?:[{_PLAIN_INITIALS}]|(?!{_SPECIAL_WORD}(?![^\n]))[^\W\d_{_PLAIN_INITIALS}]"
    r"|[0-9]+[ac-df-np-wyzAC-DF-NP-WYZ])"
    rf"{_RUN}(?:[ ]{_CHAR}{_RUN})*"
)
_INTEGER = r"-?(?:0|[1-9][0-9]{0,17})"
_DECIMAL = r"-?(?:0|[1-9][0-9]{0,14})\.[0-9]{1,15}"
_YEAR = r"(?!0000)[0-9]{4}"
_LEAP_YEAR = r"(?!0000)(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)"
_DATE = (
    rf"(?:{_YEAR}-(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])"
    r"|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)"
    rf"|{_LEAP_YEAR}-02-29)"
)
_TIME = r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,9})?"
_ZONE = r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
# An integer is tried before the dates and decimals, not after them: it is the
# commoner value. Whether a line matches does not depend on the order, as the end
# of the line is checked after the alternation.
_VALUE = (
    rf"(?:{_DOUBLE_QUOTED}|{_SINGLE_QUOTED}|true|false|null|~|{_INTEGER}"
    rf"|{_DATE}(?:{_TIME}{_ZONE})?|{_DECIMAL}|{_PLAIN_TEXT})(?![^\n])"
)
_KEY = rf"(?:[{_PLAIN_INITIALS}]|(?!{_SPECIAL_WORD}:)[{_SPECIAL_INITIALS}])[A-Za-z0-9_]*"
_ENTRY = rf"(?:{_KEY}:(?:[ ]{_VALUE}|(?![^\n]))|-[ ](?:{_KEY}:(?:[ ]{_VALUE}|(?![^\n]))|{_VALUE}))"
_COMMENT = f"#[^\\t{_BAD}]*"
_LINE = rf"[ ]{{0,16}}(?:{_ENTRY}|{_COMMENT})?"
_PLAIN_SUBSET = rf"{_LINE}(?:\n{_LINE})*"


@functools.cache
def _plain_subset() -> re.Pattern[str]:
    return re.compile(_PLAIN_SUBSET)  # on first use: builds that parse nothing skip it


def in_plain_subset(text: str) -> bool:
    """True when PyYAML and `yaml_rs` are known to read `text` alike (see above)."""
    return _plain_subset().fullmatch(text) is not None


def load(text: str) -> dict[str, Any] | None:
    """The mapping `text` holds, or None: then ask the reference (PyYAML).

    None also when `yaml_rs` is not installed, when `text` is outside the plain
    subset, when `yaml_rs` refuses it, and when it is not a mapping.
    """
    if _yaml_rs is None or not in_plain_subset(text):
        return None
    try:
        document = _yaml_rs.loads(text)
    except Exception:  # the reference decides what is wrong, and says why
        return None
    return document if isinstance(document, dict) else None
