"""The built feeds/ as subscribers and visitors meet it: nginx, newsboat, Chromium.

nginx (started here, on 127.0.0.1, with a config written here) serves a build of
the sample articles. Feed readers get the registered media types; browsers, which
ask for text/html, get feeds labelled application/xml, the only label under which
Chromium applies feed.xsl (it shows application/atom+xml and application/rss+xml
as plain text). docs/hosting.md gives the same nginx setup.
The Debian packages come from scripts/install-test-tools; a missing one fails the
test with its name, never skips it.
"""

from __future__ import annotations

import json
import shutil
import socket
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from lxml import etree

from aggregator.config import Config
from aggregator.model import BuildReport
from tests.feedcheck import ATOM
from tests.publishing import SAMPLE, build, make_config
from tests.test_pages import Page

#: What a browser sends when it navigates (Chromium's default Accept header).
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
MEDIA_TYPES = {
    ".atom": "application/atom+xml",
    ".rss": "application/rss+xml",
    ".json": "application/feed+json",
    ".opml": "text/x-opml",
    ".html": "text/html",
    ".xsl": "text/xsl",
}

NGINX_CONFIG = """\
daemon on;
master_process off;
pid {state}/nginx.pid;
error_log {state}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {state}/tmp;
    proxy_temp_path {state}/tmp;
    fastcgi_temp_path {state}/tmp;
    uwsgi_temp_path {state}/tmp;
    scgi_temp_path {state}/tmp;
    # From here on as in docs/hosting.md.
    server {{
        listen 127.0.0.1:{port};
        root {root};
        index index.html;
        etag on;
        types {{
            text/html html;
            application/atom+xml atom;
            application/rss+xml rss;
            application/feed+json json;
            text/x-opml opml;
            text/xsl xsl;
        }}
        charset utf-8;
        charset_types application/atom+xml application/rss+xml application/feed+json
                      text/x-opml text/xsl application/xml;
        location ~ \\.(atom|rss)$ {{
            add_header Vary Accept;
            if ($http_accept ~* "text/html") {{
                rewrite ^ /.browser$uri last;
            }}
        }}
        location ^~ /.browser/ {{
            internal;
            alias {root}/;
            types {{ application/xml atom rss; }}
            add_header Vary Accept;
        }}
    }}
}}
"""


