"""Doing only the work that changed: no build at all when no input did, and no
rendering of a feed whose content did not.

Both decisions compare against the record of the last successful build
(`state.LAST_BUILD`), which keeps:

- `fingerprint`: a digest of every input of a build (the article files' paths,
  sizes and mtimes, the paths refused by the walk, the configuration, the
  options, the working directory, which rejections are named relative to, and
  the aggregator's code and libraries). A file that had not settled (see
  `files.SETTLE_NS`) counts by the digest of the bytes the build read, too:
  its size and mtime might not tell that version from the next. The record
  lists such files (`checked`), and the next build digests their bytes to
  make its fingerprint (`InputFingerprint.current`). A build with
  the same fingerprint would publish the same bytes, unless the clock reached
  `valid_until` (when an article refused as dated in the future comes due) or
  an output file was changed or removed since; otherwise `reusable_report`
  gives the last build's report (every feed unchanged) and the build writes
  nothing.
- `files`: for each output file, a digest of everything its bytes depend on (the
  feed's `FeedSpec`, with each article by a digest of it, and the renderer's
  code and libraries) and its size and mtime as written. A file whose digest is
  the same and which is still as written is not rendered again (`write_changed`).

A feed that is rendered again takes the entries of the stories it showed before
from `entrystore`, under each story's key: a digest of what its entries show
(its copies by their digests, its topics' names, its times) and of the
renderer's code and libraries, made in the same way as the files' digests.

A missing or unreadable record only means more work. Fetching (config `fetch`)
makes a build depend on the network, so with it on no build is ever skipped.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import marshal
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aggregator import fastyaml
from aggregator.config import Config
from aggregator.files import FoundFiles, file_digest, settled_before
from aggregator.model import BuildReport, FeedResult, Ranked, Rejection, Story
from aggregator.output import publish
from aggregator.state import code_digest

if TYPE_CHECKING:  # rendering (and, through it, parsing) is imported only to render
    from aggregator.entrystore import EntryStore, StoryEntries
    from aggregator.feedspec import FeedSpec, Format
    from aggregator.rendering import FeedFile

_FORMAT = "aggregator-incremental 1"

#: For each output file (relative path): [digest, size, mtime_ns].
FileRecords = dict[str, list[Any]]


#: The libraries whose versions decide what a build makes (their PyPI names).
LIBRARIES = ("feedgen", "lxml", "PyYAML", "python-dateutil", "anyascii")


@functools.cache
def _environment() -> str:
    """The code and libraries that decide what a build makes of its inputs."""
    versions = installed_versions(LIBRARIES)
    return "|".join([_FORMAT, code_digest(), fastyaml.BACKEND, *versions])


def installed_versions(names: Sequence[str]) -> list[str]:
    """For each of `names`, "name version" of the distribution found first on
    `sys.path` ("name ?" when none is), read from the name of its metadata
    directory alone, `{name}-{version}.dist-info` (or `.egg-info`): what
    `importlib.metadata.version` answers, without the imports and the reading
    of metadata that cost a build with nothing to do a tenth of its time."""
    wanted = {_normalized(name): name for name in names}
    found: dict[str, str] = {}
    for entry in sys.path:
        try:
            listed = os.listdir(entry or ".")
        except OSError:  # a zip archive, a missing directory
            continue
        for item in listed:
            stem, _, kind = item.rpartition(".")
            if kind in ("dist-info", "egg-info"):
                project, _, version = stem.partition("-")
                found.setdefault(_normalized(project), version.partition("-")[0])
        if found.keys() >= wanted.keys():
            break
    return [f"{name} {found.get(key, '?')}" for key, name in wanted.items()]


def _normalized(project: str) -> str:
    """A distribution's name as metadata directories may spell it (PEP 503)."""
    return re.sub(r"[-_.]+", "_", project).lower()


