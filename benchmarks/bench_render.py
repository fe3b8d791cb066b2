"""Benchmark: render every feed of a cold build in one process, and time it.

    python benchmarks/bench_render.py SOURCE [--runs R] [--profile]

SOURCE is a corpus directory (see gen_corpus.py). The articles are read, merged,
ranked and selected as a build would (config.yaml of the working directory, if
any; no parse cache, no output), then the renderings a cold build makes (every
feed in every format, `incremental.plan_feed_files`) are rendered with
`rendering.render_all(..., jobs=1)` `--runs` times, each pass afresh as in a
build and with the cyclic garbage collector off, as `cli.main` runs a build.
Printed: the median CPU time of a pass (CPU rather than wall time: the machine
is usually shared), per entry and format (the sum over renderings of their
feed's entries), then each format rendered on its own, entries included.
`--profile` prints cProfile's top functions of one more pass.
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
from aggregator.feedspec import FeedSpec
from aggregator.incremental import PlannedFile, ToRender, plan_feed_files
from aggregator.model import Story
from aggregator.pipeline import FORMATS, rank_all, select
from aggregator.rendering import Rendering, render_all


def renderings(source: Path) -> list[Rendering]:
    """What a cold build of `source` renders, in the order it renders them."""
    config = load_config(Path("config.yaml"))
    config = dataclasses.replace(config, sources=(source.resolve(),), jobs=1)
    collection = collect(config, datetime.now(UTC))
    ranking = rank_all(collection, config, None)
    publication = select(ranking, config)
    planned = plan_feed_files(publication.feeds, FORMATS, collection.copy_digests)
    unpacked: dict[int, FeedSpec[Story]] = {}  # each feed once, as rendering does
    for _, spec in _to_render(planned):
        if id(spec) not in unpacked:
            stories = tuple(map(publication.story, spec.stories))
            unpacked[id(spec)] = dataclasses.replace(spec, stories=stories)
    return [(render, unpacked[id(spec)]) for render, spec in _to_render(planned)]


def _to_render(planned: list[PlannedFile]) -> list[ToRender]:
    return [p.source for p in planned if not isinstance(p.source, bytes)]


def median_seconds(work: list[Rendering], runs: int) -> float:
    """The median CPU time of rendering `work` in one process."""
    times = []
    for _ in range(runs):
        started = time.process_time()
        render_all(work, jobs=1)
        times.append(time.process_time() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    gc.disable()
    work = renderings(args.source)
    entries = sum(len(spec.stories) for _, spec in work)
    feeds = len({id(spec) for _, spec in work})
    if args.profile:
        profile = cProfile.Profile()
        profile.runcall(render_all, work, jobs=1)
        pstats.Stats(profile).sort_stats("tottime").print_stats(25)
    whole = median_seconds(work, args.runs)
    print(
        f"{feeds} feeds, {len(work)} files, {entries} entry-formats: {whole:.3f} s CPU, "
        f"{whole / entries * 1e6:.1f} us per entry and format (median of {args.runs})"
    )
    for suffix, render in FORMATS:
        alone = [(r, spec) for r, spec in work if r is render]
        seconds = median_seconds(alone, args.runs)
        count = sum(len(spec.stories) for _, spec in alone)
        print(f"  {suffix} alone: {seconds:.3f} s, {seconds / count * 1e6:.1f} us per entry")


if __name__ == "__main__":
    main()
