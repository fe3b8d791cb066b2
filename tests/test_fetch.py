"""aggregator.fetch against real HTTP servers on loopback addresses.

Every server is a threaded pytest-httpserver bound to 127.0.0.x (Linux routes all of
127/8 to lo, so 127.0.0.2, 127.0.0.3, ... act as separate hosts). Tests that need
loopback to count as "public" replace `_is_public_address`, the single place that
classifies addresses. Server-side latency is simulated by waiting on an event that
is only set at teardown; nothing in a test sleeps to synchronise.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from aggregator import __version__, pagecache
from aggregator import fetch as fetch_module
from aggregator.config import FetchConfig
from aggregator.fetch import (
    FetchOutcome,
    PageResult,
    _is_public_address,
    _retry_after,
    default_user_agent,
    fetch_pages,
)

UA = "test-agent/1.0 (+https://example.invalid/contact)"


class TrackingServer(HTTPServer):
    """Counts requests being handled, so a test can wait for stragglers to finish."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__(host=host, port=port, threaded=True)
        self.no_handler_status_code = 404  # e.g. robots.txt: absent unless registered
        self._handling = 0
        self._idle = threading.Condition()

    def dispatch(self, request: Request) -> Response:
        with self._idle:
            self._handling += 1
        try:
            return super().dispatch(request)
        finally:
            with self._idle:
                self._handling -= 1
                self._idle.notify_all()

    def drain(self) -> None:
        with self._idle:
            self._idle.wait_for(lambda: self._handling == 0, timeout=10)


class Servers:
    """Threaded servers on loopback addresses, reused across tests.

    Stopping a werkzeug server takes half a second (its poll interval), so servers
    live for the whole module and are cleared between tests. `release` belongs to
    one test and ends its slow handlers at teardown.
    """

    def __init__(self, pool: dict[str, list[TrackingServer]]) -> None:
        self.release = threading.Event()
        self._pool = pool
        self._used: list[TrackingServer] = []
        self._own: list[TrackingServer] = []

    def start(self, host: str = "127.0.0.1", port: int = 0) -> HTTPServer:
        if port == 0:
            for server in self._pool.setdefault(host, []):
                if server not in self._used:
                    self._used.append(server)
                    return server
        server = TrackingServer(host, port)
        server.start()
        self._used.append(server)
        if port == 0:
            self._pool[host].append(server)
        else:
            self._own.append(server)
        return server

    def close(self) -> None:
        self.release.set()
        for server in self._used:
            server.drain()  # a handler finishing later would log into the next test
            server.clear()
        _stop_all(self._own)


def _stop_all(running: list[TrackingServer]) -> None:
    threads = [threading.Thread(target=server.stop) for server in running]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


@pytest.fixture(scope="module")
def server_pool() -> Iterator[dict[str, list[TrackingServer]]]:
    pool: dict[str, list[TrackingServer]] = {}
    yield pool
    _stop_all([server for servers in pool.values() for server in servers])


@pytest.fixture
def servers(server_pool: dict[str, list[TrackingServer]]) -> Iterator[Servers]:
    pool = Servers(server_pool)
    yield pool
    pool.close()


@pytest.fixture
def server(servers: Servers) -> HTTPServer:
    return servers.start()


def config(**overrides: Any) -> FetchConfig:
    """Fast limits for tests; loopback allowed; robots off unless a test wants it."""
    values: dict[str, Any] = {
        "allow_private_networks": True,
        "respect_robots": False,
        "timeout": 3.0,
        "connect_timeout": 2.0,
        "read_timeout": 3.0,
        "backoff": 0.01,
        "budget": 20.0,
    }
    values.update(overrides)
    return FetchConfig(**values)


def run(urls: list[str], tmp_path: Path, **overrides: Any) -> FetchOutcome:
    return fetch_pages(
        urls, config(**overrides), tmp_path / "state" / "fetch.sqlite", user_agent=UA
    )


def one(url: str, tmp_path: Path, **overrides: Any) -> PageResult:
    outcome = run([url], tmp_path, **overrides)
    assert not outcome.budget_exhausted
    return outcome.results[url]


def requests_to(server: HTTPServer, path: str) -> list[Request]:
    return [request for request, _ in server.log if request.path == path]


