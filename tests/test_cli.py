"""The command line as users and cron run it: a real subprocess, real files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SECRET, WriteArticle

REPO = Path(__file__).resolve().parent.parent


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aggregator", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def project(tmp_path: Path, write_article: WriteArticle) -> Path:
    write_article("one.txt", topics=["AWS AI"])
    write_article("two.txt", title="Second story entirely", webUrl="https://two.example/2")
    (tmp_path / "config.yaml").write_text("site:\n  title: Test News\n")
    return tmp_path


def test_build_writes_feeds_and_prints_one_summary_line(project: Path) -> None:
    result = run("build", cwd=project)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("2 files: 2 articles in 2 topic feeds (9 files changed)")
    assert "0 duplicates merged, 0 drafts skipped, 0 files rejected" in lines[0]
    assert (project / "feeds" / "topics" / "aws-ai.atom").is_file()
    assert (project / "feeds" / "all.rss").is_file()


def test_a_build_with_nothing_to_do_imports_neither_pipeline_nor_parsers(project: Path) -> None:
    """A cron run that finds nothing new lists the files and stops: the modules
    that parse, merge and render (and their libraries) are never imported."""
    heavy = ["aggregator.pipeline", "aggregator.rendering", "aggregator.sources", "feedgen"]
    assert run("build", cwd=project).returncode == 0
    code = (
        "import sys; from aggregator.cli import main; status = main(['build', '--quiet']); "
        f"print(status, sorted(set({heavy!r}) & sys.modules.keys()))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=project, capture_output=True, text=True, timeout=120
    )
    assert result.stdout == "0 []\n", result.stderr


def test_a_build_that_neither_fetches_nor_notifies_imports_no_http_client(
    project: Path,
) -> None:
    """httpx and htmldate are slow to import: only fetching and WebSub need them."""
    code = (
        "import sys; from aggregator.cli import main; status = main(['build', '--quiet']); "
        "print(status, sorted({'httpx', 'htmldate', 'aggregator.fetch'} & sys.modules.keys()))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=project, capture_output=True, text=True, timeout=120
    )
    assert result.stdout == "0 []\n", result.stderr
    assert (project / "feeds" / "all.atom").is_file()


def test_verbose_lists_every_feed(project: Path) -> None:
    result = run("build", "-v", cwd=project)
    assert "  topics/aws-ai.rss: 1 entries, written" in result.stderr.splitlines()
    again = run("build", "-v", cwd=project)
    assert "  topics/aws-ai.rss: 1 entries" in again.stderr.splitlines()
    assert SECRET not in result.stderr + again.stderr


def test_quiet_prints_nothing_when_all_is_well(project: Path) -> None:
    result = run("build", "--quiet", cwd=project)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_quiet_still_reports_rejected_files(project: Path, write_article: WriteArticle) -> None:
    write_article("broken.txt", webUrl="not a url")
    result = run("build", "-q", cwd=project)
    assert result.returncode == 0
    assert "1 files rejected" in result.stderr
    assert "broken.txt: webUrl: expected an absolute http or https URL" in result.stderr


def test_report_has_the_contracted_keys(project: Path, write_article: WriteArticle) -> None:
    write_article("broken.txt", publishedDateTime="soon")
    result = run("build", "--report", "out/report.json", cwd=project)
    assert result.returncode == 0
    report = json.loads((project / "out" / "report.json").read_text())
    assert {"files", "rejected", "drafts", "articles", "duplicates", "feeds", "seconds"} <= set(
        report
    )
    assert report["files"] == 3 and report["articles"] == 2
    assert report["rejected"][0]["path"].endswith("broken.txt")
    assert "publishedDateTime" in report["rejected"][0]["reason"]
    assert {"path": "topics/aws-ai.atom", "entries": 1, "changed": True} in report["feeds"]
    assert isinstance(report["seconds"], float)
    assert SECRET not in json.dumps(report)


def test_strict_exits_1_and_writes_nothing(project: Path, write_article: WriteArticle) -> None:
    write_article("broken.txt", title=None)
    result = run("build", "--strict", cwd=project)
    assert result.returncode == 1
    assert "broken.txt: title: required field is missing" in result.stderr
    assert not (project / "feeds").exists()


@pytest.mark.parametrize(
    ("args", "config", "message"),
    [
        (["build", "--base-url", "ftp://x"], None, "--base-url: expected an absolute http"),
        (["build", "--now", "whenever"], None, "--now: expected an ISO 8601"),
        (["build"], "max_items: -3\n", "config.yaml: max_items: expected a number above 0"),
        (["build"], "flavour: 1\n", "config.yaml: flavour: unknown key"),
        (["build", "--config", "other.yaml"], None, "other.yaml: config file not found"),
        (["build", "--source", "missing"], None, "missing: source directory does not exist"),
        (["build", "--no-such-flag"], None, "unrecognized arguments"),
    ],
)
def test_usage_and_config_errors_exit_2(
    project: Path, args: list[str], config: str | None, message: str
) -> None:
    if config is not None:
        (project / "config.yaml").write_text(config)
    result = run(*args, cwd=project)
    assert result.returncode == 2
    assert message in result.stderr
    assert not (project / "feeds").exists()


def test_options_override_config(project: Path, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere"
    (other / "sub").mkdir(parents=True)
    (other / "sub" / "x.md").write_text((project / "articles" / "one.txt").read_text())
    result = run(
        "build", "--source", str(other), "--out", "public", "--base-url",
        "https://feeds.example.org/news/", "--state-dir", "st", cwd=project,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (project / "st" / "build.lock").is_file()
    assert not (project / ".aggregator").exists()
    atom = (project / "public" / "all.atom").read_text()
    assert 'href="https://feeds.example.org/news/all.atom"' in atom
    assert result.stderr.startswith("1 files: 1 articles")


def test_check_reports_every_problem_and_writes_nothing(
    project: Path, write_article: WriteArticle
) -> None:
    assert run("check", cwd=project).returncode == 0
    write_article("bad1.txt", title=None)
    write_article("bad2.txt", heat="hot")
    result = run("check", cwd=project)
    assert result.returncode == 1
    assert "bad1.txt: title: required field is missing" in result.stderr
    assert "bad2.txt: heat: expected a number" in result.stderr
    assert not (project / "feeds").exists()


def test_sample_corpus_builds_cleanly(tmp_path: Path) -> None:
    """The README's first command, on the bundled articles."""
    result = run("build", "--out", str(tmp_path / "feeds"), "--report", str(tmp_path / "r.json"),
                 cwd=REPO)  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["rejected"] == []
    assert report["duplicates"] >= 8 and report["drafts"] >= 6
    assert (tmp_path / "feeds" / "topics" / "aws-ai.rss").is_file()


def test_state_dir_and_jobs_options(project: Path) -> None:
    result = run("build", "--state-dir", "elsewhere/state", "--jobs", "2", cwd=project)
    assert result.returncode == 0, result.stderr
    assert (project / "elsewhere" / "state" / "parse-cache.pickle").is_file()
    assert not (project / ".aggregator").exists()


@pytest.mark.parametrize("value", ["-1", "two", "1.5"])
def test_bad_jobs_is_a_usage_error(project: Path, value: str) -> None:
    result = run("build", "--jobs", value, cwd=project)
    assert result.returncode == 2
    assert "--jobs: expected a whole number of 0 or more" in result.stderr
