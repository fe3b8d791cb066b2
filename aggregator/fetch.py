"""Fetch article pages politely to refresh their dates and links, and spot dead ones.

This is the only module that reads article pages (httpx) or their dates (htmldate);
`websub` is the only other one that talks to the network. `fetch_pages` takes the
URLs a build is about to publish and returns one `PageResult` per distinct URL; it
never raises for a problem with a single page.

Politeness: per-request connect/read timeouts plus a total deadline, bodies cut at
`max_bytes`, a global and a per-host concurrency limit, retries with exponential
backoff on 429 and 5xx that honour `Retry-After`, robots.txt read once per origin per
run, no cookies kept, and a wall-clock budget for the whole call.

Safety: only http and https. Every hop of a redirect chain is checked again: its host
is resolved first and refused when any address is loopback, private, link-local,
multicast, reserved or unspecified (unless `allow_private_networks`), and the
connection is then made to exactly the addresses that were checked, so a DNS answer
that changes between check and connect cannot smuggle in an internal address.

Results are cached (`pagecache`: metadata only, never page bodies) so that a
frequent cron run re-fetches almost nothing, and a re-fetch is a conditional request.
"""

from __future__ import annotations

import asyncio
import email.utils
import ipaddress
import itertools
import logging
import socket
import ssl
import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.client import HTTPResponse
from http.cookiejar import Cookie, CookieJar
from pathlib import Path
from typing import Any, Literal
from urllib.request import Request
from urllib.robotparser import RobotFileParser

import httpcore
import httpx

from aggregator import __version__
from aggregator.config import FetchConfig
from aggregator.pagecache import PRUNE_AFTER, PageCache, PageRecord
from aggregator.pageinfo import inspect_page

logger = logging.getLogger(__name__)

Status = Literal["fetched", "not_modified", "cached", "dead", "failed", "skipped"]

#: Redirect hops followed for one page before giving up.
MAX_REDIRECTS = 10
#: robots.txt: hops followed and bytes read (RFC 9309 asks crawlers to read 500 KiB).
_ROBOTS_REDIRECTS = 5
_ROBOTS_MAX_BYTES = 512_000
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_PERMANENT_REDIRECTS = frozenset({301, 308})
_DEAD_STATUSES = frozenset({404, 410})
_BUDGET_REASON = "fetch budget exhausted"
#: Pages up to this size are parsed on the event loop (well under a millisecond);
#: bigger ones in a worker thread.
_PARSE_INLINE_BYTES = 100_000
#: Seconds an idle connection is kept for reuse.
_KEEPALIVE = 5.0
#: Seconds between looks for idle per-origin pools to close.
_SWEEP_EVERY = 1.0


@dataclass(frozen=True)
class PageResult:
    """What fetching one requested URL found out.

    `status`:
      - "fetched": answered 2xx now.
      - "not_modified": a conditional request was answered 304; the other fields are
        the cached ones (`final_url` reflects this run's redirects).
      - "cached": the cache entry is younger than `cache_ttl`; no request was sent.
      - "dead": 404 or 410 (also when that answer is still cached; `reason` then ends
        in "(cached)").
      - "failed": anything else (timeout, network error, 5xx or 429 after retries,
        other 4xx); leave the article as it was.
      - "skipped": never tried: robots.txt disallows, the address was refused, the URL
        is not http(s), or the fetch budget ran out first.

    `updated` is tz-aware UTC: the page's own last-modified date (htmldate), else its
    `Last-Modified` header; None if neither is known. `final_url` is set only when
    every redirect in the chain was permanent (301/308). `canonical_url` is the page's
    absolute http(s) `<link rel=canonical>`. `reason` is a short human explanation for
    dead, failed and skipped results.
    """

    url: str
    status: Status
    updated: datetime | None = None
    final_url: str | None = None
    canonical_url: str | None = None
    http_status: int | None = None
    reason: str | None = None