def page(head: str = "", body: str = "<p>Some text without any dates.</p>") -> str:
    return f"<!doctype html><html><head><title>t</title>{head}</head><body>{body}</body></html>"


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


# --- dates and links ----------------------------------------------------------------


def test_default_user_agent_names_project_version_and_contact() -> None:
    agent = default_user_agent("https://news.example/contact")
    assert agent == f"news-aggregator/{__version__} (+https://news.example/contact)"


def test_modified_dates_from_meta_json_ld_and_header(server: HTTPServer, tmp_path: Path) -> None:
    meta = '<meta property="article:modified_time" content="2024-03-04T10:20:30+01:00">'
    published = '<meta property="article:published_time" content="2024-01-02T00:00:00Z">'
    server.expect_request("/meta").respond_with_data(
        page(published + meta), content_type="text/html"
    )
    json_ld = (
        '<script type="application/ld+json">{"@type": "NewsArticle",'
        ' "datePublished": "2024-01-02T03:04:05Z",'
        ' "dateModified": "2024-05-06T07:08:09+05:30"}</script>'
    )
    server.expect_request("/jsonld").respond_with_data(page(json_ld), content_type="text/html")
    header_date = format_datetime(utc(2015, 10, 21, 7, 28), usegmt=True)
    server.expect_request("/header").respond_with_data(
        page(), content_type="text/html", headers={"Last-Modified": header_date}
    )
    # A date in the page beats the header, which is often just "now" on dynamic sites.
    server.expect_request("/both").respond_with_data(
        page(meta), content_type="text/html", headers={"Last-Modified": header_date}
    )
    # The date in a canonical URL is a publication date: it must not become `updated`.
    dated_canonical = '<link rel="canonical" href="https://news.example/2019/02/03/story">'
    server.expect_request("/dated").respond_with_data(
        page(dated_canonical), content_type="text/html", headers={"Last-Modified": header_date}
    )
    server.expect_request("/nothing").respond_with_data(page(), content_type="text/html")
    names = ["meta", "jsonld", "header", "both", "dated", "nothing"]
    urls = [server.url_for(f"/{name}") for name in names]

    results = run(urls, tmp_path).results

    assert [results[u].status for u in urls] == ["fetched"] * len(urls)
    updated = {name: results[url].updated for name, url in zip(names, urls, strict=True)}
    assert updated == {
        "meta": utc(2024, 3, 4, 9, 20, 30),
        "jsonld": utc(2024, 5, 6, 1, 38, 9),
        "header": utc(2015, 10, 21, 7, 28),
        "both": utc(2024, 3, 4, 9, 20, 30),
        "dated": utc(2015, 10, 21, 7, 28),
        "nothing": None,
    }
    assert all(results[u].http_status == 200 and results[u].final_url is None for u in urls)
    assert {request.headers["User-Agent"] for request, _ in server.log} == {UA}


def test_canonical_link_is_made_absolute_and_must_be_http(
    server: HTTPServer, tmp_path: Path
) -> None:
    cases = {
        "/relative": ('<link rel="canonical" href="/stories/1">', server.url_for("/stories/1")),
        "/based": (
            '<base href="https://cdn.example/a/"><link rel="Canonical" href="b">',
            "https://cdn.example/a/b",
        ),
        "/tokens": (
            '<link href="https://news.example/x" rel="alternate canonical">',
            "https://news.example/x",
        ),
        "/script": ('<link rel="canonical" href="javascript:alert(1)">', None),
        "/in-body": ("", None),
    }
    for path, (head, _) in cases.items():
        body = '<link rel="canonical" href="/late">' if path == "/in-body" else "<p>x</p>"
        server.expect_request(path).respond_with_data(page(head, body), content_type="text/html")
    results = run([server.url_for(path) for path in cases], tmp_path).results
    for path, (_, expected) in cases.items():
        assert results[server.url_for(path)].canonical_url == expected, path


def test_page_body_that_looks_like_a_url_is_not_downloaded(
    server: HTTPServer, tmp_path: Path
) -> None:
    # htmldate downloads a *str* input that starts with "http"; fetch must not let it.
    server.expect_request("/bait").respond_with_data(
        server.url_for("/secret"), content_type="text/html"
    )
    server.expect_request("/secret").respond_with_data(page())
    result = one(server.url_for("/bait"), tmp_path)
    assert result.status == "fetched"
    assert requests_to(server, "/secret") == []


