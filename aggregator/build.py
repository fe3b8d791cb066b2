"""One build, start to end: the lock, the check that anything changed, the stages.

`run_build` is what the command line runs. A build whose inputs are those of the
last one (see `incremental`) ends here, having read only the file listing and the
last build's record: cron starts most builds with nothing to do, so the stages
(`pipeline`) and the libraries they need (feedgen, lxml, httpx, ...) are imported
only by a build that has work, which is most of what such a run would cost.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from aggregator.config import Config
from aggregator.files import find_article_files
from aggregator.incremental import InputFingerprint, reusable_report
from aggregator.lock import build_lock
from aggregator.model import BuildReport
from aggregator.output import remove_stale_temporaries
from aggregator.state import LAST_BUILD, read_record, write_record


@dataclass(frozen=True)
class BuildOptions:
    """What the command line adds to the configuration."""

    now: datetime | None = None
    strict: bool = False
    force: bool = False
    progress: Callable[[int, int], None] | None = None  # fetching: (done, total)


def run_build(
    config: Config,
    options: BuildOptions,
    clock: datetime,
    *,
    retain: list[object] | None = None,
) -> BuildReport:
    """Build under the lock, unless the inputs are those of the last build; report
    what happened (see `pipeline.write_feeds`).

    With `retain`, the build's articles, stories and feeds are appended to it
    rather than freed when the build ends: a process that exits right after
    (the command line) is spared freeing them one object at a time, half a
    second for 100,000 articles.

    After the lock is released, a configured WebSub hub hears of the feeds whose
    bytes changed; a failure there is logged as a warning and fails nothing.
    Raises `LockedError` when another build runs, `SourceError` for a missing
    source directory, and what `pipeline.write_feeds` raises; in each case the
    previous output is left intact.
    """
    started = time.perf_counter()
    with build_lock(config.state_dir):
        remove_stale_temporaries(config.output)
        found = find_article_files(config.sources, jobs=config.jobs)
        previous = read_record(config.state_dir, LAST_BUILD) or {}
        # The progress display is not an input: leave it out of the fingerprint.
        inputs = dataclasses.replace(options, progress=None)
        fingerprint = InputFingerprint(config, inputs, found)
        now = fingerprint.current(previous.get("checked"), config.max_file_bytes)
        reused = reusable_report(previous, now, config=config, clock=clock)
        if reused is not None:  # same inputs as the last build: the same files
            settled = fingerprint.settled(previous)
            if settled is not None:  # the next build need not read its checked files
                write_record(config.state_dir, LAST_BUILD, settled)
            reused.seconds = time.perf_counter() - started
            return reused
        from aggregator import pipeline  # only now: see the module docstring

        report = pipeline.write_feeds(
            config, options, clock, found, fingerprint.of, previous, retain=retain
        )
    # Outside the lock: a slow hub must not hold up the next build.
    pipeline.announce(config, report)
    report.seconds = time.perf_counter() - started
    return report
