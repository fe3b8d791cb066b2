from __future__ import annotations

import re
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aggregator.topics import assign_slugs, display_names, slug_for, topic_key


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("AWS AI", "aws-ai"),
        ("aws-ai", "aws-ai"),
        ("  AWS   AI!! ", "aws-ai"),
        ("Machine Learning", "machine-learning"),
        ("machine_learning", "machine-learning"),
        ("../../etc/passwd", "etc-passwd"),
        ("a/b\\c", "a-b-c"),
        ("\uff26\uff55\uff4c\uff4c\u3000\uff37\uff49\uff44\uff54\uff48", "full-width"),
    ],
)
def test_slugs_of_latin_names(name: str, slug: str) -> None:
    assert slug_for(topic_key(name)) == slug


def test_non_latin_names_get_a_readable_stable_slug() -> None:
    slug = slug_for(topic_key("Наука"))
    assert re.fullmatch(r"nauka-[0-9a-f]{8}", slug)
    assert slug == slug_for(topic_key("наука"))
    assert slug_for(topic_key("北京")).startswith("beijing-")


def test_names_of_only_punctuation_have_no_key() -> None:
    assert topic_key("?!…") == ""
    assert topic_key("\x00") == ""


@given(st.text(max_size=60))
def test_any_name_gives_a_safe_slug(name: str) -> None:
    key = topic_key(name)
    if key:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", slug_for(key))
        assert len(slug_for(key)) <= 90


@given(st.lists(st.text(min_size=1, max_size=12), max_size=30))
def test_different_topics_never_share_a_file(names: list[str]) -> None:
    keys = {topic_key(n) for n in names} - {""}
    slugs = assign_slugs(keys)
    assert len(set(slugs.values())) == len(keys)


def test_colliding_slugs_are_separated_deterministically() -> None:
    cyrillic = topic_key("Наука")
    impostor = slug_for(cyrillic).replace("-", " ")
    slugs = assign_slugs([impostor, cyrillic])
    assert slugs == assign_slugs([cyrillic, impostor])
    assert len(set(slugs.values())) == 2


def test_display_name_is_the_most_used_spelling() -> None:
    uses = Counter(["machine-learning", "Machine Learning", "Machine Learning", "AI"])
    assert display_names(uses) == {"machine learning": "Machine Learning", "ai": "AI"}
    assert display_names(Counter(["b-x", "B X"])) == display_names(Counter(["B X", "b-x"]))
    # Spellings that differ only by spaces around them are counted together.
    assert display_names({" AI ": 2, "ai": 3, "AI": 2}) == {"ai": "AI"}