# --- redirects ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("codes", "permanent"),
    [
        ([301], True),
        ([308], True),
        ([301, 308, 301], True),
        ([302], False),
        ([307], False),
        ([301, 302], False),
        ([308, 303], False),
    ],
)
def test_only_all_permanent_redirect_chains_set_final_url(
    server: HTTPServer, tmp_path: Path, codes: list[int], permanent: bool
) -> None:
    for hop, code in enumerate(codes):
        server.expect_request(f"/hop{hop}").respond_with_data(
            "", status=code, headers={"Location": f"/hop{hop + 1}"}
        )
    final = server.url_for(f"/hop{len(codes)}")
    meta = '<meta property="article:modified_time" content="2024-03-04T10:20:30Z">'
    server.expect_request(f"/hop{len(codes)}").respond_with_data(
        page(meta), content_type="text/html"
    )
    result = one(server.url_for("/hop0"), tmp_path)
    assert result.status == "fetched"
    assert result.updated == utc(2024, 3, 4, 10, 20, 30)
    assert result.final_url == (final if permanent else None)


def test_redirect_loops_and_long_chains_fail(server: HTTPServer, tmp_path: Path) -> None:
    server.expect_request("/a").respond_with_data("", status=301, headers={"Location": "/b"})
    server.expect_request("/b").respond_with_data("", status=302, headers={"Location": "/a"})
    for hop in range(12):
        server.expect_request(f"/long{hop}").respond_with_data(
            "", status=302, headers={"Location": f"/long{hop + 1}"}
        )
    server.expect_request("/long12").respond_with_data(page())
    server.expect_request("/nowhere").respond_with_data("", status=301)
    results = run(
        [server.url_for("/a"), server.url_for("/long0"), server.url_for("/nowhere")], tmp_path
    ).results
    assert results[server.url_for("/a")].reason == "redirect loop"
    assert results[server.url_for("/long0")].reason == "more than 10 redirects"
    assert results[server.url_for("/nowhere")].reason == "HTTP 301 without Location"
    assert {r.status for r in results.values()} == {"failed"}
    assert requests_to(server, "/long11") == []


def test_redirect_to_other_scheme_is_skipped(server: HTTPServer, tmp_path: Path) -> None:
    server.expect_request("/ftp").respond_with_data(
        "", status=301, headers={"Location": "ftp://files.example/x"}
    )
    result = one(server.url_for("/ftp"), tmp_path)
    assert result.status == "skipped"
    assert result.reason == "refused: redirect to unsupported scheme 'ftp'"


# --- statuses and failures ------------------------------------------------------------


@pytest.mark.parametrize("code", [404, 410])
def test_gone_pages_are_dead(server: HTTPServer, tmp_path: Path, code: int) -> None:
    server.expect_request("/gone").respond_with_data("gone", status=code)
    result = one(server.url_for("/gone"), tmp_path)
    assert (result.status, result.http_status, result.reason) == ("dead", code, f"HTTP {code}")


def test_other_client_errors_fail_without_retry(server: HTTPServer, tmp_path: Path) -> None:
    server.expect_request("/forbidden").respond_with_data("no", status=403)
    result = one(server.url_for("/forbidden"), tmp_path)
    assert (result.status, result.reason) == ("failed", "HTTP 403")
    assert len(requests_to(server, "/forbidden")) == 1


def test_slow_server_times_out(servers: Servers, server: HTTPServer, tmp_path: Path) -> None:
    def slow(request: Request) -> Response:
        servers.release.wait(10)
        return Response(page(), content_type="text/html")

    server.expect_request("/slow").respond_with_handler(slow)
    started = time.monotonic()
    result = one(server.url_for("/slow"), tmp_path, timeout=0.5)
    assert (result.status, result.reason) == ("failed", "timeout after 0.5 s")
    assert time.monotonic() - started < 2.5


def test_slow_drip_body_is_bounded_by_total_timeout(
    servers: Servers, server: HTTPServer, tmp_path: Path
) -> None:
    # Each chunk arrives well within the read timeout; only the total deadline stops it.
    def drip(request: Request) -> Response:
        def chunks() -> Iterator[bytes]:
            yield b"<html><head>"
            while not servers.release.wait(0.05):
                yield b" "

        return Response(chunks(), content_type="text/html")

    server.expect_request("/drip").respond_with_handler(drip)
    result = one(server.url_for("/drip"), tmp_path, timeout=0.5, read_timeout=0.3)
    assert (result.status, result.reason) == ("failed", "timeout after 0.5 s")


