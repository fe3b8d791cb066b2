"""Frames find any damage to a cached pickle before it is unpickled."""

from __future__ import annotations

import io
import pickle
import struct
from pathlib import Path

import pytest

from aggregator import frames


def written(tmp_path: Path, *payloads: bytes) -> Path:
    path = tmp_path / "framed"
    with path.open("wb") as stream:
        for payload in payloads:
            frames.write(stream, payload)
    return path


def test_frames_give_back_what_was_written_in_order(tmp_path: Path) -> None:
    values = [{"title": "Beta story"}, [1, 2.5, None], ()]
    path = written(tmp_path, *(pickle.dumps(value) for value in values))
    with path.open("rb") as stream:
        assert [frames.load(stream) for _ in values] == values
        assert stream.read() == b""
    assert path.read_bytes() == b"".join(frames.frame(pickle.dumps(v)) for v in values)


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[:-1],
        lambda data: data[:5],
        lambda data: data.replace(b"story", b"stork"),
        lambda data: struct.pack("<QI", 2**62, 0) + data[frames.HEADER.size :],
    ],
    ids=["cut short", "header cut short", "a byte changed", "a length of 4 EiB"],
)
def test_damage_is_found_before_unpickling(tmp_path: Path, damage: object) -> None:
    path = written(tmp_path, pickle.dumps("Beta story"))
    path.write_bytes(damage(path.read_bytes()))  # type: ignore[operator]
    with path.open("rb") as stream, pytest.raises(frames.DamagedFrame):
        frames.read(stream)


def test_a_frame_admits_no_class(tmp_path: Path) -> None:
    path = written(tmp_path, pickle.dumps(Path("/")))
    with path.open("rb") as stream, pytest.raises(pickle.UnpicklingError):
        frames.load(stream)


def test_the_payloads_of_frames_made_here() -> None:
    data = frames.frame(b"payload") + frames.frame(b"") + frames.frame(b"more")
    assert [bytes(p) for p in frames.payloads_of(data)] == [b"payload", b"", b"more"]
    assert frames.read(io.BytesIO(data)) == b"payload"


def test_skipping_a_frame_tells_where_its_payload_is() -> None:
    data = b"head" + frames.frame(b"payload") + frames.frame(b"next")
    stream = io.BytesIO(data)
    stream.seek(4)
    start, length = frames.skip(stream)
    assert data[start : start + length] == b"payload"
    assert frames.read(stream) == b"next"
    with pytest.raises(frames.DamagedFrame, match="cut short"):
        frames.skip(stream)
    with pytest.raises(frames.DamagedFrame, match="longer than its file"):
        frames.skip(io.BytesIO(frames.frame(b"payload")[:-1]))
