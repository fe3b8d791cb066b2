"""The score and the order: heat, quality, coverage and age; ties; old archives."""

from __future__ import annotations

import dataclasses
import itertools
import math
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aggregator.config import Config, RankConfig, load_config
from aggregator.model import Article, Provider, Story
from aggregator.pipeline import plan
from aggregator.rank import (
    base_score,
    decay,
    log_score,
    place,
    rank_presorted,
    rank_stories,
    reference_time,
    story_place,
    story_score,
)
from tests.conftest import NOW, make_article

H = timedelta(hours=1)


def story(
    name: str,
    *,
    heat: float = 50.0,
    quality: float = 50.0,
    updated: datetime = NOW,
    outlets: tuple[str, ...] = ("Example News",),
) -> Story:
    """A story named `name` whose copies come from `outlets`."""
    copies = tuple(
        make_article(
            source=f"articles/{name}-{number}.txt",
            url=f"https://{number}.example/{name}",
            published=updated,
            provider=Provider(outlet),
        )
        for number, outlet in enumerate(outlets)
    )
    return Story(
        id=f"urn:uuid:{name}",
        lead=copies[0],
        copies=copies[1:],
        topics=("energy",),
        published=updated,
        updated=updated,
        heat=heat,
        quality=quality,
    )


def names(stories: list[Story]) -> list[str]:
    return [s.id.removeprefix("urn:uuid:") for s in stories]


# The documented score -------------------------------------------------------------


@pytest.mark.parametrize(
    ("heat", "quality", "outlets", "weights", "age_hours", "expected"),
    [
        (50, 50, 1, RankConfig(), 0, 100.0),
        (50, 50, 1, RankConfig(), 24, 50.0),
        (50, 50, 1, RankConfig(), 48, 25.0),
        (10, 20, 3, RankConfig(heat_weight=1, quality_weight=2, coverage_weight=5), 48, 15.0),
        (80, 0, 1, RankConfig(heat_weight=0.5, quality_weight=3), 0, 40.0),
        (0, 0, 2, RankConfig(coverage_weight=5, half_life_hours=12), 12, 2.5),
        (-40, 30, 1, RankConfig(), 0, 30.0),  # negative heat counts as zero
        (30, -10, 1, RankConfig(), 0, 30.0),  # and so does negative quality
    ],
)
def test_story_score_is_the_documented_formula(
    heat: float,
    quality: float,
    outlets: int,
    weights: RankConfig,
    age_hours: float,
    expected: float,
) -> None:
    item = story(
        "s", heat=heat, quality=quality, outlets=tuple(f"Outlet {n}" for n in range(outlets))
    )
    reference = NOW + age_hours * H
    assert story_score(item, reference, weights) == pytest.approx(expected)
    assert log_score(item, reference, weights) == pytest.approx(math.log(expected))


def test_age_is_measured_from_the_newest_copy_and_never_negative() -> None:
    item = story("s")
    assert decay(NOW, NOW, RankConfig()) == 1.0
    assert decay(NOW, NOW + 36 * H, RankConfig()) == pytest.approx(0.5**1.5)
    assert decay(NOW + 5 * H, NOW, RankConfig()) == 1.0  # newer than the reference
    assert story_score(item, NOW - 10 * H, RankConfig()) == story_score(item, NOW, RankConfig())