@dataclass(frozen=True)
class FetchOutcome:
    """One `PageResult` per distinct input URL (in input order), and whether the
    budget ran out before every URL was done (those URLs are "skipped")."""

    results: dict[str, PageResult]
    budget_exhausted: bool


def default_user_agent(contact_url: str) -> str:
    """The User-Agent to send: the project, its version and a contact URL."""
    return f"news-aggregator/{__version__} (+{contact_url})"


def fetch_pages(
    urls: Sequence[str],
    config: FetchConfig,
    cache_path: Path,
    *,
    user_agent: str,
    progress: Callable[[int, int], None] | None = None,
) -> FetchOutcome:
    """Fetch `urls` (duplicates collapsed) within `config`'s limits and budget.

    Blocking: runs its own event loop, so it must not be called from inside a running
    asyncio loop. `config.enabled` is not consulted; whether to fetch at all is the
    caller's decision. `cache_path` is an SQLite file (parent directories are created;
    a corrupt file is replaced with a warning). `progress(done, total)` is called as
    pages complete, ending with done == total. Only an exception raised by `progress`
    itself escapes; every per-URL problem becomes a result.
    """
    started = time.monotonic()
    wanted = list(dict.fromkeys(urls))
    total = len(wanted)
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    results: dict[str, PageResult] = {}
    records: dict[str, PageRecord] = {}
    exhausted = False
    cache = PageCache(cache_path)
    try:
        entries = cache.load(wanted)
        now = time.time()
        todo: list[str] = []
        for url in wanted:
            immediate = _without_network(url, entries.get(url), now, config.cache_ttl)
            if immediate is None:
                todo.append(url)
            else:
                results[url] = immediate
                tick()
        if todo:
            left = config.budget - (time.monotonic() - started)
            fetched, records = asyncio.run(
                _fetch_all(todo, config, entries, user_agent, left, tick)
            )
            for url in todo:
                result = fetched.get(url)
                if result is None:
                    exhausted = True
                    result = PageResult(url, "skipped", reason=_BUDGET_REASON)
                results[url] = result
            if exhausted and progress is not None:
                progress(total, total)
        cache.store(records.values(), max(PRUNE_AFTER, 2 * config.cache_ttl))
    finally:
        cache.close()
    return FetchOutcome({url: results[url] for url in wanted}, exhausted)


# --- results that need no network -------------------------------------------------


class _Stop(Exception):
    """Ends the fetch of one URL with a result other than success."""

    def __init__(self, status: Status, reason: str, http_status: int | None = None) -> None:
        super().__init__(reason)
        self.status: Status = status
        self.reason = reason
        self.http_status = http_status


def _without_network(
    url: str, entry: PageRecord | None, now: float, ttl: float
) -> PageResult | None:
    """The result for `url` when it needs no request (bad URL, fresh cache), else None."""
    try:
        _checked_url(url)
    except _Stop as stop:
        return PageResult(url, stop.status, reason=stop.reason)
    if entry is None or not 0 <= now - entry.fetched_at < ttl:
        return None
    if entry.status == "dead":
        reason = f"HTTP {entry.http_status} (cached)"
        return PageResult(url, "dead", None, entry.final_url, None, entry.http_status, reason)
    return PageResult(
        url, "cached", entry.updated, entry.final_url, entry.canonical_url, entry.http_status
    )


def _checked_url(url: str | httpx.URL, *, hop: bool = False) -> httpx.URL:
    """`url` parsed, or _Stop("skipped") when it is not something we may fetch."""
    prefix = "refused: redirect to" if hop else "refused:"
    try:
        parsed = url if isinstance(url, httpx.URL) else httpx.URL(url.strip())
    except (httpx.InvalidURL, TypeError, ValueError):
        raise _Stop("skipped", f"{prefix} invalid URL") from None
    if parsed.scheme not in ("http", "https"):
        raise _Stop("skipped", f"{prefix} unsupported scheme {parsed.scheme or 'none'!r}")
    if not parsed.host:
        raise _Stop("skipped", f"{prefix} URL without a host")
    if parsed.userinfo:
        # Credentials in an article link would be sent to whoever the link names.
        raise _Stop("skipped", f"{prefix} URL with credentials")
    return parsed


