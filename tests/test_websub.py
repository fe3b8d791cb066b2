"""WebSub: a real hub on 127.0.0.1 hears of every changed feed, and of no other."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from tests.conftest import WriteArticle
from tests.publishing import BASE, build, make_config


class Hub(ThreadingHTTPServer):
    """Records each POST as (content type, form fields); answers with `status`."""

    status = 204

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _HubHandler)
        self.received: list[tuple[str, dict[str, list[str]]]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hub"

    def topics(self) -> list[str]:
        return [url for _, form in self.received for url in form["hub.url"]]


class _HubHandler(BaseHTTPRequestHandler):
    server: Hub

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        self.server.received.append((self.headers["Content-Type"], parse_qs(body)))
        self.send_response(self.server.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def hub() -> Iterator[Hub]:
    server = Hub()
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def two_topics(write_article: WriteArticle) -> Path:
    write_article("energy.txt", topics=["Energy"])
    return write_article(
        "space.txt", title="Rocket lands upright", topics=["Space"], webUrl="https://s.example/r"
    )


def urls(*stems: str) -> list[str]:
    return [f"{BASE}{stem}.{suffix}" for stem in stems for suffix in ("atom", "rss", "json")]


def test_the_hub_hears_of_changed_feeds_and_only_those(
    corpus: Path, tmp_path: Path, hub: Hub, two_topics: Path
) -> None:
    config = make_config(corpus, tmp_path / "feeds", hub=hub.url)
    first = build(config)
    assert hub.topics() == urls("all", "topics/energy", "topics/space")
    assert first.hub_pings == 9 and first.to_json()["hub_pings"] == 9
    for content_type, form in hub.received:
        assert content_type == "application/x-www-form-urlencoded"
        assert form["hub.mode"] == ["publish"] and len(form["hub.url"]) == 1
    assert b'rel="hub"' in (config.output / "all.rss").read_bytes()

    hub.received.clear()
    two_topics.write_text(two_topics.read_text().replace("Rocket lands", "Rocket lands again"))
    second = build(config)
    assert hub.topics() == urls("all", "topics/space")
    assert second.hub_pings == 6

    hub.received.clear()
    assert build(config).hub_pings == 0
    assert hub.received == []


def test_a_refusing_hub_gives_warnings_not_a_failure(
    corpus: Path,
    tmp_path: Path,
    hub: Hub,
    two_topics: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    hub.status = 500
    with caplog.at_level(logging.WARNING):
        report = build(make_config(corpus, tmp_path / "feeds", hub=hub.url))
    assert report.hub_pings == 0 and len(hub.received) == 9
    assert len(caplog.records) == 9
    assert "HTTP 500 for http://localhost:8000/all.atom" in caplog.records[0].getMessage()
    assert (tmp_path / "feeds" / "index.html").is_file()


def test_an_unreachable_hub_is_one_warning(
    corpus: Path, tmp_path: Path, two_topics: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as closed:  # bound, never listening: connections are refused
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        with caplog.at_level(logging.WARNING):
            report = build(make_config(corpus, tmp_path / "feeds", hub=f"http://127.0.0.1:{port}/"))
    assert report.hub_pings == 0
    assert [r.getMessage().endswith("9 not notified") for r in caplog.records] == [True]
