"""Faults a cron job meets: overlapping runs, kills, full disks, read-only output,
vanished sources. Whatever happens, the feeds already published stay valid."""

from __future__ import annotations

import json
import os
import random
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from lxml import etree

from aggregator.lock import build_lock
from tests.conftest import WriteArticle

BUILD = [sys.executable, "-m", "aggregator", "build"]


def run(cwd: Path, *args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*BUILD, *args], cwd=cwd, capture_output=True, text=True, timeout=120, **kwargs
    )  # type: ignore[call-overload, no-any-return]


@pytest.fixture
def project(tmp_path: Path, write_article: WriteArticle) -> Path:
    for index in range(12):
        write_article(
            f"a{index:02}.txt",
            title=f"Story number {index} about {['rivers', 'markets', 'rockets'][index % 3]}",
            webUrl=f"https://news.example/{index}",
            topics=[["Water"], ["Money"], ["Space", "Water"]][index % 3],
            heat=index,
        )
    return tmp_path


def published(feeds: Path) -> list[Path]:
    """The files a web server would serve: everything but hidden temporaries."""
    return sorted(p for p in feeds.rglob("*") if p.is_file() and not p.name.startswith("."))


def snapshot(feeds: Path) -> dict[str, bytes]:
    return {p.relative_to(feeds).as_posix(): p.read_bytes() for p in published(feeds)}


def assert_all_valid(feeds: Path) -> None:
    for path in published(feeds):
        data = path.read_bytes()  # each check fails on a truncated or mixed file
        if path.suffix == ".json":
            json.loads(data)
        elif path.suffix == ".html":
            assert data.endswith(b"</html>\n"), path
        else:
            etree.fromstring(data)


def temporaries(feeds: Path) -> list[Path]:
    return [p for p in feeds.rglob(".*") if p.is_file()]


def test_second_build_exits_5_while_another_holds_the_lock(project: Path) -> None:
    with build_lock(project / ".aggregator"):
        result = run(project)
    assert result.returncode == 5
    assert "another build is running" in result.stderr
    assert not (project / "feeds").exists()
    assert run(project).returncode == 0  # released with its holder


def test_lock_is_released_when_its_holder_is_killed(project: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, pathlib; from aggregator.lock import build_lock\n"
         "with build_lock(pathlib.Path(sys.argv[1])):\n"
         "    print('held', flush=True); sys.stdin.read()",
         str(project / ".aggregator")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    assert run(project).returncode == 5
    holder.kill()
    holder.wait()
    assert run(project).returncode == 0


def test_build_refuses_to_drop_most_articles_unless_forced(project: Path) -> None:
    assert run(project).returncode == 0
    before = snapshot(project / "feeds")
    for path in sorted((project / "articles").iterdir())[:9]:
        path.unlink()
    refused = run(project)
    assert refused.returncode == 4
    assert "3 articles where the previous one had 12" in refused.stderr
    assert "--force" in refused.stderr
    assert snapshot(project / "feeds") == before
    forced = run(project, "--force")
    assert forced.returncode == 0
    assert snapshot(project / "feeds") != before


def test_missing_source_directory_is_an_error_not_an_empty_publication(project: Path) -> None:
    assert run(project).returncode == 0
    before = snapshot(project / "feeds")
    (project / "articles").rename(project / "unmounted")
    result = run(project)
    assert result.returncode == 2
    assert "articles: source directory does not exist" in result.stderr
    assert snapshot(project / "feeds") == before


@contextmanager
def read_only(directory: Path) -> Iterator[None]:
    """Make `directory` read-only even for root: a read-only bind mount when root."""
    if os.geteuid() == 0:
        subprocess.run(["mount", "--bind", directory, directory], check=True)
        subprocess.run(["mount", "-o", "remount,ro,bind", directory], check=True)
        try:
            yield
        finally:
            subprocess.run(["umount", directory], check=True)
    else:
        directory.chmod(0o555)
        try:
            yield
        finally:
            directory.chmod(0o755)


def test_read_only_output_fails_clearly_and_keeps_previous_feeds(
    project: Path, write_article: WriteArticle
) -> None:
    assert run(project).returncode == 0
    before = snapshot(project / "feeds")
    write_article("new.txt", title="A brand new story arrives", webUrl="https://n.example/1")
    with read_only(project / "feeds"):
        result = run(project)
    assert result.returncode == 3
    assert "cannot write" in result.stderr and "previous feeds were left" in result.stderr
    assert snapshot(project / "feeds") == before


def test_disk_full_mid_write_keeps_every_previous_feed(
    project: Path, write_article: WriteArticle
) -> None:
    assert run(project).returncode == 0
    before = snapshot(project / "feeds")
    write_article("new.txt", title="A brand new story arrives", webUrl="https://n.example/1",
                  topics=["Water", "Money", "Space"], heat=99)  # fmt: skip
    smallest_feed = min(len(data) for data in before.values())

    def small_disk() -> None:
        # Writes past this size fail with EFBIG, as writes to a full disk fail.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (smallest_feed + 100, smallest_feed + 100))

    result = run(project, preexec_fn=small_disk)
    assert result.returncode == 3, result.stderr
    assert snapshot(project / "feeds") == before
    assert temporaries(project / "feeds") == []


def test_kill_at_any_moment_leaves_every_feed_wholly_old_or_new(
    tmp_path: Path, write_article: WriteArticle
) -> None:
    rng = random.Random(7)
    for index in range(400):
        write_article(
            f"k{index:03}.txt",
            title=f"Kill test story {index} on {rng.choice(['oil', 'gas', 'wind', 'sun'])}",
            webUrl=f"https://kill.example/{index}",
            topics=[f"Topic {index % 40}", "Energy"],
            heat=index % 97,
        )
    started = time.monotonic()
    assert run(tmp_path, "--force").returncode == 0
    duration = time.monotonic() - started
    generations = [snapshot(tmp_path / "feeds")]
    kills = attempt = 0
    while kills < 10:
        attempt += 1
        assert attempt <= 40, f"only {kills} of {attempt} builds could be killed mid-way"
        for index in rng.sample(range(400), 40):
            write_article(
                f"k{index:03}.txt",
                title=f"Kill test story {index} revised {attempt}",
                webUrl=f"https://kill.example/{index}",
                topics=[f"Topic {(index + attempt) % 40}", "Energy"],
                heat=rng.randrange(100),
            )
        build = subprocess.Popen([*BUILD, "--quiet", "--force"], cwd=tmp_path)
        try:
            # Anywhere from start-up to the last renames of a build.
            build.wait(timeout=rng.uniform(0.1, 1.0) * duration)
        except subprocess.TimeoutExpired:
            build.send_signal(signal.SIGKILL)
            build.wait()
            kills += 1
        current = snapshot(tmp_path / "feeds")
        assert_all_valid(tmp_path / "feeds")
        for name, data in current.items():
            # Wholly old or wholly new: equal to some finished build's file, or the
            # output of the killed build, which must then be a complete document.
            known = [g[name] for g in generations if name in g]
            ends = (b"</feed>", b"</rss>", b"</opml>", b"</html>", b"}", b"</xsl:stylesheet>")
            assert data in known or data.rstrip().endswith(ends), name
        finished = run(tmp_path, "--force")
        assert finished.returncode == 0
        assert temporaries(tmp_path / "feeds") == []  # the next build sweeps them
        generations.append(snapshot(tmp_path / "feeds"))
