"""The two index files of the output: `index.opml` for readers, `index.html` for people.

Both list the same feeds in the same order (the all-stories feed, then each topic)
and are built from the `FeedSpec`s alone, so their bytes never depend on the
clock. Every text they show is escaped. Links between files of the output are
relative, so the page works wherever the directory is served; feed URLs inside the
OPML are absolute, as readers need them.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from datetime import datetime
from email.utils import format_datetime

from aggregator.feedspec import FeedSpec
from aggregator.model import Ranked, Story
from aggregator.urls import clean_url

#: The file formats written for every feed: suffix, media type, label for people.
FEED_FORMATS = (
    ("atom", "application/atom+xml", "Atom"),
    ("rss", "application/rss+xml", "RSS"),
    ("json", "application/feed+json", "JSON Feed"),
)
OPML_NAME = "index.opml"

#: One feed in the lists: its path stem relative to the output, and its spec.
Listed = tuple[str, FeedSpec[Ranked]]


def render_opml(site_title: str, feeds: Sequence[Listed]) -> bytes:
    """OPML 2.0: one subscription outline per feed, pointing at its Atom file.

    `dateCreated` is the newest entry's time (omitted when no feed has entries).
    """
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<opml version="2.0">',
        "  <head>",
        f"    <title>{_escape(site_title)}</title>",
    ]
    newest = _newest_update(feeds)
    if newest is not None:
        lines.append(f"    <dateCreated>{format_datetime(newest)}</dateCreated>")
    lines += ["    <docs>http://opml.org/spec2.opml</docs>", "  </head>", "  <body>"]
    for _, spec in feeds:
        attributes = {
            "type": "rss",
            "text": spec.title,
            "title": spec.title,
            "description": spec.subtitle,
            "language": spec.language,
            "xmlUrl": spec.self_url("atom"),
            "htmlUrl": spec.site_url,
        }
        shown = " ".join(f'{name}="{_escape(value)}"' for name, value in attributes.items())
        lines.append(f"    <outline {shown}/>")
    lines += ["  </body>", "</opml>"]
    return ("\n".join(lines) + "\n").encode("utf-8")


def render_index(
    site_title: str, language: str, feeds: Sequence[Listed], story: Callable[[Ranked], Story]
) -> bytes:
    """The HTML index: every feed with its entry count, newest headline and formats.

    The first feed in `feeds` is advertised for feed autodiscovery. `story`
    gives a story of the feeds as a `Story` (see `pipeline.Ranking.story`).
    """
    head = [
        "<!DOCTYPE html>",
        f'<html lang="{_escape(language)}">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_escape(site_title)}</title>",
    ]
    if feeds:
        stem, spec = feeds[0]
        for suffix, media_type, label in FEED_FORMATS:
            title = _escape(f"{spec.title} ({label})")
            href = _escape(f"{stem}.{suffix}")
            head.append(f'<link rel="alternate" type="{media_type}" title="{title}" href="{href}">')
    head += [f"<style>{_CSS}</style>", "</head>"]
    body = [
        "<body>",
        "<header>",
        f"<h1>{_escape(site_title)}</h1>",
        "<p>Follow these feeds in any feed reader: copy a feed's link into it, or import "
        f'<a href="{OPML_NAME}">all of them at once (OPML)</a>.</p>',
        "</header>",
        "<main>",
    ]
    for stem, spec in feeds:
        body += _feed_section(stem, spec, story)
    body += ["</main>", "</body>", "</html>"]
    return ("\n".join(head + body) + "\n").encode("utf-8")


def _feed_section(stem: str, spec: FeedSpec[Ranked], story: Callable[[Ranked], Story]) -> list[str]:
    count = len(spec.stories)
    lines = [
        f'<section id="{_escape(stem.replace("/", "-"))}">',
        f"<h2>{_escape(spec.name)}</h2>",
        f'<p class="count">{count} {"article" if count == 1 else "articles"}</p>',
    ]
    newest = spec.newest
    if newest is not None:
        lead = story(newest).lead
        lines.append(
            f'<p class="newest">Newest: <a href="{_escape(clean_url(lead.url))}">'
            f"{_escape(lead.title)}</a> <span>{_escape(lead.outlet)}, "
            f'<time datetime="{newest.published.isoformat()}">{_shown(newest.published)}</time>'
            "</span></p>"
        )
    links = " ".join(
        f'<a href="{_escape(f"{stem}.{suffix}")}" type="{media_type}">{label}</a>'
        for suffix, media_type, label in FEED_FORMATS
    )
    lines += [f'<p class="formats">{links}</p>', "</section>"]
    return lines


def _newest_update(feeds: Sequence[Listed]) -> datetime | None:
    return max((story.updated for _, spec in feeds for story in spec.stories), default=None)


def _shown(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _escape(text: str) -> str:
    return html.escape(text, quote=True)


_CSS = """
:root { color-scheme: light dark; --accent: #0b62c4; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 72rem; padding: 1rem;
  font: 1rem/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
h1 { font-size: 1.8rem; margin: 0.5rem 0; }
h2 { font-size: 1.2rem; margin: 0 0 0.25rem; }
a { color: var(--accent); }
main { display: grid; gap: 1rem;
  grid-template-columns: repeat(auto-fill, minmax(min(100%, 20rem), 1fr)); }
section { border: 1px solid #8884; border-radius: 0.5rem; padding: 0.75rem 1rem;
  overflow-wrap: anywhere; }
.count { margin: 0; color: #777; font-size: 0.9rem; }
.newest span { color: #777; font-size: 0.9rem; }
.formats a { display: inline-block; margin: 0 0.5rem 0.25rem 0; padding: 0.1rem 0.6rem;
  border: 1px solid var(--accent); border-radius: 1rem; text-decoration: none; }
@media (prefers-color-scheme: dark) { :root { --accent: #7ab7ff; } }
""".strip()
