"""Grouping the articles into stories (`merge.group_articles`) while the
files are read: in a copy of the build, as early as what grouping reads of
each file can be had, where that pays.

`collect_and_group` is the build's first stage (`collection.collect`) with the
grouping made alongside: see its docstring for the three ways it goes, and
`_GroupingAhead` for the copy that starts before the parse cache is read. The
search for similar titles, most of a first build's grouping, is shared with
copies of its own (`_similar_titles`). Each way keeps its grouping for the
next build, which groups anew only the articles a change reaches when the
story ids it finds are those that grouping gave (`_regrouped`, `regrouping`).
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import logging
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence, Set
from datetime import datetime
from typing import cast

from aggregator import forking
from aggregator.cache import (
    NONE_CHANGED,
    Changed,
    Entry,
    Fresh,
    Rests,
    Result,
    cache_key,
    cache_usable,
    changed_files,
)
from aggregator.collection import (
    FUTURE_TOLERANCE,
    Collection,
    assemble,
    merge_inputs,
    read_articles,
)
from aggregator.compact import DRAFT
from aggregator.config import Config
from aggregator.files import FileStamp, FoundFiles, settled_before
from aggregator.groupingstore import grouping_key, load_grouping, save_grouping
from aggregator.merge import Grouping, MergeInput, group_articles
from aggregator.mergestore import (
    Row,
    RowWriter,
    load_rows,
    merged_inputs,
    report_damage,
    row_of,
    rows_of,
    save_rows,
    store_usable,
)
from aggregator.parallel import Chunk, Parsed, parse_chunks
from aggregator.regrouping import record_of, regroup
from aggregator.state import (
    Staged,
    load_story_ids_digested,
    load_title_pairs,
    save_title_pairs,
    stage_story_ids,
    story_ids_digest,
    story_ids_record,
)
from aggregator.titlepairs import Pair, Title, TitlePairs, find_title_pairs, narrowed, widened

log = logging.getLogger(__name__)

#: How many article files make grouping their articles worth a copy of this process.
GROUP_ELSEWHERE_FROM = 5000


def collect_and_group(
    config: Config, found: FoundFiles, clock: datetime, copies: forking.Copies
) -> tuple[Collection, forking.Pending[Grouping], forking.Pending[Staged | None]]:
    """`collection.collect` with the cache, `_group` of the articles merged
    and, unless pages are fetched (which may change the stories' links, or
    drop dead ones), the record of their ids (`state.story_ids_record`),
    staged for the build to put in place (`state.stage_story_ids`; else None).

    Grouping needs only a little of each article (`collection.merge_inputs`):
    with many files and more than one job, a copy of this process groups the
    articles while this one reads and assembles the collection, hands the
    grouping over, and then makes and writes the record while this one ranks
    and renders. The copy starts at once (see `_GroupingAhead`) when the last build kept what
    grouping reads of each file (`mergestore`), or when there is no parse
    cache: then every file is parsed here, and what grouping reads of each is
    kept as it is parsed, for the copy. Otherwise the copy starts once the
    files are read, reads that from their parse results without unpacking
    them, and keeps it for the next build.
    """
    elsewhere = config.jobs != 1 and len(found.names) >= GROUP_ELSEWHERE_FROM
    settled = settled_before()
    held: dict[str, Entry] = {}  # the cache's entries, kept as rows only when grouping elsewhere
    checks: dict[str, str] = {}
    rests: list[Rests] = []
    ahead = _GroupingAhead.start(config, found, clock, copies) if elsewhere else None
    if ahead is None:
        keep = held if elsewhere else None
        parsed = read_articles(config, found, cache=True, held=keep, checks=checks, rests=rests)
    else:
        parsed = ahead.read(held, checks, rests)
        if not ahead.covered_so_far():
            ahead = None  # some file is neither kept nor parsed early: group as below
    collection = assemble(found, parsed, clock, config, checks, rests)
    inputs = functools.cache(
        functools.partial(merge_inputs, found.names, parsed, clock, config.drafts)
    )
    stamps = functools.cache(lambda: _trusted_stamps(inputs(), found, settled))

    def group() -> Grouping:
        return _group(inputs(), config, spread=elsewhere, stamps=stamps())

    def record(grouping: Grouping) -> Staged | None:
        if elsewhere:  # what grouping read of each file, for the next build's copy
            save_rows(config.state_dir, cache_key(config.max_file_bytes), rows_of(held))
        return None if config.fetch.enabled else _ids_record(inputs(), grouping, config, stamps())

    if ahead is None:
        start = copies.start_then if elsewhere else forking.later_then
        return collection, *start(group, record)
    merged = sum(1 for (head, _), _ in collection.payloads if config.drafts or not head[DRAFT])
    return collection, *ahead.handed(merged, forking.later_then(group, record))


def _keep_rows(writer: RowWriter, parsed: Iterable[Fresh]) -> None:
    """Store the rows of files just parsed (with no mtime for a file whose
    result the parse cache does not keep, so that the row is never used again)."""
    writer.add(
        (name, (0, None, row_of(payload)) if stamp is None else (*stamp, row_of(payload)))
        for name, stamp, payload in parsed
    )


#: One changed file in this many or more makes parsing them take longer than
#: reading the parse cache of the rest (about 160 µs a file against 4), so the
#: grouping copy parses them on every core rather than on those the build
#: leaves free while it reads.
MANY_CHANGED = 40


class _GroupingAhead:
    """Grouping in a copy of the build that starts as soon as the files are
    found, before the parse cache is read: what grouping reads of each file is
    in the merge input store (`mergestore`) for the files unchanged since the
    last build, and the copy parses the files changed since the parse cache
    was written (`cache.changed_files`, the `early` positions; but for those
    rechecked, whose results are known before the copy starts), which
    `cache.parse_with_cache` then takes from it. When some file is in neither,
    there is no grouping ahead (`covered` is False). Without a parse cache
    (`go`), the build parses every file and stores every row, then says so:
    the copy waits for that (and has nothing to parse early).

    `works` are the copy's steps, in order; each may be done here instead (see
    `forking`). `start`, `read`, `covered_so_far` and `handed` are the build's
    side: starting the copy, reading the files with its help, and taking what
    it hands over.
    """

    def __init__(
        self,
        config: Config,
        found: FoundFiles,
        clock: datetime,
        changed: Changed,
        *,
        go: forking.Go | None = None,
    ) -> None:
        self.early = changed.positions
        self._changed = changed
        self._go = go
        self._steps: list[forking.Pending[object]] = []
        # Copies the copy starts of its own, ended with its last step.
        self._copies = contextlib.ExitStack()
        self._wider: forking.Pending[TitlePairs | None] | None = None
        self._config = config
        self._found = found
        self._clock = clock
        self._key = cache_key(config.max_file_bytes)
        self._settled = settled_before()

    @classmethod
    def start(
        cls, config: Config, found: FoundFiles, clock: datetime, copies: forking.Copies
    ) -> _GroupingAhead | None:
        """The copy started (see the class docstring), unless there is a parse
        cache this build may use but no such store."""
        state, key = config.state_dir, cache_key(config.max_file_bytes)
        if not cache_usable(state, key):  # none, or of other code: every file is parsed
            ahead = cls(config, found, clock, NONE_CHANGED, go=forking.Go())
        elif store_usable(state, key):
            max_bytes = config.max_file_bytes
            changed = changed_files(state, key, found.names, found.stamps, max_bytes=max_bytes)
            ahead = cls(config, found, clock, changed)
        else:
            return None
        ahead._steps = copies.start_each(ahead.works(), ahead._go)
        return ahead

    def read(
        self, held: dict[str, Entry], checks: dict[str, str], rests: list[Rests]
    ) -> list[Result]:
        """Here: `read_articles` with the copy's help: taking the files it
        parsed early, or giving it the rows of every file as they are parsed."""
        config, found = self._config, self._found
        reading = functools.partial(
            read_articles, config, found, cache=True, held=held, checks=checks, rests=rests
        )
        if self._go is None:
            unread = cast(Callable[[], list[Chunk]], self._steps[0].result)
            return reading(early=(self.early, self._changed.with_rechecked(unread)))
        with RowWriter(config.state_dir, self._key) as writer:
            parsed = reading(each=functools.partial(_keep_rows, writer))
        if writer.written:
            self._go.give()
        else:
            self._go.withhold()
        return parsed

    def covered_so_far(self) -> bool:
        """Here, once the files are read: False when the copy said it has no
        row of some file (not asked when it waits for the rows of all: it
        has them, unless they could not be written)."""
        return self._go is not None or bool(self._steps[1].result())

    def handed(
        self, merged: int, here: tuple[forking.Pending[Grouping], forking.Pending[Staged | None]]
    ) -> tuple[forking.Pending[Grouping], forking.Pending[Staged | None]]:
        """Here: the copy's grouping and ids record, unless the grouping is not
        of the `merged` articles read (possible only when a file changed without
        its size and mtime changing) or the copy had none: then `here`'s."""
        ahead = self._steps[2]

        def grouping() -> Grouping:
            made = cast(Grouping | None, ahead.result())
            return made if made is not None and len(made.order) == merged else here[0].result()

        def ids() -> Staged | None:
            made = cast(Staged | None, self._steps[3].result())  # the copy is done with the store
            return made if grouping() is ahead.result() else here[1].result()

        return forking.later(grouping), forking.later(ids)

    def works(self) -> list[Callable[[], object]]:
        """The copy's steps: `parsed`, `covered`, `grouping`, `after`."""
        return [self.parsed, self.covered, self.grouping, self.after]

    def parsed(self) -> list[Chunk]:
        """`parallel.parse_chunks` of the files changed and not rechecked, on
        the cores the build leaves free (it reads the cache meanwhile)."""
        return self._chunks

    def covered(self) -> bool:
        """True when every file is in the store or was parsed early. In a
        rebuild, first starts the search for similar titles
        (`_search_more_titles`), which the grouping will take."""
        if self._go is None:
            self._wider = self._search_more_titles()
        return self._inputs is not None

    def grouping(self) -> Grouping | None:
        """`_group` of the articles merged (None when not `covered`)."""
        return None if self._inputs is None else self._grouping

    def after(self) -> Staged | None:
        """Once the grouping is handed over: the store brought up to date and
        the ids record staged (None when pages are fetched, or not `covered`)."""
        self._copies.close()
        inputs = self._inputs
        if self._read is None or inputs is None or self._grouping is None:
            return None
        rows, keep, changed = self._read
        if changed:
            found = zip(self._found.names, self._found.stamps, rows, keep, strict=True)
            kept = {
                name: (*stamp, row)
                for name, stamp, row, keeping in found
                if keeping and stamp is not None  # (a file kept has a stamp)
            }
            save_rows(self._config.state_dir, self._key, kept)
        if self._config.fetch.enabled:
            return None
        return _ids_record(inputs, self._grouping, self._config, self._stamps)

    def _search_more_titles(self) -> forking.Pending[TitlePairs | None]:
        """The search for similar titles, started in a copy of this one as
        soon as the files changed are parsed, before the rows are read: of the
        titles the last build searched and those of the files parsed early,
        which hold every title merged unless one came from elsewhere (see
        `titlepairs.widened`; the grouping then searches again)."""
        added = {payload[1][1] for _, _, payload, _ in self._early if not isinstance(payload, str)}
        work = functools.partial(_more_titles_searched, added - {()}, self._config)
        return self._copies.enter_context(forking.copies()).start(work)

    @property
    def _early(self) -> Iterable[Parsed]:
        """What the files at the `early` positions parsed to, in order."""
        chunks = self._changed.with_rechecked(lambda: self._chunks)()
        return (result for chunk in chunks for result in chunk.results)

    @functools.cached_property
    def _chunks(self) -> list[Chunk]:
        config = self._config
        names = [self._found.names[at] for at in self._changed.unread]
        jobs = config.jobs  # many files: every core, the build soon waits for them
        if len(names) * MANY_CHANGED <= len(self._found.names):  # the cores the build leaves free
            jobs = max((jobs or forking.available_cores()) - 1, 1)
        return list(parse_chunks(names, max_bytes=config.max_file_bytes, jobs=jobs))

    @functools.cached_property
    def _read(self) -> tuple[list[Row], list[bool], bool] | None:
        """Each file's row: the stored one for its size and mtime (as the parse
        cache takes an entry first), else the one parsed early; then which to
        keep for the next build (as the parse cache keeps entries: of settled
        files read whole), and whether those changed. None if a file's row is
        neither stored nor parsed. With `go`, every file's row as this build
        stores them, once it says they are."""
        names, stamps = self._found.names, self._found.stamps
        if self._go is not None:
            stored = load_rows(self._config.state_dir, self._key) if self._go.wait() else None
            every = None if stored is None else stored.rows_of(names)
            return None if every is None else (every, [], False)
        stored = load_rows(self._config.state_dir, self._key)
        rows, keep = stored.lookup(names, stamps)
        unchanged = sum(keep)
        fresh = dict(zip(self.early, self._early, strict=True))
        added = 0
        for at in itertools.compress(range(len(names)), map(operator.not_, keep)):
            if at not in fresh:
                return None
            cacheable, _, payload, _ = fresh[at]
            rows[at] = row_of(payload)
            stamp = stamps[at]
            if cacheable and stamp is not None and stamp[1] < self._settled:
                keep[at] = True
                added += 1
        return rows, keep, added > 0 or unchanged != len(stored)

    @functools.cached_property
    def _inputs(self) -> list[MergeInput] | None:
        if self._read is None:
            return None
        latest = self._clock + FUTURE_TOLERANCE
        try:
            return merged_inputs(self._found.names, self._read[0], latest, self._config.drafts)
        except _NOT_ROWS as error:
            report_damage(self._config.state_dir, error)
            return None

    @functools.cached_property
    def _stamps(self) -> list[FileStamp | None]:
        assert self._inputs is not None
        return _trusted_stamps(self._inputs, self._found, self._settled)

    @functools.cached_property
    def _grouping(self) -> Grouping | None:
        """`_group` of `_inputs`; None when what the store held made no grouping."""
        assert self._inputs is not None
        try:
            return _group(
                self._inputs, self._config, spread=True, wider=self._wider, stamps=self._stamps
            )
        except _NOT_ROWS as error:
            report_damage(self._config.state_dir, error)
            return None


