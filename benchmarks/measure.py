"""Run a command several times; report median wall time, CPU time and peak RSS.

Usage::

    python benchmarks/measure.py [--runs 3] [--setup 'SHELL COMMAND'] [--json] -- CMD [ARG...]

``--setup`` runs (through the shell, untimed) before every run, e.g. to empty an
output directory. The command's stdout is discarded; its stderr is shown only
when it fails, which stops the measurement (a failed run measures nothing).

How each run is measured: the command is started as a fresh child process and
reaped with ``os.wait4``, which returns the resource usage of that child *and of
every descendant it reaped* (Linux sums their CPU times and keeps the largest
``ru_maxrss`` of them). So:

- wall time: from spawn to exit, ``time.perf_counter``;
- CPU time: user + system seconds of the whole process tree;
- peak RSS: the largest resident set of any single process in the tree, *not*
  the sum of processes alive at once (a tool with a pool of worker processes
  uses more memory than this shows). Same figure as ``ru_maxrss`` of
  ``RUSAGE_CHILDREN`` or ``/usr/bin/time -v``, but per run rather than the
  maximum over everything this process ever waited for.

Descendants that outlive the command or are never reaped are not counted.
Linux also counts in a child's peak the memory of this (parent) process at spawn
time, the pre-exec image of the child: a floor of some 15-40 MiB, not an offset
(measure ``true`` to see it). It only shows for commands smaller than the harness;
keep the harness process small.
The summary is the median of each figure on its own over the runs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class Run:
    """One run: wall and CPU (user + sys) seconds, peak RSS in KiB."""

    wall_s: float
    cpu_s: float
    max_rss_kib: int


@dataclass(frozen=True)
class Result:
    """Several runs of one command, with the medians a caller reports."""

    runs: tuple[Run, ...]

    @property
    def wall_s(self) -> float:
        return statistics.median(r.wall_s for r in self.runs)

    @property
    def cpu_s(self) -> float:
        return statistics.median(r.cpu_s for r in self.runs)

    @property
    def max_rss_mib(self) -> float:
        return statistics.median(r.max_rss_kib for r in self.runs) / 1024

    def summary(self) -> dict[str, object]:
        """Medians and the single runs, ready for ``json.dumps``."""
        return {
            "wall_s": round(self.wall_s, 3),
            "cpu_s": round(self.cpu_s, 3),
            "max_rss_mib": round(self.max_rss_mib, 1),
            "runs": [asdict(r) for r in self.runs],
        }

    def __str__(self) -> str:
        return (
            f"wall {self.wall_s:.2f} s, cpu {self.cpu_s:.2f} s, "
            f"peak RSS {self.max_rss_mib:.0f} MiB (median of {len(self.runs)})"
        )


class CommandFailed(RuntimeError):
    """The measured command exited non-zero; the message ends with its stderr tail."""


def run_once(
    argv: Sequence[str], *, cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> Run:
    """Run ``argv`` once as a fresh child and measure it (see the module docstring)."""
    with tempfile.TemporaryFile() as stderr:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=stderr, cwd=cwd, env=env)
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            stderr.seek(0)
            tail = stderr.read()[-2000:].decode(errors="replace")
            raise CommandFailed(f"{list(argv)} exited with {proc.returncode}:\n{tail}")
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss)


def measure(
    argv: Sequence[str],
    runs: int = 3,
    *,
    before: Callable[[int], None] | None = None,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Result:
    """Run ``argv`` ``runs`` times; ``before(i)`` is called untimed before run ``i``."""
    results = []
    for i in range(runs):
        if before is not None:
            before(i)
        results.append(run_once(argv, cwd=cwd, env=env))
    return Result(tuple(results))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--setup", help="shell command run untimed before each run")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- CMD [ARG...]")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given")

    def setup(_: int) -> None:
        subprocess.run(args.setup, shell=True, check=True)

    try:
        result = measure(command, args.runs, before=setup if args.setup else None)
    except CommandFailed as exc:
        print(exc, file=sys.stderr)
        return 1
    print(json.dumps(result.summary(), indent=2) if args.json else result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
