"""The fast YAML path gives exactly what the reference (PyYAML) gives, or stays out."""

from __future__ import annotations

import importlib
import math
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
import yaml_rs
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from aggregator import fastyaml
from aggregator.errors import SourceError
from aggregator.model import Article
from aggregator.sources import load_front_matter, parse_article
from tests.test_fuzz import FIELDS, mappings

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))
import gen_corpus  # noqa: E402

Outcome = tuple[str, str]


@pytest.fixture
def no_yaml_rs(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """As if the `fast` extra were not installed."""
    monkeypatch.setattr(fastyaml, "_yaml_rs", None)
    yield


def _canonical(value: Any) -> str:
    """repr with NaN made comparable and key order kept (both parsers keep it)."""
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    if isinstance(value, dict):
        items = ", ".join(f"{_canonical(k)}: {_canonical(v)}" for k, v in value.items())
        return "{" + items + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_canonical(v) for v in value) + "]"
    return f"{type(value).__name__}:{value!r}"


@contextmanager
def backend(*, fast: bool) -> Iterator[None]:
    """Load with `yaml_rs` where it may be used, or with the reference alone."""
    saved = fastyaml._yaml_rs
    fastyaml._yaml_rs = saved if fast else None
    try:
        yield
    finally:
        fastyaml._yaml_rs = saved


def loaded(text: str, *, fast: bool) -> Outcome:
    """What `load_front_matter` makes of `text`, with or without `yaml_rs`."""
    with backend(fast=fast):
        try:
            return "mapping", _canonical(load_front_matter(text, "a.txt"))
        except SourceError as error:
            return "rejected", error.reason


def parsed(data: bytes, *, fast: bool) -> Article | str:
    with backend(fast=fast):
        try:
            return parse_article(data, "a.txt")
        except SourceError as error:
            return error.reason


def assert_same(text: str) -> None:
    assert loaded(text, fast=True) == loaded(text, fast=False), text


def test_generated_corpus_gives_identical_articles(tmp_path: Path) -> None:
    gen_corpus.generate(tmp_path, 3000, seed=7)
    files = sorted(tmp_path.rglob("*.txt"))
    # Some files break the rules, as real dumps do: the reasons must match too.
    files[1].write_text(files[1].read_text().replace("heat:", "heat: 1\nheat:", 1))
    files[2].write_text(files[2].read_text().replace("published: ", "published: yes #", 1))
    files[3].write_text(files[3].read_text().replace("title:", "title: &t", 1))
    assert len(files) == 3000
    fast_path = 0
    for path in files:
        data = path.read_bytes()
        fast = parsed(data, fast=True)
        assert fast == parsed(data, fast=False), path
        fast_path += fastyaml.in_plain_subset(data.decode().split("---\n")[1])
    assert fast_path >= 2990  # the comparison above really exercised yaml_rs


def test_seed_articles_are_in_the_plain_subset() -> None:
    seeds = sorted((REPO / "articles").glob("*.txt"))
    assert seeds
    for path in seeds:
        text = path.read_text(encoding="utf-8").split("---\n")[1]
        assert fastyaml.in_plain_subset(text), path
        assert_same(text)


# YAML 1.1 against 1.2 and the loader's own rules: each line is one document.
EDGE_CASES = """\
a: yes
a: No
a: ON
a: off
a: y
a: n
a: True
a: FALSE
a: ~
a: Null
a:
on: 1
y: 1
a: 0o17
a: 012
a: 09
a: 0x1F
a: 0b101
a: 1_000
a: _1
a: 1:30
a: 190:20:30.15
a: 1e3
a: 1.0e3
a: 12E+03
a: 1e400
a: .5
a: 1.
a: +1
a: -0
a: -0.0
a: .inf
a: -.Inf
a: .NaN
a: inf
a: nan
a: Infinity
a: 18446744073709551616
a: 2020-06-15T18:03:00Z
a: 2020-06-15t18:03:00Z
a: 2020-06-15 18:03:00
a: 2020-06-15T18:03:00.123456789+14:00
a: 2020-06-15T18:03:60Z
a: 2020-06-15T25:00:00Z
a: 2020-02-30
a: 2020-02-29
a: 2100-02-29
a: 2000-02-29
a: 0000-01-01
a: 2020-6-5
a: '012'
a: "x\\ty"
a: "\\x41\\u00e9"
a: "\\N"
a: "a\\\\b\\"c"
a: 'it''s'
a: !!str 12
a: !!python/object/apply:os.system ['true']
a: &x 1
a: =
a: <<
a: 5G
a: 9to5Mac
a: 1st
a: 0b1x
a: 1o
a: 10E
a: AT&T
a: Tom's Hardware
a: x  y
a: x #c
a: x#c
a: x: y
a: [1, 2]
a: {b: 1}
%YAML 1.1
a: Zürich
a: Наука
a: x\u2028y
a: x\x85y
a: "x\u2028y"
a: "x\ufeffy"
a: x\ufeff
a: "\x7f"
a: b\n  c: d
a:\n  - x\n - y
a:\n    b: 1\n  c: 2
a:\n- x\nb: 1
a: 1\na: 2
a:\n  b: 1\n  b: 2
a: 1\n b: 2
- a\n- b
- a: 1\n  b: 2\n- c
a: x\n  y
a: |\n  x\n  y
a: >\n  x\n  y
# only a comment
"""