def tool(name: str, package: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if found is None:
        pytest.fail(
            f"{name} not found: install the Debian package {package} (scripts/install-test-tools)"
        )
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Site:
    config: Config
    report: BuildReport
    base: str
    client: httpx.Client

    @property
    def output(self) -> Path:
        return self.config.output

    def feeds(self, *suffixes: str) -> list[str]:
        """Paths of the served feed files, relative to the site."""
        return sorted(
            p.relative_to(self.output).as_posix()
            for p in self.output.rglob("*")
            if p.suffix in suffixes
        )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    nginx = tool("nginx", "nginx")
    state = tmp_path_factory.mktemp("nginx")
    (state / "tmp").mkdir()
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    config = make_config(SAMPLE, state / "feeds", base_url=base)
    report = build(config)
    conf = state / "nginx.conf"
    conf.write_text(NGINX_CONFIG.format(state=state, port=port, root=config.output))
    command = [nginx, "-p", str(state), "-e", str(state / "error.log"), "-c", str(conf)]
    # With `daemon on` nginx returns once it listens: no waiting needed.
    started = subprocess.run(command, capture_output=True, text=True, timeout=30)
    assert started.returncode == 0, started.stderr + (state / "error.log").read_text()
    try:
        with httpx.Client(base_url=base, timeout=10) as client:
            yield Site(config, report, base, client)
    finally:
        subprocess.run([*command, "-s", "stop"], capture_output=True, timeout=30)


def test_every_file_has_its_media_type(site: Site) -> None:
    for path in site.feeds(*MEDIA_TYPES):
        response = site.client.get(path)
        assert response.status_code == 200, path
        media_type = response.headers["content-type"].split(";")[0]
        assert media_type == MEDIA_TYPES[Path(path).suffix], path
    feed = site.client.get("all.atom", headers={"Accept": BROWSER_ACCEPT})
    assert feed.headers["content-type"].startswith("application/xml")
    assert feed.headers["vary"] == "Accept"
    reader = site.client.get("all.atom", headers={"Accept": "application/atom+xml"})
    assert reader.headers["content-type"].startswith("application/atom+xml")
    assert feed.content == reader.content and feed.headers["etag"] == reader.headers["etag"]


def newsboat_read(newsboat: str, url: str, home: Path) -> list[tuple[str, str]]:
    """(guid, title) of every item newsboat stored after one reload of `url` alone.

    One cache per feed: newsboat keys items by guid across feeds, and our feeds
    share entries.
    """
    home.mkdir()
    (home / "urls").write_text(url + "\n")
    (home / "config").write_text("")
    files = ["-u", home / "urls", "-c", home / "cache.db", "-C", home / "config"]
    result = subprocess.run(
        [newsboat, *map(str, files), "-x", "reload"],
        env={"HOME": str(home), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(home / "cache.db") as cache:
        feeds = list(cache.execute("SELECT rssurl FROM rss_feed"))
        assert feeds == [(url,)], f"newsboat could not read {url}"
        return sorted(cache.execute("SELECT guid, title FROM rss_item"))


def test_newsboat_reads_every_item_of_every_feed(site: Site, tmp_path: Path) -> None:
    newsboat = tool("newsboat", "newsboat")
    feeds = site.feeds(".atom", ".rss")  # newsboat 2.21 does not read JSON Feed
    assert len(feeds) == 2 * (site.report.topics + 1)
    for index, path in enumerate(feeds):
        items = newsboat_read(newsboat, site.base + path, tmp_path / str(index))
        root = etree.fromstring((site.output / path).read_bytes())
        if path.endswith(".atom"):
            entries = root.findall(f"{ATOM}entry")
            expected = [(e.findtext(f"{ATOM}id"), e.findtext(f"{ATOM}title")) for e in entries]
        else:
            expected = [(i.findtext("guid"), i.findtext("title")) for i in root.iter("item")]
        assert items == sorted(expected), path
        assert items, path


def test_newsboat_imports_the_opml(site: Site, tmp_path: Path) -> None:
    newsboat = tool("newsboat", "newsboat")
    opml = tmp_path / "index.opml"
    opml.write_bytes(site.client.get("index.opml").content)
    urls = tmp_path / "urls"
    result = subprocess.run(
        [newsboat, "-u", str(urls), "-c", str(tmp_path / "cache.db"), "-i", str(opml)],
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    imported = sorted(line.split()[0] for line in urls.read_text().splitlines() if line)
    assert imported == [site.base + path for path in site.feeds(".atom")]


def test_unchanged_rebuild_answers_conditional_requests_with_304(site: Site) -> None:
    first = site.client.get("topics/ai.atom")
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    report = build(site.config)
    assert report.feeds and not any(f.changed for f in report.feeds)
    again = site.client.get("topics/ai.atom", headers={"If-None-Match": etag})
    assert (again.status_code, again.content) == (304, b"")
    since = site.client.get("topics/ai.atom", headers={"If-Modified-Since": modified})
    assert since.status_code == 304
    assert site.client.get("topics/ai.atom", headers={"If-None-Match": '"x"'}).status_code == 200


def chromium(*arguments: str, profile: Path) -> str:
    browser = tool("chromium", "chromium")
    result = subprocess.run(
        [
            browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", f"--user-data-dir={profile}", *arguments,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("screenshots")


@pytest.mark.parametrize("path", ["index.html", "topics/ai.atom", "all.rss"])
def test_chromium_shows_the_page_and_feeds_through_the_stylesheet(
    site: Site, screenshots: Path, tmp_path: Path, path: str
) -> None:
    url = site.base + path
    dom = chromium("--dump-dom", url, profile=tmp_path / "profile")
    page = Page(dom)
    text = " ".join(page.text)
    if path == "index.html":
        expected = ["Space", "Наука", "AI"]
    else:
        root = etree.fromstring((site.output / path).read_bytes())
        expected = root.xpath(
            "//*[local-name()='entry' or local-name()='item']/*[local-name()='title']/text()"
        )
        assert "This is a web feed" in text
        assert not any(tag in {"script", "pre"} for tag, _ in page.tags)
    assert expected and all(title in text for title in expected)
    shot = screenshots / (path.replace("/", "-") + ".png")
    chromium(f"--screenshot={shot}", "--window-size=1200,2000", url, profile=tmp_path / "shot")
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 20_000


def test_every_link_on_the_index_page_resolves(site: Site) -> None:
    page = Page(site.client.get("index.html").text)
    links = [a["href"] or "" for a in page.all("a")] + [
        x["href"] or "" for x in page.all("link") if x.get("rel") == "alternate"
    ]
    local = [href for href in links if not href.startswith(("http://", "https://"))]
    # Autodiscovery, three formats for each feed, the OPML.
    assert len(local) == 3 + 3 * (site.report.topics + 1) + 1
    for href in local:
        assert site.client.get(href).status_code == 200, href
    # The only other links: each feed's newest headline, to the article itself.
    newest = set()
    for path in site.feeds(".json"):
        items = json.loads((site.output / path).read_bytes())["items"]
        newest.add(max(items, key=lambda item: item["date_published"])["url"])
    assert set(links) - set(local) == newest
