"""Small records a build keeps in the state directory between runs.

Every reader treats a missing, unreadable or corrupt record as absent: state makes
builds safer or faster, never wrong, and deleting the directory is always safe.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from pathlib import Path
from typing import Any

from aggregator import __version__
from aggregator.output import write_if_changed

LAST_BUILD = "last-build.json"

log = logging.getLogger(__name__)


def read_record(state_dir: Path, name: str) -> dict[str, Any] | None:
    """The JSON object stored under `name`, or None when there is no usable one."""
    path = state_dir / name
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("%s: ignoring unreadable state (%s)", path, exc)
        return None
    return record if isinstance(record, dict) else None


def write_record(state_dir: Path, name: str, record: dict[str, Any]) -> None:
    """Store `record` under `name`, atomically."""
    data = json.dumps(record, indent=1, sort_keys=True).encode("utf-8") + b"\n"
    write_if_changed(state_dir / name, data)


@functools.cache
def code_digest(*modules: str) -> str:
    """A digest of the aggregator's version and the source of the named modules of
    the package (all of them when none is named).

    State derived by other code is stale even when nobody bumped a version, so
    caches are keyed by this too. A module whose source cannot be read (an
    installation without .py files) counts by the version alone.
    """
    package = Path(__file__).resolve().parent
    files = [package / f"{name}.py" for name in modules] or sorted(package.glob("*.py"))
    digest = hashlib.blake2b(__version__.encode("utf-8"), digest_size=16)
    for path in files:
        digest.update(b"\0" + path.name.encode("utf-8") + b"\0")
        try:
            digest.update(path.read_bytes())
        except OSError:
            digest.update(b"?")
    return digest.hexdigest()