@pytest.mark.parametrize("text", EDGE_CASES.splitlines())
def test_edge_cases_agree(text: str) -> None:
    assert_same(text.replace("\\n", "\n"))


@pytest.mark.parametrize(
    "text",
    [
        "a: yes",
        "a: No",
        "on: 1",
        "a: 012",
        "a: 0o17",
        "a: 1e3",
        "a: 1:30",
        "a: 2020-02-30",
        "a: 2020-06-15T18:03:60Z",
        "a: &x 1",
        "a: !!str 1",
        "a: inf",
        "a: [1]",
        "a: x\u2028y",
        "a:\tx",
        "a: x ",
        "a: |\n  x",
        'a: "2020-01-01"',
        "a: '2020-06-15 18:03'",
        'a: "18:03:00"',
    ],
)
def test_yaml_1_1_only_and_ambiguous_text_stays_with_the_reference(text: str) -> None:
    assert not fastyaml.in_plain_subset(text)


def test_typical_front_matter_takes_the_fast_path() -> None:
    text = (
        'title: "Rates rise again"\nwebUrl: https://news.example/a?b=1\n'
        "publishedDateTime: 2026-11-26T09:00:00Z\nheat: 42\nquality: 7.5\npublished: true\n"
        "provider:\n  name: Tom's Hardware\n  domain: tomshardware.com\n"
        "topics:\n  - AT&T\n  - 5G\n  - Zürich Tech\n"
    )
    assert fastyaml.in_plain_subset(text)
    assert fastyaml.load(text) == yaml.safe_load(text)


def test_duplicate_keys_are_still_an_error() -> None:
    text = "title: a\nprovider:\n  name: x\n  name: z\n"
    assert fastyaml.in_plain_subset(text)
    assert fastyaml.load(text) is None  # yaml_rs refuses, the reference says why
    with pytest.raises(SourceError, match="duplicate key 'name'"):
        load_front_matter(text, "a.txt")


@pytest.mark.usefixtures("no_yaml_rs")
def test_without_yaml_rs_the_reference_loads_everything() -> None:
    text = "title: x\nheat: 5\n"
    assert fastyaml.load(text) is None
    assert load_front_matter(text, "a.txt") == {"title": "x", "heat": 5}


def test_missing_package_means_the_reference_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "yaml_rs", None)  # import yaml_rs now raises
    try:
        reloaded = importlib.reload(fastyaml)
        assert reloaded.BACKEND == "pyyaml"
        assert reloaded.load("title: x\n") is None
    finally:
        monkeypatch.undo()
        importlib.reload(fastyaml)
    assert fastyaml.BACKEND.startswith("yaml_rs")


# Hypothesis: whole front matters as other tools write them ------------------------

