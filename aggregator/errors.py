"""The exceptions the aggregator raises on purpose.

Each one carries the file or URL it is about, so a message for a user can always
name it. Anything else that escapes is a bug.
"""

from __future__ import annotations


class AggregatorError(Exception):
    """Base class: `where` is the path or URL the problem is about."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason


class ConfigError(AggregatorError):
    """The configuration file or a command-line value is unusable."""


class SourceError(AggregatorError):
    """An article file cannot become an article."""


class FetchError(AggregatorError):
    """A page could not be fetched."""


class EmitError(AggregatorError):
    """A feed or index file could not be written."""


class StateError(AggregatorError):
    """The state directory (lock, caches) cannot be used."""


class LockedError(AggregatorError):
    """Another build holds the lock on the state directory."""


class RefusedError(AggregatorError):
    """Publishing would drop too much of the previous build: probably a broken source."""
