"""Benchmark the aggregator against Hugo on a generated corpus.

Usage (from the repository root)::

    python benchmarks/run.py [WORK] [--count 20000] [--runs 3] [--seed 1]
        [--aggregator 'COMMAND TEMPLATE'] [--skip-hugo] [--skip-plain] [--skip-aggregator]

Hugo comes from Debian's ``hugo`` package, installed first when it is
missing (as root, with apt-get; see ``hugo_site.install_hugo``).

Everything is written under WORK (default ``benchmarks/.work``, git-ignored),
which is emptied first: ``corpus/`` (made by gen_corpus.py), ``hugo/``
(hugo_site.py), ``feeds/`` and ``state/`` (the aggregator) and ``results.json``.
Scenarios, each measured by measure.py as the median of ``--runs`` fresh runs:

- ``hugo``: a full Hugo build into an emptied output directory (Hugo has no
  incremental CLI build); its output is then checked with ``hugo_site.verify``;
- ``plain``: benchmarks/plain_build.py, the straightforward single-process
  Python build (PyYAML's C loader, feedgen per topic, no cache) into an emptied
  output directory; it has no incremental mode, so it is measured once;
- ``cold``: the aggregator with empty state and output directories;
- ``no-change``: the aggregator again, after the cold runs, on the same corpus;
- ``mutate 1%``: before each run (untimed) ``gen_corpus.py --mutate 0.01`` with a
  new seed edits 0.5% of the files and adds 0.5% new ones. This runs last: it
  changes the corpus. Its output is then compared with a cold build of the
  final corpus (into ``feeds-cold/``, untimed) that starts from the story ids
  the last run started from, and nothing else (ids carry history by design: a
  story keeps its id when its first copy goes): the same bytes, file for file,
  or the script fails;
- ``hugo again``: Hugo as at first, after all the aggregator's runs. The VM's
  speed drifts within the hour (Hugo's median moved 7% between two runs of this
  script twenty minutes apart), so the script ends with the ratio of each
  scenario to Hugo's median over both blocks, which bracket the others in
  time; the lines printed as the scenarios run compare with the first block.

The aggregator command is a template; ``{python}`` (this interpreter),
``{source}``, ``{out}`` and ``{state}`` are filled in per argument after
``shlex.split``. It runs in WORK (so no config.yaml is found unless the template
names one) with the repository root first on ``PYTHONPATH``.

The aggregator's modules are byte-compiled first (``compileall``), as an
installed package is, whatever ``PYTHONDONTWRITEBYTECODE`` says; the libraries
both Python builds import are installed, so compiled already.

The corpus is flushed to disk and read once before any measurement. The
``baseline`` line measures ``true``: its peak RSS is the floor below which no
peak-RSS figure here can go (see measure.py).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from hugo_site import hugo_command, hugo_version, install_hugo, prepare_site, verify
from measure import Result, measure

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_AGGREGATOR = (
    "{python} -m aggregator build --source {source} --out {out} --state-dir {state} --quiet"
)
MUTATE_FRACTION = 0.01
#: The file in the state directory that keeps the story ids (`state.STORY_IDS_FILE`).
STORY_IDS = "story-ids.json"


def _gen_corpus(*args: str) -> None:
    """Run gen_corpus.py as a child, so its memory never counts in the parent's RSS."""
    subprocess.run([sys.executable, str(HERE / "gen_corpus.py"), *args], check=True)


def differing_files(one: Path, other: Path) -> list[str]:
    """The files (relative paths) whose bytes differ between two trees, or
    that only one holds."""

    def files(root: Path) -> dict[Path, Path]:
        return {path.relative_to(root): path for path in root.rglob("*") if path.is_file()}

    ones, others = files(one), files(other)
    return sorted(
        str(name)
        for name in ones.keys() | others.keys()
        if name not in ones
        or name not in others
        or ones[name].read_bytes() != others[name].read_bytes()
    )


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def bracketed(measured: list[tuple[str, Result]], first: Result, again: Result) -> list[str]:
    """Lines giving each measured scenario's wall time and peak RSS as a ratio of
    Hugo's medians over both blocks of its runs (`first` and `again`)."""
    hugo = Result(first.runs + again.runs)
    lines = [
        f"against hugo's median of {len(hugo.runs)} runs, before and after the others: "
        f"wall {hugo.wall_s:.2f} s, peak RSS {hugo.max_rss_mib:.0f} MiB"
    ]
    lines.extend(
        f"  {name:<12} {result.wall_s / hugo.wall_s:.3f}x wall, "
        f"{result.max_rss_mib / hugo.max_rss_mib:.2f}x RSS"
        for name, result in measured
    )
    return lines