dump_options = st.fixed_dictionaries(
    {
        "default_flow_style": st.sampled_from([False, None]),
        "width": st.sampled_from([80, 10_000]),
        "allow_unicode": st.booleans(),
        "sort_keys": st.booleans(),
    }
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(mappings, dump_options)
def test_dumped_mappings_agree(mapping: dict[str, Any], options: dict[str, Any]) -> None:
    text = yaml.safe_dump(mapping, **options)
    assert_same(text)
    data = f"---\n{text}---\n".encode()
    assert parsed(data, fast=True) == parsed(data, fast=False)


# Hypothesis: every kind of value the subset admits, written by hand -------------

plain_values = st.one_of(
    st.from_regex(fastyaml._PLAIN_TEXT, fullmatch=True),
    st.from_regex(fastyaml._INTEGER, fullmatch=True),
    st.from_regex(fastyaml._DECIMAL, fullmatch=True),
    st.from_regex(fastyaml._DATE, fullmatch=True),
    st.from_regex(rf"{fastyaml._DATE}{fastyaml._TIME}{fastyaml._ZONE}", fullmatch=True),
    st.from_regex(fastyaml._DOUBLE_QUOTED, fullmatch=True),
    st.from_regex(fastyaml._SINGLE_QUOTED, fullmatch=True),
    st.sampled_from(["true", "false", "null", "~", "True", "yes", "0o7", "1e5", "12:30"]),
    st.text(max_size=12),
)


@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow])
@given(plain_values)
@example("2000-02-29T23:59:59.9999999-23:59")
@example("1900-02-29")
@example("0000-02-29")
@example('"2020-01-01"')
@example("'18:03:00'")
@example("Y")
@example("9to5Mac")
def test_single_values_agree(value: str) -> None:
    for text in (f"a: {value}", f"- {value}", f"k:\n  - {value}\n  - x: {value}"):
        assert_same(text)


def _grammar_lines() -> st.SearchStrategy[str]:
    """Lines of the subset's shapes with random indentation: structure, not scalars."""
    indent = st.integers(0, 6).map(lambda n: " " * n)
    key = st.sampled_from(["a", "b", "title", "on", "Yes", "x1"])
    value = st.sampled_from(["1", "x", '"q"', "''", "2020-01-01", "yes", "- z", "[1]"])
    shape = st.sampled_from(["{k}:", "{k}: {v}", "- {v}", "- {k}:", "- {k}: {v}", "", "# c"])
    return st.builds(lambda i, s, k, v: i + s.format(k=k, v=v), indent, shape, key, value)


@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_grammar_lines(), min_size=1, max_size=8))
def test_random_structures_agree(lines: list[str]) -> None:
    assert_same("\n".join(lines))


#: The special words with each letter in either case.
special_words_in_any_case = st.sampled_from(fastyaml._SPECIAL_WORDS).flatmap(
    lambda word: st.tuples(*(st.sampled_from((c, c.upper())) for c in word)).map("".join)
)


@settings(max_examples=2000)
@given(
    special_words_in_any_case
    | st.from_regex(r"[A-Za-z0-9_\u0130\u0131\u017f]{1,9}", fullmatch=True)
)
@example("Infinity")
@example("nAn")
@example("title")
@example("on1")
@example("\u0131nf")
def test_keys_are_words_but_the_special_ones(key: str) -> None:
    is_word = re.fullmatch("[A-Za-z][A-Za-z0-9_]*", key) is not None
    is_special = re.fullmatch(fastyaml._SPECIAL_WORD, key) is not None
    assert (re.fullmatch(f"{fastyaml._KEY}:", f"{key}:") is not None) == (
        is_word and not is_special
    )
    assert fastyaml.in_plain_subset(f"{key}: 1") == (is_word and not is_special)


@settings(max_examples=2000)
@given(
    special_words_in_any_case
    | st.from_regex(r"[A-Za-z\u0130\u0131\u017f][A-Za-z0-9\u0130\u0131\u017f]{0,8}", fullmatch=True)
)
@example("\u0131nf")
@example("\u0130NF")
@example("ye\u017f")
@example("article")
def test_plain_words_are_words_but_the_special_ones(word: str) -> None:
    is_special = re.fullmatch(fastyaml._SPECIAL_WORD, word) is not None
    assert (re.fullmatch(fastyaml._PLAIN_TEXT, word) is not None) == (not is_special)
    assert_same(f"a: {word}")


@pytest.mark.parametrize("line", ["key{}:", "- value {}"])
def test_a_document_failing_on_its_last_line_is_refused_in_linear_time(line: str) -> None:
    # Were a key or a word matched two ways, the engine would retry every line
    # both ways before giving up: 2**20 tries here, seconds; one way, microseconds.
    text = "\n".join([*(line.format(index) for index in range(20)), "a: []"])
    start = time.perf_counter()
    assert not fastyaml.in_plain_subset(text)
    assert time.perf_counter() - start < 0.5


def test_timestamps_are_what_pyyaml_makes() -> None:
    assert yaml_rs.loads("a: 2020-06-15T18:03:00Z") == {
        "a": datetime(2020, 6, 15, 18, 3, tzinfo=UTC)
    }
    assert fastyaml.load("a: 2020-06-15") == {"a": date(2020, 6, 15)}


def test_field_names_are_plain_keys() -> None:
    for name in FIELDS:
        assert fastyaml.in_plain_subset(f"{name}: x")
