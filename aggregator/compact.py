"""Articles as nested plain tuples: what the parse cache stores and workers send.

Plain tuples of str, int, float, bool, None and datetime pickle several times
smaller and load several times faster than the dataclasses, and they carry no
class that could change under them. `unpack(source, pack(article)) == article`
for every article (`source` is the file's path, the cache's key, so it is not
stored). `packed` (and the `packed_*` of nested values) and `unpack` spell the
fields of `model` out (for speed); `LAYOUT` names them, is part of the parse
cache's key so that old entries are never misread, and tests/test_compact.py
fails when the model moved without them. The parser makes the packed form
straight from what it validated (`packed`, `derived`), without the `Article`
that `pack` would take: building the dataclasses and taking them apart again
cost about a tenth of parsing a file.

A packed article is in two parts: its head, the few fields that merging, ranking
and selection read of every article, and the rest, pickled on its own. Loading
a cache of many articles then makes one bytes object of each article's rest
rather than the dozens of tuples and strings of its images and related items,
and only the articles a build renders have their rest unpickled (`unpack`).
"""

from __future__ import annotations

import dataclasses
import datetime as datetime_module
import hashlib
import io
import pickle
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aggregator.headlines import title_tokens
from aggregator.model import Article, Image, Provider, Related
from aggregator.urls import canonical_url

if TYPE_CHECKING:
    from aggregator.merge import MergeInput

#: The fields of an article that ranking and merging read: `HEAD_FIELDS`, in order.
Head = tuple[Any, ...]

#: A packed article: its `Head`, then a pickle of the rest of the fields of
#: `Article` but `source` (`REST_FIELDS`), with nested values packed the same way.
Packed = tuple[Head, bytes]

#: The rest of a packed article whose rest is not at hand: the parse cache
#: leaves the rests in its file until an article is unpacked (see `cache.Rests`).
REST_ELSEWHERE = b""

#: What merging derives from an article alone, computed in the worker that parsed
#: it and cached with it: the canonical form of its webUrl, then of its AMP URLs
#: (those it has), and the title's tokens (see `headlines.title_tokens`).
Derived = tuple[tuple[str, ...], tuple[str, ...]]

#: What a readable article file yields: the packed article and what is derived from it.
Payload = tuple[Packed, Derived]

#: Nested values as packed (see `packed`): a `Provider`, an `Image`, a `Related`.
PackedProvider = tuple[str, str]
PackedImage = tuple[str, int | None, int | None, str]
PackedRelated = tuple[
    str, str, str, datetime | None, PackedProvider | None, float, tuple[PackedImage, ...]
]

#: The head's fields (see `Head`), and their places in it.
HEAD_FIELDS = (
    "title",
    "url",
    "published",
    "updated",
    "heat",
    "quality",
    "draft",
    "provider",
    "topics",
)
TITLE, URL, PUBLISHED, UPDATED, HEAT, QUALITY, DRAFT, PROVIDER, TOPICS = range(len(HEAD_FIELDS))
#: The fields of the rest, in order.
REST_FIELDS = ("excerpt", "body", "amp_url", "cdn_amp_url", "category", "type", "images", "related")

#: The packed layout: part of the parse cache's key.
LAYOUT = ";".join(
    [
        f"head({','.join(HEAD_FIELDS)})",
        f"rest({','.join(REST_FIELDS)}) pickled",
        *(
            f"{cls.__name__}({','.join(f.name for f in dataclasses.fields(cls))})"
            for cls in (Article, Related, Image, Provider)
        ),
    ]
)


def pack(article: Article) -> Packed:
    """`article` without its `source`, as nested plain tuples (see `packed`)."""
    a = article
    return packed(
        title=a.title,
        url=a.url,
        published=a.published,
        updated=a.updated,
        excerpt=a.excerpt,
        body=a.body,
        amp_url=a.amp_url,
        cdn_amp_url=a.cdn_amp_url,
        category=a.category,
        type=a.type,
        heat=a.heat,
        quality=a.quality,
        draft=a.draft,
        provider=_pack_provider(a.provider),
        topics=a.topics,
        images=tuple(map(_pack_image, a.images)),
        related=tuple(
            packed_related(
                title=r.title,
                url=r.url,
                excerpt=r.excerpt,
                published=r.published,
                provider=_pack_provider(r.provider),
                quality=r.quality,
                images=tuple(map(_pack_image, r.images)),
            )
            for r in a.related
        ),
    )


def packed(
    *,
    title: str,
    url: str,
    published: datetime,
    updated: datetime | None,
    excerpt: str,
    body: str,
    amp_url: str | None,
    cdn_amp_url: str | None,
    category: str,
    type: str,
    heat: float,
    quality: float,
    draft: bool,
    provider: PackedProvider | None,
    topics: tuple[str, ...],
    images: tuple[PackedImage, ...],
    related: tuple[PackedRelated, ...],
) -> Packed:
    """The packed form of the `Article` with these fields (but `source`), its
    nested values already packed (`packed_provider`, `packed_image`,
    `packed_related`): its head, then the other fields, pickled. What `pack`
    makes of an `Article`, made without one (the parser's way: see
    `sources.parse_payload`)."""
    head = (title, url, published, updated, heat, quality, draft, provider, topics)
    rest = (excerpt, body, amp_url, cdn_amp_url, category, type, images, related)
    return head, pickle.dumps(rest, protocol=pickle.HIGHEST_PROTOCOL)


