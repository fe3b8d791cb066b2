"""The only reader of config.yaml: defaults, validation and unknown-key errors.

Every key is optional. Sections map onto frozen dataclasses below; a key that is not
a field, or a value of the wrong type, is a `ConfigError` naming the dotted key.
Relative paths are resolved against the directory of the config file.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from aggregator.errors import ConfigError
from aggregator.text import is_http_url


@dataclass(frozen=True)
class SiteConfig:
    title: str = "News"
    base_url: str = "http://localhost:8000/"
    language: str = "en"
    author: str = "News aggregator"


@dataclass(frozen=True)
class MergeConfig:
    window_hours: float = 72.0
    title_similarity: float = 0.8


@dataclass(frozen=True)
class RankConfig:
    heat_weight: float = 1.0
    quality_weight: float = 1.0
    coverage_weight: float = 5.0
    half_life_hours: float = 24.0


@dataclass(frozen=True)
class PublishConfig:
    prune_orphans: bool = False
    hub: str | None = None
    max_drop_ratio: float = 0.5


@dataclass(frozen=True)
class FetchConfig:
    enabled: bool = False
    timeout: float = 10.0
    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    max_bytes: int = 2_000_000
    per_host: int = 2
    concurrency: int = 16
    retries: int = 2
    backoff: float = 0.5
    contact_url: str = "https://example.invalid/contact"
    respect_robots: bool = True
    cache_ttl: float = 21600.0
    budget: float = 120.0
    keep_dead: bool = False
    allow_private_networks: bool = False


@dataclass(frozen=True)
class Config:
    """A whole, validated configuration. `sources`, `output` and `state_dir` are absolute."""

    sources: tuple[Path, ...] = (Path("articles"),)
    output: Path = Path("feeds")
    state_dir: Path = Path(".aggregator")
    drafts: bool = False
    max_items: int = 50
    max_file_bytes: int = 1_000_000
    jobs: int = 0
    site: SiteConfig = field(default_factory=SiteConfig)
    merge: MergeConfig = field(default_factory=MergeConfig)
    rank: RankConfig = field(default_factory=RankConfig)
    publish: PublishConfig = field(default_factory=PublishConfig)
    fetch: FetchConfig = field(default_factory=FetchConfig)


_T = TypeVar("_T")

#: Numbers that must be positive (strictly), by dotted key.
_POSITIVE = {
    "max_items",
    "max_file_bytes",
    "merge.window_hours",
    "rank.half_life_hours",
    "fetch.timeout",
    "fetch.connect_timeout",
    "fetch.read_timeout",
    "fetch.max_bytes",
    "fetch.per_host",
    "fetch.concurrency",
    "fetch.budget",
}
#: Strings that must be absolute http(s) URLs.
_URLS = {"site.base_url", "publish.hub", "fetch.contact_url"}
#: Numbers that must lie in [0, 1].
_FRACTIONS = {"merge.title_similarity", "publish.max_drop_ratio"}


def load_config(path: Path, *, required: bool = False) -> Config:
    """Read and validate `path`; a missing file gives the defaults unless `required`."""
    base = path.resolve().parent
    if not path.exists():
        if required:
            raise ConfigError(str(path), "config file not found")
        return resolve_paths(Config(), base)
    import yaml  # here: a build without a config file does without it

    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), f"cannot read: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(str(path), f"not valid YAML: {exc}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(str(path), "expected a mapping of keys at the top level")
    try:
        config = _build(Config, raw, "")
    except _KeyProblem as problem:
        raise ConfigError(str(path), f"{problem.key}: {problem.reason}") from None
    return resolve_paths(config, base)


def resolve_paths(config: Config, base: Path) -> Config:
    """Make the relative paths of `config` absolute against `base`."""
    return dataclasses.replace(
        config,
        sources=tuple(base / p for p in config.sources),
        output=base / config.output,
        state_dir=base / config.state_dir,
    )


class _KeyProblem(Exception):
    def __init__(self, key: str, reason: str) -> None:
        super().__init__(key, reason)
        self.key = key
        self.reason = reason


def _build(cls: type[_T], raw: dict[Any, Any], prefix: str) -> _T:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    values: dict[str, Any] = {}
    for key, value in raw.items():
        dotted = f"{prefix}{key}"
        if key not in names:
            known = ", ".join(sorted(names))
            raise _KeyProblem(dotted, f"unknown key (known keys here: {known})")
        values[key] = _convert(hints[key], value, dotted)
    return cls(**values)


def _convert(hint: Any, value: Any, key: str) -> Any:
    if dataclasses.is_dataclass(hint):
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise _KeyProblem(key, "expected a mapping")
        return _build(hint, value, f"{key}.")  # type: ignore[arg-type]
    args = typing.get_args(hint)
    if isinstance(hint, types.UnionType) and type(None) in args:
        if value is None:
            return None
        (inner,) = (a for a in args if a is not type(None))
        return _convert(inner, value, key)
    if hint is bool:
        if not isinstance(value, bool):
            raise _KeyProblem(key, f"expected true or false, got {value!r}")
        return value
    if hint in (int, float):
        return _number(hint, value, key)
    if hint is str:
        if not isinstance(value, str):
            raise _KeyProblem(key, f"expected a string, got {value!r}")
        if key in _URLS and not is_http_url(value):
            raise _KeyProblem(key, f"expected an absolute http or https URL, got {value!r}")
        return value
    if hint is Path:
        if not isinstance(value, str) or not value:
            raise _KeyProblem(key, f"expected a path, got {value!r}")
        return Path(value)
    if typing.get_origin(hint) is tuple:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value:
            raise _KeyProblem(key, "expected a non-empty list of paths")
        return tuple(_convert(args[0], item, key) for item in value)
    raise TypeError(f"config field {key} has an unsupported type {hint!r}")  # pragma: no cover


def _number(hint: type, value: Any, key: str) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _KeyProblem(key, f"expected a number, got {value!r}")
    if hint is int and not (isinstance(value, int) or float(value).is_integer()):
        raise _KeyProblem(key, f"expected a whole number, got {value!r}")
    if not math.isfinite(value):
        raise _KeyProblem(key, f"expected a finite number, got {value!r}")
    number = int(value) if hint is int else float(value)
    if key in _POSITIVE and number <= 0:
        raise _KeyProblem(key, f"expected a number above 0, got {value!r}")
    if key in _FRACTIONS and not 0 <= number <= 1:
        raise _KeyProblem(key, f"expected a number from 0 to 1, got {value!r}")
    if number < 0:
        raise _KeyProblem(key, f"expected a number of 0 or more, got {value!r}")
    return number
