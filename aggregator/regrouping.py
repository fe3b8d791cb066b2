"""Grouping again around what changed: `merge.group_articles` of a build's
articles, made from the last build's grouping by grouping anew only the
articles a change can reach. Pure.

Grouping joins two articles only along a link between them: a canonical URL
they share, the same title words, or similar titles (`titlepairs`). Call the
articles linked to each other, directly or through others, a cluster. Each
decision of `merge._join_titles` reads only the stories so far of the two
articles it looks at, so a cluster's stories do not depend on the articles
outside it, and an article's story in the last build did not depend on the
articles outside that story (everything that joined it is in it).

So when some files changed, were added or went away since the last build,
the stories of the last build that held none of them, and whose articles no
new link reaches, are the stories again, with the same ids: a story carries
the id it had through its URLs, and no other story carries it. The rest, the
region: every article of a file changed or added, every article that was in
a story with one changed or gone, and every article linked to those,
directly or through others. `regroup` groups the region alone, with the ids
of the stories left alone taken (`group_articles(taken=)`), and puts the two
together into the grouping `group_articles` makes of all the articles.

That holds only if the last build's grouping is of the articles its record
names (`GroupingRecord`), by this code and these settings, and if the ids
known now are those it gave (its `id_map`); the caller checks that before it
asks (see `grouping`). tests/test_regrouping.py holds `regroup` to
`group_articles` over generated series of builds.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import operator
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence, Set
from dataclasses import dataclass
from itertools import repeat
from typing import cast

from aggregator.config import MergeConfig
from aggregator.files import FileStamp
from aggregator.merge import Grouping, Identity, MergeInput, group_articles
from aggregator.titlepairs import Pair, Title

#: A region larger than this share of the articles is grouped as a first
#: build does: putting the two parts together would cost more than it saves.
MOST = 0.25


@dataclass(frozen=True)
class GroupingRecord:
    """A build's grouping as the next build needs it: for each place of
    `merge.Grouping.order`, the source of the article there (`names`) and
    the (size, mtime) of its file when what grouping read of it was read
    (`stamps`; None when that cannot be trusted again, see
    `files.settled_before`); `roots` and `ids` as in `merge.Grouping`."""

    names: list[str]
    stamps: list[FileStamp | None]
    roots: list[int]
    ids: list[str]


def record_of(
    grouping: Grouping, inputs: Sequence[MergeInput], stamps: Sequence[FileStamp | None]
) -> GroupingRecord:
    """The record of `grouping`, of `inputs` whose files had `stamps`."""
    order = grouping.order
    names = [inputs[index][0][3] for index in order]
    return GroupingRecord(names, list(map(stamps.__getitem__, order)), grouping.roots, grouping.ids)


def regroup(
    inputs: Sequence[MergeInput],
    stamps: Sequence[FileStamp | None],
    last: GroupingRecord,
    merge: MergeConfig,
    known: Mapping[str, str],
    pairs: Collection[Pair],
    *,
    most: float = MOST,
) -> Grouping | None:
    """`group_articles(inputs, merge, known)`, made from the `last` build's
    grouping (see the module docstring); None when the region is more than
    `most` of the articles. `stamps` are the stamps of the inputs' files (as
    in `GroupingRecord`), `pairs` the similar titles among the inputs'
    (`titlepairs.TitlePairs.pairs`).

    Most of the articles are left alone, so what is done for each article is
    done in passes in C (`map`, `itertools`), not in a loop in Python.
    """
    count, before = len(inputs), len(last.names)
    identities = list(map(operator.itemgetter(0), inputs))
    was = _places_before(identities, stamps, last)  # `before`: none (changed or added)
    written = list(itertools.compress(range(count), map(operator.eq, was, repeat(before))))
    gone = set(range(before)).difference(was)  # the places of files changed or gone
    # The position of each place's article still there (and, for `before`, of some written).
    position_at = dict(zip(was, range(count), strict=True))
    # The stories that lost or changed a copy are grouped anew: their first copies.
    changed = {last.roots[place] for place in gone}
    kept_copies = itertools.compress(range(before), map(changed.__contains__, last.roots))
    seeds = [*written, *(position_at[place] for place in kept_copies if place not in gone)]
    region = _reached(seeds, inputs, pairs)
    if len(region) > most * count:
        return None
    # The stories left alone keep their ids; none of those is carried by the region.
    kept_region = (place for place in map(was.__getitem__, region) if place != before)
    grouped_anew = changed.union(map(last.roots.__getitem__, kept_region))
    firsts = itertools.compress(range(before), map(operator.eq, last.roots, itertools.count()))
    id_of_first = dict(zip(firsts, last.ids, strict=True))
    taken = set(last.ids).difference(map(id_of_first.__getitem__, grouped_anew))
    inside = sorted(region)
    part = group_articles(
        [inputs[position] for position in inside],
        merge,
        known,
        lambda titles, _: [(a, b) for a, b in pairs if a in titles and b in titles],
        taken=taken,
    )
    for position in inside:
        was[position] = before  # from here on: the last place of an article left alone
    # The last build's order of the articles still there, then those written:
    # sorting that takes little more than a pass.
    still_there = map(position_at.get, range(before))  # None: changed or gone
    ordered = cast(Iterable[int], filter(functools.partial(operator.is_not, None), still_there))
    order = sorted([*ordered, *written], key=identities.__getitem__)
    return _joined(order, was, last, inside, part, id_of_first)


def _joined(
    order: list[int],
    was: Sequence[int],
    last: GroupingRecord,
    inside: Sequence[int],
    part: Grouping,
    id_of_first: Mapping[int, str],
) -> Grouping:
    """The grouping in `order` of all the articles: those at `inside`
    positions as grouped in `part`, the others (at their last build's places
    `was`; `len(last.names)` for the others) as in the `last` grouping, whose
    stories' ids are `id_of_first` (by their first copies' places)."""
    count, before = len(order), len(last.names)
    place_of = dict(zip(order, range(count), strict=True))
    # A story left alone has the first copy it had.
    last_places = list(map(was.__getitem__, order))
    now_at = dict(zip(last_places, range(count), strict=True))
    roots = list(map(now_at.__getitem__, map([*last.roots, before].__getitem__, last_places)))
    part_places = list(map(place_of.__getitem__, map(inside.__getitem__, part.order)))
    for place, part_root in zip(part_places, part.roots, strict=True):
        roots[place] = part_places[part_root]
    part_firsts = itertools.compress(part_places, map(operator.eq, part.roots, itertools.count()))
    id_of_root = dict(zip(part_firsts, part.ids, strict=True))
    firsts = list(itertools.compress(range(count), map(operator.eq, roots, itertools.count())))
    ids = list(map(id_of_first.get, map(last_places.__getitem__, firsts)))  # None: grouped anew
    for place, story in id_of_root.items():
        ids[bisect.bisect_left(firsts, place)] = story
    return Grouping(order, roots, cast(list[str], ids))


def _places_before(
    identities: Sequence[Identity], stamps: Sequence[FileStamp | None], last: GroupingRecord
) -> list[int]:
    """For each article (by its position), its place in the `last` grouping
    when its file is as it was then, else `len(last.names)`."""
    before = len(last.names)
    place_of = dict(zip(last.names, range(before), strict=True))
    places = list(map(place_of.get, map(operator.itemgetter(3), identities), repeat(before)))
    same = list(map(operator.eq, map([*last.stamps, None].__getitem__, places), stamps))
    untrusted = map(operator.is_, stamps, repeat(None))  # (None in the record too: equal)
    for position in itertools.compress(range(len(places)), map(operator.not_, same)):
        places[position] = before
    for position in itertools.compress(range(len(places)), untrusted):
        places[position] = before
    return places


def _reached(seeds: Iterable[int], inputs: Sequence[MergeInput], pairs: Iterable[Pair]) -> set[int]:
    """The positions of `seeds` and of every input linked to one of them,
    directly or through others (see the module docstring): found by passes
    over all the inputs, each for the links the last one found."""
    urls = list(map(operator.itemgetter(1), inputs))
    titles = list(map(operator.itemgetter(2), inputs))
    similar: defaultdict[Title, set[Title]] = defaultdict(set)
    for small, large in pairs:
        similar[small].add(large)
        similar[large].add(small)
    region = set(seeds)
    found = list(region)
    seen_urls: set[str] = set()
    seen_titles: set[Title] = {()}  # an empty title links nothing
    while found:
        new_urls = set().union(*map(urls.__getitem__, found)) - seen_urls
        new_titles = set(map(titles.__getitem__, found))
        new_titles = new_titles.union(*map(similar.__getitem__, new_titles)) - seen_titles
        if not new_urls and not new_titles:
            break  # no link the passes before did not follow
        seen_urls |= new_urls
        seen_titles |= new_titles
        linked = map(operator.or_, _holding(new_urls, urls), map(new_titles.__contains__, titles))
        found = [p for p in itertools.compress(range(len(inputs)), linked) if p not in region]
        region.update(found)
    return region


def _holding(wanted: Set[str], urls: Sequence[Collection[str]]) -> Iterable[bool]:
    """For each of `urls`, whether it holds one of `wanted`."""
    if not wanted:
        return repeat(False, len(urls))
    return map(operator.not_, map(wanted.isdisjoint, urls))