def test_endless_body_is_cut_and_still_parsed(
    servers: Servers, server: HTTPServer, tmp_path: Path
) -> None:
    def endless(request: Request) -> Response:
        def chunks() -> Iterator[bytes]:
            head = '<meta property="article:modified_time" content="2024-03-04T10:20:30Z">'
            yield page(head, "").replace("</body></html>", "").encode()
            while not servers.release.is_set():  # until the client hangs up
                yield b"<p>" + b"x" * 8192 + b"</p>\n"

        return Response(chunks(), content_type="text/html")

    server.expect_request("/endless").respond_with_handler(endless)
    result = one(server.url_for("/endless"), tmp_path, max_bytes=100_000)
    assert result.status == "fetched"
    assert result.updated == utc(2024, 3, 4, 10, 20, 30)


def test_compressed_body_is_capped_after_inflating(server: HTTPServer, tmp_path: Path) -> None:
    head = '<meta property="article:modified_time" content="2024-03-04T10:20:30Z">'
    html = page(head, "<p>" + "0" * 30_000_000 + "</p>").encode()
    server.expect_request("/bomb").respond_with_data(
        gzip.compress(html, compresslevel=9),
        content_type="text/html; charset=utf-8",
        headers={"Content-Encoding": "gzip"},
    )
    result = one(server.url_for("/bomb"), tmp_path, max_bytes=100_000)
    assert result.status == "fetched"
    assert result.updated == utc(2024, 3, 4, 10, 20, 30)