def _report(name: str, result: Result, reference: Result | None) -> dict[str, object]:
    versus = ""
    if reference is not None:
        versus = (
            f"  ({result.wall_s / reference.wall_s:.2f}x wall, "
            f"{result.max_rss_mib / reference.max_rss_mib:.2f}x RSS of hugo)"
        )
    print(f"{name:<12} {result}{versus}", flush=True)
    return {"scenario": name, **result.summary()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("work", type=Path, nargs="?", default=HERE / ".work")
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--aggregator", default=DEFAULT_AGGREGATOR, help="command template")
    parser.add_argument("--skip-hugo", action="store_true")
    parser.add_argument("--skip-aggregator", action="store_true")
    parser.add_argument("--skip-plain", action="store_true")
    args = parser.parse_args(argv)

    if not args.skip_hugo:
        install_hugo()
    work: Path = args.work.resolve()
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    corpus, feeds, state = work / "corpus", work / "feeds", work / "state"
    machine = {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "hugo": None if args.skip_hugo else hugo_version(),
        "articles": args.count,
    }
    print(json.dumps(machine), flush=True)
    _gen_corpus(str(corpus), "--count", str(args.count), "--seed", str(args.seed))
    # Flush the new files and read them once, so that no tool's first run pays for
    # write-back or a cold page cache and the others do not.
    os.sync()
    for path in corpus.rglob("*.txt"):
        path.read_bytes()

    results = [_report("baseline", measure(["true"], args.runs), None)]
    measured: list[tuple[str, Result]] = []  # what is compared with Hugo
    hugo: Result | None = None
    if not args.skip_hugo:
        site, public = prepare_site(corpus, work / "hugo"), work / "hugo" / "public"

        def measure_hugo() -> Result:
            return measure(
                hugo_command(site, public),
                args.runs,
                before=lambda _: shutil.rmtree(public, ignore_errors=True),
            )

        hugo = measure_hugo()
        results.append(_report("hugo", hugo, None))
        checked = verify(corpus, public)
        if checked.problems:
            print("hugo output is wrong:", *checked.problems[:10], sep="\n  ", file=sys.stderr)
            return 1
        print(f"{'':<12} verified: {checked.feeds} feeds, largest {checked.largest_feed} items")

    if not args.skip_plain:
        plain_out = work / "plain"
        plain = measure(
            [sys.executable, str(HERE / "plain_build.py"), str(corpus), str(plain_out)],
            args.runs,
            before=lambda _: shutil.rmtree(plain_out, ignore_errors=True),
        )
        results.append(_report("plain", plain, hugo))
        measured.append(("plain", plain))

    if not args.skip_aggregator:
        fields = {"python": sys.executable, "source": corpus, "out": feeds, "state": state}
        command = [part.format(**fields) for part in shlex.split(args.aggregator)]
        paths = [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
        # Byte-compiled, as `pip install` leaves a package: a checkout run with
        # PYTHONDONTWRITEBYTECODE set would compile every module on every run.
        compileall = [sys.executable, "-m", "compileall", "-q", str(REPO / "aggregator")]
        subprocess.run(compileall, check=True)

        ids_before = work / "story-ids-before-last-run.json"

        def empty_outputs(_: int) -> None:
            shutil.rmtree(feeds, ignore_errors=True)
            shutil.rmtree(state, ignore_errors=True)

        def mutate(run: int) -> None:
            seed = str(args.seed * 1000 + run + 1)
            _gen_corpus(str(corpus), "--mutate", str(MUTATE_FRACTION), "--seed", seed)
            shutil.copyfile(state / STORY_IDS, ids_before)

        for name, before in (("cold", empty_outputs), ("no-change", None), ("mutate 1%", mutate)):
            result = measure(command, args.runs, before=before, cwd=work, env=env)
            results.append(_report(name, result, hugo))
            measured.append((name, result))

        # What a rebuild promises: the bytes a cold build of the same files makes,
        # given the same story ids from before (ids carry history by design).
        cold_feeds, cold_state = work / "feeds-cold", work / "state-cold"
        cold_state.mkdir()
        shutil.copyfile(ids_before, cold_state / STORY_IDS)
        fields = {**fields, "out": cold_feeds, "state": cold_state}
        cold = [part.format(**fields) for part in shlex.split(args.aggregator)]
        subprocess.run(cold, check=True, cwd=work, env=env, stdout=subprocess.DEVNULL)
        differing = differing_files(feeds, cold_feeds)
        if differing:
            print("the rebuilt output is not a cold build's:", *differing[:10], sep="\n  ")
            return 1
        files = sum(1 for path in feeds.rglob("*") if path.is_file())
        print(f"{'':<12} rebuilt output: byte for byte a cold build's ({files} files)", flush=True)

    if hugo is not None and measured:
        again = measure_hugo()
        results.append(_report("hugo again", again, None))
        print(*bracketed(measured, hugo, again), sep="\n", flush=True)

    (work / "results.json").write_text(
        json.dumps({"machine": machine, "results": results}, indent=2) + "\n", encoding="utf-8"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
