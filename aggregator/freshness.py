"""Bringing published stories up to date with what their pages say.

`freshen` fetches the pages of the stories a publication would show, applies what
it learns, ranks again and repeats for stories that moved into view (a dead story
leaves room for the next one), so only pages that will be published are fetched.
The fetching itself is passed in; everything here is pure.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aggregator.model import Story
from aggregator.urls import clean_url

if TYPE_CHECKING:  # `fetch` (httpx, htmldate) is imported only by a build that fetches
    from aggregator.fetch import FetchOutcome, PageResult

#: Rounds of fetch-and-reselect; each round fetches only stories new to the feeds.
MAX_ROUNDS = 3

#: Statuses the report counts, in the order the summary shows them.
COUNTED = ("fetched", "not_modified", "cached", "dead", "failed", "skipped")


@dataclass
class FreshnessReport:
    """What fetching did: counts by status, each page's result, the dead stories."""

    pages: dict[str, PageResult] = field(default_factory=dict)
    dead: list[Story] = field(default_factory=list)
    budget_exhausted: bool = False

    @property
    def counts(self) -> dict[str, int]:
        tally = Counter[str](page.status for page in self.pages.values())
        return {status: tally[status] for status in COUNTED}


def page_record(page: PageResult) -> dict[str, object]:
    """A page's result as JSON-ready values."""
    record = dataclasses.asdict(page)
    record["updated"] = page.updated.isoformat() if page.updated else None
    return record


def page_url(story: Story) -> str:
    """The URL fetched for a story: the link its entry shows."""
    return clean_url(story.lead.url)


def apply_page(story: Story, page: PageResult) -> Story:
    """`story` with the page's later `updated` time and permanent new address."""
    if page.status not in ("fetched", "not_modified", "cached"):
        return story
    lead = story.lead
    changes: dict[str, object] = {}
    if page.updated is not None and page.updated > lead.newest:
        changes["updated"] = page.updated
    if page.final_url and page.final_url != lead.url:
        changes["url"] = page.final_url
    if not changes:
        return story
    new_lead = dataclasses.replace(lead, **changes)  # type: ignore[arg-type]
    return dataclasses.replace(story, lead=new_lead, updated=max(story.updated, new_lead.newest))


def freshen(
    stories: Sequence[Story],
    shown: Callable[[Sequence[Story]], Sequence[Story]],
    fetch: Callable[[list[str]], FetchOutcome],
    *,
    keep_dead: bool,
) -> tuple[list[Story], FreshnessReport]:
    """Fetch the pages of the stories `shown` would publish and apply the results.

    `shown(stories)` ranks and selects, returning the stories that would appear in
    some feed; `fetch(urls)` fetches pages. Returns every story (dead ones dropped
    unless `keep_dead`), updated, and the report.
    """
    report = FreshnessReport()
    current = list(stories)
    done: set[str] = set()
    for _ in range(MAX_ROUNDS):
        todo = {s.id: page_url(s) for s in shown(current) if s.id not in done}
        if not todo:
            break
        outcome = fetch(list(dict.fromkeys(todo.values())))
        report.pages.update(outcome.results)
        done.update(todo)
        updated = [
            _with_page(s, outcome.results.get(todo[s.id]), keep_dead, report) if s.id in todo else s
            for s in current
        ]
        current = [s for s in updated if s is not None]
        if outcome.budget_exhausted:
            report.budget_exhausted = True
            break
    return current, report


def _with_page(
    story: Story, page: PageResult | None, keep_dead: bool, report: FreshnessReport
) -> Story | None:
    if page is None:
        return story
    if page.status == "dead":
        report.dead.append(story)
        return story if keep_dead else None
    return apply_page(story, page)