# --- addresses --------------------------------------------------------------------

#: NAT64 well-known prefix: the last 32 bits are an IPv4 address.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def _is_public_address(address: str) -> bool:
    """True when `address` (an IP literal) is an ordinary public unicast address."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        # An IPv6 address that embeds an IPv4 one reaches that IPv4 host.
        if ip.ipv4_mapped is not None:
            return _is_public_ip(ip.ipv4_mapped)
        if ip.sixtofour is not None and not _is_public_ip(ip.sixtofour):
            return False
        if ip in _NAT64:
            return _is_public_ip(ipaddress.IPv4Address(ip.packed[-4:]))
    return _is_public_ip(ip)


def _is_public_ip(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return not (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        # also shared address space (100.64/10) and other special-purpose ranges
        or not ip.is_global
    )


class _Resolver:
    """Resolves and vets each host once per run; the connection layer reuses the
    answer, so what was checked is what gets connected to."""

    def __init__(self, allow_private: bool, timeout: float, threads: Executor) -> None:
        self._allow_private = allow_private
        self._timeout = timeout
        self._threads = threads
        self._known: dict[str, asyncio.Task[list[str] | _Stop]] = {}

    async def vet(self, host: str, port: int) -> list[str]:
        """The addresses `host` may be contacted at; raises _Stop when it may not."""
        lookup = self._known.get(host)
        if lookup is None:
            # One lookup per host, shared by every page of that host that asks.
            lookup = asyncio.create_task(self._lookup(host, port))
            self._known[host] = lookup
        answer = await asyncio.shield(lookup)
        if isinstance(answer, _Stop):
            raise _Stop(answer.status, answer.reason)
        return answer

    async def close(self) -> None:
        for lookup in self._known.values():
            lookup.cancel()
        await asyncio.gather(*self._known.values(), return_exceptions=True)

    async def _lookup(self, host: str, port: int) -> list[str] | _Stop:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._timeout):
                # What loop.getaddrinfo does, but on our executor: see _fetch_all.
                infos = await loop.run_in_executor(
                    self._threads, socket.getaddrinfo, host, port, 0, socket.SOCK_STREAM
                )
        except TimeoutError:
            return _Stop("failed", f"DNS lookup timed out after {self._timeout:g} s")
        except (OSError, UnicodeError) as exc:
            detail = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            return _Stop("failed", f"DNS lookup failed: {detail}")
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        if not addresses:
            return _Stop("failed", "DNS lookup failed: no addresses")
        if not self._allow_private:
            for address in addresses:
                if not _is_public_address(address):
                    return _Stop("skipped", f"refused: resolves to private address {address}")
        return addresses


class _PinnedBackend(httpcore.AsyncNetworkBackend):
    """Connects only to the addresses the resolver vetted for the host.

    TLS still verifies (and sends SNI for) the host name, since httpcore passes the
    origin host to start_tls; only the TCP connect is redirected to the vetted IPs.
    """

    def __init__(self, resolver: _Resolver) -> None:
        self._resolver = resolver
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        error: Exception | None = None
        for address in await self._resolver.vet(host, port):
            try:
                return await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None  # vet() never returns an empty list
        raise error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are never used for fetching")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _PinnedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport for one origin, connecting through the pinned backend."""

    def __init__(
        self, ssl_context: ssl.SSLContext, backend: _PinnedBackend, keepalive: int
    ) -> None:
        super().__init__(verify=ssl_context, trust_env=False)
        # httpx has no public hook for the network backend, so swap in a pool built
        # with the pinned backend (the pinning test fails if this stops working).
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=None,  # our semaphores bound concurrency
            max_keepalive_connections=keepalive,
            keepalive_expiry=_KEEPALIVE,
            network_backend=backend,
        )
        self.last_used = 0.0

    def is_idle(self) -> bool:
        return all(c.is_idle() or c.is_closed() for c in self._pool.connections)