def packed_provider(name: str, domain: str = "") -> PackedProvider:
    """A `Provider` as packed."""
    return (name, domain)


def packed_image(
    url: str, width: int | None = None, height: int | None = None, title: str = ""
) -> PackedImage:
    """An `Image` as packed."""
    return (url, width, height, title)


def packed_related(
    *,
    title: str,
    url: str,
    excerpt: str,
    published: datetime | None,
    provider: PackedProvider | None,
    quality: float,
    images: tuple[PackedImage, ...],
) -> PackedRelated:
    """A `Related` as packed (its provider and images packed already)."""
    return (title, url, excerpt, published, provider, quality, images)


def is_packed(value: object) -> bool:
    """True when `value` has the shape of a packed article (see `Packed`)."""
    return (
        isinstance(value, tuple)
        and len(value) == 2
        and isinstance(value[0], tuple)
        and len(value[0]) == len(HEAD_FIELDS)
        and isinstance(value[1], bytes)
    )


def head(article: Article) -> Head:
    """What ranking and merging read of `article` (see `Head`)."""
    a = article
    provider = _pack_provider(a.provider)
    return (a.title, a.url, a.published, a.updated, a.heat, a.quality, a.draft, provider, a.topics)


def unpack(source: str, packed: Packed) -> Article:
    """The article `pack` was given, read from the file at `source`. Raises
    `pickle.UnpicklingError` (or another error of unpickling) when the rest is
    not a pickle of plain data."""
    title, url, published, updated, heat, quality, draft, provider, topics = packed[0]
    excerpt, body, amp_url, cdn_amp_url, category, type_, images, related = load_plain(packed[1])
    return Article(
        source,
        title,
        url,
        published,
        updated,
        excerpt,
        body,
        amp_url,
        cdn_amp_url,
        category,
        type_,
        heat,
        quality,
        draft,
        None if provider is None else Provider(*provider),
        topics,
        tuple(Image(*image) for image in images),
        tuple(
            Related(
                r_title,
                r_url,
                r_excerpt,
                r_published,
                None if r_provider is None else Provider(*r_provider),
                r_quality,
                tuple(Image(*image) for image in r_images),
            )
            for r_title, r_url, r_excerpt, r_published, r_provider, r_quality, r_images in related
        ),
    )


def merge_input(source: str, packed: Packed, derived: Derived) -> MergeInput:
    """`merge.merge_input` of `unpack(source, packed)`, read without unpacking it."""
    urls, tokens = derived
    first = packed[0]
    return (urls[0], first[PUBLISHED].timestamp(), first[TITLE], source), set(urls), tokens


def published(packed: Packed) -> datetime:
    """The packed article's publication time."""
    moment: datetime = packed[0][PUBLISHED]
    return moment


def is_draft(packed: Packed) -> bool:
    """True when the packed article is a draft."""
    return bool(packed[0][DRAFT])


def derive(article: Article) -> Derived:
    """What merging needs of `article` that depends on nothing else (see `Derived`)."""
    return derived(article.url, article.amp_url, article.cdn_amp_url, article.title)


def derived(url: str, amp_url: str | None, cdn_amp_url: str | None, title: str) -> Derived:
    """`derive` of an article with these fields, made without it."""
    urls = [url, *(other for other in (amp_url, cdn_amp_url) if other)]
    return tuple(map(canonical_url, urls)), title_tokens(title)


#: The places in a head of what a feed shows (all but heat and quality, which
#: only order the stories).
_SHOWN = tuple(place for place in range(len(HEAD_FIELDS)) if place not in (HEAT, QUALITY))


def digest(packed: Packed) -> str:
    """A short digest of what the feeds show of a packed article: every field
    but heat and quality, which only order the stories (each feed's digest has
    their order). Equal articles, equal digests; an article whose heat alone
    changed keeps its digest, and a feed whose order it did not change is not
    rendered again."""
    first, rest = packed
    shown = repr(tuple(first[place] for place in _SHOWN)).encode("utf-8")
    return hashlib.blake2b(shown + b"\0" + rest, digest_size=16).hexdigest()


def _pack_provider(provider: Provider | None) -> PackedProvider | None:
    return None if provider is None else packed_provider(provider.name, provider.domain)


def _pack_image(image: Image) -> PackedImage:
    return packed_image(image.url, image.width, image.height, image.title)


def load_plain(data: bytes) -> Any:
    """What `data`, a pickle of plain data, holds (see `PlainUnpickler`)."""
    return PlainUnpickler(io.BytesIO(data)).load()


class PlainUnpickler(pickle.Unpickler):
    """Plain data and datetimes only: a pickle read from a file (the parse
    cache) cannot make objects of any other class, nor run code."""

    _ALLOWED = frozenset({"datetime", "date", "timezone", "timedelta"})

    def find_class(self, module: str, name: str) -> Any:
        if module == "datetime" and name in self._ALLOWED:
            return getattr(datetime_module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in plain data")
