"""The last build's grouping, kept so that the next one groups again only
around what changed (`regrouping`).

One file in the state directory, `grouping.pickle`: a first line with the
format, a key and the digest of the story ids file the grouping gave
(`state.story_ids_digest`), then the record's four columns pickled in one
frame (see `frames`). The key covers what the grouping depends on besides
the articles and the known ids: the parse cache's key (the record names each
article's file by its stamp, and what grouping reads of a file depends on
all a parse result depends on), the merge settings and the code of merging.

The record is used only while the story ids file is the one it gave: ids
known from elsewhere (a build that fetched pages, or one whose ids file could
not be written) would give other ids to the stories left alone. A missing,
damaged or differently keyed record means grouping every article, as a first
build does, never a different grouping. Call only under the build lock.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import logging
import operator
import pickle
from pathlib import Path

from aggregator import frames
from aggregator.config import MergeConfig
from aggregator.regrouping import GroupingRecord
from aggregator.state import Replacement, code_digest

STORE_NAME = "grouping.pickle"
_FORMAT = "aggregator-grouping 1"
#: The modules whose code decides a grouping (what it reads of each article is
#: in the parse cache's key).
_CODE = ("merge", "regrouping", "titlepairs")

log = logging.getLogger(__name__)


def grouping_key(cache_key: str, merge: MergeConfig) -> str:
    """The key of a record made with parse cache key `cache_key` and `merge`."""
    text = f"{cache_key}|{merge.window_hours!r}|{merge.title_similarity!r}|{code_digest(*_CODE)}"
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def load_grouping(state_dir: Path, key: str, ids_digest: str) -> GroupingRecord | None:
    """The record stored under `key` for the story ids file of `ids_digest`;
    None when there is none to trust."""
    path = state_dir / STORE_NAME
    try:
        with path.open("rb") as stream:
            if stream.readline() != _header(key, ids_digest):
                return None
            columns = frames.load(stream)
        record = GroupingRecord(*columns)
        firsts = sum(map(operator.eq, record.roots, itertools.count()))
        if not all(isinstance(column, list) for column in columns) or not (
            len(record.names) == len(record.stamps) == len(record.roots)
            and len(record.ids) == firsts
        ):
            raise ValueError("columns of different lengths")
        return record
    except FileNotFoundError:
        return None
    except Exception as exc:  # damage: group every article; the next build writes it anew
        log.warning("%s: grouping record damaged (%s), not used", path, type(exc).__name__)
        return None


def save_grouping(state_dir: Path, key: str, ids_digest: str, record: GroupingRecord) -> bool:
    """Replace the record with `record`, of the story ids file of
    `ids_digest`, atomically; a failure is logged, not raised."""
    pickled = io.BytesIO()
    pickler = pickle.Pickler(pickled, pickle.HIGHEST_PROTOCOL)
    pickler.fast = True  # no memo: nothing is shared or cyclic, and it pickles twice as fast
    pickler.dump([record.names, record.stamps, record.roots, record.ids])
    payload = pickled.getbuffer()
    with Replacement(state_dir / STORE_NAME, "the grouping") as new:
        new.write(lambda stream: stream.write(_header(key, ids_digest)))
        new.write(lambda stream: frames.write(stream, payload))
        return new.commit()


def _header(key: str, ids_digest: str) -> bytes:
    return f"{_FORMAT} {key} {ids_digest}\n".encode()
