"""What makes two URLs the same page, and which of them to link to. Pure."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

#: Query parameters that only track the reader; removed from canonical URLs.
TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid",
        "igshid", "mc_cid", "mc_eid", "ref", "ref_src", "ref_url", "referrer", "cmpid",
        "cmp", "ocid", "ncid", "smid", "sr_share", "mkt_tok", "s_cid", "spm", "_ga",
        "_gl", "guccounter", "guce_referrer", "guce_referrer_sig", "share", "src",
        "via", "rss", "feed", "rssfeed",
    }
)  # fmt: skip
# Not "cid": many news sites address their articles as ...?cid=<article>.
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "at_")
#: Query parameters that ask for the AMP version of a page.
AMP_PARAMS = {"outputtype": {"amp"}, "amp": {"", "1", "true", "yes"}}
#: Query parameters the AMP cache and viewer add to a cached page's URL.
AMP_VIEWER_PARAMS = frozenset(
    {"amp_js_v", "amp_gsa", "amp_ct", "amp_tf", "ampshare", "usqp", "aoh"}
)
_AMP_CACHE_PATH = re.compile(r"^/[cvi]/(s/)?(.+)$")
_PLAIN_URL = re.compile(r"(?:http|https|HTTP|HTTPS)://([A-Za-z0-9.-]+)(/[^?#\s]*)?", re.ASCII)


def canonical_url(url: str) -> str:
    """The identity of a URL: equal for trivial variants of the same page.

    https and http, `www.` and `amp.` hosts, default ports, fragments, trailing
    slashes, an `/amp` suffix, tracking, AMP and AMP viewer parameters and parameter
    order are ignored; AMP cache URLs (`<host>.cdn.ampproject.org/c/s/<original>`) stand for
    their original. The result is for comparing, never for linking.
    """
    text = url.strip()
    host: str
    port: int | None
    path: str
    query: str
    plain = _PLAIN_URL.fullmatch(text)
    if plain:
        # What urlsplit would find in a link of this common shape, at a third of
        # the cost: no user, port, query or fragment, nothing it would remove.
        host, port, path, query = plain.group(1).lower(), None, plain.group(2) or "", ""
    else:
        try:
            parts = urlsplit(text)
            host, port, path, query = parts.hostname or "", parts.port, parts.path, parts.query
        except ValueError:
            return text
    host = host.rstrip(".")
    if host.endswith(".cdn.ampproject.org"):
        inner = _AMP_CACHE_PATH.match(path)
        if inner:
            scheme = "https" if inner.group(1) else "http"
            suffix = f"?{query}" if query else ""
            return canonical_url(f"{scheme}://{inner.group(2)}{suffix}")
    for prefix in ("www.", "amp."):
        host = host.removeprefix(prefix)
    netloc = host if port in (None, 80, 443) else f"{host}:{port}"
    path = path.rstrip("/").removesuffix("/amp").rstrip("/") or "/"
    if plain and netloc:
        return f"https://{netloc}{path}"
    kept = urlencode(sorted(_kept_params(query))) if query else ""
    return urlunsplit(("https", netloc, path, kept, ""))


def _kept_params(query: str) -> Iterable[tuple[str, str]]:
    for name, value in parse_qsl(query, keep_blank_values=True):
        if _tracking(name) or name.lower() in AMP_VIEWER_PARAMS:
            continue
        if value.lower() in AMP_PARAMS.get(name.lower(), ()):
            continue
        yield name, value


def clean_url(url: str) -> str:
    """`url` without tracking parameters and fragment: the form to link to.

    Unlike `canonical_url` it keeps scheme, host, path and AMP markers, so it
    always leads to the same page as `url`. A query without tracking parameters is
    kept byte for byte.
    """
    if url.startswith(("http://", "https://")) and _PLAIN_URL.fullmatch(url):
        # Most links: nothing to remove, and urlunsplit(urlsplit(url)) would be `url`.
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    kept = [(name, value) for name, value in pairs if not _tracking(name)]
    query = parts.query if len(kept) == len(pairs) else urlencode(kept)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def is_amp_url(url: str) -> bool:
    """True for the AMP forms `canonical_url` folds away."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        return False
    if host.startswith("amp.") or host.endswith(".cdn.ampproject.org"):
        return True
    if parts.path.rstrip("/").endswith("/amp"):
        return True
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    return any(value.lower() in AMP_PARAMS.get(name.lower(), ()) for name, value in pairs)


def link_penalty(url: str) -> tuple[bool, bool]:
    """Tie-break among copies of one article: a plain link beats AMP and tracking."""
    return (is_amp_url(url), clean_url(url) != url)


def _tracking(name: str) -> bool:
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)
