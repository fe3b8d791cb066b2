"""A Hugo site over an article corpus: the yardstick for the aggregator's build time.

Usage::

    python benchmarks/hugo_site.py CORPUS WORK [--build] [--verify]

``prepare_site(CORPUS, WORK)`` lays out ``WORK/site``: a config, one RSS layout and
``content/posts/<file stem>.md``, a symlink to each article file (Hugo reads
front matter only from content files with a known extension such as ``.md``;
it follows symlinked files). ``hugo_command(site, out)`` is the build to time.
``--build`` runs it once into ``WORK/public`` and ``--verify`` checks that output
against the corpus. Needs the ``hugo`` binary: Debian's package, which ``run.py``
installs when it is missing (``install_hugo``, as root); written and checked
against 0.111.3.

What the site does, so the comparison is fair:

- every article is a page; Hugo parses every file's whole front matter;
- ``_build`` (set by ``cascade`` on ``/posts/**``) keeps the pages listed but not
  rendered, so the only output is one RSS feed per ``topics`` term, with the newest
  50 pages (``[services.rss] limit = 50``), dated by ``publishedDateTime``
  (``[frontmatter]``);
- front-matter keys that Hugo itself interprets: ``title`` (the item title, as
  wanted); ``type`` (``article``/``video``: Hugo's content type, which only picks
  layouts, and no page is rendered); ``images`` (used only by Hugo's internal
  opengraph/twitter templates, which are not used); and ``published``, an
  undocumented Hugo key: ``published: false`` makes the page a draft, so drafts are
  left out of the feeds as the aggregator leaves them out. The date keys are mapped
  explicitly, so ``published`` is never read as a date. ``related``, ``excerpt``,
  ``provider``, ``heat`` and the rest are plain params;
- the RSS layout is Hugo's embedded one, except that an item links to the
  article's ``webUrl`` and describes it with its ``excerpt`` (unrendered pages
  have no permalink and no summary);
- Hugo does not merge duplicates, rank, or write Atom/JSON/OPML/HTML: it does less
  work than the aggregator. It also has no incremental CLI build: every run is a
  full build.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from xml.etree import ElementTree

import yaml

RSS_LIMIT = 50

SITE_CONFIG = f"""\
baseURL = "https://example.org/"
title = "Hugo benchmark"
languageCode = "en"
# Only term pages (one RSS feed each) and the unrendered posts they list.
disableKinds = ["home", "section", "taxonomy", "sitemap", "robotsTXT", "404"]
# Hugo 0.73+ logs an error when "taxonomy" is disabled, because its meaning changed.
ignoreErrors = ["error-disable-taxonomy"]

[taxonomies]
topic = "topics"

[outputs]
term = ["RSS"]

[services.rss]
limit = {RSS_LIMIT}

[frontmatter]
date = ["publishedDateTime"]
publishDate = ["publishedDateTime"]
lastmod = ["publishedDateTime"]
expiryDate = ["expiryDate"]

[[cascade]]
[cascade._build]
render = "never"
list = "always"
[cascade._target]
path = "/posts/**"
"""

# Hugo 0.111's embedded _default/rss.xml, with item link, guid and description
# taken from the article (webUrl, excerpt).
RSS_LAYOUT = """\
{{- $pages := .Pages -}}
{{- $limit := .Site.Config.Services.RSS.Limit -}}
{{- if ge $limit 1 -}}
{{- $pages = $pages | first $limit -}}
{{- end -}}
{{- printf "<?xml version=\\"1.0\\" encoding=\\"utf-8\\" standalone=\\"yes\\"?>" | safeHTML }}
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">
  <channel>
    <title>{{ .Title }}</title>
    <link>{{ .Permalink }}</link>
    <description>Recent content in {{ .Title }} on {{ .Site.Title }}</description>
    <generator>Hugo -- gohugo.io</generator>
    <language>{{ .Site.LanguageCode }}</language>
    {{- if not .Date.IsZero }}
    <lastBuildDate>{{ .Date.Format "Mon, 02 Jan 2006 15:04:05 -0700" | safeHTML }}</lastBuildDate>
    {{- end }}
    {{- with .OutputFormats.Get "RSS" }}
    {{ printf "<atom:link href=%q rel=\\"self\\" type=%q />" .Permalink .MediaType | safeHTML }}
    {{- end }}
    {{- range $pages }}
    <item>
      <title>{{ .Title }}</title>
      <link>{{ .Params.weburl }}</link>
      <pubDate>{{ .Date.Format "Mon, 02 Jan 2006 15:04:05 -0700" | safeHTML }}</pubDate>
      <guid>{{ .Params.weburl }}</guid>
      <description>{{ .Params.excerpt | html }}</description>
    </item>
    {{- end }}
  </channel>