def test_unreachable_port_fails(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = one(f"http://127.0.0.1:{port}/", tmp_path)
    assert result.status == "failed"
    assert result.reason is not None and result.reason.startswith("network error")


def test_unresolvable_host_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = socket.getaddrinfo

    def fake(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "nowhere.invalid":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    result = one("http://nowhere.invalid/page", tmp_path)
    assert (result.status, result.reason) == (
        "failed",
        "DNS lookup failed: Name or service not known",
    )


def test_hung_dns_lookup_times_out_without_holding_up_the_call(
    servers: Servers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = socket.getaddrinfo

    def hung(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "hung.test":
            servers.release.wait(10)  # a resolver that never answers (until teardown)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", hung)
    started = time.monotonic()
    result = one("http://hung.test/page", tmp_path, connect_timeout=0.3)
    assert (result.status, result.reason) == ("failed", "DNS lookup timed out after 0.3 s")
    assert time.monotonic() - started < 2


def test_urls_that_are_not_fetchable_are_skipped_and_duplicates_collapse(
    server: HTTPServer, tmp_path: Path
) -> None:
    server.expect_request("/ok").respond_with_data(page())
    ok = server.url_for("/ok")
    urls = [
        "ftp://files.example/x",
        ok,
        "mailto:someone@example.com",
        "javascript:alert(1)",
        "http://",
        f"http://user:secret@127.0.0.1:{server.port}/ok",
        ok,
    ]
    outcome = run(urls, tmp_path)
    assert list(outcome.results) == list(dict.fromkeys(urls))
    reasons = {url: r.reason for url, r in outcome.results.items() if r.status == "skipped"}
    assert reasons == {
        "ftp://files.example/x": "refused: unsupported scheme 'ftp'",
        "mailto:someone@example.com": "refused: unsupported scheme 'mailto'",
        "javascript:alert(1)": "refused: unsupported scheme 'javascript'",
        "http://": "refused: URL without a host",
        f"http://user:secret@127.0.0.1:{server.port}/ok": "refused: URL with credentials",
    }
    assert outcome.results[ok].status == "fetched"
    assert len(requests_to(server, "/ok")) == 1


def test_progress_counts_every_page(server: HTTPServer, tmp_path: Path) -> None:
    for n in range(5):
        server.expect_request(f"/p{n}").respond_with_data(page())
    urls = [server.url_for(f"/p{n}") for n in range(5)] + ["ftp://x.example/"]
    calls: list[tuple[int, int]] = []
    fetch_pages(
        urls,
        config(),
        tmp_path / "c.sqlite",
        user_agent=UA,
        progress=lambda d, t: calls.append((d, t)),
    )
    assert calls == [(n, 6) for n in range(1, 7)]


# --- robots.txt -------------------------------------------------------------------------


def test_robots_disallow_skips_and_is_fetched_once_per_host(
    server: HTTPServer, tmp_path: Path
) -> None:
    server.expect_request("/robots.txt").respond_with_data(
        "User-agent: *\nDisallow: /private/\n", content_type="text/plain"
    )
    for path in ["/private/a", "/private/b", "/public/a", "/public/b"]:
        server.expect_request(path).respond_with_data(page())
    urls = [server.url_for(p) for p in ["/private/a", "/public/a", "/private/b", "/public/b"]]
    results = run(urls, tmp_path, respect_robots=True).results
    assert [results[u].status for u in urls] == ["skipped", "fetched", "skipped", "fetched"]
    assert results[urls[0]].reason == "robots.txt disallows"
    assert len(requests_to(server, "/robots.txt")) == 1
    assert requests_to(server, "/private/a") == requests_to(server, "/private/b") == []


def test_robots_group_for_our_agent_token(server: HTTPServer, tmp_path: Path) -> None:
    server.expect_request("/robots.txt").respond_with_data(
        "User-agent: news-aggregator\nDisallow: /\n\nUser-agent: *\nAllow: /\n"
    )
    server.expect_request("/a").respond_with_data(page())
    url = server.url_for("/a")
    ours = fetch_pages(
        [url],
        config(respect_robots=True),
        tmp_path / "1.sqlite",
        user_agent=default_user_agent("https://example.invalid/"),
    )
    assert ours.results[url].status == "skipped"
    assert one(url, tmp_path, respect_robots=True).status == "fetched"


@pytest.mark.parametrize("code", [404, 500])
def test_missing_or_broken_robots_allows_all(server: HTTPServer, tmp_path: Path, code: int) -> None:
    server.expect_request("/robots.txt").respond_with_data("Disallow: /", status=code)
    server.expect_request("/a").respond_with_data(page())
    assert one(server.url_for("/a"), tmp_path, respect_robots=True).status == "fetched"
    assert len(requests_to(server, "/robots.txt")) == 1  # not retried


# --- retries ----------------------------------------------------------------------------


def test_429_retry_after_is_honoured(server: HTTPServer, tmp_path: Path) -> None:
    seen: list[float] = []

    def limited(request: Request) -> Response:
        seen.append(time.monotonic())
        if len(seen) == 1:
            return Response("slow down", status=429, headers={"Retry-After": "1"})
        return Response(page(), content_type="text/html")

    server.expect_request("/limited").respond_with_handler(limited)
    result = one(server.url_for("/limited"), tmp_path, backoff=0.01)
    assert result.status == "fetched"
    assert len(seen) == 2
    assert seen[1] - seen[0] >= 0.99


def test_5xx_is_retried_then_fails(server: HTTPServer, tmp_path: Path) -> None:
    server.expect_request("/broken").respond_with_data("oops", status=503)
    result = one(server.url_for("/broken"), tmp_path, retries=2)
    assert (result.status, result.reason) == ("failed", "HTTP 503 after 2 retries")
    assert len(requests_to(server, "/broken")) == 3


def test_retry_after_beyond_budget_gives_up_at_once(server: HTTPServer, tmp_path: Path) -> None:
    server.expect_request("/later").respond_with_data(
        "later", status=503, headers={"Retry-After": "3600"}
    )
    started = time.monotonic()
    result = one(server.url_for("/later"), tmp_path, budget=5.0)
    assert result.status == "failed"
    assert result.reason == "HTTP 503, retry in 3600 s is past the budget"
    assert len(requests_to(server, "/later")) == 1
    assert time.monotonic() - started < 2


def test_retry_after_formats() -> None:
    now = time.time()
    in_30_s = format_datetime(datetime.fromtimestamp(now + 30, UTC), usegmt=True)
    assert _retry_after("120", now) == 120
    assert _retry_after(in_30_s, now) == pytest.approx(30, abs=1)
    assert _retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now) == 0
    assert _retry_after("soon", now) is None
    assert _retry_after(None, now) is None


# --- cache ------------------------------------------------------------------------------


def test_second_run_within_ttl_is_cached_without_requests(
    server: HTTPServer, tmp_path: Path
) -> None:
    meta = '<meta property="article:modified_time" content="2024-03-04T10:20:30Z">'
    server.expect_request("/old").respond_with_data("", status=301, headers={"Location": "/new"})
    server.expect_request("/new").respond_with_data(
        page(meta + '<link rel="canonical" href="/canon">'), content_type="text/html"
    )
    server.expect_request("/gone").respond_with_data("", status=410)
    urls = [server.url_for("/old"), server.url_for("/gone")]
    first = run(urls, tmp_path).results
    requests = len(server.log)

    second = run(urls, tmp_path).results

    assert len(server.log) == requests
    old = second[urls[0]]
    assert old.status == "cached"
    assert (old.updated, old.final_url, old.canonical_url, old.http_status) == (
        first[urls[0]].updated,
        server.url_for("/new"),
        server.url_for("/canon"),
        200,
    )
    assert (second[urls[1]].status, second[urls[1]].reason) == ("dead", "HTTP 410 (cached)")


def test_stale_entry_sends_if_none_match_and_reuses_304(server: HTTPServer, tmp_path: Path) -> None:
    meta = '<meta property="article:modified_time" content="2024-03-04T10:20:30Z">'

    def versioned(request: Request) -> Response:
        if request.headers.get("If-None-Match") == '"v1"':
            return Response(status=304, headers={"ETag": '"v1"'})
        return Response(
            page(meta + '<link rel="canonical" href="/c">'),
            content_type="text/html",
            headers={"ETag": '"v1"'},
        )

    server.expect_request("/page").respond_with_handler(versioned)
    url = server.url_for("/page")
    cache = tmp_path / "state" / "fetch.sqlite"
    assert one(url, tmp_path).status == "fetched"
    with sqlite3.connect(cache) as db:  # make the entry an hour old
        db.execute("UPDATE pages SET fetched_at = fetched_at - 3600")
    db.close()

    result = one(url, tmp_path, cache_ttl=1800)

    assert result.status == "not_modified"
    assert (result.updated, result.canonical_url, result.http_status) == (
        utc(2024, 3, 4, 10, 20, 30),
        server.url_for("/c"),
        304,
    )
    assert requests_to(server, "/page")[1].headers["If-None-Match"] == '"v1"'
    # The 304 refreshed fetched_at, so the entry is fresh again.
    requests = len(server.log)
    assert one(url, tmp_path, cache_ttl=1800).status == "cached"
    assert len(server.log) == requests


def test_ttl_zero_sends_if_modified_since(server: HTTPServer, tmp_path: Path) -> None:
    stamp = "Wed, 21 Oct 2015 07:28:00 GMT"

    def dated(request: Request) -> Response:
        if request.headers.get("If-Modified-Since") == stamp:
            return Response(status=304)
        return Response(page(), content_type="text/html", headers={"Last-Modified": stamp})

    server.expect_request("/dated").respond_with_handler(dated)
    url = server.url_for("/dated")
    assert one(url, tmp_path, cache_ttl=0).status == "fetched"
    result = one(url, tmp_path, cache_ttl=0)
    assert (result.status, result.updated) == ("not_modified", utc(2015, 10, 21, 7, 28))
    assert len(requests_to(server, "/dated")) == 2


def test_corrupt_cache_is_replaced(
    server: HTTPServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server.expect_request("/a").respond_with_data(page())
    cache = tmp_path / "state" / "fetch.sqlite"
    cache.parent.mkdir()
    cache.write_bytes(b"this is not a database\n" * 200)
    url = server.url_for("/a")
    with caplog.at_level(logging.WARNING, logger="aggregator.fetch"):
        assert one(url, tmp_path).status == "fetched"
    assert any("unreadable" in r.getMessage() for r in caplog.records)
    assert one(url, tmp_path).status == "cached"


def test_locked_cache_is_left_alone(
    server: HTTPServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pagecache, "BUSY_TIMEOUT", 0.1)
    server.expect_request("/a").respond_with_data(page())
    url = server.url_for("/a")
    assert one(url, tmp_path).status == "fetched"
    cache = tmp_path / "state" / "fetch.sqlite"
    holder = sqlite3.connect(cache, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        with caplog.at_level(logging.WARNING, logger="aggregator.fetch"):
            assert one(url, tmp_path).status == "fetched"  # no cache to say "cached"
    finally:
        holder.close()
    assert any("locked" in r.getMessage() for r in caplog.records)
    assert one(url, tmp_path).status == "cached"  # the file survived


def test_unusable_cache_location_still_fetches(
    server: HTTPServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server.expect_request("/a").respond_with_data(page())
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with caplog.at_level(logging.WARNING, logger="aggregator.fetch"):
        outcome = fetch_pages(
            [server.url_for("/a")], config(), blocker / "fetch.sqlite", user_agent=UA
        )
    assert outcome.results[server.url_for("/a")].status == "fetched"
    assert any("not caching" in r.getMessage() for r in caplog.records)


# --- politeness -------------------------------------------------------------------------


def start_counting_hosts(
    servers: Servers, hosts: list[str], pages: int, latency: float
) -> tuple[list[str], dict[str, int], list[int]]:
    """Hosts whose handlers count in-flight requests; returns URLs, per-host and
    global maxima."""
    lock = threading.Lock()
    current: dict[str, int] = dict.fromkeys(hosts, 0)
    peak: dict[str, int] = dict.fromkeys(hosts, 0)
    overall = [0, 0]  # now, peak
    urls: list[str] = []

    def handler_for(host: str) -> Callable[[Request], Response]:
        def handle(request: Request) -> Response:
            with lock:
                current[host] += 1
                overall[0] += 1
                peak[host] = max(peak[host], current[host])
                overall[1] = max(overall[1], overall[0])
            servers.release.wait(latency)
            # Counted down before the response is written, so a client that starts its
            # next request on receipt can never be over-counted.
            with lock:
                current[host] -= 1
                overall[0] -= 1
            status = 404 if request.path == "/robots.txt" else 200
            return Response(page(), status=status, content_type="text/html")

        return handle

    for host in hosts:
        server = servers.start(host)
        server.expect_request("/robots.txt").respond_with_handler(handler_for(host))
        for n in range(pages):
            server.expect_request(f"/p{n}").respond_with_handler(handler_for(host))
            urls.append(server.url_for(f"/p{n}"))
    return urls, peak, overall


def test_per_host_limit_counted_on_the_server(servers: Servers, tmp_path: Path) -> None:
    hosts = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
    urls, peak, overall = start_counting_hosts(servers, hosts, pages=6, latency=0.1)
    outcome = run(urls, tmp_path, per_host=2, concurrency=16, respect_robots=True)
    assert {r.status for r in outcome.results.values()} == {"fetched"}
    assert peak == dict.fromkeys(hosts, 2)
    assert overall[1] == 6


def test_global_limit_counted_on_the_server(servers: Servers, tmp_path: Path) -> None:
    hosts = ["127.0.0.5", "127.0.0.6", "127.0.0.7"]
    urls, peak, overall = start_counting_hosts(servers, hosts, pages=4, latency=0.1)
    outcome = run(urls, tmp_path, per_host=2, concurrency=3)
    assert {r.status for r in outcome.results.values()} == {"fetched"}
    assert overall[1] == 3
    assert max(peak.values()) <= 2


def test_idle_connection_pools_are_closed(
    servers: Servers, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pools are per origin; one idle past the keep-alive expiry is closed so that open
    # sockets stay bounded however many hosts a run visits.
    monkeypatch.setattr(fetch_module, "_KEEPALIVE", 0.0)
    monkeypatch.setattr(fetch_module, "_SWEEP_EVERY", 0.0)
    first, second = servers.start("127.0.0.1"), servers.start("127.0.0.2")
    for server in (first, second):
        server.expect_request("/x").respond_with_data("ok")

    async def visit() -> list[list[bytes]]:
        transport = fetch_module._PerOriginTransport(
            fetch_module._Resolver(True, 1.0, ThreadPoolExecutor()), 2
        )
        hosts = []
        async with httpx.AsyncClient(transport=transport) as client:
            for server in (first, second):
                assert (await client.get(server.url_for("/x"))).text == "ok"
                hosts.append([key[1] for key in transport._pools])
        return hosts

    assert asyncio.run(visit()) == [[b"127.0.0.1"], [b"127.0.0.2"]]


def test_no_cookies_are_sent_back(server: HTTPServer, tmp_path: Path) -> None:
    server.expect_request("/login").respond_with_data(
        "", status=302, headers={"Location": "/home", "Set-Cookie": "session=abc; Path=/"}
    )
    server.expect_request("/home").respond_with_data(
        page(), headers={"Set-Cookie": "tracker=xyz; Path=/"}
    )
    server.expect_request("/other").respond_with_data(page())
    urls = [server.url_for("/login"), server.url_for("/other")]
    results = run(urls, tmp_path, concurrency=1).results
    assert {r.status for r in results.values()} == {"fetched"}
    # /login comes first (one request at a time); the rest after its Set-Cookie
    assert server.log[0][0].path == "/login"
    assert sorted(r.path for r, _ in server.log) == ["/home", "/login", "/other"]
    assert [r.headers.get("Cookie") for r, _ in server.log] == [None, None, None]


def test_budget_exhaustion_skips_what_is_left(
    servers: Servers, server: HTTPServer, tmp_path: Path
) -> None:
    reached: list[str] = []

    def stuck(request: Request) -> Response:
        reached.append(request.path)
        servers.release.wait(10)
        return Response(page())

    for n in range(4):
        server.expect_request(f"/stuck{n}").respond_with_handler(stuck)
    quick = servers.start("127.0.0.2")
    quick.expect_request("/quick").respond_with_data(page())
    urls = [server.url_for(f"/stuck{n}") for n in range(4)] + [quick.url_for("/quick")]
    started = time.monotonic()
    outcome = run(urls, tmp_path, budget=0.5, timeout=10, read_timeout=10)
    assert time.monotonic() - started < 2.5
    assert outcome.budget_exhausted
    assert outcome.results[quick.url_for("/quick")].status == "fetched"
    for url in urls[:4]:  # two were in flight, two were waiting for the host
        assert outcome.results[url] == PageResult(url, "skipped", reason="fetch budget exhausted")
    assert len(reached) == 2


# --- safety -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "2002:c0a8:0101::1",  # 6to4 wrapping 192.168.1.1
        "64:ff9b::a00:1",  # NAT64 wrapping 10.0.0.1
        "not an address",
    ],
)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert not _is_public_address(address)


@pytest.mark.parametrize(
    "address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"]
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert _is_public_address(address)


def test_private_address_is_refused_without_a_request(server: HTTPServer, tmp_path: Path) -> None:
    server.expect_request("/a").respond_with_data(page())
    result = one(server.url_for("/a"), tmp_path, allow_private_networks=False)
    assert result.status == "skipped"
    assert result.reason == "refused: resolves to private address 127.0.0.1"
    assert requests_to(server, "/a") == []


def test_redirect_hop_to_private_address_is_refused(
    servers: Servers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pretend 127.0.0.2 is a public host; 127.0.0.1 stays private.
    monkeypatch.setattr(fetch_module, "_is_public_address", lambda a: a == "127.0.0.2")
    inside = servers.start("127.0.0.1")
    inside.expect_request("/admin").respond_with_data("secret")
    outside = servers.start("127.0.0.2")
    outside.expect_request("/a").respond_with_data(
        "", status=302, headers={"Location": inside.url_for("/admin")}
    )
    result = one(outside.url_for("/a"), tmp_path, allow_private_networks=False)
    assert (result.status, result.reason) == (
        "skipped",
        "refused: resolves to private address 127.0.0.1",
    )
    assert len(requests_to(outside, "/a")) == 1
    assert requests_to(inside, "/admin") == []


def test_connection_goes_to_the_vetted_address(
    servers: Servers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # DNS rebinding: the first answer is "public", any later one points inside, where
    # a server listens on the same port. Only the vetted address may be contacted.
    monkeypatch.setattr(fetch_module, "_is_public_address", lambda a: a == "127.0.0.3")
    vetted = servers.start("127.0.0.3")
    vetted.expect_request("/a").respond_with_data(page())
    inside = servers.start("127.0.0.4", vetted.port)
    inside.expect_request("/a").respond_with_data("secret")
    answers = iter(["127.0.0.3"])
    real = socket.getaddrinfo

    def rebinding(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "news.test":
            address = next(answers, "127.0.0.4")
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, int(port)))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    result = one(f"http://news.test:{vetted.port}/a", tmp_path, allow_private_networks=False)
    assert result.status == "fetched"
    assert [r.headers["Host"] for r, _ in vetted.log] == [f"news.test:{vetted.port}"]
    assert inside.log == []