#: What grouping raises when a store's rows are not of the shape `mergestore.Row`
#: says (the store unpickles no class, but its lists may hold anything): the
#: build then groups from the files it read, and keeps the rows anew.
_NOT_ROWS = (TypeError, ValueError, IndexError, KeyError, AttributeError)


def _trusted_stamps(
    inputs: Sequence[MergeInput], found: FoundFiles, settled: int
) -> list[FileStamp | None]:
    """The stamp of each of `inputs`' files, as a grouping record keeps it
    (see `regrouping.GroupingRecord`): None for a file modified since
    `settled` (see `files.settled_before`)."""
    trusted = {
        name: stamp
        for name, stamp in zip(found.names, found.stamps, strict=True)
        if stamp is not None and stamp[1] < settled
    }
    return list(map(trusted.get, (identity[3] for identity, _, _ in inputs)))


def _group(
    inputs: Sequence[MergeInput],
    config: Config,
    *,
    spread: bool = False,
    wider: forking.Pending[TitlePairs | None] | None = None,
    stamps: Sequence[FileStamp | None],
) -> Grouping:
    """`merge.group_articles` of `inputs`, with the ids the previous build kept.

    With `spread`, the search for similar titles (`_similar_titles`) runs in a
    copy of this process from the start, while this one orders the articles
    and joins those of the same links, which the search does not need; unless
    a search of more titles is under way (`wider`), whose result is taken.
    Made from the last build's grouping where its record holds (see
    `regrouping`), given the `stamps` of the inputs' files (`_trusted_stamps`).
    """
    titles = {words for _, _, words in inputs if words}
    search = functools.partial(_similar_titles, titles, config, spread=spread, wider=wider)
    with forking.copies() as copies:
        searched = copies.start(search) if spread and wider is None else forking.later(search)
        known, digest = load_story_ids_digested(config.state_dir)
        made = _regrouped(inputs, stamps, config, known, digest, searched)
        if made is not None:
            return made

        def found(asked: Set[Title], threshold: float) -> frozenset[Pair]:
            if threshold != config.merge.title_similarity or asked != titles:
                raise ValueError("similar titles asked for other titles than searched")
            return searched.result().pairs

        return group_articles(inputs, config.merge, known, found)


