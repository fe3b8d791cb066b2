"""What one build remembers for the next, in the configured `state_dir`.

- `last-build.json`: the previous build's article count, for the drop guard.
- `story-ids.json`: story ids by canonical URL (see `merge.merge_stories`): with
  them a story keeps its id when copies of it appear or disappear, so feed readers
  do not show it again as new.
- `title-pairs.txt`: the titles the last search for near-identical titles
  looked at and the similar pairs it found (see `titlepairs`), so that the next
  one looks up only new titles. A first line holds the format, the threshold, a
  digest of the code the pairs depend on and a digest of the rest: the number
  of pairs, each pair as two lines, then the titles, a line each (a title's
  words joined by spaces). Text, not a pickle: it loads as fast, reading it
  runs no code, and equal results are equal bytes. Another threshold or code,
  or a damaged file, means a full search.

State is memory, never an input that can fail a build: a missing, unreadable or
malformed record means starting fresh, as a first build does (the drop guard is
then off and story ids are derived anew), and a record that cannot be written is
reported and skipped.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from aggregator import __version__
from aggregator.errors import EmitError
from aggregator.output import staged_if_changed

if TYPE_CHECKING:  # imported where used, so that a build with nothing to do does not
    from aggregator.titlepairs import TitlePairs

log = logging.getLogger(__name__)

LAST_BUILD = "last-build.json"
#: The file in `state_dir` that holds the story ids.
STORY_IDS_FILE = "story-ids.json"
_FORMAT = 1
_STORY_ID = re.compile(r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
#: The file in `state_dir` that holds the last search for similar titles.
TITLE_PAIRS_FILE = "title-pairs.txt"
_TITLE_PAIRS_FORMAT = "aggregator-title-pairs 1"
#: The modules whose code decides which titles are similar.
_TITLE_PAIRS_CODE = ("titlepairs", "headlines")


class Replacement:
    """New contents for a file of the state directory, written to a temporary
    file beside it that takes its place atomically (`commit`) or is removed
    (`abandon`, also on leaving a `with` block), leaving the file as it was. A
    failure to write is logged (as a failure to store `what`), not raised, and
    what is written after it is dropped. Temporaries a killed build left are
    removed first. Call only under the build lock.

    Nothing is flushed to disk: these files are caches, checked when read, so
    one lost to a crash costs time, never a wrong result.
    """

    def __init__(self, path: Path, what: str) -> None:
        self._path = path
        self._what = what
        self._stream: IO[bytes] | None = None
        self._temporary: str | None = None
        for leftover in path.parent.glob(f".{path.name}.*"):
            leftover.unlink(missing_ok=True)
        try:
            handle, self._temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
            self._stream = os.fdopen(handle, "wb")
        except OSError as exc:
            self._failed(exc)

    @property
    def writing(self) -> bool:
        """True while what is written is kept: no failure, and neither
        committed nor abandoned."""
        return self._stream is not None

    def write(self, write: Callable[[IO[bytes]], object]) -> None:
        """`write` to the new contents, unless writing failed before."""
        if self._stream is not None:
            try:
                write(self._stream)
            except OSError as exc:
                self._failed(exc)

    def commit(self) -> bool:
        """Put the new contents in place, unless writing failed; whether they were."""
        if self._stream is None or self._temporary is None:
            return False
        try:
            self._stream.close()
            os.replace(self._temporary, self._path)
        except OSError as exc:
            self._failed(exc)
            return False
        self._stream = self._temporary = None
        return True

    def abandon(self) -> None:
        """Remove the new contents, unless they were put in place."""
        if self._stream is not None:
            with contextlib.suppress(OSError):
                self._stream.close()
            self._stream = None
        if self._temporary is not None:
            Path(self._temporary).unlink(missing_ok=True)
            self._temporary = None

    def __enter__(self) -> Replacement:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.abandon()

    def _failed(self, exc: OSError) -> None:
        log.warning("%s: cannot store %s (%s)", self._path, self._what, exc.strerror or exc)
        self.abandon()


def read_record(state_dir: Path, name: str) -> dict[str, Any] | None:
    """The JSON object stored under `name`, or None when there is no usable one."""
    return _record_of(state_dir / name, _bytes_of(state_dir / name))


def _bytes_of(path: Path) -> bytes | None:
    """The bytes of the file at `path`; None when it cannot be read (logged,
    unless there is no such file)."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as error:
        log.warning("%s: ignoring unreadable state (%s); starting fresh", path, error)
        return None


def _record_of(path: Path, data: bytes | None) -> dict[str, Any] | None:
    """The JSON object `data` (read from `path`) holds, or None."""
    if data is None:
        return None
    try:
        record = json.loads(data)
    except ValueError as error:  # bad JSON or bad UTF-8
        log.warning("%s: ignoring unreadable state (%s); starting fresh", path, error)
        return None
    if not isinstance(record, dict):
        log.warning("%s: not a JSON object; starting fresh", path)
        return None
    return record


def write_record(state_dir: Path, name: str, record: Mapping[str, Any]) -> bool:
    """Store `record` under `name`, atomically; False when nothing changed or the
    file could not be written (which is logged)."""
    return _write(state_dir / name, _encode(record))


def _encode(record: Mapping[str, Any]) -> bytes:
    return json.dumps(record, ensure_ascii=False, indent=0).encode("utf-8") + b"\n"


def _write(path: Path, data: bytes) -> bool:
    """Make the file at `path` hold `data`, atomically; False when it did
    already or could not (which is logged)."""
    return stage(path, data).put_in_place()