def test_the_half_life_comes_from_the_config(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("rank:\n  half_life_hours: 6\n  coverage_weight: 0\n")
    weights = load_config(path).rank
    assert weights.half_life_hours == 6
    assert story_score(story("s"), NOW + 6 * H, weights) == pytest.approx(50.0)
    # through the pipeline: a fresh lukewarm story against a hot one 12 hours older
    hot = make_article(
        source="hot",
        title="Hot old story here",
        heat=90,
        quality=90,
        url="https://a.example/hot",
        published=NOW - 12 * H,
    )
    warm = make_article(
        source="warm",
        title="Warm new story here",
        heat=30,
        quality=30,
        url="https://b.example/warm",
        published=NOW,
    )
    for half_life, first in ((6.0, "warm"), (48.0, "hot")):
        config = dataclasses.replace(
            Config(), rank=RankConfig(half_life_hours=half_life, coverage_weight=0)
        )
        publication = plan([hot, warm], config, None)
        assert publication.stories[0].lead.source == first


def test_wider_coverage_lifts_a_story_and_one_outlet_counts_once() -> None:
    single = story("single", outlets=("A",))
    twice = story("twice", outlets=("A", "A"))
    three = story("three", outlets=("A", "B", "C"))
    assert [s.providers for s in (single, twice, three)] == [1, 1, 3]
    # single and twice tie on score and time: the id decides
    assert names(rank_stories([twice, single, three], NOW, RankConfig())) == [
        "three",
        "single",
        "twice",
    ]


def test_base_score_never_falls_when_heat_or_quality_rises() -> None:
    weights = RankConfig(heat_weight=2, quality_weight=0.5)
    values = [-10.0, 0.0, 0.5, 1.0, 50.0, 100.0, 1e6]
    for low, high in itertools.pairwise(values):
        assert base_score(high, 10, weights) >= base_score(low, 10, weights)
        assert base_score(10, high, weights) >= base_score(10, low, weights)


# The reference time -----------------------------------------------------------------


def test_the_reference_time_is_now_when_given_else_the_newest_article() -> None:
    older = make_article(published=NOW - 30 * H)
    newer = make_article(published=NOW - 20 * H)
    revised = make_article(published=NOW - 50 * H, updated=NOW - 5 * H)
    assert reference_time((a.newest for a in [older, newer]), None) == newer.published
    assert reference_time((a.newest for a in [older, newer, revised]), None) == NOW - 5 * H
    assert reference_time([older.newest], NOW + 100 * H) == NOW + 100 * H
    assert reference_time([], None) is None


def test_through_the_pipeline_now_changes_the_order_only_by_clamping_future_ages() -> None:
    # b is 24 h newer with 60% of a's score: newer wins at the newest article's time
    # (a decays to 50), but a `--now` at a's time leaves a undecayed and b unboosted.
    a = make_article(
        source="a",
        title="Alpha headline number one",
        heat=50,
        quality=50,
        url="https://a.example/a",
        published=NOW - 24 * H,
    )
    b = make_article(
        source="b",
        title="Beta headline number two",
        heat=30,
        quality=30,
        url="https://b.example/b",
        published=NOW,
    )
    order = [s.lead.source for s in plan([a, b], Config(), None).stories]
    assert order == ["b", "a"]
    order = [s.lead.source for s in plan([a, b], Config(), NOW - 24 * H).stories]
    assert order == ["a", "b"]
    order = [s.lead.source for s in plan([a, b], Config(), NOW + 1000 * H).stories]
    assert order == ["b", "a"]


# The order ------------------------------------------------------------------------


def test_ties_break_by_newest_copy_then_id_whatever_the_input_order() -> None:
    stories = [
        story("b-older", updated=NOW - 1 * H, heat=100, quality=0),
        story("a", updated=NOW, heat=50, quality=50),
        story("c", updated=NOW, heat=0, quality=100),
        story("b", updated=NOW, heat=100, quality=0),
    ]
    weights = RankConfig(half_life_hours=1e12)  # no decay: equal scores
    expected = ["a", "b", "c", "b-older"]
    rng = random.Random(7)
    for _ in range(20):
        rng.shuffle(stories)
        assert names(rank_stories(stories, NOW, weights)) == expected


def test_equal_scores_reached_through_decay_keep_one_order_whatever_the_reference() -> None:
    # 100 a half-life ago equals 50 now. In floating point the two scores differ in
    # their last bits, and by how much depended on the reference time, so the order
    # of the two flipped from one reference time to the next.
    older = story("older", heat=50, quality=50, updated=NOW - 24 * H)
    newer = story("newer", heat=25, quality=25, updated=NOW)
    orders = {
        tuple(names(rank_stories([older, newer], reference, RankConfig())))
        for minutes in range(0, 5000, 7)
        for reference in [NOW + minutes * timedelta(minutes=1, seconds=1.3)]
    }
    assert len(orders) == 1


@pytest.mark.parametrize("seed", range(5))
def test_log_score_and_story_score_put_stories_in_the_same_order(seed: int) -> None:
    rng = random.Random(seed)
    stories = [
        story(
            f"s{n}",
            heat=rng.uniform(0, 100),
            quality=rng.uniform(0, 100),
            updated=NOW - rng.uniform(0, 200) * H,
            outlets=tuple(f"O{k}" for k in range(rng.randint(1, 4))),
        )
        for n in range(40)
    ]
    weights = RankConfig()
    by_score = sorted(stories, key=lambda s: -story_score(s, NOW, weights))
    by_log = sorted(stories, key=lambda s: -log_score(s, NOW, weights))
    assert names(by_score) == names(by_log) == names(rank_stories(stories, NOW, weights))


def test_very_old_archives_keep_their_order() -> None:
    ten_years = 24 * 365 * 10 * H
    old = [
        story("hot", heat=90, quality=90, updated=NOW - ten_years),
        story("warm", heat=40, quality=40, updated=NOW - ten_years),
        story("older-hot", heat=90, quality=90, updated=NOW - ten_years - 6 * H),
        story("cold", heat=1, quality=1, updated=NOW - ten_years),
    ]
    weights = RankConfig()
    assert all(story_score(s, NOW, weights) == 0.0 for s in old)  # plain scores underflow
    expected = names(rank_stories(old, NOW - ten_years, weights))
    assert expected == ["hot", "older-hot", "warm", "cold"]
    assert names(rank_stories(old, NOW, weights)) == expected
    assert names(rank_stories(old, datetime(2999, 1, 1, tzinfo=UTC), weights)) == expected


def test_a_story_with_no_score_ranks_last_by_time() -> None:
    nothing = story("nothing", heat=0, quality=0, updated=NOW)
    also_nothing = story("also-nothing", heat=0, quality=0, updated=NOW - H)
    something = story("something", heat=1, quality=0, updated=NOW - 500 * H)
    weights = RankConfig(coverage_weight=0)
    assert log_score(nothing, NOW, weights) == -math.inf
    ranked = rank_stories([nothing, also_nothing, something], NOW, weights)
    assert names(ranked) == ["something", "nothing", "also-nothing"]


def test_feeds_list_entries_in_rank_order() -> None:
    articles: list[Article] = [
        make_article(
            source=f"s{n}",
            title=f"Headline number {n} about topic {n * 7}",
            url=f"https://n{n}.example/x",
            heat=10 * n,
            quality=5 * n,
            published=NOW - n * H,
            topics=("Energy", "Business")[: 1 + n % 2],
        )
        for n in range(1, 9)
    ]
    config = dataclasses.replace(Config(), max_items=5)
    publication = plan(articles, config, None)
    ranked = list(publication.stories)
    assert ranked == rank_stories(ranked, NOW - H, config.rank)
    for stem, spec in publication.feeds:
        key = stem.removeprefix("topics/")  # the slugs of these topics are their keys
        expected = ranked if stem == "all" else [s for s in ranked if key in s.topics]
        assert list(spec.stories) == expected[: config.max_items]
    assert {stem for stem, _ in publication.feeds} == {"all", "topics/energy", "topics/business"}


@pytest.mark.parametrize("seed", range(3))
def test_places_known_ahead_give_the_order_computed_on_the_spot(seed: int) -> None:
    rng = random.Random(seed)
    stories = [
        story(
            f"s{n}",
            heat=rng.choice([0.0, 10.0, rng.uniform(-5, 100)]),  # ties on purpose
            quality=rng.choice([0.0, 10.0, rng.uniform(0, 100)]),
            updated=NOW - rng.choice([0, 1, rng.uniform(0, 200)]) * H,
            outlets=tuple(f"O{k}" for k in range(rng.randint(1, 3))),
        )
        for n in range(60)
    ]
    weights = RankConfig()
    # Known for one-outlet stories, as a build knows them before grouping.
    ahead = {
        s.id: place(base_score(s.heat, s.quality, weights), s.updated, NOW, weights)
        for s in stories
        if s.providers == 1
    }
    ranked = rank_stories(stories, NOW, weights, lambda s: ahead.get(s.id))
    assert names(ranked) == names(rank_stories(stories, NOW, weights))
    assert all(story_place(s, NOW, weights) == at for s in stories if (at := ahead.get(s.id)))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("coverage_weight", [0.0, RankConfig().coverage_weight])
def test_stories_in_order_ahead_with_the_others_fitted_in_are_ranked_as_all_together(
    seed: int, coverage_weight: float
) -> None:
    """`rank_presorted`, as a build ranks: one-outlet stories sorted by place
    ahead (equal places in any order), the others placed among them."""
    rng = random.Random(seed)
    stories = [
        story(
            f"s{n:03}",
            heat=rng.choice([0.0, 10.0, 20.0]),  # equal places, in runs
            quality=rng.choice([0.0, 10.0]),
            updated=NOW - rng.choice([0, 1]) * H,
            outlets=tuple(f"O{k}" for k in range(rng.choice([1, 1, 1, 2, 3]))),
        )
        for n in range(200)
    ]
    weights = dataclasses.replace(RankConfig(), coverage_weight=coverage_weight)
    ahead = sorted(
        (s for s in stories if s.providers == 1),
        key=lambda s: (story_place(s, NOW, weights), rng.random()),
    )
    places = [story_place(s, NOW, weights) for s in ahead]
    others = [s for s in stories if s.providers > 1]
    rng.shuffle(others)
    assert sum(a == b for a, b in itertools.pairwise(places)) > 20  # ties to break
    ranked = rank_presorted(ahead, places, others, NOW, weights)
    assert names(ranked) == names(rank_stories(stories, NOW, weights))
