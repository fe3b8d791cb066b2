"""Publishing a set of files in two phases, staging several at once."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest

from aggregator import output
from aggregator.errors import EmitError
from aggregator.output import publish

COUNT = 3 * output.STAGING_THREADS  # more files than threads


def files_in(directory: Path) -> dict[Path, bytes]:
    return {
        directory / f"feed{index:02}.atom": b"<feed>%d</feed>\n" % index for index in range(COUNT)
    }


def temporaries(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob(".*") if p.is_file())


def test_every_file_is_flushed_before_the_first_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = files_in(tmp_path)
    events: list[str] = []
    fsync, replace = os.fsync, os.replace

    def recording_fsync(descriptor: int) -> None:
        fsync(descriptor)
        events.append("fsync")

    def recording_replace(source: str, target: Path) -> None:
        if "replace" not in events:  # at the first rename: every temporary is complete
            staged = {p.read_bytes() for p in temporaries(tmp_path)}
            assert staged == set(files.values())
        events.append("replace")
        replace(source, target)

    monkeypatch.setattr(output.os, "fsync", recording_fsync)
    monkeypatch.setattr(output.os, "replace", recording_replace)
    assert publish(files) == set(files)
    assert events == ["fsync"] * COUNT + ["replace"] * COUNT
    assert {path: path.read_bytes() for path in files} == files
    assert temporaries(tmp_path) == []


def test_unchanged_files_are_left_alone(tmp_path: Path) -> None:
    files = files_in(tmp_path)
    publish(files)
    stamps = {path: path.stat().st_mtime_ns for path in files}
    changed = next(iter(files))
    assert publish({**files, changed: b"<feed>new</feed>\n"}) == {changed}
    assert all(path.stat().st_mtime_ns == stamps[path] for path in files if path != changed)


def test_a_failure_names_the_first_failing_file_and_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = files_in(tmp_path)
    publish(old)
    make_temporary = tempfile.mkstemp

    def disk_full_for_full_files(**arguments: Any) -> tuple[int, str]:
        if "full" in arguments["prefix"]:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return make_temporary(**arguments)

    monkeypatch.setattr(output.tempfile, "mkstemp", disk_full_for_full_files)
    paths = list(old)
    new = {
        **{path: b"<feed>new</feed>\n" for path in paths[:5]},
        tmp_path / "full-first.atom": b"<feed/>\n",
        **{path: b"<feed>new</feed>\n" for path in paths[5:]},
        tmp_path / "full-last.atom": b"<feed/>\n",
    }
    with pytest.raises(EmitError) as caught:
        publish(new)
    assert caught.value.where == str(tmp_path / "full-first.atom")
    assert caught.value.reason == "cannot write: No space left on device"
    assert {path: path.read_bytes() for path in old} == old
    assert temporaries(tmp_path) == []
    assert not (tmp_path / "full-first.atom").exists()
