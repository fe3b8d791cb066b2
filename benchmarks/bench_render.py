"""Benchmark: render every feed of a cold build in one process, and time it.

    python benchmarks/bench_render.py SOURCE [--runs R] [--profile]

SOURCE is a corpus directory (see gen_corpus.py). The articles are read, merged,
ranked and selected as a build would (config.yaml of the working directory, if
any; no parse cache, no output), then the files a cold build renders (every
feed in every format, `incremental.plan_feed_files`) are rendered with
`rendering.render_all(..., jobs=1)` `--runs` times, each pass afresh as in a
build and with the cyclic garbage collector off, as `cli.main` runs a build.
Printed: the median CPU time of a pass (CPU rather than wall time: the machine
is usually shared) with every story's entries rendered, per story; of a pass
given every entry (as a rebuild takes them from `entrystore`: documents only).
`--profile` prints cProfile's top functions of one more cold pass.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import gc
import pstats
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

from aggregator.collection import collect
from aggregator.config import load_config
from aggregator.entrystore import StoryEntries
from aggregator.feedspec import FeedSpec
from aggregator.incremental import plan_feed_files
from aggregator.model import Ranked
from aggregator.pipeline import FORMATS, rank_all, select
from aggregator.rendering import FeedFile, render_all


def feed_files(source: Path) -> list[FeedFile]:
    """What a cold build of `source` renders, in the order it renders them, its
    stories already made `Story`s (each feed once, as rendering does)."""
    config = load_config(Path("config.yaml"))
    config = dataclasses.replace(config, sources=(source.resolve(),), jobs=1)
    collection = collect(config, datetime.now(UTC))
    ranking = rank_all(collection, config, None)
    publication = select(ranking, config)
    planned = plan_feed_files(publication.feeds, FORMATS, collection.copy_digests)
    unpacked: dict[int, FeedSpec[Ranked]] = {}
    files = []
    for file in (p.source for p in planned if not isinstance(p.source, bytes)):
        spec = unpacked.get(id(file.spec))
        if spec is None:
            stories = tuple(map(publication.story, file.spec.stories))
            spec = unpacked[id(file.spec)] = dataclasses.replace(file.spec, stories=stories)
        files.append(dataclasses.replace(file, spec=spec))
    return files


def median_seconds(
    files: list[FeedFile], runs: int, known: dict[bytes, StoryEntries] | None = None
) -> float:
    """The median CPU time of rendering `files` in one process."""
    times = []
    for _ in range(runs):
        started = time.process_time()
        render_all(files, FORMATS, jobs=1, known=known)
        times.append(time.process_time() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    gc.disable()
    files = feed_files(args.source)
    entries = sum(len(file.keys) for file in files)
    stories = len({key for file in files for key in file.keys})
    feeds = len({id(file.spec) for file in files})
    if args.profile:
        profile = cProfile.Profile()
        profile.runcall(render_all, files, FORMATS, jobs=1)
        pstats.Stats(profile).sort_stats("tottime").print_stats(25)
    whole = median_seconds(files, args.runs)
    print(
        f"{feeds} feeds, {len(files)} files, {entries} entries of {stories} stories: "
        f"{whole:.3f} s CPU, {whole / stories * 1e6:.1f} us per story "
        f"(median of {args.runs})"
    )
    _, every = render_all(files, FORMATS, jobs=1)
    given = median_seconds(files, args.runs, every)
    print(f"  every entry given: {given:.3f} s, {given / len(files) * 1e3:.2f} ms per file")


if __name__ == "__main__":
    main()