def _regrouped(
    inputs: Sequence[MergeInput],
    stamps: Sequence[FileStamp | None],
    config: Config,
    known: Mapping[str, str],
    ids_digest: str,
    searched: forking.Pending[TitlePairs],
) -> Grouping | None:
    """`regrouping.regroup` of `inputs` from the last build's grouping, when
    its record is of the known ids (their file's `ids_digest`); None without
    one, or when the change reaches too many articles."""
    key = grouping_key(cache_key(config.max_file_bytes), config.merge)
    last = load_grouping(config.state_dir, key, ids_digest)
    if last is None:
        return None
    try:
        return regroup(inputs, stamps, last, config.merge, known, searched.result().pairs)
    except _NOT_ROWS as error:  # a record of another shape: group every article
        log.warning("%s: grouping record not used (%s)", config.state_dir, type(error).__name__)
        return None


def _similar_titles(
    titles: Set[Title],
    config: Config,
    *,
    spread: bool = False,
    wider: forking.Pending[TitlePairs | None] | None = None,
) -> TitlePairs:
    """Which of `titles` are similar (see `titlepairs`), searched from the
    previous build's result, which is kept for the next: only a cache, so it is
    kept here, in the process that searches, whatever becomes of the build.
    With `spread`, a search of every title (the first build's, most of its
    grouping) is shared with copies of this process, one per job. `wider`, if
    given, is a search of more titles, taken when it holds them all.
    """
    threshold = config.merge.title_similarity
    wide = None if wider is None else wider.result()
    found = None if wide is None or wide.threshold != threshold else narrowed(wide, titles)
    if found is None:
        parts = (config.jobs or forking.available_cores()) if spread else 1
        previous = load_title_pairs(config.state_dir, threshold)
        found = find_title_pairs(titles, threshold, previous, parts=parts, run=forking.run_all)
    save_title_pairs(config.state_dir, found)
    return found


def _more_titles_searched(added: Set[Title], config: Config) -> TitlePairs | None:
    """`titlepairs.widened` of the previous build's search by `added` (None
    without a previous search to widen)."""
    previous = load_title_pairs(config.state_dir, config.merge.title_similarity)
    return None if previous is None else widened(previous, added)


def _ids_record(
    inputs: Sequence[MergeInput],
    grouping: Grouping,
    config: Config,
    stamps: Sequence[FileStamp | None],
) -> Staged:
    """`state.story_ids_record` of the stories `grouping` makes of `inputs`,
    staged (`state.stage_story_ids`), and the grouping kept for the next
    build to regroup from (`groupingstore`), given the `stamps` of the
    inputs' files."""
    record = story_ids_record(grouping.id_map(inputs))
    key = grouping_key(cache_key(config.max_file_bytes), config.merge)
    kept = record_of(grouping, inputs, stamps)
    save_grouping(config.state_dir, key, story_ids_digest(record), kept)
    return stage_story_ids(config.state_dir, record)