@dataclass(frozen=True)
class Staged:
    """New bytes for the file at `path`, written beside it and flushed to disk
    (`stage`), for `put_in_place` to make them the file's at once: the slow part
    done apart, perhaps in a copy of the build (this pickles). `temporary` is
    None when there is nothing to put in place: the file holds those bytes
    already, or they could not be written."""

    path: Path
    temporary: str | None

    def put_in_place(self) -> bool:
        """Rename the new bytes over the file; False when there were none or
        the rename failed (which is logged)."""
        if self.temporary is None:
            return False
        try:
            os.replace(self.temporary, self.path)
        except OSError as exc:
            Path(self.temporary).unlink(missing_ok=True)
            log.warning("%s: cannot replace (%s); not remembered", self.path, exc.strerror)
            return False
        return True


def stage(path: Path, data: bytes) -> Staged:
    """`data` written beside the file at `path` (see `Staged`), after removing
    what an earlier build staged for it and did not put in place (call under
    the build lock). A failure to write is logged, not raised."""
    for leftover in path.parent.glob(f".{path.name}.*"):
        leftover.unlink(missing_ok=True)
    try:
        return Staged(path, staged_if_changed(path, data))
    except EmitError as error:
        log.warning("%s; not remembered for the next build", error)
        return Staged(path, None)


def load_story_ids(state_dir: Path) -> dict[str, str]:
    """The story ids the previous build saved; empty when there are none to trust."""
    return load_story_ids_digested(state_dir)[0]


def load_story_ids_digested(state_dir: Path) -> tuple[dict[str, str], str]:
    """`load_story_ids`, and the `story_ids_digest` of the file's bytes
    (empty when there is no file to read)."""
    path = state_dir / STORY_IDS_FILE
    data = _bytes_of(path)
    digest = "" if data is None else story_ids_digest(data)
    document = _record_of(path, data)
    if document is None:
        return {}, digest
    ids = document.get("story_ids")
    if (
        document.get("format") != _FORMAT
        or not isinstance(ids, dict)
        or not all(isinstance(v, str) and _STORY_ID.fullmatch(v) for v in ids.values())
    ):
        log.warning("%s: not a story id file of this version; starting fresh", STORY_IDS_FILE)
        return {}, digest
    return ids, digest


def story_ids_digest(record: bytes) -> str:
    """A digest of the bytes of a story ids file (see `story_ids_record`):
    what ties records made with those ids to them (see `groupingstore`)."""
    return hashlib.blake2b(record, digest_size=16).hexdigest()


def story_ids_record(ids: Mapping[str, str]) -> bytes:
    """The bytes of the file that keeps `ids` (see `save_story_ids`)."""
    return _encode({"format": _FORMAT, "story_ids": dict(sorted(ids.items()))})


def stage_story_ids(state_dir: Path, record: bytes) -> Staged:
    """The record of `story_ids_record`, staged to keep the ids for the next
    build (see `Staged`): made and written apart from being put in place, so
    that a copy of the build can do both while the build renders (see
    `pipeline`)."""
    return stage(state_dir / STORY_IDS_FILE, record)


def save_story_ids(state_dir: Path, record: bytes) -> bool:
    """Atomically keep the ids of `story_ids_record` for the next build (see
    `write_record`)."""
    return stage_story_ids(state_dir, record).put_in_place()


def load_title_pairs(state_dir: Path, threshold: float) -> TitlePairs | None:
    """What the previous build's search for similar titles at `threshold` found,
    if the code that decides it is as it is now; None when there is nothing to
    trust (see the module docstring)."""
    from aggregator.titlepairs import TitlePairs

    path = state_dir / TITLE_PAIRS_FILE
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as error:
        log.warning("%s: ignoring unreadable state (%s); searching all titles", path, error)
        return None
    first_line, _, payload = data.partition(b"\n")
    if not first_line.startswith(_title_pairs_key(threshold)):
        return None  # another format, threshold or code: nothing is wrong
    if first_line != _title_pairs_header(threshold, payload):
        log.warning("%s: damaged; searching all titles", path)
        return None
    try:
        lines, titles = _pair_lines_and_titles(payload.decode("utf-8", "surrogatepass"))
    except ValueError:  # bad UTF-8 or layout: not written by `save_title_pairs`
        log.warning("%s: not a title pairs file; searching all titles", path)
        return None
    words = [tuple(line.split(" ")) for line in lines]
    return TitlePairs(threshold, frozenset(zip(words[::2], words[1::2], strict=True)), titles)


def _pair_lines_and_titles(text: str) -> tuple[list[str], str]:
    """The pairs' titles, two lines a pair, and the titles searched, of a title
    pairs file's `text` after its first line."""
    count, rest = text.split("\n", 1)
    *lines, titles = rest.split("\n", 2 * int(count))
    if len(lines) != 2 * int(count):
        raise ValueError(f"{count} pairs, {len(lines)} lines")
    return lines, titles


def save_title_pairs(state_dir: Path, found: TitlePairs | None) -> bool:
    """Atomically keep what a search for similar titles `found`, for the next
    build (see `write_record`); False also when there is nothing to keep. Call
    only under the build lock."""
    if found is None or found.titles is None:
        return False
    pairs = [" ".join(title) for pair in sorted(found.pairs) for title in pair]
    text = "\n".join([str(len(found.pairs)), *pairs, found.titles])
    payload = text.encode("utf-8", "surrogatepass")
    header = _title_pairs_header(found.threshold, payload)
    return _write(state_dir / TITLE_PAIRS_FILE, header + b"\n" + payload)


def _title_pairs_key(threshold: float) -> bytes:
    code = code_digest(*_TITLE_PAIRS_CODE)
    return f"{_TITLE_PAIRS_FORMAT} threshold {threshold!r} code {code} ".encode()


def _title_pairs_header(threshold: float, payload: bytes) -> bytes:
    digest = hashlib.blake2b(payload, digest_size=16).hexdigest()
    return _title_pairs_key(threshold) + digest.encode()


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
