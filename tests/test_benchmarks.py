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
sys.path.insert(0, str(BENCHMARKS))

from measure import Result, Run  # noqa: E402  (a script's module, found above)
from run import bracketed, differing_files  # noqa: E402


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


def test_run_checks_that_the_rebuilt_output_is_a_cold_builds(tmp_path: Path) -> None:
    out = _run(
        BENCHMARKS / "run.py",
        tmp_path / "work",
        "--count",
        "300",
        "--runs",
        "1",
        "--skip-hugo",
        "--skip-plain",
        cwd=tmp_path,
    )
    assert "mutate 1%" in out
    assert "rebuilt output: byte for byte a cold build's" in out
    assert (tmp_path / "work" / "feeds-cold" / "all.atom").is_file()


def test_trees_compared_name_each_file_that_differs_or_is_in_one_only(tmp_path: Path) -> None:
    one, other = tmp_path / "one", tmp_path / "other"
    for root in (one, other):
        (root / "topics").mkdir(parents=True)
        (root / "all.atom").write_bytes(b"same")
        (root / "topics" / "a.rss").write_bytes(b"same")
    assert differing_files(one, other) == []
    (other / "topics" / "a.rss").write_bytes(b"samE")
    (one / "topics" / "b.json").write_bytes(b"")
    assert differing_files(one, other) == ["topics/a.rss", "topics/b.json"]


def test_ratios_are_to_hugos_median_over_both_blocks_of_runs() -> None:
    def result(*walls: float) -> Result:
        return Result(tuple(Run(wall, wall, 1024 * 100) for wall in walls))

    first, again = result(30.0, 28.0, 29.0), result(26.0, 27.0, 25.0)  # median 27.5 s
    lines = bracketed([("cold", result(13.75)), ("mutate 1%", result(2.75))], first, again)
    assert lines[0].startswith("against hugo's median of 6 runs") and "wall 27.50 s" in lines[0]
    assert lines[1].split() == ["cold", "0.500x", "wall,", "1.00x", "RSS"]
    assert lines[2].split()[:3] == ["mutate", "1%", "0.100x"]
