"""What one build remembers for the next, in the configured `state_dir`.

- `last-build.json`: the previous build's article count, for the drop guard.
- `story-ids.json`: story ids by canonical URL (see `merge.merge_stories`): with
  them a story keeps its id when copies of it appear or disappear, so feed readers
  do not show it again as new.

State is memory, never an input that can fail a build: a missing, unreadable or
malformed record means starting fresh, as a first build does (the drop guard is
then off and story ids are derived anew), and a record that cannot be written is
reported and skipped.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aggregator import __version__
from aggregator.errors import EmitError
from aggregator.output import write_if_changed

log = logging.getLogger(__name__)

LAST_BUILD = "last-build.json"
#: The file in `state_dir` that holds the story ids.
STORY_IDS_FILE = "story-ids.json"
_FORMAT = 1
_STORY_ID = re.compile(r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def read_record(state_dir: Path, name: str) -> dict[str, Any] | None:
    """The JSON object stored under `name`, or None when there is no usable one."""
    path = state_dir / name
    try:
        record = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:  # ValueError: bad JSON or bad UTF-8
        log.warning("%s: ignoring unreadable state (%s); starting fresh", path, error)
        return None
    if not isinstance(record, dict):
        log.warning("%s: not a JSON object; starting fresh", path)
        return None
    return record


def write_record(state_dir: Path, name: str, record: Mapping[str, Any]) -> bool:
    """Store `record` under `name`, atomically; False when nothing changed or the
    file could not be written (which is logged)."""
    return _write(state_dir, name, _encode(record))


def _encode(record: Mapping[str, Any]) -> bytes:
    return json.dumps(record, ensure_ascii=False, indent=0).encode("utf-8") + b"\n"


def _write(state_dir: Path, name: str, data: bytes) -> bool:
    try:
        return write_if_changed(state_dir / name, data)
    except EmitError as error:
        log.warning("%s; not remembered for the next build", error)
        return False


def load_story_ids(state_dir: Path) -> dict[str, str]:
    """The story ids the previous build saved; empty when there are none to trust."""
    document = read_record(state_dir, STORY_IDS_FILE)
    if document is None:
        return {}
    ids = document.get("story_ids")
    if (
        document.get("format") != _FORMAT
        or not isinstance(ids, dict)
        or not all(isinstance(v, str) and _STORY_ID.fullmatch(v) for v in ids.values())
    ):
        log.warning("%s: not a story id file of this version; starting fresh", STORY_IDS_FILE)
        return {}
    return ids


def story_ids_record(ids: Mapping[str, str]) -> bytes:
    """The bytes of the file that keeps `ids` (see `save_story_ids`)."""
    return _encode({"format": _FORMAT, "story_ids": dict(sorted(ids.items()))})


def save_story_ids(state_dir: Path, record: bytes) -> bool:
    """Atomically keep the ids of `story_ids_record` for the next build (see
    `write_record`). The record is made apart from writing it, so that it can be
    made elsewhere (see `pipeline`)."""
    return _write(state_dir, STORY_IDS_FILE, record)


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
