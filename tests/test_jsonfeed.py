"""JSON Feed 1.1: valid to the specification and saying what the Atom feed says."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from lxml import etree

from aggregator.jsonfeed import render_json
from tests.conftest import WriteArticle
from tests.feedcheck import ATOM, check_json_feed
from tests.publishing import BASE, build, make_config, spec, write_hostile_corpus


def test_document_is_valid_and_carries_every_field() -> None:
    data = render_json(spec(hub_url="https://hub.example/"))
    assert check_json_feed(data, f"{BASE}topics/energy.json") == []
    document = json.loads(data)
    assert document["version"] == "https://jsonfeed.org/version/1.1"
    assert document["home_page_url"] == f"{BASE}index.html"
    assert document["authors"] == [{"name": "News aggregator"}]
    assert document["language"] == "en"
    assert document["hubs"] == [{"type": "WebSub", "url": "https://hub.example/"}]
    first = document["items"][0]
    assert first["url"] == "https://news.example.com/2026/11/battery-factory"
    assert first["title"] == "Regulators approve new battery factory"
    assert first["summary"] == "The plant will employ 2,000 people."
    assert first["content_html"].startswith("<p>The plant will employ 2,000 people.</p>")
    assert first["authors"] == [{"name": "Example News"}]
    assert first["tags"] == ["Energy"]
    assert first["date_published"] == "2026-11-26T09:00:00+00:00"
    assert "hubs" not in json.loads(render_json(spec()))


def test_the_checker_catches_faults() -> None:
    document = json.loads(render_json(spec()))
    document["items"][0]["date_published"] = "Thu, 26 Nov 2026 09:00:00 +0000"
    del document["items"][1]["content_html"]
    document["home_page"] = "misspelt key"
    data = json.dumps(document).encode() + b"\n"
    problems = check_json_feed(data, f"{BASE}topics/energy.json")
    assert len(problems) == 3, problems


def test_items_match_the_atom_feed(
    corpus: Path, tmp_path: Path, write_article: WriteArticle
) -> None:
    write_hostile_corpus(write_article)
    config = make_config(corpus, tmp_path / "feeds")
    build(config)
    document = json.loads((config.output / "all.json").read_bytes())
    atom = etree.parse(str(config.output / "all.atom")).getroot()
    entries = atom.findall(f"{ATOM}entry")
    assert [item["id"] for item in document["items"]] == [e.findtext(f"{ATOM}id") for e in entries]
    assert [item["title"] for item in document["items"]] == [
        e.findtext(f"{ATOM}title") for e in entries
    ]
    assert [item.get("tags") for item in document["items"]] == [
        [c.get("term") for c in e.findall(f"{ATOM}category")] or None for e in entries
    ]


def test_bytes_are_stable_utf8_with_a_final_newline() -> None:
    data = render_json(spec(title="Nachrichten: Energie — 日本"))
    assert data == render_json(spec(title="Nachrichten: Energie — 日本"))
    assert "Energie — 日本".encode() in data  # not \u escapes
    assert data.endswith(b"}\n")
    assert render_json(replace(spec(), stories=())).endswith(b'"items":[]}\n')
