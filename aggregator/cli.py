"""The command line: arguments, messages, exit codes.

Exit codes (a contract; see the README):
  0  feeds written (some files may have been rejected and reported)
  1  `--strict` and a file was rejected: nothing written; or `check` found problems
  2  usage, configuration or source-directory error: nothing written
  3  an output file could not be written: the previous feeds are intact
  4  refused: the build would drop too many of the previous articles (see --force)
  5  another build is running (it holds the lock in the state directory)
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

from aggregator import __version__
from aggregator.build import BuildOptions, run_build
from aggregator.config import Config, load_config
from aggregator.errors import (
    ConfigError,
    EmitError,
    LockedError,
    RefusedError,
    SourceError,
    StateError,
)
from aggregator.model import BuildReport
from aggregator.text import is_http_url

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_USAGE = 2
EXIT_WRITE_FAILED = 3
EXIT_REFUSED = 4
EXIT_LOCKED = 5

#: Problems of one kind printed after the summary; the report lists all of them.
SHOWN_PROBLEMS = 20

log = logging.getLogger("aggregator")


def run() -> NoReturn:
    """The program (the console script, `python -m aggregator`): `main`, then
    exit at once. The build's objects die with the process instead of being
    freed one by one (see `run_build`'s `retain`)."""
    retained: list[object] = []
    status = main(retain=retained)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def main(argv: Sequence[str] | None = None, *, retain: list[object] | None = None) -> int:
    """Run the command line `argv` (default: the program's); the exit status.
    `retain`: as for `run_build`."""
    # A build holds hundreds of thousands of long-lived objects and makes no
    # reference cycles worth collecting (peak memory is the same without the
    # cyclic collector), which would otherwise scan them again and again: 10-20%
    # of a build's time. Reference counting still frees everything.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _main(argv, retain)
    finally:
        if collecting:
            gc.enable()


def _main(argv: Sequence[str] | None, retain: list[object] | None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    _setup_logging(quiet=args.quiet, verbose=args.verbose)
    try:
        config = _config(args)
        now = _parse_now(args.now) if args.now else None
    except ConfigError as error:
        log.error("%s", error)
        return EXIT_USAGE
    clock = datetime.now(UTC)
    try:
        if args.command == "check":
            return _check(config, clock)
        with fetch_progress(enabled=config.fetch.enabled and not args.quiet) as progress:
            options = BuildOptions(now=now, strict=args.strict, force=args.force, progress=progress)
            report = run_build(config, options, clock, retain=retain)
    except (SourceError, StateError) as error:
        log.error("%s", error)
        return EXIT_USAGE
    except EmitError as error:
        log.error("%s; the previous feeds were left as they were", error)
        return EXIT_WRITE_FAILED
    except RefusedError as error:
        log.error("refusing to publish: %s", error.reason)
        return EXIT_REFUSED
    except LockedError as error:
        log.error("%s: %s; this run did nothing", error.where, error.reason)
        return EXIT_LOCKED
    if args.report:
        _write_report(Path(args.report), report)
    _print_summary(report, drafts_included=config.drafts)
    if args.strict and report.rejected:
        log.error("--strict: %d file(s) rejected, nothing written", len(report.rejected))
        return EXIT_REJECTED
    return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aggregator", description="Turn a folder of news article files into feeds."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="build the feeds into the output directory")
    check = commands.add_parser("check", help="read the config and every source, write nothing")
    for sub in (build, check):
        sub.add_argument("--config", default="config.yaml", help="config file (./config.yaml)")
        sub.add_argument(
            "--source",
            action="append",
            metavar="PATH",
            help="article directory; repeatable; replaces the configured sources",
        )
        sub.add_argument("--drafts", action="store_true", help="include drafts")
        sub.add_argument(
            "--jobs",
            type=_jobs,
            metavar="N",
            help="processes parsing files and rendering feeds; 0: one per core (config: jobs)",
        )
        sub.add_argument("-q", "--quiet", action="store_true", help="print only problems")
        sub.add_argument("-v", "--verbose", action="store_true", help="print more detail")
        sub.add_argument(
            "--now",
            metavar="ISO8601",
            help="reference time (default: the newest article's time; for future dates: the clock)",
        )
    build.add_argument("--out", metavar="DIR", help="output directory (config: output)")
    build.add_argument(
        "--state-dir", metavar="DIR", help="caches, lock and build state (config: state_dir)"
    )
    build.add_argument("--base-url", metavar="URL", help="URL where the output is served")
    build.add_argument(
        "--strict", action="store_true", help="if any file is rejected, write nothing, exit 1"
    )
    build.add_argument("--report", metavar="PATH", help="write a JSON report of the build")
    build.add_argument(
        "--fetch",
        action="store_true",
        help="visit each published article's page to refresh dates and links (config: fetch)",
    )
    build.add_argument(
        "--force",
        action="store_true",
        help="publish even if the build drops most of the previous articles",
    )
    return parser


@contextmanager
def fetch_progress(*, enabled: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar for fetching, only on a terminal (cron mails any output)."""
    if not (enabled and sys.stderr.isatty()):
        yield None
        return
    from tqdm import tqdm  # here: most runs show no bar and need not load it

    with tqdm(desc="fetching pages", unit="page", file=sys.stderr, leave=False) as bar:

        def update(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        yield update


def _setup_logging(*, quiet: bool, verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.handlers[:] = [handler]
    log.propagate = False
    log.setLevel(logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO)


def _config(args: argparse.Namespace) -> Config:
    config_path = Path(args.config)
    config = load_config(config_path, required=args.config != "config.yaml")
    changes: dict[str, object] = {}
    if args.source:
        changes["sources"] = tuple(Path(p).resolve() for p in args.source)
    if args.drafts:
        changes["drafts"] = True
    if getattr(args, "fetch", False):
        changes["fetch"] = dataclasses.replace(config.fetch, enabled=True)
    if getattr(args, "out", None):
        changes["output"] = Path(args.out).resolve()
    if getattr(args, "state_dir", None):
        changes["state_dir"] = Path(args.state_dir).resolve()
    if args.jobs is not None:
        changes["jobs"] = args.jobs
    base_url = getattr(args, "base_url", None)
    if base_url:
        if not is_http_url(base_url):
            raise ConfigError(
                "--base-url", f"expected an absolute http or https URL, got {base_url!r}"
            )
        changes["site"] = dataclasses.replace(config.site, base_url=base_url)
    return dataclasses.replace(config, **changes)  # type: ignore[arg-type]


def _jobs(text: str) -> int:
    try:
        jobs = int(text)
    except ValueError:
        jobs = -1
    if jobs < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number of 0 or more, got {text!r}")
    return jobs


def _parse_now(text: str) -> datetime:
    from aggregator.sources import as_utc  # here: it loads dateutil, which most runs skip

    try:
        return as_utc(text)
    except (ValueError, OverflowError):
        raise ConfigError("--now", f"expected an ISO 8601 date and time, got {text!r}") from None


def _check(config: Config, clock: datetime) -> int:
    from aggregator.collection import collect  # not needed by a build with nothing to do

    collection = collect(config, clock)
    for rejection in collection.rejected:
        log.error("%s: %s", rejection.path, rejection.reason)
    log.info(
        "%d files: %d articles readable, %d files rejected",
        collection.files,
        len(collection.articles),
        len(collection.rejected),
    )
    return EXIT_REJECTED if collection.rejected else EXIT_OK


def _write_report(path: Path, report: BuildReport) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n")


def summary_line(report: BuildReport, *, drafts_included: bool) -> str:
    drafts = "included" if drafts_included else "skipped"
    fetched = ""
    if report.fetch is not None:
        counts = report.fetch.counts
        fetched = (
            f"{counts['fetched']} pages fetched, {counts['not_modified']} not modified, "
            f"{counts['cached']} cached, {counts['dead']} dead, {counts['failed']} failed, "
            f"{counts['skipped']} skipped, "
        )
    return (
        f"{report.files} files: {report.articles} articles in {report.topics} topic feeds "
        f"({report.changed} files changed), {report.duplicates} duplicates merged, "
        f"{report.drafts} drafts {drafts}, {len(report.rejected)} files rejected, "
        f"{fetched}{report.seconds:.2f} s"
    )


def _print_summary(report: BuildReport, *, drafts_included: bool) -> None:
    fetch = report.fetch
    # Pages that fail to load are the publishers' trouble, not the user's: shown,
    # but not under --quiet, or cron would mail about every slow site every run.
    trouble = bool(report.rejected or (fetch and fetch.budget_exhausted))
    level = logging.WARNING if trouble else logging.INFO
    log.log(level, "%s", summary_line(report, drafts_included=drafts_included))
    _print_capped(logging.WARNING, [f"{r.path}: {r.reason}" for r in report.rejected])
    if fetch is not None:
        if fetch.budget_exhausted:
            log.warning("  the fetch budget ran out: unchecked articles are published as they were")
        failed = [f"{p['url']}: {p['reason']}" for p in fetch.pages if p["status"] == "failed"]
        _print_capped(logging.INFO, failed)
        dead = [f"{p['url']}: {p['reason']}, dropped" for p in fetch.pages if p["status"] == "dead"]
        _print_capped(logging.INFO, dead)
    for feed in report.feeds:
        log.debug(
            "  %s: %d entries%s", feed.path, feed.entries, ", written" if feed.changed else ""
        )


def _print_capped(level: int, lines: Sequence[str]) -> None:
    for line in lines[:SHOWN_PROBLEMS]:
        log.log(level, "  %s", line)
    if len(lines) > SHOWN_PROBLEMS:
        log.log(level, "  ... and %d more (see --report)", len(lines) - SHOWN_PROBLEMS)
