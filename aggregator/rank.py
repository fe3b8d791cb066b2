"""The score and the order: pure functions of stories, weights and a reference time.

    score = (heat_weight * heat + quality_weight * quality + coverage_weight * (providers - 1))
            * 0.5 ** (age / half_life)

`heat` and `quality` below zero count as zero; a story's heat and quality are the
highest among its copies, and `providers` counts the distinct outlets that reported
it, so wide coverage lifts a story. `age` is the time from the story's
newest copy to the reference time (never negative), so a story that is still being
reported stays fresh. The decay multiplies every score by the same factor when the
reference time moves, so the order of two stories never depends on it (unless one
is newer than the reference, as a `--now` in the past makes it).
Ties break by the newest copy's time (newer first), then by story id.
"""

from __future__ import annotations

import bisect
import itertools
import math
import operator
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import TypeVar

from aggregator.config import RankConfig
from aggregator.model import Ranked

_R = TypeVar("_R", bound=Ranked)


def base_score(heat: float, quality: float, weights: RankConfig) -> float:
    """The score before decay: never falls when heat or quality rises."""
    # The same as max(heat, 0.0), without a call: ranking scores every story.
    heat = 0.0 if heat < 0.0 else heat
    quality = 0.0 if quality < 0.0 else quality
    return weights.heat_weight * heat + weights.quality_weight * quality


def decay(newest: datetime, reference: datetime, weights: RankConfig) -> float:
    """The age factor in (0, 1]: halves every `half_life_hours` before `reference`."""
    age_hours = max((reference - newest).total_seconds(), 0.0) / 3600.0
    return float(0.5 ** (age_hours / weights.half_life_hours))


def comparable_score(
    base: float, newest: datetime, reference: datetime, weights: RankConfig
) -> float:
    """A number that orders items like `base * decay(newest, reference)` does.

    It is log(base * decay) plus a constant that depends on `reference` alone, and
    it is computed without `reference` (unless `newest` is later): moving the
    reference shifts every item's number by exactly the same amount, so not even
    rounding can tip two equal scores one way at one reference time and the other
    way at another, and years-old items do not all underflow to 0. -inf when
    `base` is not positive.
    """
    if base <= 0:
        return -math.inf
    per_second = math.log(2) / (weights.half_life_hours * 3600.0)
    return math.log(base) + min(newest, reference).timestamp() * per_second


def story_score(story: Ranked, reference: datetime, weights: RankConfig) -> float:
    """The score of the module docstring."""
    return _base(story, weights) * decay(story.updated, reference, weights)


def log_score(story: Ranked, reference: datetime, weights: RankConfig) -> float:
    """log(story_score), computed so that it never underflows: years-old archives
    would otherwise all score 0.0 and lose their order."""
    base = _base(story, weights)
    if base <= 0:
        return -math.inf
    age_hours = max((reference - story.updated).total_seconds(), 0.0) / 3600.0
    return math.log(base) - age_hours / weights.half_life_hours * math.log(2)


def _base(story: Ranked, weights: RankConfig) -> float:
    coverage = weights.coverage_weight * (story.providers - 1)
    return base_score(story.heat, story.quality, weights) + coverage


#: What places a story in the ranking, but for its id (see `rank_stories`).
Place = tuple[float, float]


def place(base: float, updated: datetime, reference: datetime, weights: RankConfig) -> Place:
    """The `Place` of a story whose score before decay is `base` and whose newest
    copy is from `updated`."""
    return scored_place(-comparable_score(base, updated, reference, weights), updated)


def scored_place(negated: float, updated: datetime) -> Place:
    """The `Place` of a story whose negated `comparable_score` is `negated`."""
    return (negated, -updated.timestamp())


def story_place(story: Ranked, reference: datetime, weights: RankConfig) -> Place:
    """The `Place` of `story`."""
    return place(_base(story, weights), story.updated, reference, weights)


def rank_stories(
    stories: Iterable[_R],
    reference: datetime,
    weights: RankConfig,
    places: Callable[[_R], Place | None] | None = None,
) -> list[_R]:
    """`stories` best first; the order is total, so it never depends on input order.

    Moving `reference` changes no order except through the stories newer than it
    (whose age stays 0): stories compare by `comparable_score`, then by the
    newest copy's time (newer first), then by id. `places`, if given, gives the
    `story_place` of a story when it is known ahead (None when it is not).
    """
    listed = list(stories)
    known = [None] * len(listed) if places is None else list(map(places, listed))
    keys = [
        (*(story_place(story, reference, weights) if at is None else at), story.id)
        for story, at in zip(listed, known, strict=True)
    ]
    return [listed[i] for i in sorted(range(len(listed)), key=keys.__getitem__)]


def rank_presorted(
    alone: Sequence[_R],
    places: Sequence[Place],
    others: Iterable[_R],
    reference: datetime,
    weights: RankConfig,
) -> list[_R]:
    """`rank_stories` of `alone` and `others` together, `alone` being in order
    already but for equal places: `places` holds their `story_place`s, in that
    order. Beyond a look at every place for ties, the work is in proportion to
    `others` (each placed by bisection among `alone`) and to the ties.
    """
    ranked = list(alone)
    count = len(places)
    # Stories of equal places, in runs, go by id, as `rank_stories` orders them.
    tied = list(itertools.compress(range(count), map(operator.eq, places, places[1:])))
    first = 0
    while first < len(tied):
        last = first
        while last + 1 < len(tied) and tied[last + 1] == tied[last] + 1:
            last += 1
        run = slice(tied[first], tied[last] + 2)
        ranked[run] = sorted(ranked[run], key=operator.attrgetter("id"))
        first = last + 1
    keyed = sorted((*story_place(story, reference, weights), story.id, story) for story in others)
    result: list[_R] = []
    taken = 0
    for score, newest, story_id, story in keyed:
        place = (score, newest)
        where = bisect.bisect_left(places, place, taken)
        while where < count and places[where] == place and ranked[where].id < story_id:
            where += 1
        result += ranked[taken:where]
        result.append(story)
        taken = where
    result += ranked[taken:]
    return result


def reference_time(newest: Iterable[datetime], now: datetime | None) -> datetime | None:
    """`now` when given, else the latest of the articles' `newest` times (None
    for no articles)."""
    if now is not None:
        return now
    return max(newest, default=None)