class InputFingerprint:
    """The digest of every input of a build (see the module docstring): of
    what the walk found (`found`), the configuration and `options` (the
    build's options, a dataclass whose repr says all of it), finished with
    the digests of the bytes of the files whose stamps cannot be trusted: as
    they are before the build (`current`), as it read them after (`of`)."""

    def __init__(self, config: Config, options: object, found: FoundFiles) -> None:
        self._config = config
        self._options = options
        self._found = found
        settled = settled_before()
        stamps = zip(found.names, found.stamps, strict=True)
        # The files that may not have settled by the time `of` is asked.
        self._recent = [
            (name, stamp) for name, stamp in stamps if stamp is None or stamp[1] >= settled
        ]

    def of(self, checks: Mapping[str, str]) -> str | None:
        """The fingerprint, given the digests of the bytes of files (by path);
        None when a file has not settled (see `files.SETTLE_NS`) and has no
        digest: its size and mtime might not tell this version from the next,
        so no later build may rely on them."""
        if not self._unsettled() <= checks.keys():
            return None
        digest = self._listing.copy()
        checked = "".join(f"\n{name}\t{check}" for name, check in sorted(checks.items()))
        digest.update(checked.encode("utf-8", "surrogateescape"))
        return digest.hexdigest()

    def current(self, checked: object, max_bytes: int) -> str | None:
        """The fingerprint of the files as they are now, given the files the
        last build listed as `checked` (see the module docstring): their bytes
        are digested again, unless some other file has not settled (then it is
        None anyway)."""
        listed = checked if isinstance(checked, list) else []
        names = {name for name in listed if isinstance(name, str)}
        if not self._unsettled() <= names:
            return None
        digests = {name: file_digest(name, max_bytes=max_bytes) for name in names}
        # A file that cannot be read (gone, say) is left out: the fingerprint differs.
        return self.of({name: check for name, check in digests.items() if check is not None})

    def settled(self, record: Mapping[str, Any]) -> dict[str, Any] | None:
        """`record` (of the last build, whose fingerprint `current` matched),
        counting the files it checked by their stamps alone, once every file
        has settled: their bytes are those it read (the fingerprint says so),
        and their stamps now tell any later version apart. None when it
        checked none, or some file has not settled."""
        if not record.get("checked") or self._unsettled():
            return None
        return {**record, "fingerprint": self.of({}), "checked": []}

    def _unsettled(self) -> set[str]:
        """The files that have not settled yet."""
        settled = settled_before()
        return {name for name, stamp in self._recent if stamp is None or stamp[1] >= settled}

    @functools.cached_property
    def _listing(self) -> hashlib.blake2b:
        """The digest of all but the checks (made once, when first needed)."""
        found = self._found
        digest = hashlib.blake2b(digest_size=16)
        head = [
            _environment(),
            sys.version,  # which `marshal` writes the stamps
            os.getcwd(),
            repr(self._config),
            repr(self._options),
            repr(found.rejected),
        ]
        digest.update(repr(head).encode("utf-8", "surrogateescape"))
        # Paths hold no NUL; `marshal` writes the tuple of stamps in one go, in
        # its version 2: later versions write an object met twice as a
        # reference to it, so equal stamps shared otherwise gave other bytes.
        digest.update("\0".join(found.names).encode("utf-8", "surrogateescape"))
        digest.update(marshal.dumps(found.stamps, 2))
        return digest


def reusable_report(
    record: Mapping[str, Any] | None,
    fingerprint: str | None,
    *,
    config: Config,
    clock: datetime,
) -> BuildReport | None:
    """The last build's report, every feed unchanged, when this build would publish
    the same files (see the module docstring); None when it must run."""
    if fingerprint is None or not record or config.fetch.enabled:
        return None
    if record.get("fingerprint") != fingerprint:
        return None
    try:
        valid_until = record.get("valid_until")
        if valid_until is not None and clock >= datetime.fromisoformat(valid_until):
            return None
        if not _files_as_written(record["files"], config.output):
            return None
        return _report_from_json(record["report"])
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def build_record(
    report: BuildReport,
    fingerprint: str | None,
    checked: Iterable[str],
    files: FileRecords,
    valid_until: datetime | None,
) -> dict[str, Any]:
    """What a successful build leaves for the next one (see `reusable_report`)."""
    summary = report.to_json()
    del summary["seconds"]
    return {
        "articles": report.articles,
        "fingerprint": fingerprint,
        "checked": sorted(checked),
        "valid_until": None if valid_until is None else valid_until.isoformat(),
        "report": summary,
        "files": files,
    }


