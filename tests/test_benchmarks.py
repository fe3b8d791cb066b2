"""The benchmark scripts still run against the current code.

They are not part of the test run as benchmarks (see the README); this runs the
ones that use the aggregator's internal API on small inputs, so that a change of
that API cannot leave them broken until the next time someone measures.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCHMARKS = REPO / "benchmarks"


def _run(*args: str | Path, cwd: Path) -> str:
    done = subprocess.run(
        [sys.executable, *map(str, args)], cwd=cwd, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_bench_render_runs_on_a_small_corpus(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    _run(BENCHMARKS / "gen_corpus.py", corpus, "--count", "200", "--seed", "3", cwd=tmp_path)
    out = _run(BENCHMARKS / "bench_render.py", corpus, "--runs", "1", cwd=tmp_path)
    assert " feeds, " in out and "us per story" in out
    assert "every entry given:" in out


def test_bench_merge_runs_and_checks_a_small_sample(tmp_path: Path) -> None:
    out = _run(BENCHMARKS / "bench_merge.py", "--articles", "1500", "--runs", "1", cwd=tmp_path)
    assert "same partition as the all-pairs reference" in out
    assert "merge_stories + rank_stories: median" in out


def test_stages_times_each_stage_of_a_build(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    _run(BENCHMARKS / "gen_corpus.py", corpus, "--count", "200", "--seed", "3", cwd=tmp_path)
    where = ["--source", corpus, "--out", tmp_path / "feeds", "--state-dir", tmp_path / "state"]
    out = _run(BENCHMARKS / "stages.py", "--", *where, "--quiet", cwd=tmp_path)
    stages = [line.split()[2] for line in out.splitlines()[1:]]
    for stage in ("find_article_files", "read_articles", "rank_all", "render", "write"):
        assert stage in stages
    assert stages[-1] == "build"  # "build ends", last
    assert (tmp_path / "feeds" / "all.atom").exists()