</rss>
"""


def hugo_version() -> str:
    """The first line of ``hugo version``; raises FileNotFoundError without Hugo."""
    done = subprocess.run(["hugo", "version"], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def install_hugo() -> None:
    """Install Debian's ``hugo`` package unless ``hugo`` is on the PATH already.

    Needs root and apt-get; elsewhere it exits naming what to install (or
    ``--skip-hugo``)."""
    if shutil.which("hugo"):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        sys.exit(
            "hugo not found: install Debian's hugo package (apt-get install hugo) as root, "
            "or run with --skip-hugo"
        )
    quiet = {
        "stdout": subprocess.DEVNULL,
        "env": {**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    }
    subprocess.run(["apt-get", "update", "-qq"], check=True, **quiet)
    install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "hugo"]
    subprocess.run(install, check=True, **quiet)


def prepare_site(corpus: Path, work: Path) -> Path:
    """Lay out ``work/site`` for ``corpus`` (``*.txt`` at any depth) and return it.

    Any earlier site there is replaced. Content files are symlinks, so later
    changes to the corpus files are seen by Hugo; file stems must be unique.
    """
    site = work / "site"
    if site.exists():
        shutil.rmtree(site)
    posts = site / "content" / "posts"
    posts.mkdir(parents=True)
    (site / "config.toml").write_text(SITE_CONFIG, encoding="utf-8")
    layouts = site / "layouts" / "_default"
    layouts.mkdir(parents=True)
    (layouts / "rss.xml").write_text(RSS_LAYOUT, encoding="utf-8")
    for article in sorted(corpus.resolve().rglob("*.txt")):
        (posts / f"{article.stem}.md").symlink_to(article)
    return site


def hugo_command(site: Path, out: Path) -> list[str]:
    """The build to time: ``site`` into ``out`` (clear ``out`` first for a cold build).

    Paths are made absolute (Hugo resolves a relative ``--destination`` against
    ``--source``). ``--noBuildLock`` skips the lock file, ``--quiet`` the summary.
    """
    return [
        "hugo",
        "--source",
        str(site.resolve()),
        "--destination",
        str(out.resolve()),
        "--quiet",
        "--noBuildLock",
    ]


@dataclass(frozen=True)
class Verification:
    """What ``verify`` found; ``problems`` is empty when the output is right."""

    feeds: int
    items: int
    largest_feed: int
    problems: list[str]


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n", re.S)


_PATH_JUNK = re.compile(r"[^\w.#+~@/\\-]|_", re.UNICODE)


def hugo_term_path(name: str) -> str:
    """The directory Hugo 0.111 gives a term: lower case, whitespace runs to one
    "-", other characters than letters, digits and ``._-#+~@/\\`` dropped.

    Spellings with the same path are one term to Hugo ("Machine Learning" and
    "machine-learning"), whose feed title is whichever spelling it met first.
    """
    words = (_PATH_JUNK.sub("", word) for word in name.lower().split())
    return "-".join(w for w in words if w)


def _published_by_term(corpus: Path) -> dict[str, list[tuple[datetime, str]]]:
    """(publishedDateTime, webUrl) of the published articles, newest first, by
    Hugo term path."""
    by_term: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for path in corpus.rglob("*.txt"):
        match = _FRONT_MATTER.match(path.read_text(encoding="utf-8"))
        assert match is not None, path
        meta = yaml.load(match.group(1), Loader=_LOADER)
        if meta.get("published", True) is False:
            continue
        for term in {hugo_term_path(str(t)) for t in meta.get("topics") or []}:
            by_term[term].append((meta["publishedDateTime"], meta["webUrl"]))
    for entries in by_term.values():
        entries.sort(reverse=True)
    return by_term


def verify(corpus: Path, out: Path) -> Verification:
    """Check Hugo's output in ``out`` against ``corpus``.

    Expected: exactly one feed, ``topics/<hugo_term_path>/index.xml``, per term
    that has a published article; each with min(50, published articles) items,
    newest first, that are exactly the newest published articles of that term
    (ties on the date at the cut may be broken either way).
    """
    expected = _published_by_term(corpus)
    topics_dir = out / "topics"
    problems: list[str] = []
    seen: set[str] = set()
    items = largest = 0
    for feed_path in sorted(topics_dir.glob("*/index.xml")):
        term = feed_path.parent.name
        seen.add(term)
        channel = ElementTree.parse(feed_path).getroot().find("channel")
        assert channel is not None, feed_path
        got = [
            (parsedate_to_datetime(i.findtext("pubDate", "")), i.findtext("link", ""))
            for i in channel.iter("item")
        ]
        items += len(got)
        largest = max(largest, len(got))
        want = expected.get(term, [])
        if len(got) != min(RSS_LIMIT, len(want)):
            problems.append(f"{feed_path}: {len(got)} items, want {min(RSS_LIMIT, len(want))}")
            continue
        if [d for d, _ in got] != [d for d, _ in want[: len(got)]]:
            problems.append(f"{feed_path}: items are not the newest, newest first")
        cutoff = got[-1][0] if got else None
        must = {u for d, u in want if cutoff is not None and d > cutoff}
        may = {u for d, u in want if d == cutoff}
        links = {u for _, u in got}
        if not must <= links or not links <= must | may:
            problems.append(f"{feed_path}: items are not the term's published articles")
    missing = sorted(set(expected) - seen)
    if missing:
        problems.append(f"no feed for {len(missing)} terms, e.g. {missing[:5]}")
    others = sorted(p for p in out.rglob("*") if p.is_file() and p.parent.parent != topics_dir)
    if others:
        problems.append(f"unexpected output files, e.g. {[str(p) for p in others[:5]]}")
    return Verification(len(seen), items, largest, problems)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("work", type=Path)
    parser.add_argument("--build", action="store_true", help="build once into WORK/public")
    parser.add_argument("--verify", action="store_true", help="check WORK/public")
    args = parser.parse_args(argv)
    print(hugo_version())
    site = prepare_site(args.corpus, args.work)
    out = args.work / "public"
    print(f"site: {site}")
    if args.build:
        shutil.rmtree(out, ignore_errors=True)
        started = time.perf_counter()
        subprocess.run(hugo_command(site, out), check=True)
        print(f"built {out} in {time.perf_counter() - started:.2f} s")
    if args.verify:
        result = verify(args.corpus, out)
        print(
            f"{result.feeds} feeds, {result.items} items, largest feed {result.largest_feed} items"
        )
        for problem in result.problems:
            print(f"PROBLEM: {problem}", file=sys.stderr)
        return 1 if result.problems else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