@dataclass(frozen=True)
class PlannedFile:
    """An output file as planned: its bytes, when known, or how to render them.

    `digest` covers everything the bytes depend on.
    """

    path: str  # relative to the output directory
    entries: int
    digest: str
    source: bytes | FeedFile


def plan_feed_files(
    feeds: Sequence[tuple[str, FeedSpec[Ranked]]],
    formats: Sequence[Format],
    copy_digests: Callable[[Ranked], Sequence[str]],
) -> list[PlannedFile]:
    """Every feed in every format, each with its digest. `copy_digests` gives
    the digests of a story's copies, lead first (see `compact.digest`)."""
    from aggregator.feedspec import story_tags  # see TYPE_CHECKING above
    from aggregator.rendering import FeedFile

    digests = _FeedDigests(copy_digests, story_tags)
    planned = []
    for stem, spec in feeds:
        keys = tuple(digests.entry_key(story, spec.topic_names) for story in spec.stories)
        content = digests.spec(spec, keys)
        for form in formats:
            path = f"{stem}.{form.suffix}"
            digest = hashlib.blake2b(digest_size=16)
            digest.update(f"{_environment()}\n{path}\n{content}".encode())
            source = FeedFile(form, spec, keys)
            planned.append(PlannedFile(path, len(spec.stories), digest.hexdigest(), source))
    return planned


def prepared_file(path: str, data: bytes) -> PlannedFile:
    """A file whose bytes are already known (cheap to make): its digest is theirs."""
    digest = hashlib.blake2b(data, digest_size=16).hexdigest()
    return PlannedFile(path, 0, digest, data)


def write_changed(
    files: Sequence[PlannedFile],
    output: Path,
    previous: Mapping[str, Any],
    formats: Sequence[Format],
    *,
    jobs: int = 1,
    story: Callable[[Ranked], Story] | None = None,
    before_writing: Callable[[], None] | None = None,
    state_dir: Path | None = None,
) -> tuple[list[FeedResult], FileRecords]:
    """Render (over up to `jobs` processes, 0: all cores) and publish the files whose
    digest changed or which are no longer as the last build wrote them; `previous`
    is that build's file records, `formats` those of the feed files (see
    `rendering.render_all`, also for `story`, which gives a story of the feeds as
    a `Story`). `before_writing`, if given, is called once everything is
    rendered, before any file is written. With a `state_dir`, rendered entries
    are kept there for the next build, and taken from there (see `entrystore`;
    call under the build lock).

    Returns a result per file, in order (`changed` when its bytes were written),
    and the file records for the next build. Raises `EmitError` as `publish` does.
    """
    stale = [f for f in files if not _as_written(previous.get(f.path), f.digest, output / f.path)]
    feeds = [f.source for f in stale if not isinstance(f.source, bytes)]
    store = _entry_store(state_dir, formats) if feeds else None
    rendered, fresh = _render(feeds, formats, jobs, story, store)
    contents = [f.source if isinstance(f.source, bytes) else next(rendered) for f in stale]
    if before_writing is not None:
        before_writing()
    written = publish({output / f.path: data for f, data in zip(stale, contents, strict=True)})
    if store is not None:  # unless no feed changed: then neither did the stories they show
        shown = {key for f in files if not isinstance(f.source, bytes) for key in f.source.keys}
        store.keep(shown, fresh)
    records: FileRecords = {}
    for planned in files:
        stamp = _stamp(output / planned.path)
        if stamp is not None:
            records[planned.path] = [planned.digest, *stamp]
    results = [FeedResult(f.path, f.entries, output / f.path in written) for f in files]
    return results, records


def _entry_store(state_dir: Path | None, formats: Sequence[Format]) -> EntryStore | None:
    if state_dir is None:
        return None
    from aggregator.entrystore import EntryStore  # see TYPE_CHECKING above

    return EntryStore(state_dir, _environment(), formats=len(formats))


