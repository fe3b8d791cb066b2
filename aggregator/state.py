"""What one build remembers for the next, in the configured `state_dir`.

Only story ids, by canonical URL (see `merge.merge_stories`): with them a story
keeps its id when copies of it appear or disappear, so feed readers do not show
it again as new. The file is memory, never an input that can fail a build: a
missing, unreadable or malformed file means starting fresh, as a first build
does, and a file that cannot be written is reported and skipped.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from pathlib import Path

from aggregator.errors import EmitError
from aggregator.output import write_if_changed

log = logging.getLogger(__name__)

#: The file in `state_dir` that holds the story ids.
STORY_IDS_FILE = "story-ids.json"
_FORMAT = 1
_STORY_ID = re.compile(r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def load_story_ids(state_dir: Path) -> dict[str, str]:
    """The story ids the previous build saved; empty when there are none to trust."""
    path = state_dir / STORY_IDS_FILE
    try:
        document = json.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:  # ValueError: bad JSON or bad UTF-8
        log.warning("%s: cannot read the story ids (%s); starting fresh", path, error)
        return {}
    ids = document.get("story_ids") if isinstance(document, dict) else None
    if (
        not isinstance(document, dict)
        or document.get("format") != _FORMAT
        or not isinstance(ids, dict)
        or not all(isinstance(v, str) and _STORY_ID.fullmatch(v) for v in ids.values())
    ):
        log.warning("%s: not a story id file of this version; starting fresh", path)
        return {}
    return ids


def save_story_ids(state_dir: Path, ids: Mapping[str, str]) -> bool:
    """Atomically keep `ids` for the next build; False when nothing changed or the
    file could not be written (which is logged: ids may then change once)."""
    document = {"format": _FORMAT, "story_ids": dict(sorted(ids.items()))}
    data = json.dumps(document, ensure_ascii=False, indent=0).encode("utf-8") + b"\n"
    try:
        return write_if_changed(state_dir / STORY_IDS_FILE, data)
    except EmitError as error:
        log.warning("%s; story ids are not remembered for the next build", error)
        return False
