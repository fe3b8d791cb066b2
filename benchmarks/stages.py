"""Where one build's time goes: its stages timed, in every process of it.

Usage (from the repository root)::

    python benchmarks/stages.py -- BUILD ARGUMENTS...

for instance ``python benchmarks/stages.py -- --source W --out F --state-dir S --quiet``.

Runs ``aggregator build`` with BUILD ARGUMENTS in this process, with each
function of `STAGES` wrapped where the build looks it up: when it returns, it
notes the process, the stage, when it started (seconds since the build
started) and how long it took. A ``wait`` is `forking.Pending.result`, the
time spent waiting for a copy of the build (or doing its work here, if the
copy failed). Copies of the build and parse workers are forked, so they
inherit the wrappers; each also notes, as it ends, its CPU time and page
faults. Every process appends its notes to one file; once the build is over
they are printed in order of start, the build's own process first among
equals. A stage's time includes the stages it calls.

The build's modules are imported before its clock starts (a build with work
imports `pipeline` once it knows it has some), and the wrapping costs a few
microseconds a call: time builds with run.py, and read this for the shape.
"""

from __future__ import annotations

import functools
import importlib
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: (module, function or Class.method) of each stage, as the caller finds it.
STAGES = (
    ("aggregator.build", "find_article_files"),
    ("aggregator.build", "InputFingerprint"),
    ("aggregator.pipeline", "collect_and_group"),
    ("aggregator.grouping", "read_articles"),
    ("aggregator.grouping", "assemble"),
    ("aggregator.grouping", "load_rows"),
    ("aggregator.grouping", "save_rows"),
    ("aggregator.grouping", "_GroupingAhead.parsed"),
    ("aggregator.grouping", "_GroupingAhead.covered"),
    ("aggregator.grouping", "_GroupingAhead.grouping"),
    ("aggregator.grouping", "_GroupingAhead.after"),
    ("aggregator.grouping", "_group"),
    ("aggregator.grouping", "_regrouped"),
    ("aggregator.grouping", "_similar_titles"),
    ("aggregator.grouping", "_more_titles_searched"),
    ("aggregator.grouping", "_ids_record"),
    ("aggregator.cache", "load_cache"),
    ("aggregator.cache", "_Snapshot.commit"),
    ("aggregator.cache", "append_changes"),
    ("aggregator.pipeline", "published_feeds"),
    ("aggregator.pipeline", "rank_all"),
    ("aggregator.pipeline", "story_refs_apart"),
    ("aggregator.pipeline", "rank_presorted"),
    ("aggregator.pipeline", "select"),
    ("aggregator.pipeline", "output_plan"),
    ("aggregator.pipeline", "write_changed"),
    ("aggregator.incremental", "_render"),
    ("aggregator.entrystore", "EntryStore.__init__"),
    ("aggregator.entrystore", "EntryStore.entries"),
    ("aggregator.entrystore", "EntryStore.keep"),
    ("aggregator.rendering", "_entries_of"),
    ("aggregator.incremental", "publish"),
    ("aggregator.forking", "Pending.result"),
)
#: How a stage is shown when its function's name says little.
LABELS = {
    "Pending.result": "wait",
    "_render": "render",
    "_entries_of": "render entries",
    "_Snapshot.commit": "parse cache snapshot",
    "EntryStore.__init__": "entry store index",
    "EntryStore.entries": "entry store read",
    "EntryStore.keep": "entry store write",
    "publish": "write",
}


class Notes:
    """Lines appended to one file by every process of the build."""

    def __init__(self, path: Path, started: float) -> None:
        self.path = path
        self.started = started
        self.main = os.getpid()

    def add(self, start: float, what: str) -> None:
        line = f"{start - self.started:.3f}\t{os.getpid()}\t{what}\n"
        with self.path.open("a", encoding="utf-8") as stream:  # one write: lines stay whole
            stream.write(line)

    def timed(self, label: str, function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.add(start, f"{label}\t{time.perf_counter() - start:.3f}")

        return wrapper

    def ended(self, exit: Callable[[int], Any]) -> Callable[[int], Any]:
        def wrapper(status: int) -> Any:
            if os.getpid() != self.main:
                usage = resource.getrusage(resource.RUSAGE_SELF)
                cpu = usage.ru_utime + usage.ru_stime
                what = f"process ends\tcpu {cpu:.2f} s, {usage.ru_minflt} page faults"
                self.add(time.perf_counter(), what)
            return exit(status)

        return wrapper

    def table(self) -> str:
        rows: list[tuple[float, bool, str, str, str]] = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            at, pid, label, took = line.split("\t", 3)
            rows.append((float(at), int(pid) != self.main, pid, label, took))
        rows.sort()
        return "\n".join(
            f"{at:7.3f}  {pid:>7}  {label:<24} {took}" for at, _, pid, label, took in rows
        )


def wrap_stages(notes: Notes) -> None:
    """Wrap every function of `STAGES` (see the module docstring)."""
    for module_name, name in STAGES:
        owner: Any = importlib.import_module(module_name)
        *classes, function_name = name.split(".")
        for class_name in classes:
            owner = getattr(owner, class_name)
        label = LABELS.get(name, name.removeprefix("_GroupingAhead."))
        setattr(owner, function_name, notes.timed(label, getattr(owner, function_name)))
    os._exit = notes.ended(os._exit)  # type: ignore[assignment]  # copies and workers end so


def main(argv: list[str]) -> int:
    if argv[:1] == ["--"]:
        argv = argv[1:]
    from aggregator import cli

    with tempfile.TemporaryDirectory() as scratch:
        notes = Notes(Path(scratch) / "notes", time.perf_counter())
        wrap_stages(notes)
        retained: list[object] = []  # as `cli.run`: the build is not freed object by object
        notes.started = time.perf_counter()
        status = cli.main(["build", *argv], retain=retained)
        notes.add(time.perf_counter(), "build ends\t")
        print(f"{'start':>7}  {'process':>7}  {'stage':<24} took")
        print(notes.table())
    return status


if __name__ == "__main__":
    status = main(sys.argv[1:])
    sys.stdout.flush()
    os._exit(status)  # as `cli.run`