def _render(
    feeds: Sequence[FeedFile],
    formats: Sequence[Format],
    jobs: int,
    story: Callable[[Ranked], Story] | None,
    store: EntryStore | None,
) -> tuple[Iterator[bytes], dict[bytes, StoryEntries]]:
    """The bytes of each feed file, in order, rendered in one pass with the entries
    `store` keeps; and the entries rendered anew."""
    if not feeds:
        return iter(()), {}
    from aggregator.rendering import render_all  # here: a build with nothing to do renders nothing

    known = store.entries({key for feed in feeds for key in feed.keys}) if store else {}
    rendered, fresh = render_all(feeds, formats, jobs=jobs, story=story, known=known)
    return iter(rendered), fresh


def _as_written(record: Any, digest: str, path: Path) -> bool:
    if not isinstance(record, list) or len(record) != 3 or record[0] != digest:
        return False
    return _stamp(path) == (record[1], record[2])


def _files_as_written(files: Mapping[str, Any], output: Path) -> bool:
    return all(
        isinstance(record, list)
        and len(record) == 3
        and _stamp(output / path) == (record[1], record[2])
        for path, record in files.items()
    )


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_size, status.st_mtime_ns


def _report_from_json(data: Mapping[str, Any]) -> BuildReport:
    return BuildReport(
        files=int(data["files"]),
        rejected=[Rejection(str(r["path"]), str(r["reason"])) for r in data["rejected"]],
        drafts=int(data["drafts"]),
        articles=int(data["articles"]),
        duplicates=int(data["duplicates"]),
        topics=int(data["topics"]),
        feeds=[FeedResult(str(f["path"]), int(f["entries"]), False) for f in data["feeds"]],
    )


class _FeedDigests:
    """Digests of feed content, with each article stood in for by its digest;
    `tags` is `feedspec.story_tags`."""

    def __init__(
        self,
        copy_digests: Callable[[Ranked], Sequence[str]],
        tags: Callable[[Ranked, Mapping[str, str]], list[str]],
    ) -> None:
        self._copy_digests = copy_digests
        self._tags = tags
        self._mappings: dict[int, str] = {}
        self._entry_keys: dict[tuple[str, str], bytes] = {}
        self._keep: list[object] = []  # keeps memoised objects (and so their ids) alive

    def entry_key(self, story: Ranked, topic_names: Mapping[str, str]) -> bytes:
        """The key of the story's entries in a feed with `topic_names` (see the
        module docstring): what they show, its copies by their digests. A story
        is in several feeds: its key is made once per topic names (stories have
        distinct ids)."""
        memo = (story.id, self._mapping(topic_names))
        key = self._entry_keys.get(memo)
        if key is None:
            # Not heat or quality: they only order the stories, and the order is
            # in the feed's digest.
            tags = self._tags(story, topic_names)
            token = "\n".join(
                (
                    story.id,
                    " ".join(self._copy_digests(story)),
                    repr((story.topics, tags)),
                    story.published.isoformat(),
                    story.updated.isoformat(),
                )
            )
            key = self._entry_keys[memo] = hashlib.blake2b(token.encode(), digest_size=16).digest()
        return key

    def spec(self, spec: FeedSpec[Ranked], keys: Sequence[bytes]) -> str:
        """The digest of a feed whose stories have the entry keys `keys`."""
        digest = hashlib.blake2b(digest_size=16)
        for item in dataclasses.fields(spec):
            value = getattr(spec, item.name)
            if item.name == "stories":
                digest.update(b"".join(keys))
            elif isinstance(value, Mapping):
                digest.update(self._mapping(value).encode())
            else:
                digest.update(repr(value).encode())
            digest.update(b"\n")
        return digest.hexdigest()

    def _mapping(self, mapping: Mapping[Any, Any]) -> str:
        token = self._mappings.get(id(mapping))
        if token is None:
            token = repr(sorted(mapping.items()))
            self._mappings[id(mapping)] = token
            self._keep.append(mapping)
        return token
