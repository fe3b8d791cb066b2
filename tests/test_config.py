from __future__ import annotations

from pathlib import Path

import pytest

from aggregator.config import Config, load_config
from aggregator.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_missing_file_gives_defaults_with_paths_beside_it(tmp_path: Path) -> None:
    config = load_config(tmp_path / "config.yaml")
    assert config.max_items == 50
    assert config.sources == (tmp_path / "articles",)
    assert config.output == tmp_path / "feeds"


def test_missing_file_is_an_error_when_required(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml", required=True)


def test_shipped_config_equals_the_defaults() -> None:
    """config.yaml documents the defaults: it must not drift from the code."""
    assert load_config(REPO / "config.yaml") == load_config(REPO / "absent.yaml")


def test_single_key_file_is_valid_and_rest_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "max_items: 7\n"))
    assert config.max_items == 7
    assert config.site == Config().site


def test_relative_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "sources: [a, /abs/b]\noutput: out\nstate_dir: st\n"))
    assert config.sources == (tmp_path / "a", Path("/abs/b"))
    assert config.output == tmp_path / "out"
    assert config.state_dir == tmp_path / "st"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("colour: red", "colour: unknown key"),
        ("site: {titel: x}", "site.titel: unknown key"),
        ("max_items: 0", "max_items: expected a number above 0"),
        ("max_items: 2.5", "max_items: expected a whole number"),
        ("max_items: ten", "max_items: expected a number"),
        ("drafts: maybe", "drafts: expected true or false"),
        ("site: {base_url: 'ftp://example.com/'}", "site.base_url: expected an absolute http"),
        ("merge: {title_similarity: 1.5}", "merge.title_similarity: expected a number from 0"),
        ("rank: {heat_weight: -1}", "rank.heat_weight: expected a number of 0 or more"),
        ("fetch: {timeout: .nan}", "fetch.timeout: expected a finite number"),
        ("site: 3", "site: expected a mapping"),
        ("sources: []", "sources: expected a non-empty list"),
        ("- a\n- b", "expected a mapping of keys at the top level"),
        ("max_items: [1", "not valid YAML"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        load_config(write(tmp_path, text))


def test_a_single_source_string_is_a_list(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "sources: news\n")).sources == (tmp_path / "news",)
