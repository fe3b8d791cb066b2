"""Small records a build keeps in the state directory between runs.

Every reader treats a missing, unreadable or corrupt record as absent: state makes
builds safer or faster, never wrong, and deleting the directory is always safe.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

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