class _PerOriginTransport(httpx.AsyncBaseTransport):
    """One small connection pool per origin instead of one shared pool.

    httpcore 1.0.9's pool rescans every connection (with a syscall each) on every
    request and compares its keep-alive limit with *all* connections, idle or not
    (encode/httpcore#1000): one pool either closes every idle connection or, made
    big enough to keep them, costs more CPU per request than the request itself.
    Per-origin pools hold at most `per_host` connections; pools idle for longer than
    the keep-alive expiry are closed, so open sockets stay bounded.
    """

    def __init__(self, resolver: _Resolver, per_host: int) -> None:
        self._ssl_context = httpx.create_ssl_context(trust_env=False)
        self._backend = _PinnedBackend(resolver)
        self._per_host = per_host
        self._pools: dict[tuple[bytes, bytes, int | None], _PinnedTransport] = {}
        self._swept = time.monotonic()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        now = time.monotonic()
        if now - self._swept >= _SWEEP_EVERY:
            self._swept = now
            await self._close_idle(now - _KEEPALIVE)
        url = request.url
        key = (url.raw_scheme, url.raw_host, url.port)
        pool = self._pools.get(key)
        if pool is None:
            pool = _PinnedTransport(self._ssl_context, self._backend, self._per_host)
            self._pools[key] = pool
        pool.last_used = now
        return await pool.handle_async_request(request)

    async def _close_idle(self, unused_since: float) -> None:
        stale = [k for k, p in self._pools.items() if p.last_used < unused_since and p.is_idle()]
        # Removed before closing, so a request arriving meanwhile gets a new pool.
        closing = [self._pools.pop(key) for key in stale]
        for pool in closing:
            await pool.aclose()

    async def aclose(self) -> None:
        pools = list(self._pools.values())
        self._pools.clear()
        for pool in pools:
            await pool.aclose()


class _NoCookieJar(CookieJar):
    """Never stores a cookie, so none is ever sent back (httpx always keeps a jar)."""

    def extract_cookies(self, response: HTTPResponse, request: Request) -> None:
        return None

    def set_cookie(self, cookie: Cookie) -> None:
        return None


# --- fetching ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Reply:
    status: int
    headers: httpx.Headers
    body: bytes
    charset: str | None


