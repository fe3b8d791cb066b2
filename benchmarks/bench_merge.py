"""Benchmark: merge and rank 100,000 synthetic articles; check the results first.

    .venv/bin/python benchmarks/bench_merge.py [--articles N] [--runs R] [--profile]

Articles are generated in memory, the same for a given `--seed`: headlines of 6 to
12 words drawn from a vocabulary with Zipf word frequencies, dates spread over 60
days, about 8% URL variants of another article (tracking parameters, AMP forms,
http, www.) and about 5% syndicated copies by another outlet under a varied title
(outlet suffix, "UPDATE:" prefix, case, a dropped or added small word).

Before timing, the indexed `merge_stories` is compared with a naive all-pairs
reading of the rules in `aggregator.merge` on a dense sample (2,000 articles over
4 days, some headlines recurring days later so that the window's anchor matters):
the two must produce the same partition into stories. Then merge_stories
+ rank_stories on the full set is timed `--runs` times and the median printed. The
target (issue 3) is under 2 seconds for 100,000 articles on a 2-core machine.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import itertools
import os
import platform
import pstats
import random
import statistics
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from aggregator.config import MergeConfig, RankConfig
from aggregator.headlines import similar_titles, title_tokens
from aggregator.merge import (
    article_keys,
    merge_stories,
)
from aggregator.model import Article, Provider
from aggregator.rank import rank_stories, reference_time
from aggregator.urls import canonical_url

START = datetime(2026, 9, 1, tzinfo=UTC)
SMALL_WORDS = ("the", "a", "of", "to", "in", "on", "for", "and", "with", "after", "as", "over")
TOPICS = tuple(f"Topic {n}" for n in range(40))
SYLLABLES = tuple(a + b for a in "bcdfghklmnprstvz" for b in ("a", "e", "i", "o", "u", "ai", "ou"))


@dataclasses.dataclass(frozen=True)
class Corpus:
    articles: list[Article]
    url_variants: int
    syndicated: int


def vocabulary(rng: random.Random, size: int) -> list[str]:
    """`size` distinct pronounceable words, commonest first."""
    words: dict[str, None] = {}
    while len(words) < size:
        length = rng.choice((1, 2, 2, 2, 3, 3, 4))
        words["".join(rng.choice(SYLLABLES) for _ in range(length))] = None
    return list(words)


def generate(
    count: int,
    *,
    seed: int = 1,
    days: int = 60,
    vocabulary_size: int = 30_000,
    recurring: float = 0.0,
) -> Corpus:
    """`count` articles as described in the module docstring; a share `recurring`
    of them reuse an earlier headline one to four days later, as daily columns do."""
    rng = random.Random(seed)
    words = vocabulary(rng, vocabulary_size)
    cumulative = list(itertools.accumulate(1.0 / (rank + 1) ** 1.07 for rank in range(len(words))))
    providers = [Provider(f"Outlet {n}", f"outlet{n}.example") for n in range(300)]
    span = days * 86_400
    originals: list[Article] = []
    articles: list[Article] = []
    url_variants = syndicated = 0
    for number in range(count):
        roll = rng.random()
        if originals and roll < 0.08:
            article = _url_variant(rng, rng.choice(originals), number)
            url_variants += 1
        elif originals and roll < 0.13:
            article = _syndicated(rng, rng.choice(originals), rng.choice(providers), number)
            syndicated += 1
        elif originals and roll < 0.13 + recurring:
            earlier = rng.choice(originals)
            article = dataclasses.replace(
                _syndicated(rng, earlier, earlier.provider or providers[0], number),
                published=earlier.published + timedelta(hours=rng.randrange(24, 97)),
            )
            originals.append(article)
        else:
            length = rng.randint(6, 12)
            title_words = rng.choices(words, cum_weights=cumulative, k=length)
            for _ in range(rng.randint(0, 2)):
                title_words.insert(rng.randrange(1, length), rng.choice(SMALL_WORDS))
            provider = rng.choice(providers)
            article = Article(
                source=f"articles/{number:06d}.txt",
                title=" ".join(title_words).capitalize(),
                url=f"https://www.{provider.domain}/news/{number}-{title_words[0]}",
                published=START + timedelta(seconds=rng.randrange(span)),
                heat=rng.uniform(0, 100),
                quality=rng.uniform(0, 100),
                provider=provider,
                topics=tuple(rng.sample(TOPICS, rng.randint(1, 3))),
            )
            originals.append(article)
        articles.append(article)
    return Corpus(articles, url_variants, syndicated)


def _url_variant(rng: random.Random, original: Article, number: int) -> Article:
    url = original.url
    bare = url.removeprefix("https://")
    url = rng.choice(
        (
            f"{url}?utm_source=twitter&utm_medium=social",
            f"{url}/amp",
            f"http://{bare}",
            f"https://{bare.removeprefix('www.')}",
            f"{url}?fbclid=IwAR{number}",
            f"https://{bare.replace('.', '-').split('/')[0]}.cdn.ampproject.org/c/s/{bare}",
            f"{url}#comments",
        )
    )
    later = original.published + timedelta(minutes=rng.randrange(0, 600))
    return dataclasses.replace(
        original, source=f"articles/{number:06d}.txt", url=url, published=later
    )


def _syndicated(rng: random.Random, original: Article, provider: Provider, number: int) -> Article:
    title = original.title
    change = rng.randrange(6)
    if change == 0:
        title = f"{title} - {provider.name}"
    elif change == 1:
        title = f"UPDATE: {title}"
    elif change == 2:
        title = title.title()
    elif change == 3:
        title = f"{title} | {provider.name}"
    elif change == 4:
        words = title.split()
        words.insert(rng.randrange(1, len(words)), rng.choice(SMALL_WORDS))
        title = " ".join(words)
    later = original.published + timedelta(minutes=rng.randrange(0, 48 * 60))
    return dataclasses.replace(
        original,
        source=f"articles/{number:06d}.txt",
        title=title,
        url=f"https://{provider.domain}/wire/{number}",
        published=later,
        provider=provider,
        heat=rng.uniform(0, 100),
        quality=rng.uniform(0, 100),
    )


# The rules, read naively: every pair of articles is compared. ---------------------


def naive_partition(articles: Sequence[Article], merge: MergeConfig) -> set[frozenset[str]]:
    """Stories as sets of `source`s, by the rules of `aggregator.merge` over all pairs."""
    ordered = sorted(articles, key=lambda a: (a.published, canonical_url(a.url), a.title, a.source))
    keys = [article_keys(a) for a in ordered]
    tokens = [title_tokens(a.title) for a in ordered]
    times = [a.published.timestamp() for a in ordered]
    parent = list(range(len(ordered)))
    earliest = times[:]

    def find(item: int) -> int:
        while parent[item] != item:
            item = parent[item]
        return item

    def union(a: int, b: int) -> None:
        root_a, root_b = find(a), find(b)
        if root_a != root_b:
            root, child = min(root_a, root_b), max(root_a, root_b)
            parent[child] = root
            earliest[root] = min(earliest[root], earliest[child])

    for later in range(len(ordered)):
        for earlier in range(later):
            if keys[later] & keys[earlier]:
                union(later, earlier)
    window = merge.window_hours * 3600
    for later in range(len(ordered)):
        for earlier in range(later):
            root_a, root_b = find(later), find(earlier)
            if root_a == root_b or not tokens[later]:
                continue
            if times[later] - min(earliest[root_a], earliest[root_b]) > window:
                continue
            if tokens[later] == tokens[earlier] or similar_titles(
                tokens[later], tokens[earlier], merge.title_similarity
            ):
                union(later, earlier)
    stories: dict[int, set[str]] = {}
    for index, article in enumerate(ordered):
        stories.setdefault(find(index), set()).add(article.source)
    return {frozenset(sources) for sources in stories.values()}


def indexed_partition(articles: Sequence[Article], merge: MergeConfig) -> set[frozenset[str]]:
    reference = max(a.newest for a in articles)
    stories = merge_stories(articles, merge, RankConfig(), reference)
    return {frozenset(a.source for a in story.articles) for story in stories}


def check(merge: MergeConfig, seed: int) -> None:
    sample = generate(2_000, seed=seed, days=4, vocabulary_size=3_000, recurring=0.05).articles
    started = time.perf_counter()
    expected = naive_partition(sample, merge)
    naive_seconds = time.perf_counter() - started
    got = indexed_partition(sample, merge)
    if got != expected:
        raise SystemExit(
            f"results differ from the naive reference: {len(got ^ expected)} stories differ"
        )
    merged = sum(len(story) - 1 for story in got)
    print(
        f"check: {len(sample)} articles, {len(got)} stories ({merged} copies merged), "
        f"same partition as the all-pairs reference ({naive_seconds:.1f} s)"
    )


def run(articles: Sequence[Article], merge: MergeConfig, weights: RankConfig) -> int:
    reference = reference_time((a.newest for a in articles), None)
    assert reference is not None
    stories = merge_stories(articles, merge, weights, reference)
    return len(rank_stories(stories, reference, weights))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one run")
    parser.add_argument("--no-check", action="store_true", help="skip the all-pairs check")
    args = parser.parse_args()
    merge, weights = MergeConfig(), RankConfig()
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores")
    if not args.no_check:
        check(merge, args.seed)
    corpus = generate(args.articles, seed=args.seed)
    print(
        f"{len(corpus.articles)} articles: {corpus.url_variants} URL variants, "
        f"{corpus.syndicated} syndicated copies"
    )
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(run, corpus.articles, merge, weights)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    timings, cpu = [], []
    for _ in range(args.runs):
        started, started_cpu = time.perf_counter(), time.process_time()
        stories = run(corpus.articles, merge, weights)
        timings.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    print(f"{stories} stories, {len(corpus.articles) - stories} copies merged")
    print(
        f"merge_stories + rank_stories: median {statistics.median(timings):.2f} s "
        f"over {args.runs} runs (min {min(timings):.2f} s, max {max(timings):.2f} s; "
        f"CPU median {statistics.median(cpu):.2f} s); load average "
        + " ".join(f"{load:.1f}" for load in os.getloadavg())
    )


if __name__ == "__main__":
    main()
