"""Telling a WebSub hub which feeds changed: the build's only network request.

WebSub (W3C, 2018) leaves the publisher-to-hub notification to each hub; the form
hubs accept is the PubSubHubbub one: a form POST with `hub.mode=publish` and
`hub.url=<feed URL>`. One request per feed URL, because not every hub reads a
repeated `hub.url`. A failed notification is a problem to report, never an error:
the feeds are already published and subscribers still poll.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aggregator import __version__

#: Seconds for one notification, and for connecting to the hub.
TIMEOUT_SECONDS = 10.0
CONNECT_SECONDS = 5.0
USER_AGENT = f"news-aggregator/{__version__}"


@dataclass(frozen=True)
class HubNotice:
    """How a round of notifications went: how many the hub accepted (2xx), what failed."""

    accepted: int
    problems: tuple[str, ...]


def notify_hub(hub_url: str, feed_urls: Sequence[str]) -> HubNotice:
    """POST one publish notification per URL in `feed_urls`, in order.

    A hub that cannot be reached ends the round: the remaining URLs are named in one
    problem instead of each waiting for its own timeout.
    """
    import httpx  # here: most builds have no hub, and httpx is slow to import

    accepted = 0
    problems: list[str] = []
    headers = {"User-Agent": USER_AGENT}
    timeout = httpx.Timeout(TIMEOUT_SECONDS, connect=CONNECT_SECONDS)
    with httpx.Client(timeout=timeout, headers=headers, follow_redirects=False) as client:
        for index, url in enumerate(feed_urls):
            try:
                response = client.post(hub_url, data={"hub.mode": "publish", "hub.url": url})
            except httpx.HTTPError as error:
                unsent = len(feed_urls) - index
                problems.append(
                    f"hub {hub_url}: {type(error).__name__}: {error}; {unsent} not notified"
                )
                break
            if response.is_success:
                accepted += 1
            else:
                problems.append(f"hub {hub_url}: HTTP {response.status_code} for {url}")
    return HubNotice(accepted, tuple(problems))