async def _fetch_all(
    urls: list[str],
    config: FetchConfig,
    entries: dict[str, PageRecord],
    user_agent: str,
    budget_left: float,
    tick: Callable[[], None],
) -> tuple[dict[str, PageResult], dict[str, PageRecord]]:
    """Fetch `urls` concurrently; URLs missing from the result ran out of budget."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + budget_left
    # Our own threads for DNS lookups and big-page parsing: asyncio.run would wait for
    # its default executor at exit, so one hung getaddrinfo (uncancellable) could
    # hold fetch_pages past its budget. These are abandoned instead of awaited.
    threads = ThreadPoolExecutor(thread_name_prefix="aggregator-fetch")
    resolver = _Resolver(config.allow_private_networks, config.connect_timeout, threads)
    client = httpx.AsyncClient(
        transport=_PerOriginTransport(resolver, config.per_host),
        headers={
            "User-Agent": user_agent,
            "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5",
            # Only encodings we can inflate with a size cap (see _read_capped).
            "Accept-Encoding": "gzip, deflate",
        },
        cookies=_NoCookieJar(),
        timeout=httpx.Timeout(
            config.timeout, connect=config.connect_timeout, read=config.read_timeout
        ),
        follow_redirects=False,
        trust_env=False,
    )
    async with client:
        fetcher = _Fetcher(client, resolver, config, entries, user_agent, deadline, threads)
        finished: asyncio.Queue[str] = asyncio.Queue()
        tasks = [asyncio.create_task(fetcher.run(url, finished)) for url in urls]
        try:
            async with asyncio.timeout_at(deadline):
                for _ in tasks:
                    await finished.get()
                    tick()
        except TimeoutError:
            logger.debug("fetch budget of %g s exhausted", config.budget)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await fetcher.close()
            await resolver.close()
            threads.shutdown(wait=False, cancel_futures=True)
    return fetcher.results, fetcher.records


class _Fetcher:
    def __init__(
        self,
        client: httpx.AsyncClient,
        resolver: _Resolver,
        config: FetchConfig,
        entries: dict[str, PageRecord],
        user_agent: str,
        deadline: float,
        threads: Executor,
    ) -> None:
        self._threads = threads
        self._client = client
        self._resolver = resolver
        self._config = config
        self._entries = entries
        self._user_agent = user_agent
        self._deadline = deadline
        self._global = asyncio.Semaphore(config.concurrency)
        self._per_host: dict[str, asyncio.Semaphore] = {}
        self._robots: dict[str, asyncio.Task[RobotFileParser | None]] = {}
        self.results: dict[str, PageResult] = {}
        self.records: dict[str, PageRecord] = {}

    async def run(self, url: str, finished: asyncio.Queue[str]) -> None:
        try:
            result = await self._fetch(url)
        except _Stop as stop:
            result = PageResult(url, stop.status, http_status=stop.http_status, reason=stop.reason)
        except Exception as exc:  # a bug: report it, but let the other pages finish
            logger.exception("unexpected error while fetching %s", url)
            result = PageResult(url, "failed", reason=f"unexpected error: {exc!r}"[:200])
        logger.debug("%s: %s %s", url, result.status, result.reason or "")
        self.results[url] = result
        finished.put_nowait(url)

    async def close(self) -> None:
        for task in self._robots.values():
            task.cancel()
        await asyncio.gather(*self._robots.values(), return_exceptions=True)

    async def _fetch(self, url: str) -> PageResult:
        entry = self._entries.get(url)
        conditional: dict[str, str] = {}
        if entry is not None and entry.status == "fetched":
            if entry.etag:
                conditional["If-None-Match"] = entry.etag
            if entry.last_modified:
                conditional["If-Modified-Since"] = entry.last_modified
        current = _checked_url(url)
        seen = {str(current.copy_with(fragment=None))}
        permanent = True
        hops = 0
        while True:
            await self._resolver.vet(_host(current), _port(current))
            if self._config.respect_robots and not await self._robots_allow(current):
                raise _Stop("skipped", "robots.txt disallows")
            # Validators go on every hop: the 304 comes from wherever the chain ends.
            reply = await self._request(current, conditional)
            if reply.status not in _REDIRECT_STATUSES:
                break
            location = reply.headers.get("location", "").strip()
            if not location:
                raise _Stop("failed", f"HTTP {reply.status} without Location", reply.status)
            hops += 1
            if hops > MAX_REDIRECTS:
                raise _Stop("failed", f"more than {MAX_REDIRECTS} redirects", reply.status)
            permanent = permanent and reply.status in _PERMANENT_REDIRECTS
            try:
                target = current.join(location)
            except (httpx.InvalidURL, ValueError):
                raise _Stop("failed", "redirect to invalid URL", reply.status) from None
            current = _checked_url(target, hop=True)
            key = str(current.copy_with(fragment=None))
            if key in seen:
                raise _Stop("failed", "redirect loop", reply.status)
            seen.add(key)

        status = reply.status
        final_url = str(current) if permanent and hops else None
        if status == 304:
            if entry is None or not conditional:
                raise _Stop("failed", "HTTP 304 to an unconditional request", status)
            self.records[url] = PageRecord(
                url,
                reply.headers.get("etag") or entry.etag,
                reply.headers.get("last-modified") or entry.last_modified,
                time.time(),
                "fetched",
                entry.http_status,
                entry.updated,
                final_url,
                entry.canonical_url,
            )
            return PageResult(
                url, "not_modified", entry.updated, final_url, entry.canonical_url, status
            )
        if status in _DEAD_STATUSES:
            self.records[url] = PageRecord(
                url, None, None, time.time(), "dead", status, None, final_url, None
            )
            return PageResult(url, "dead", None, final_url, None, status, f"HTTP {status}")
        if not 200 <= status < 300:
            raise _Stop("failed", f"HTTP {status}", status)

        content_type = reply.headers.get("content-type", "")
        page = (reply.body, content_type, reply.charset, str(current))
        if len(reply.body) > _PARSE_INLINE_BYTES:
            # Parsing a big page takes long enough to stall every other transfer.
            loop = asyncio.get_running_loop()
            updated, canonical = await loop.run_in_executor(self._threads, inspect_page, *page)
        else:
            updated, canonical = inspect_page(*page)
        last_modified = reply.headers.get("last-modified")
        if updated is None:
            updated = _http_date(last_modified)
        self.records[url] = PageRecord(
            url,
            reply.headers.get("etag"),
            last_modified,
            time.time(),
            "fetched",
            status,
            updated,
            final_url,
            canonical,
        )
        return PageResult(url, "fetched", updated, final_url, canonical, status)

    async def _request(self, url: httpx.URL, headers: dict[str, str]) -> _Reply:
        """One GET, retried on 429 and 5xx with backoff; raises _Stop on failure."""
        for attempt in itertools.count():
            reply = await self._exchange(url, headers, self._config.max_bytes)
            status = reply.status
            if status != 429 and not 500 <= status <= 599:
                return reply
            if attempt >= self._config.retries:
                after = f" after {attempt} retries" if attempt else ""
                raise _Stop("failed", f"HTTP {status}{after}", status)
            wait = self._config.backoff * 2**attempt
            asked = _retry_after(reply.headers.get("retry-after"), time.time())
            if asked is not None:
                wait = max(wait, asked)
            left = self._deadline - asyncio.get_running_loop().time()
            if wait > left:
                # Waiting past the budget could only end in "budget exhausted"; say why.
                reason = f"HTTP {status}, retry in {wait:g} s is past the budget"
                raise _Stop("failed", reason, status)
            await asyncio.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _exchange(self, url: httpx.URL, headers: dict[str, str], max_body: int) -> _Reply:
        """One HTTP exchange inside the concurrency limits and the request deadline."""
        host = self._per_host.get(url.host)
        if host is None:
            host = self._per_host[url.host] = asyncio.Semaphore(self._config.per_host)
        # Host first: a task waiting for a busy host must not hold a global slot.
        async with host, self._global:
            try:
                async with asyncio.timeout(self._config.timeout):
                    request = self._client.build_request("GET", url, headers=headers)
                    response = await self._client.send(request, stream=True)
                    try:
                        body = b""
                        if 200 <= response.status_code < 300:
                            body = await _read_capped(response, max_body)
                        return _Reply(
                            response.status_code,
                            response.headers,
                            body,
                            response.charset_encoding,
                        )
                    finally:
                        await response.aclose()
            except TimeoutError:
                raise _Stop("failed", f"timeout after {self._config.timeout:g} s") from None
            except httpx.ConnectTimeout:
                reason = f"connect timeout after {self._config.connect_timeout:g} s"
                raise _Stop("failed", reason) from None
            except httpx.TimeoutException:
                reason = f"read timeout after {self._config.read_timeout:g} s"
                raise _Stop("failed", reason) from None
            except httpx.HTTPError as exc:
                detail = str(exc) or type(exc).__name__
                raise _Stop("failed", f"network error: {detail}"[:200]) from None

    async def _robots_allow(self, url: httpx.URL) -> bool:
        origin = f"{url.scheme}://{url.netloc.decode('ascii')}"
        task = self._robots.get(origin)
        if task is None:
            task = asyncio.create_task(self._load_robots(url))
            self._robots[origin] = task
        # shield: one page task being cancelled must not cancel the shared fetch.
        rules = await asyncio.shield(task)
        return rules is None or rules.can_fetch(self._user_agent, str(url))

    async def _load_robots(self, url: httpx.URL) -> RobotFileParser | None:
        """The origin's robots.txt rules; None (allow all) when absent or unreadable."""
        target = url.copy_with(raw_path=b"/robots.txt", fragment=None)
        try:
            for _ in range(_ROBOTS_REDIRECTS + 1):
                await self._resolver.vet(_host(target), _port(target))
                reply = await self._exchange(target, {}, _ROBOTS_MAX_BYTES)
                location = reply.headers.get("location", "").strip()
                if reply.status in _REDIRECT_STATUSES and location:
                    target = _checked_url(target.join(location), hop=True)
                    continue
                if not 200 <= reply.status < 300:
                    return None  # 4xx: no rules; 5xx: treated as unreadable, allow
                rules = RobotFileParser()
                rules.parse(reply.body.decode("utf-8", errors="replace").splitlines())
                return rules
        except _Stop as stop:
            logger.debug("robots.txt for %s unreadable (%s): allowing", url, stop.reason)
        except Exception:
            logger.warning("robots.txt for %s could not be read: allowing", url, exc_info=True)
        return None


