"""Builds with fetching on, against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import pty
import struct
import subprocess
import sys
import termios
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest
from pytest_httpserver import HTTPServer

from aggregator import grouping
from aggregator.build import BuildOptions, run_build
from aggregator.config import Config, FetchConfig
from aggregator.mergestore import STORE_NAME
from tests.conftest import NOW, WriteArticle

MODIFIED = "2026-11-26T11:30:00+00:00"
PAGE = f"""<html><head><title>x</title>
<meta property="article:modified_time" content="{MODIFIED}">
</head><body><p>Story text.</p></body></html>"""


@pytest.fixture
def site(httpserver: HTTPServer) -> HTTPServer:
    httpserver.expect_request("/robots.txt").respond_with_data("", status=404)
    httpserver.expect_request("/fresh").respond_with_data(PAGE, content_type="text/html")
    httpserver.expect_request("/moved").respond_with_data(
        "", status=301, headers={"Location": httpserver.url_for("/new-home")}
    )
    httpserver.expect_request("/new-home").respond_with_data(
        "<html></html>", content_type="text/html"
    )
    httpserver.expect_request("/gone").respond_with_data("", status=410)
    httpserver.expect_request("/broken").respond_with_data("", status=500)
    httpserver.expect_request("/fifth").respond_with_data(PAGE, content_type="text/html")
    httpserver.expect_request("/sixth").respond_with_data(PAGE, content_type="text/html")
    return httpserver


@pytest.fixture
def config(corpus: Path, tmp_path: Path, site: HTTPServer, write_article: WriteArticle) -> Config:
    for heat, name in enumerate(["sixth", "fifth", "broken", "gone", "moved", "fresh"]):
        write_article(
            f"{name}.txt",
            title=f"The {name} story is not like the others {heat}",
            webUrl=site.url_for(f"/{name}"),
            heat=heat * 10,
            topics=["Only"],
            publishedDateTime="2026-11-26T08:00:00Z",
        )
    fetch = FetchConfig(enabled=True, allow_private_networks=True, retries=0, timeout=5)
    return dataclasses.replace(
        Config(),
        sources=(corpus,),
        output=tmp_path / "feeds",
        state_dir=tmp_path / "state",
        max_items=4,
        fetch=fetch,
    )


def test_fetching_refreshes_dates_links_and_drops_dead_pages(
    config: Config, site: HTTPServer
) -> None:
    report = run_build(config, BuildOptions(now=NOW), clock=NOW)
    assert report.fetch is not None
    feed = feedparser.parse((config.output / "topics" / "only.atom").read_bytes())
    entries = {e.title.split()[1]: e for e in feed.entries}
    # "gone" answered 410: dropped, and "fifth" moved up into the feed and was fetched.
    assert list(entries) == ["fresh", "moved", "broken", "fifth"]
    fresh = entries["fresh"]
    assert datetime(*fresh.updated_parsed[:6], tzinfo=UTC).isoformat() == MODIFIED
    assert entries["moved"].link == site.url_for("/new-home")
    assert entries["broken"].link == site.url_for("/broken")  # failure: left as it was
    counts = report.fetch.counts
    assert (counts["fetched"], counts["dead"], counts["failed"]) == (3, 1, 1)
    assert [d["url"] for d in report.fetch.dead] == [site.url_for("/gone")]
    asked = {request.path for request, _ in site.log}
    assert "/sixth" not in asked  # never in a feed, never fetched


def test_dead_pages_can_be_kept(config: Config) -> None:
    kept = dataclasses.replace(config, fetch=dataclasses.replace(config.fetch, keep_dead=True))
    run_build(kept, BuildOptions(now=NOW), clock=NOW)
    feed = feedparser.parse((config.output / "topics" / "only.atom").read_bytes())
    assert "gone" in [e.title.split()[1] for e in feed.entries]


def test_second_run_within_the_ttl_asks_again_only_for_failures(
    config: Config, site: HTTPServer
) -> None:
    run_build(config, BuildOptions(now=NOW), clock=NOW)
    before = len(site.log)
    report = run_build(config, BuildOptions(now=NOW), clock=NOW)
    assert {request.path for request, _ in site.log[before:]} == {"/robots.txt", "/broken"}
    assert report.fetch is not None
    assert (report.fetch.counts["cached"], report.fetch.counts["dead"]) == (3, 1)


def test_cli_fetch_flag_reports_counts(config: Config, tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(
        "max_items: 4\nstate_dir: state\nfetch: {allow_private_networks: true, retries: 0}\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "aggregator", "build", "--fetch", "--report", "r.json",
         "--now", NOW.isoformat()],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "3 pages fetched, 0 not modified, 0 cached, 1 dead, 1 failed" in result.stderr
    assert "/broken: HTTP 500" in result.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert (report["fetched"], report["not_modified"], report["dead"], report["failed"]) == (
        3, 0, 1, 1,
    )  # fmt: skip
    assert report["dead_links"][0]["url"].endswith("/gone")


def test_progress_bar_only_on_a_terminal(config: Config, tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(
        "max_items: 4\nstate_dir: state\nfetch: {allow_private_networks: true, retries: 0}\n"
    )
    command = [sys.executable, "-m", "aggregator", "build", "--fetch", "--force"]
    piped = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert "fetching pages" not in piped.stderr
    primary, secondary = pty.openpty()
    # A terminal of 80 columns (a new pseudo-terminal has none, and tqdm draws to fit).
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    with subprocess.Popen(
        command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=secondary
    ) as build:
        os.close(secondary)
        shown = b""
        while True:
            try:
                chunk = os.read(primary, 4096)
            except OSError:  # the terminal closed with the build
                break
            if not chunk:
                break
            shown += chunk
    os.close(primary)
    assert build.returncode == 0
    assert b"fetching pages" in shown and b"page" in shown


def test_builds_that_group_ahead_fetch_and_write_what_others_do(
    config: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Grouping ahead (see grouping._GroupingAhead), here done in this process
    (a server thread runs), with pages fetched: the ids are recorded from the
    fetched stories, not by the grouping, and the feeds are the same."""
    monkeypatch.setattr(grouping, "GROUP_ELSEWHERE_FROM", 1)
    ahead = dataclasses.replace(config, jobs=2)
    here = dataclasses.replace(
        config, jobs=1, output=tmp_path / "here", state_dir=tmp_path / "here-state"
    )
    for _ in range(2):  # without a parse cache, then with what the first build kept
        for each in (ahead, here):
            run_build(each, BuildOptions(now=NOW), clock=NOW)
        for name in ("all.atom", "topics/only.rss"):
            assert (ahead.output / name).read_bytes() == (here.output / name).read_bytes()
        ids = "story-ids.json"
        assert (ahead.state_dir / ids).read_bytes() == (here.state_dir / ids).read_bytes()
    assert (ahead.state_dir / STORE_NAME).exists()