def _host(url: httpx.URL) -> str:
    """The host as the connection layer sees it (ASCII, IDNA-encoded)."""
    return url.raw_host.decode("ascii")


def _port(url: httpx.URL) -> int:
    return url.port or (443 if url.scheme == "https" else 80)


def _retry_after(value: str | None, now: float) -> float | None:
    """Seconds asked for by a Retry-After header (delta-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    when = _parse_http_date(value)
    return None if when is None else max(0.0, when.timestamp() - now)


# --- bodies and dates -------------------------------------------------------------


class _Inflater:
    """Decompresses gzip/deflate with an output cap, so a small compressed body
    cannot expand to gigabytes in memory before the cap is checked."""

    def __init__(self, encoding: str) -> None:
        gzip = encoding in ("gzip", "x-gzip")
        self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS if gzip else zlib.MAX_WBITS)
        # "deflate" is often sent as a raw stream without the zlib header.
        self._may_be_raw = not gzip
        self._started = False

    def feed(self, data: bytes, room: int) -> bytes:
        try:
            out = self._zlib.decompress(data, room)
        except zlib.error:
            if not self._may_be_raw or self._started:
                raise
            self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
            out = self._zlib.decompress(data, room)
        self._started = True
        return out


async def _read_capped(response: httpx.Response, limit: int) -> bytes:
    """The decoded body, at most `limit` bytes; a body that is cut is not an error."""
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    inflater: _Inflater | None = None
    if encoding in ("gzip", "x-gzip", "deflate"):
        inflater = _Inflater(encoding)
    elif encoding not in ("", "identity"):
        return b""  # not an encoding we asked for; fall back to the headers
    parts: list[bytes] = []
    size = 0
    async for chunk in response.aiter_raw():
        room = limit - size  # always > 0 here; note decompress(max_length=0) is unlimited
        if inflater is None:
            data = chunk[:room]
        else:
            try:
                data = inflater.feed(chunk, room)
            except zlib.error:
                break  # garbled: keep what decoded so far
        parts.append(data)
        size += len(data)
        if size >= limit:
            break
    return b"".join(parts)


def _http_date(value: str | None) -> datetime | None:
    """An HTTP date header as UTC; None if missing, malformed or in the future."""
    when = _parse_http_date(value) if value else None
    # A clock-skewed server must not make an article look newer than now.
    if when is None or when > datetime.now(UTC) + timedelta(minutes=5):
        return None
    return when


def _parse_http_date(value: str) -> datetime | None:
    """An HTTP-date (RFC 9110) as UTC; None if malformed. A missing zone is UTC."""
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC)
